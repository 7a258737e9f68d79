"""Finding the videos in a folder, by content as well as by name, and naming each by
its bytes.

A file is a candidate when its first bytes look like a video container (magic
numbers) OR its extension is a video extension. Sniffing catches clips saved with
no or a wrong extension; the extension catches broken files that should still get
a `failed` row (an empty or truncated `.mp4` is a video the user expected to be
counted). Everything else (notes, thumbnails, subtitles) is silently ignored.

The clip id is the first 16 hex digits of the file's SHA-256, so a renamed file is
recognised and byte-identical copies share one analysis.
"""
from __future__ import annotations

import fnmatch
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

from ..hashing import sha256_file
from ..io import write_json

VIDEO_EXTENSIONS = frozenset({
    ".mp4", ".m4v", ".mov", ".qt", ".3gp", ".3g2", ".mj2", ".f4v",      # ISO-BMFF / QuickTime
    ".mkv", ".webm", ".mk3d",                                             # Matroska
    ".avi", ".divx",                                                      # RIFF
    ".ts", ".mts", ".m2ts", ".m2t", ".tsv", ".trp",                       # MPEG transport stream
    ".mpg", ".mpeg", ".mpe", ".m1v", ".m2v", ".vob", ".mod", ".tod",      # MPEG program stream
    ".flv", ".wmv", ".asf", ".ogv", ".mxf", ".dv", ".rm", ".rmvb", ".nut", ".y4m", ".ivf",
    ".h264", ".264", ".h265", ".265", ".hevc",                            # raw elementary streams
})

CLIP_ID_HEX = 16
SNIFF_BYTES = 4096

# ISO-BMFF top-level box types that can open a file. 'ftyp' brands that announce a
# still image or audio only are not videos.
_BMFF_FIRST_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"styp",
                     b"moof", b"uuid"}
_NON_VIDEO_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"mif1", b"msf1", b"avif",
                     b"M4A ", b"M4B ", b"M4P ", b"jp2 ", b"crx "}


# Containers announced by a fixed prefix alone. No prefix starts another, so at most
# one matches and their order does not matter.
_MAGIC_PREFIXES = (
    (b"FLV\x01", "flv"),
    (b"\x00\x00\x01\xba", "mpeg-ps"),
    (b"\x00\x00\x01\xb3", "mpeg-video"),
    (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", "asf/wmv"),
    (b"\x06\x0e\x2b\x34\x02\x05\x01\x01", "mxf"),
    (b".RMF", "realmedia"),
    (b"DKIF", "ivf"),
    (b"nut/multimedia container", "nut"),
    (b"YUV4MPEG2", "y4m"),
)


def sniff_container(head: bytes) -> Optional[str]:
    """The container a file's first bytes announce, or None if they announce no video.

    Only magic numbers, no parsing: cheap enough to run on every file in a folder."""
    if len(head) >= 12 and head[4:8] in _BMFF_FIRST_BOXES:
        if head[4:8] == b"ftyp" and head[8:12] in _NON_VIDEO_BRANDS:
            return None
        size = int.from_bytes(head[0:4], "big")
        if size in (0, 1) or size >= 8:     # 0: to end of file, 1: 64-bit size follows
            return "mp4/mov"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska/webm"
    if head.startswith(b"RIFF") and head[8:12] in (b"AVI ", b"AVIX", b"AMV "):
        return "avi"
    if len(head) >= 377 and head[0] == 0x47 and head[188] == 0x47 and head[376] == 0x47:
        return "mpegts"
    if len(head) >= 389 and head[4] == 0x47 and head[196] == 0x47 and head[388] == 0x47:
        return "mpegts (m2ts)"                     # 192-byte packets with a 4-byte timecode
    for magic, name in _MAGIC_PREFIXES:
        if head.startswith(magic):
            return name
    if head.startswith(b"OggS") and b"\x80theora" in head:
        return "ogg (theora)"
    if head.startswith(b"\x00\x00\x00\x01") and len(head) > 4:
        nal = head[4]
        if nal & 0x1F == 7 or (nal >> 1) & 0x3F in (32, 33):   # H.264 SPS / HEVC VPS, SPS
            return "h264/hevc elementary stream"
    return None


@dataclass(frozen=True)
class Discovered:
    path: Path                   # absolute
    rel: str                     # relative to the input folder, POSIX separators: the row key
    container: Optional[str]     # what the magic bytes say (None: chosen by extension only)
    size: int


def _hidden(name: str) -> bool:
    return name.startswith(".")


def _matches(rel: str, name: str, pattern: str) -> bool:
    alts = [pattern]
    if pattern.startswith("**/"):             # "**/x" also means "x" at the top level
        alts.append(pattern[3:])
    return any(fnmatch.fnmatchcase(rel, p) or fnmatch.fnmatchcase(name, p) for p in alts)


def discover(input_dir, out_dir=None, *, glob: Optional[str] = None,
             recursive: bool = False) -> List[Discovered]:
    """Every video under `input_dir`, sorted by relative path.

    Hidden files and folders, `out_dir` (when it lies inside `input_dir`) and
    anything that is not a regular file (FIFOs would block a reader forever) are
    skipped. `glob` filters on the relative path or the file name."""
    root = Path(input_dir).resolve()
    out = Path(out_dir).resolve() if out_dir is not None else None
    found: List[Discovered] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        if recursive:
            dirnames[:] = sorted(d for d in dirnames
                                 if not _hidden(d) and (out is None or (here / d).resolve() != out))
        else:
            dirnames[:] = []
        for name in filenames:
            if _hidden(name):
                continue
            path = here / name
            rel = path.relative_to(root).as_posix()
            if glob and not _matches(rel, name, glob):
                continue
            try:
                st = os.stat(path)
            except OSError:
                continue                       # dangling symlink
            if not stat.S_ISREG(st.st_mode):
                continue
            container = None
            try:
                with open(path, "rb") as fh:
                    container = sniff_container(fh.read(SNIFF_BYTES))
            except OSError:
                pass                           # unreadable: the extension decides; analyze says why
            if container is None and path.suffix.lower() not in VIDEO_EXTENSIONS:
                continue
            found.append(Discovered(path=path, rel=rel, container=container, size=st.st_size))
    found.sort(key=lambda d: d.rel)
    return found


def clip_id(sha256: str) -> str:
    return sha256[:CLIP_ID_HEX]


class HashCache:
    """SHA-256 of each input, remembered by (size, mtime_ns, inode) in OUT/.hashes.json so a
    rerun over a big collection does not read every byte again. A changed file changes
    its mtime or size, and is hashed afresh."""

    def __init__(self, path):
        self.path = Path(path)
        self._entries: Dict[str, list] = {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if isinstance(data, dict) and isinstance(data.get("files"), dict):
                self._entries = data["files"]
        except (OSError, ValueError):
            pass                               # missing or damaged: just hash again
        self._dirty = False

    def sha256(self, path: Path) -> str:
        st = os.stat(path)
        key = str(path)
        stamp = [st.st_size, st.st_mtime_ns, st.st_ino]
        hit = self._entries.get(key)
        if isinstance(hit, list) and len(hit) == 4 and hit[:3] == stamp:
            return hit[3]
        digest = sha256_file(path)
        self._entries[key] = stamp + [digest]
        self._dirty = True
        return digest

    def save(self) -> None:
        if self._dirty:
            write_json(self.path, {"version": 1, "files": self._entries})
            self._dirty = False
