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


def load_claims(csv_path, videos: List[Tuple[str, Path, str]]) -> Dict[str, ClaimRow]:
    """Map each video's relative path to its ClaimRow. `videos` is [(rel, abs path, sha256)]."""
    path = Path(csv_path)
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
        table = [r for r in reader]
    except csv.Error as e:
        raise ConvoyCountError(f"--claims {path}: not a valid CSV file ({e})") from None
    if not table or not any(cell.strip() for cell in table[0]):
        raise ConvoyCountError(f"--claims {path}: empty; expected a header row with "
                               "'file' or 'sha256', and 'claim'")
    header = [h.strip().lower() for h in table[0]]
    if "claim" not in header or not ({"file", "sha256"} & set(header)):
        raise ConvoyCountError(f"--claims {path}: header must have a 'claim' column and a 'file' "
                               f"or 'sha256' column; found {', '.join(repr(h) for h in header)}")
    col = {h: i for i, h in reversed(list(enumerate(header)))}

    by_rel = {rel: rel for rel, _, _ in videos}
    by_abs = {os.path.normcase(str(p)): rel for rel, p, _ in videos}
    by_name = defaultdict(list)
    for rel, p, _ in videos:
        by_name[p.name].append(rel)
    shas = [(sha, rel) for rel, _, sha in videos if sha]

    def cell(row, name) -> str:
        i = col.get(name)
        return row[i].strip() if i is not None and i < len(row) else ""

    def where(n):
        return f"--claims {path}: line {n}"

    result: Dict[str, ClaimRow] = {}
    for n, row in enumerate(table[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) > len(header):
            raise ConvoyCountError(f"{where(n)}: {len(row)} cells but the header has {len(header)} "
                                   "(quote claims that contain commas)")
        claim, basis = cell(row, "claim"), cell(row, "claim_basis").lower() or None
        if basis not in (None, "clip", "real"):
            raise ConvoyCountError(f"{where(n)}: claim_basis must be clip or real, got {basis!r}")
        file_ref, sha_ref = cell(row, "file"), cell(row, "sha256").lower()
        if file_ref:
            rel = by_rel.get(file_ref.replace("\\", "/").removeprefix("./"))
            if rel is None and os.path.isabs(file_ref):
                rel = by_abs.get(os.path.normcase(str(Path(file_ref).resolve())))
            if rel is None:
                named = by_name.get(file_ref, [])
                if len(named) > 1:
                    raise ConvoyCountError(f"{where(n)}: file {file_ref!r} is ambiguous "
                                           f"({', '.join(named[:3])}); give the path relative to the folder")
                rel = named[0] if named else None
            if rel is None:
                raise ConvoyCountError(f"{where(n)}: file {file_ref!r} is not among the "
                                       f"{len(videos)} videos found")
            rels = [rel]
        elif sha_ref:
            if len(sha_ref) < 16 or any(ch not in "0123456789abcdef" for ch in sha_ref):
                raise ConvoyCountError(f"{where(n)}: sha256 must be at least 16 hex digits, "
                                       f"got {sha_ref!r}")
            rels = [rel for sha, rel in shas if sha.startswith(sha_ref)]
            if not rels:
                raise ConvoyCountError(f"{where(n)}: sha256 {sha_ref} matches none of the "
                                       f"{len(videos)} videos found")
        else:
            raise ConvoyCountError(f"{where(n)}: neither 'file' nor 'sha256' is filled in")
        for rel in rels:                     # a sha256 names every identical copy
            prev = result.get(rel)
            if prev is not None and (prev.claim, prev.claim_basis) != (claim, basis):
                raise ConvoyCountError(f"{where(n)}: {rel} already has the claim {prev.claim!r} "
                                       f"(line {prev.line})")
            result[rel] = ClaimRow(claim, basis, n)
    return result
