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
"""
from __future__ import annotations

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

__all__ = ["write_evidence", "check_out_dir", "EVIDENCE_FILES"]


def _write_bytes(path: Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def _remove_stale_temps(out: Path) -> list:
    """Temp files an earlier, killed run left behind (atomic_path names them
    .<stem>.<8 random chars><suffix>); a clean exit never leaves any."""
    removed = []
    for name in EVIDENCE_FILES:
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
    return out


def write_evidence(report, out_dir, *, command_line: Optional[str] = None,
                   progress: Optional[Callable[[float], None]] = None,
                   annotate: bool = True) -> dict:
    """Write the evidence files for `report` into `out_dir`; return {file name: Path}.

    Re-decodes the analysed range of the input (it must still be the file that
    was analysed: its sha256 is checked). `command_line` is shown in the
    provenance. `progress(fraction)` is called as the work goes on; annotate=False
    skips annotated.mp4 (the slow part)."""
    out = check_out_dir(out_dir)
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
    out.mkdir(parents=True, exist_ok=True)
    # report.json marks a complete set: an old one must not vouch for new files,
    # and an old file must not pass for one of this run (report.json goes first).
    for name in ("report.json",) + EVIDENCE_FILES:
        (out / name).unlink(missing_ok=True)
    _remove_stale_temps(out)
    step = _Progress(progress)
    step(0.0)

    from .annotate import decode_pass
    from .html import render_html
    from .mot import mot_text
    from .sheet import compose, plan_tiles, render_tile
    from .timeline import render_timeline

    written: dict = {}
    written["events.csv"] = write_text(out / "events.csv", report.to_csv())
    written["tracks.txt"] = write_text(out / "tracks.txt", mot_text(report.tracks))
    step(_P_DECODE[0])

    # One decode pass feeds the contact sheet (clean frames) and the video.
    specs = plan_tiles(report)
    wanted: dict = {}
    for spec in specs:
        wanted.setdefault(spec.frame_index, []).append(spec)
    tiles: dict = {}
    tile_time_mismatches = 0

    def on_frame(frame):
        nonlocal tile_time_mismatches
        for spec in wanted.get(frame.index, ()):
            if spec.frame_time_s is not None and abs(spec.frame_time_s - frame.time_s) > 1e-6:
                tile_time_mismatches += 1
            tiles[spec.n] = render_tile(frame.image, spec, report)

    a, b = _P_DECODE
    decode_progress = (lambda f: step(a + (b - a) * f))
    res = None
    if annotate:
        with atomic_path(out / "annotated.mp4") as tmp:
            res = decode_pass(report, video_path=tmp, on_frame=on_frame, progress=decode_progress)
        written["annotated.mp4"] = out / "annotated.mp4"
    elif wanted:
        res = decode_pass(report, video_path=None, on_frame=on_frame,
                          last_needed_index=max(wanted), progress=decode_progress)
    step(b)

    import cv2
    sheet_img, layout = compose(report, specs, tiles)
    ok, png = cv2.imencode(".png", sheet_img)
    if not ok:
        raise ConvoyCountError("could not encode the contact sheet as PNG")
    sheet_png = png.tobytes()
    written["contact_sheet.png"] = _write_bytes(out / "contact_sheet.png", sheet_png)
    written["contact_sheet.json"] = write_json(out / "contact_sheet.json", layout)
    timeline_png = render_timeline(report)
    written["timeline.png"] = _write_bytes(out / "timeline.png", timeline_png)
    step(0.95)

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
    files = [(name, path.stat().st_size, sha256_file(path)) for name, path in written.items()]
    page = render_html(report, contact_sheet_png=sheet_png, timeline_png=timeline_png,
                       command_line=command_line, files=files, render=render,
                       annotated="annotated.mp4" if annotate else None)
    written["report.html"] = write_text(out / "report.html", page)

    # Last: its presence says every file above is complete and belongs to it.
    written["report.json"] = write_text(out / "report.json", report.to_json())
    step(1.0)
    return written
