"""Evidence a sceptical reader can check: `write_evidence(report, out_dir)`.

Writes, into one directory:

  events.csv          one row per counted vehicle (Report.to_csv)
  tracks.txt          all confirmed tracks, MOTChallenge format (TrackEval reads it)
  annotated.mp4       every analysed frame at its own timestamp, with boxes, ids,
                      the counting line, the running count, clip and real time
  contact_sheet.png   one tile per counted vehicle, in time order (+ .json layout)
  timeline.png        crossings on clip and real time, the claim's window
  report.html         all of the above on one self-contained, offline page
  report.json         the report (Report.to_json), written LAST

Every file is written atomically (temp file + os.replace). Earlier evidence
files in the directory (report.json first) are removed before anything is
written, so report.json exists only when the whole set is complete and from
the same run; after an interruption the directory holds only files this run
finished (and hidden temp files, removed by the next run).

Only files convoycount wrote are ever replaced or removed: each is recorded in
the folder's manifest (MANIFEST: name, size, modification time) as soon as it is
in place. A file with one of these names that the manifest does not vouch for
(the user's own report.html, or one of ours edited since) makes `--out` refuse
the folder before any work is done.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Callable, Optional

from ..errors import ConvoyCountError, InputError
from ..hashing import sha256_file
from ..io import atomic_path, write_json, write_text

EVIDENCE_FILES = ("events.csv", "tracks.txt", "annotated.mp4", "contact_sheet.png",
                  "contact_sheet.json", "timeline.png", "report.html", "report.json")

# Share of the progress bar per step: re-decoding and encoding is nearly all the work.
_P_DECODE = (0.02, 0.90)

MANIFEST = ".convoycount-evidence.json"

__all__ = ["write_evidence", "check_out_dir", "EVIDENCE_FILES", "MANIFEST"]


def _stamp(path: Path) -> dict:
    st = path.stat()
    return {"bytes": st.st_size, "mtime_ns": st.st_mtime_ns}


def _manifest(out: Path) -> dict:
    """{file name: stamp} of the evidence files convoycount wrote into `out`."""
    try:
        files = json.loads((out / MANIFEST).read_text(encoding="utf-8")).get("files", {})
        return files if isinstance(files, dict) else {}
    except (OSError, ValueError, AttributeError):
        return {}


def _foreign(out: Path) -> list:
    """Evidence file names in `out` that convoycount did not write (or that changed since)."""
    ours = _manifest(out)
    found = []
    for name in EVIDENCE_FILES:
        p = out / name
        if not (p.exists() or p.is_symlink()):
            continue
        if p.is_symlink() or not p.is_file() or ours.get(name) != _stamp(p):
            found.append(name)
    return found


class _Written(dict):
    """{name: path} of the files this run wrote; each goes into the folder's manifest
    as soon as it is in place, so a later run (even after this one is killed) knows
    it may replace it."""

    def __init__(self, out: Path):
        super().__init__()
        self.out = out

    def __setitem__(self, name: str, path: Path) -> None:
        super().__setitem__(name, path)
        files = _manifest(self.out)
        files[name] = _stamp(Path(path))
        write_text(self.out / MANIFEST, json.dumps({"files": files}, indent=1) + "\n")


def _write_bytes(path: Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def _remove_stale_temps(out: Path) -> list:
    """Temp files an earlier, killed run left behind (atomic_path names them
    .<stem>.<8 random chars><suffix>); a clean exit never leaves any."""
    removed = []
    for name in EVIDENCE_FILES + (MANIFEST,):
        stem, suffix = Path(name).stem, Path(name).suffix
        pat = re.compile(rf"^\.{re.escape(stem)}\.[a-z0-9_]{{8}}{re.escape(suffix)}$")
        for p in out.iterdir():
            if pat.match(p.name) and p.is_file():
                p.unlink(missing_ok=True)
                removed.append(p.name)
    return removed


class _Progress:
    """Monotone, clamped progress for the caller's callback."""

    def __init__(self, callback: Optional[Callable[[float], None]]):
        self.callback = callback
        self.done = 0.0

    def __call__(self, fraction: float) -> None:
        if self.callback is None:
            return
        fraction = min(1.0, max(self.done, float(fraction)))
        self.done = fraction
        self.callback(fraction)


def check_out_dir(out_dir) -> Path:
    """Fail early (before a long analysis) if `out_dir` cannot hold the evidence."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConvoyCountError(f"--out must be a directory, got an existing file: {out}")
    parent = next((p for p in (out, *out.parents) if p.exists()), Path("."))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConvoyCountError(f"--out {out}: {parent} is not writable")
    foreign = _foreign(out) if out.is_dir() else []
    if foreign:
        raise ConvoyCountError(
            f"--out {out} already holds {', '.join(foreign)}, which convoycount did not write "
            "(or which changed since); it never replaces files it did not write: choose an "
            "empty or new folder, or move those files")
    return out


def _check_input(report, out: Path) -> Path:
    """The analysed clip, refused if the evidence would overwrite it, if it is gone,
    or if it changed since the analysis (boxes would then be drawn on other pictures)."""
    src = Path(report.input_path)
    if src.resolve() in {(out / n).resolve() for n in EVIDENCE_FILES}:
        raise ConvoyCountError(f"--out {out}: writing the evidence there would overwrite the "
                               f"input clip {src}; choose another directory")
    if not src.is_file():
        raise InputError(f"{src}: the analysed clip is needed to draw the evidence, "
                         "but it is not there any more")
    sha = sha256_file(src)
    if sha != report.input_sha256:
        raise InputError(f"{src}: changed since it was analysed (sha256 {sha[:12]}..., "
                         f"report says {report.input_sha256[:12]}...)")
    return src


def _clear_out_dir(out: Path) -> None:
    """Create `out` and remove the earlier evidence files convoycount wrote there
    (check_out_dir has refused any other) and stale temp files."""
    out.mkdir(parents=True, exist_ok=True)
    # report.json marks a complete set: an old one must not vouch for new files,
    # and an old file must not pass for one of this run (report.json goes first).
    for name in ("report.json",) + EVIDENCE_FILES:
        (out / name).unlink(missing_ok=True)
    (out / MANIFEST).unlink(missing_ok=True)
    _remove_stale_temps(out)


class _TileCollector:
    """The decode pass's frame callback for the contact sheet: renders the tile of
    every planned crossing from the clean frame it names, and counts tiles whose
    frame time differs from the one planned (the decode is then not the analysis')."""

    def __init__(self, report, specs):
        from .sheet import render_tile
        self._render_tile = render_tile
        self.report = report
        self.wanted: dict = {}
        for spec in specs:
            self.wanted.setdefault(spec.frame_index, []).append(spec)
        self.tiles: dict = {}
        self.time_mismatches = 0

    def __call__(self, frame) -> None:
        for spec in self.wanted.get(frame.index, ()):
            if spec.frame_time_s is not None and abs(spec.frame_time_s - frame.time_s) > 1e-6:
                self.time_mismatches += 1
            self.tiles[spec.n] = self._render_tile(frame.image, spec, self.report)


def _decode_once(report, out: Path, tiles: _TileCollector, annotate: bool, step,
                 written: dict):
    """One decode pass feeds the contact sheet (clean frames) and, if `annotate`,
    the annotated video; without a video it stops after the last frame a tile
    needs, and with no tile and no video it is skipped (None)."""
    from .annotate import decode_pass

    a, b = _P_DECODE
    decode_progress = (lambda f: step(a + (b - a) * f))
    res = None
    if annotate:
        with atomic_path(out / "annotated.mp4") as tmp:
            res = decode_pass(report, video_path=tmp, on_frame=tiles, progress=decode_progress)
        written["annotated.mp4"] = out / "annotated.mp4"
    elif tiles.wanted:
        res = decode_pass(report, video_path=None, on_frame=tiles,
                          last_needed_index=max(tiles.wanted), progress=decode_progress)
    step(b)
    return res


def _write_pictures(report, out: Path, specs, tiles: dict, written: dict) -> tuple:
    """Write the contact sheet (PNG + layout) and the timeline; return both PNGs'
    bytes, which the HTML page embeds."""
    import cv2
    from .sheet import compose
    from .timeline import render_timeline

    sheet_img, layout = compose(report, specs, tiles)
    ok, png = cv2.imencode(".png", sheet_img)
    if not ok:
        raise ConvoyCountError("could not encode the contact sheet as PNG")
    sheet_png = png.tobytes()
    written["contact_sheet.png"] = _write_bytes(out / "contact_sheet.png", sheet_png)
    written["contact_sheet.json"] = write_json(out / "contact_sheet.json", layout)
    timeline_png = render_timeline(report)
    written["timeline.png"] = _write_bytes(out / "timeline.png", timeline_png)
    return sheet_png, timeline_png


def _render_facts(report, res, annotate: bool, tile_time_mismatches: int) -> dict:
    """How the re-decode went, for the page: frames and times, and (with the video)
    nudged timestamps, box/frame time mismatches and a note when the re-decode's
    frame count differs from the analysis'."""
    render: dict = {}
    if res is not None:
        render = {"frames re-decoded": res.frames,
                  "frames analysed": report.frames_processed,
                  "first frame time (s)": res.first_time_s,
                  "last frame time (s)": res.last_time_s}
        if annotate:
            render["timestamps nudged by 1/90000 s"] = res.nudged_pts
            render["box/frame time mismatches"] = res.time_mismatches + tile_time_mismatches
            if res.frames != report.frames_processed:
                render["note"] = ("the re-decode gave a different number of frames than the "
                                  "analysis; boxes may not line up")
    return render


def write_evidence(report, out_dir, *, command_line: Optional[str] = None,
                   progress: Optional[Callable[[float], None]] = None,
                   annotate: bool = True) -> dict:
    """Write the evidence files for `report` into `out_dir`; return {file name: Path}.

    Re-decodes the analysed range of the input (it must still be the file that
    was analysed: its sha256 is checked). `command_line` is shown in the
    provenance. `progress(fraction)` is called as the work goes on; annotate=False
    skips annotated.mp4 (the slow part)."""
    _check_input(report, Path(out_dir))
    out = check_out_dir(out_dir)
    _clear_out_dir(out)
    step = _Progress(progress)
    step(0.0)

    from .html import render_html
    from .mot import mot_text
    from .sheet import plan_tiles

    written = _Written(out)
    written["events.csv"] = write_text(out / "events.csv", report.to_csv())
    written["tracks.txt"] = write_text(out / "tracks.txt", mot_text(report.tracks))
    step(_P_DECODE[0])

    specs = plan_tiles(report)
    tiles = _TileCollector(report, specs)
    res = _decode_once(report, out, tiles, annotate, step, written)
    sheet_png, timeline_png = _write_pictures(report, out, specs, tiles.tiles, written)
    step(0.95)

    render = _render_facts(report, res, annotate, tiles.time_mismatches)
    files = [(name, path.stat().st_size, sha256_file(path)) for name, path in written.items()]
    page = render_html(report, contact_sheet_png=sheet_png, timeline_png=timeline_png,
                       command_line=command_line, files=files, render=render,
                       annotated="annotated.mp4" if annotate else None)
    written["report.html"] = write_text(out / "report.html", page)

    # Last: its presence says every file above is complete and belongs to it.
    written["report.json"] = write_text(out / "report.json", report.to_json())
    step(1.0)
    return written
