"""Detectors side by side: speed, peak memory and count accuracy on the same clips.

Clips are rendered by convoycount.synth into a temporary folder, from seeds and picture
sizes the project model (models/convoy-yolo.pt) never saw in training (its training
seeds are 10000+, validation 900000+, these 500000+; none of these sizes is in its
training list): presets news_story, two_way, dense_overlap, shaky_noisy, clock (x8),
vertical, non_crossing, stop_and_go, vfr_phone, convoy25 plus extra speed-ups and
noise, i.e. speed-ups x1-x8, one- and two-way traffic, packed lanes, shake, noise,
VFR and a rotated phone clip. Truth = `total_crossing` of each clip's truth file; every
run counts at the clip's own line (the truth's) and is given its speed-up.

Each configuration runs in its own Python subprocess (so its peak RSS, read from
/proc/self/status VmHWM, is its own), over every clip, through `convoycount.pipeline.analyze`
(or, for "decode only", just convoycount.video.frames). fps = clip frames / wall time
of analyze() summed over the clips (model loading included, once per clip; with a
stride N the detector sees every Nth of those frames).
Exported models (ONNX, OpenVINO) are written to the temporary folder by
`convoycount.detect.commands.export_model` at each image size. The machine's 2 cores
are shared with other work, so absolute fps are noisy; ratios in one run are fair.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PROJECT_MODEL = REPO / "models" / "convoy-yolo.pt"
SEED_BASE = 500_000


@dataclass(frozen=True)
class Clip:
    name: str
    scenario: str
    overrides: dict = field(default_factory=dict)


def clips(quick: bool) -> list:
    c = [
        Clip("news_story-x4", "news_story", dict(width=800, height=450)),
        Clip("two_way-x1", "two_way", dict(width=1120, height=630, n_vehicles=10)),
        Clip("dense_overlap-x1", "dense_overlap", dict(width=896, height=504, n_vehicles=12)),
        Clip("shaky_noisy-x1", "shaky_noisy", dict(width=704, height=396, n_vehicles=8)),
        Clip("clock-x8", "clock", dict(width=800, height=450)),
        Clip("vertical-x2", "vertical", dict(width=432, height=768, speedup=2, n_vehicles=8)),
        Clip("non_crossing-x1", "non_crossing", dict(width=1152, height=648)),
        Clip("stop_and_go-x1", "stop_and_go", dict(width=800, height=450, n_vehicles=8)),
        Clip("vfr_phone-x1", "vfr_phone", dict()),
        Clip("convoy-x3-noise", "convoy25", dict(width=672, height=378, n_vehicles=14, speedup=3,
                                                 noise_sigma=6.0)),
        Clip("two_way-x6-mixed", "two_way", dict(width=1200, height=676, speedup=6, n_vehicles=12,
                                                class_mix="mixed", noise_sigma=4.0)),
        Clip("news_story-x8-civ", "news_story", dict(width=672, height=378, speedup=8,
                                                    class_mix="civilian", n_vehicles=11)),
    ]
    return [c[0], c[1], c[5]] if quick else c


def make_clips(folder: Path, quick: bool) -> list:
    from convoycount.synth import generate, scenario
    out = []
    for i, c in enumerate(clips(quick)):
        path = folder / f"{c.name}.mp4"
        truth = generate(path, scenario(c.scenario, seed=SEED_BASE + i, **c.overrides))
        out.append({"name": c.name, "path": str(path), "truth": truth.total_crossing,
                    "size": f"{truth.width}x{truth.height}", "speedup": truth.speedup,
                    "line": ",".join(f"{v:g}" for v in truth.line),
                    "frames": truth.frames})
    return out


# ------------------------------------------------------------------ configurations
def configurations(folder: Path, quick: bool) -> list:
    """(label, worker job) pairs. Exports happen here, before any timing."""
    from convoycount.detect.commands import export_model
    # 480: the project model's own inference size (recorded in the weights); 320: a fast one
    sizes = (480,) if quick else (480, 320)
    jobs = [("decode only", {"mode": "decode"}),
            ("motion", {"detector": "motion"}),
            ("coco (NanoDet ONNX)", {"detector": "coco"})]
    for s in sizes:
        jobs.append((f"yolo .pt @{s}", {"detector": "yolo", "model": str(PROJECT_MODEL), "imgsz": s}))
    formats = ("onnx",) if quick else ("onnx", "openvino")
    for fmt in formats:
        for s in sizes:
            try:
                path = export_model(str(PROJECT_MODEL), fmt=fmt, imgsz=s,
                                    out=folder / (f"convoy-yolo-{s}.onnx" if fmt == "onnx"
                                                  else f"convoy-yolo-{s}_openvino_model"))
            except Exception as exc:    # e.g. openvino not installed: say so in the table
                jobs.append((f"yolo {fmt} @{s}", {"skip": f"export failed: {exc}"}))
                continue
            jobs.append((f"yolo {fmt} @{s}", {"detector": "yolo", "model": str(path)}))
    if not quick:
        jobs.append(("yolo .pt @480 stride 2", {"detector": "yolo", "model": str(PROJECT_MODEL),
                                                "imgsz": 480, "stride": 2}))
        ov320 = folder / "convoy-yolo-320_openvino_model"
        if ov320.exists():
            jobs.append(("yolo openvino @320 stride 2", {"detector": "yolo", "model": str(ov320),
                                                         "stride": 2}))
    return jobs


def worker(job: dict, clip_list: list) -> dict:
    """Runs in the subprocess: every clip through one configuration."""
    import warnings
    warnings.simplefilter("ignore")
    from convoycount.pipeline import analyze
    from convoycount.video import frames
    results = []
    extra = {k: job[k] for k in ("imgsz", "stride") if k in job}
    for c in clip_list:
        t0 = time.perf_counter()
        if job.get("mode") == "decode":
            n = sum(1 for _ in frames(c["path"]))
            count = None
        else:
            rep = analyze(c["path"], detector=job["detector"], model=job.get("model"),
                          line=c["line"], speedup=c["speedup"], **extra)
            n, count = c["frames"], len(rep.events)     # clip frames, even with a stride
        results.append({"name": c["name"], "frames": n, "seconds": time.perf_counter() - t0,
                        "count": count})
    return {"clips": results, "peak_rss_mb": peak_rss_mb()}


def peak_rss_mb() -> float:
    """This process's own peak resident memory. /proc's VmHWM belongs to the address
    space, which exec replaces; getrusage's ru_maxrss on Linux carries the parent's
    peak over fork + exec (the runner's, after rendering clips and exporting models)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_job(job: dict, clip_list: list, folder: Path) -> dict:
    if "skip" in job:
        return job
    spec = folder / f"job-{time.monotonic_ns()}.json"
    spec.write_text(json.dumps({"job": job, "clips": clip_list}))
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    p = subprocess.run([sys.executable, __file__, "--worker", str(spec)], capture_output=True,
                       text=True, env=env, cwd=str(REPO))
    if p.returncode != 0:
        tail = (p.stderr.strip().splitlines() or ["?"])[-1]
        return {"skip": f"worker failed: {tail}"}
    return json.loads(p.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ report
def run(quick: bool) -> str:
    with tempfile.TemporaryDirectory(prefix="bench-detectors-") as tmp:
        folder = Path(tmp)
        clip_list = make_clips(folder, quick)
        jobs = configurations(folder, quick)
        rows, per_clip = [], {}
        for label, job in jobs:
            res = run_job(job, clip_list, folder)
            if "skip" in res:
                rows.append(f"| {label} | - | - | - | - | {res['skip']} |")
                continue
            cs = res["clips"]
            frames_n = sum(c["frames"] for c in cs)
            secs = sum(c["seconds"] for c in cs)
            if job.get("mode") == "decode":
                acc_exact = acc_1 = "-"
            else:
                errs = [c["count"] - t["truth"] for c, t in zip(cs, clip_list)]
                acc_exact = f"{sum(e == 0 for e in errs)}/{len(errs)}"
                acc_1 = f"{sum(abs(e) <= 1 for e in errs)}/{len(errs)}"
                per_clip[label] = [c["count"] for c in cs]
            rows.append(f"| {label} | {frames_n / secs:.1f} | {res['peak_rss_mb']:.0f} | "
                        f"{acc_exact} | {acc_1} | |")

    out = ["### Detectors: speed, memory, count accuracy", "",
           f"{len(clip_list)} generated clips ({sum(c['frames'] for c in clip_list)} frames), "
           "unseen seeds and picture sizes; same clips for every row.", "",
           "| configuration | fps (end to end) | peak RSS MB | exact | within ±1 | note |",
           "|---|---:|---:|---:|---:|---|", *rows, ""]
    labels = [lbl for lbl in per_clip if lbl.startswith("yolo") or lbl.startswith("coco")
              or lbl == "motion"]
    out += ["Counts per clip (truth = vehicles whose centre crosses the line):", "",
            "| clip | size | speed-up | truth | " + " | ".join(labels) + " |",
            "|---|---|---:|---:|" + "---:|" * len(labels)]
    for i, c in enumerate(clip_list):
        cells = []
        for lbl in labels:
            v = per_clip[lbl][i]
            cells.append(f"**{v}**" if v != c["truth"] else str(v))
        out.append(f"| {c['name']} | {c['size']} | x{c['speedup']} | {c['truth']} | " + " | ".join(cells) + " |")
    same = []
    for s in (480, 320):
        for fmt in ("onnx", "openvino"):
            a, b = per_clip.get(f"yolo .pt @{s}"), per_clip.get(f"yolo {fmt} @{s}")
            if a and b:
                same.append(f"{fmt} @{s}: {sum(x == y for x, y in zip(a, b))}/{len(a)}")
    out += ["", "Bold: count differs from the truth. "
            + ("Exported model gives the same count as the .pt at the same size on: "
               + "; ".join(same) + " clips. " if same else "")
            + __doc__.split("\n\n")[2].replace("\n", " ")]
    return "\n".join(out)


def _worker_main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    print(json.dumps(worker(spec["job"], spec["clips"])))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        sys.path.insert(0, str(REPO))
        _worker_main(sys.argv[2])
    else:
        sys.exit("run through the runner: python benchmarks/run.py detectors [--quick]")
