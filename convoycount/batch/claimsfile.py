"""--claims claims.csv: each clip's own caption.

Columns: `claim`, and `file` (path relative to the input folder, an absolute path,
or a bare file name if only one video has it) or `sha256` (the full hash or a
prefix of at least 16 hex digits, i.e. the clip id). Optional: `claim_basis`
(clip | real). Every row must name exactly one discovered video; anything else is
a one-line error before any clip runs, so a typo does not silently drop a claim.
"""
from __future__ import annotations

import csv
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from ..errors import ConvoyCountError


@dataclass(frozen=True)
class ClaimRow:
    claim: str
    claim_basis: Optional[str] = None
    line: int = 0                     # line in the CSV, for messages


def _read_table(path: Path) -> List[List[str]]:
    """The CSV's rows of cells; a file that cannot be read as UTF-8 CSV is one
    clean error naming the file (a BOM from Excel is accepted)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConvoyCountError(f"--claims {path}: no such file") from None
    except IsADirectoryError:
        raise ConvoyCountError(f"--claims {path}: is a directory, expected a CSV file") from None
    except UnicodeDecodeError:
        raise ConvoyCountError(f"--claims {path}: not a UTF-8 text CSV file") from None
    except OSError as e:
        raise ConvoyCountError(f"--claims {path}: cannot read ({e.strerror})") from None
    try:
        reader = csv.reader(text.splitlines())
        return [r for r in reader]
    except csv.Error as e:
        raise ConvoyCountError(f"--claims {path}: not a valid CSV file ({e})") from None


def _header(path: Path, table: List[List[str]]) -> List[str]:
    """The header's column names (trimmed, lower case); it must name a 'claim'
    column and a 'file' or 'sha256' column."""
    if not table or not any(cell.strip() for cell in table[0]):
        raise ConvoyCountError(f"--claims {path}: empty; expected a header row with "
                               "'file' or 'sha256', and 'claim'")
    header = [h.strip().lower() for h in table[0]]
    if "claim" not in header or not ({"file", "sha256"} & set(header)):
        raise ConvoyCountError(f"--claims {path}: header must have a 'claim' column and a 'file' "
                               f"or 'sha256' column; found {', '.join(repr(h) for h in header)}")
    return header


class _Videos:
    """The discovered videos, found by a row's `file` (relative path, absolute path,
    or a bare name only one video has) or `sha256` (a prefix names every copy)."""

    def __init__(self, videos: List[Tuple[str, Path, str]]):
        self.n = len(videos)
        self.by_rel = {rel: rel for rel, _, _ in videos}
        self.by_abs = {os.path.normcase(str(p)): rel for rel, p, _ in videos}
        self.by_name = defaultdict(list)
        for rel, p, _ in videos:
            self.by_name[p.name].append(rel)
        self.shas = [(sha, rel) for rel, _, sha in videos if sha]

    def by_file(self, file_ref: str, where: str) -> str:
        rel = self.by_rel.get(file_ref.replace("\\", "/").removeprefix("./"))
        if rel is None and os.path.isabs(file_ref):
            rel = self.by_abs.get(os.path.normcase(str(Path(file_ref).resolve())))
        if rel is None:
            named = self.by_name.get(file_ref, [])
            if len(named) > 1:
                raise ConvoyCountError(f"{where}: file {file_ref!r} is ambiguous "
                                       f"({', '.join(named[:3])}); give the path relative to the folder")
            rel = named[0] if named else None
        if rel is None:
            raise ConvoyCountError(f"{where}: file {file_ref!r} is not among the "
                                   f"{self.n} videos found")
        return rel

    def by_sha(self, sha_ref: str, where: str) -> List[str]:
        if len(sha_ref) < 16 or any(ch not in "0123456789abcdef" for ch in sha_ref):
            raise ConvoyCountError(f"{where}: sha256 must be at least 16 hex digits, "
                                   f"got {sha_ref!r}")
        rels = [rel for sha, rel in self.shas if sha.startswith(sha_ref)]
        if not rels:
            raise ConvoyCountError(f"{where}: sha256 {sha_ref} matches none of the "
                                   f"{self.n} videos found")
        return rels


def _row_claim(row: List[str], header: List[str], col: Dict[str, int], where: str) -> tuple:
    """(claim, claim_basis or None, file, sha256) of one data row, checked: no more
    cells than the header (an unquoted comma in a claim), a known basis."""
    def cell(name) -> str:
        i = col.get(name)
        return row[i].strip() if i is not None and i < len(row) else ""

    if len(row) > len(header):
        raise ConvoyCountError(f"{where}: {len(row)} cells but the header has {len(header)} "
                               "(quote claims that contain commas)")
    claim, basis = cell("claim"), cell("claim_basis").lower() or None
    if basis not in (None, "clip", "real"):
        raise ConvoyCountError(f"{where}: claim_basis must be clip or real, got {basis!r}")
    return claim, basis, cell("file"), cell("sha256").lower()


def load_claims(csv_path, videos: List[Tuple[str, Path, str]]) -> Dict[str, ClaimRow]:
    """Map each video's relative path to its ClaimRow. `videos` is [(rel, abs path, sha256)]."""
    path = Path(csv_path)
    table = _read_table(path)
    header = _header(path, table)
    col = {h: i for i, h in reversed(list(enumerate(header)))}
    found = _Videos(videos)

    result: Dict[str, ClaimRow] = {}
    for n, row in enumerate(table[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        where = f"--claims {path}: line {n}"
        claim, basis, file_ref, sha_ref = _row_claim(row, header, col, where)
        if file_ref:
            rels = [found.by_file(file_ref, where)]
        elif sha_ref:
            rels = found.by_sha(sha_ref, where)
        else:
            raise ConvoyCountError(f"{where}: neither 'file' nor 'sha256' is filled in")
        for rel in rels:                     # a sha256 names every identical copy
            prev = result.get(rel)
            if prev is not None and (prev.claim, prev.claim_basis) != (claim, basis):
                raise ConvoyCountError(f"{where}: {rel} already has the claim {prev.claim!r} "
                                       f"(line {prev.line})")
            result[rel] = ClaimRow(claim, basis, n)
    return result
