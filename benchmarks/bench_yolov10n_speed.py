"""YOLOv10n speed on real footage: the whole pipeline's clip frames per second at 640x360
(city_street_a) and 1280x720 (highway_a), as `convoycount count CLIP --detector auto` runs
it, against the fixed 640 input it used before and with `--stride 2`.

Each configuration runs `analyze(clip, detector=..., imgsz=..., stride=..., line=<hand
line>, end_s=SECONDS)` on the first SECONDS of the clip, in one process that has already
imported ultralytics and torch (a 0.5 s warm-up analysis first: importing them costs a few
CPU seconds once per process, not per frame). Reported: clip frames / wall seconds (model
load and the input-size look-ahead included), CPU milliseconds per clip frame (the process's user +
system time over all its threads: the steadier number while other work shares the 2
cores), the 1-minute load average before and after, the input size used, and the count
against the hand count of that span, and the looks rule's verdict (README, "Speed on CPU": the
first frames run at 640 until moving vehicles were measured). `nice -n 10 python
benchmarks/bench_yolov10n_speed.py` prints a Markdown table and writes the raw rows to
benchmarks/yolov10n_speed.json; `--quick` runs the default configuration only.
"""
from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from bench_realclips import hand_counts, realclips_dir  # noqa: E402

RAW = HERE / "yolov10n_speed.json"
SECONDS = 10.0
CLIPS = ("city_street_a", "highway_a")          # 640x360 25 fps, 1280x720 29.97 fps
# (label, analyze keywords): the default first.
CONFIGS = (("auto (default)", {"detector": "auto"}),
           ("yolo, fixed 640 input", {"detector": "yolo", "model": "yolov10n", "imgsz": 640}),
           ("auto, --stride 2", {"detector": "auto", "stride": 2}))


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_one(clip: Path, hand: dict, kw: dict) -> dict:
    """One analysis in this process (the `--one` worker)."""
    import convoycount
    load, t0, c0 = os.getloadavg()[0], time.perf_counter(), _cpu_s()
    r = convoycount.analyze(clip, line=hand["line"], end_s=SECONDS, **kw)
    wall, cpu = time.perf_counter() - t0, _cpu_s() - c0
    clip_frames = round((r.span_s[1] - r.span_s[0]) * r.probe.fps_measured)
    settings = r.params.get("detector_settings") or {}
    return {"clip": clip.stem, "size": f"{r.probe.width}x{r.probe.height}", "detector": r.detector.name,
            "imgsz": settings.get("imgsz"), "stride": kw.get("stride", 1), "clip_frames": clip_frames,
            # the looks rule's verdict: the frame from which the smaller input ran (None: 640 all along)
            "looks": ((settings.get("input_size") or {}).get("looks") or {}).get("reason"),
            "fps": round(clip_frames / wall, 2), "cpu_ms_per_frame": round(1000 * cpu / clip_frames, 1),
            "load_before": round(load, 2), "load_after": round(os.getloadavg()[0], 2),
            "count": r.total, "hand": sum(1 for e in hand["events"] if e["time_s"] < SECONDS)}


def measure(quick: bool = False) -> list:
    hand = hand_counts()
    rows = []
    import convoycount
    convoycount.analyze(realclips_dir() / hand[CLIPS[0]]["file"], detector="auto", end_s=0.5)
    for label, kw in CONFIGS[:1] if quick else CONFIGS:
        for name in CLIPS:
            row = {"config": label, **run_one(realclips_dir() / hand[name]["file"], hand[name], kw)}
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    return rows


def table(rows: list) -> str:
    out = ["| clip | configuration | input | clip fps | CPU ms / clip frame | load before / after | count / hand (first 10 s) |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['clip']} ({r['size']}) | {r['config']} | {r['imgsz']} | {r['fps']} | "
                   f"{r['cpu_ms_per_frame']} | {r['load_before']} / {r['load_after']} | {r['count']} / {r['hand']} |")
    return "\n".join(out)


def run(quick: bool = False) -> str:
    """For benchmarks/run.py: the table as a Markdown block (raw rows kept unless quick)."""
    if not all((realclips_dir() / hand_counts()[c]["file"]).is_file() for c in CLIPS):
        return f"## YOLOv10n speed on real clips\n\nSkipped: the real clips are not at {realclips_dir()}.\n"
    measured = measure(quick)
    if not quick:
        RAW.write_text(json.dumps(measured, indent=1) + "\n")
    return "## YOLOv10n speed on real clips\n\n" + table(measured) + "\n"


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
