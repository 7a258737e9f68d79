"""YOLOv10n speed on real footage: the whole pipeline's clip frames per second at 640x360
(city_street_a) and 1280x720 (highway_a), by input size, stride and runtime.

Each configuration runs `analyze(clip, detector="yolo", model=..., imgsz=..., stride=...,
end_s=SECONDS)` on the first SECONDS of the clip at its hand count's line, and reports
clip frames / wall seconds (model load included), CPU seconds per clip frame (all threads:
less sensitive to the other work sharing the 2 cores), the 1-minute load average before
the run, and the count against the hand count of that span. Exports (ONNX through
onnxruntime, OpenVINO) are made by `convoycount.detect.commands.export_model` from the
packaged .pt into a temporary folder (fixed 640x640 input, as `convoycount export` writes).
`python benchmarks/bench_yolov10n_speed.py` prints a Markdown table and writes the raw rows
to benchmarks/yolov10n_speed.json.
"""
from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from bench_realclips import hand_counts, realclips_dir  # noqa: E402

RAW = HERE / "yolov10n_speed.json"
SECONDS = 10.0
CLIPS = ("city_street_a", "highway_a")          # 640x360 25 fps, 1280x720 29.97 fps
CONFIGS = (("pt", 640, 1), ("pt", 640, 2), ("pt", 480, 1), ("pt", 320, 1),
           ("onnx", 640, 1), ("openvino", 640, 1))


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_one(clip: Path, hand: dict, model: str, fmt: str, imgsz: int, stride: int) -> dict:
    import convoycount
    load, t0, c0 = os.getloadavg()[0], time.perf_counter(), _cpu_s()
    r = convoycount.analyze(clip, detector="yolo", model=model, imgsz=None if fmt != "pt" else imgsz,
                            stride=stride, line=hand["line"], end_s=SECONDS)
    wall, cpu = time.perf_counter() - t0, _cpu_s() - c0
    clip_frames = round((r.span_s[1] - r.span_s[0]) * r.probe.fps_measured)
    expected = sum(1 for e in hand["events"] if e["time_s"] < SECONDS)
    return {"clip": clip.stem, "size": f"{r.probe.width}x{r.probe.height}", "format": fmt,
            "imgsz": imgsz, "stride": stride, "clip_frames": clip_frames,
            "fps": round(clip_frames / wall, 2), "cpu_ms_per_frame": round(1000 * cpu / clip_frames, 1),
            "load_before": round(load, 2), "count": r.total, "hand": expected}


def measure(quick: bool = False) -> list:
    from convoycount.detect.commands import export_model
    hand = hand_counts()
    rows = []
    configs = CONFIGS[:1] if quick else CONFIGS
    with tempfile.TemporaryDirectory() as tmp:
        exported = {}
        for fmt, imgsz, stride in configs:
            if fmt != "pt" and fmt not in exported:
                out = Path(tmp) / ("yolov10n.onnx" if fmt == "onnx" else "yolov10n_openvino_model")
                exported[fmt] = str(export_model("yolov10n", fmt=fmt, imgsz=imgsz, out=out))
            for name in CLIPS:
                row = run_one(realclips_dir() / hand[name]["file"], hand[name],
                              exported.get(fmt, "yolov10n"), fmt, imgsz, stride)
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
    return rows


def table(rows: list) -> str:
    out = ["| clip | runtime | input | stride | clip fps | CPU ms / clip frame | load | count / hand (first 10 s) |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['clip']} ({r['size']}) | {r['format']} | {r['imgsz']} | {r['stride']} | "
                   f"{r['fps']} | {r['cpu_ms_per_frame']} | {r['load_before']} | {r['count']} / {r['hand']} |")
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
