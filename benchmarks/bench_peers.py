"""Side by side with the peers: the same model file, the same clips, the same line.

Systems (each runs in its own process, so its peak RSS is its own):
* convoycount_yolo / _coco / _motion: `convoycount.analyze` with that detector
  (yolo: the same model file the peers get);
* ultralytics_objectcounter: `solutions.ObjectCounter` with its documented defaults
  (its own tracker, imgsz set to the model's size), fed OpenCV frames as its docs
  show; an event's time is OpenCV's CAP_PROP_POS_MSEC when its count goes up;
* supervision_bytetrack: the model's boxes -> `trackers.ByteTrackTracker` ->
  `sv.LineZone`, frames from `sv.get_video_frames_generator`, time = index / fps as
  supervision's examples compute it;
* decode_only: PyAV decodes every frame to BGR (the limit for any pipeline).

Clips: a fixed seeded suite of generated clips (seeds 71000+, never used to tune
anything) in three rendering looks: `standard`, the look models/convoy-yolo.pt was
trained on, and the held-out `flat` and `haze` (convoycount/synth/looks.py); the
model for every system is models/convoy-yolo.pt. Then the real clips of
../shared/realclips with our hand counts (benchmarks/realclips_hand.json), where
every system gets the pretrained COCO YOLOv10n (vehicle classes only) — skipped
with a note when the folder is absent.

Metrics per system: exact_rate (counted total = true total and every counted event
within MATCH_TOL_S of its own true crossing), mae (|counted - true|), timing_err_s
(median |event time - true time| over matched events), fps (clip frames per wall
second from the second frame on: model loading and the first frame's warm-up are
left out for every system alike), peak_rss_mb. Directions are not compared: each
peer names them its own way.

`python benchmarks/run.py peers [--quick]`; `python benchmarks/bench_peers.py --json OUT`.
Needs the `bench` extra (`pip install -e '.[bench]'`).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from convoycount.io import write_text  # noqa: E402  (atomic: a stopped run leaves no half file)
from rss import peak_rss_mb  # noqa: E402

SYSTEMS = ("convoycount_yolo", "convoycount_coco", "convoycount_motion",
           "ultralytics_objectcounter", "supervision_bytetrack", "decode_only")
PROJECT_MODEL = ROOT / "models" / "convoy-yolo.pt"
COCO_VEHICLES = [2, 3, 5, 7]         # car, motorcycle, bus, truck
MATCH_TOL_S = 1.0
SEED0 = 71000

# (variant, scenario, overrides): one- and two-way, x1-x8, VFR, noise and shake, a
# vehicle that stops on the line, one that turns back before it.
VARIANTS = (
    ("news_x4", "news_story", {}),
    ("two_way", "two_way", {}),
    ("two_way_x4", "two_way", {"speedup": 4}),
    ("vfr_phone", "vfr_phone", {}),
    ("shaky_noisy", "shaky_noisy", {}),
    ("stop_on_line", "stop_and_go", {"stop_on_line_fraction": 1.0}),
    ("turn_back", "non_crossing", {"non_crossing_kinds": ("reverse_out",)}),
    ("clock_x8", "clock", {}),
)
LOOK_VARIANTS = {"standard": VARIANTS, "flat": VARIANTS[:7], "haze": VARIANTS[:7]}
QUICK = (("standard", "two_way"), ("standard", "stop_on_line"), ("flat", "two_way_x4"),
         ("flat", "turn_back"), ("haze", "news_x4"), ("haze", "shaky_noisy"))
QUICK_REAL = ("highway_b",)


def suite(quick: bool) -> list:
    """[(name, scenario, seed, overrides)]: every look x variant, seeds fixed."""
    out, seed = [], SEED0
    for look, variants in LOOK_VARIANTS.items():
        for variant, scen, over in variants:
            seed += 1
            if not quick or (look, variant) in QUICK:
                out.append((f"{look}-{variant}", scen, seed, {**over, "look": look}))
    return out


# ---- clips and truth ----------------------------------------------------------------------
def generated_cases(folder: Path, quick: bool, clips=None) -> list:
    """Render the suite (only `clips`, if given): one case dict per clip (path, line, truth
    crossings)."""
    from convoycount.evaluate import make_suite_clip, true_crossings
    cases = []
    for entry in suite(quick):
        if clips and entry[0] not in clips:
            continue
        clip, truth = make_suite_clip(entry, folder)
        cases.append({"name": entry[0], "look": entry[3]["look"], "path": str(clip), "line": truth["line"],
                      "speedup": truth["speedup"], "truth_s": [t for t, _ in true_crossings(truth)],
                      "model": str(PROJECT_MODEL), "classes": None, "span_s": None})
    return cases


def real_cases(quick: bool) -> tuple:
    """The hand-counted real clips (COCO YOLOv10n for every system), and a note."""
    from bench_realclips import hand_counts
    from convoycount.detect.models import resolve_model
    from convoycount.realclips import realclips_dir, why_missing
    folder, hands = realclips_dir(), hand_counts()
    why = why_missing([h["file"] for h in hands.values()], folder)
    if why:
        return [], f"real clips skipped: {why}"
    model = str(resolve_model("yolov10n").path)
    cases = []
    for name, hand in hands.items():
        if quick and name not in QUICK_REAL:
            continue
        cases.append({"name": name, "look": "real", "path": str(folder / hand["file"]),
                      "line": [float(v) for v in hand["line"].split(",")], "speedup": 1,
                      "truth_s": sorted(e["time_s"] for e in hand["events"]), "model": model,
                      # convoycount takes it by name: the packaged, sha256-verified weights
                      "model_name": "yolov10n",
                      "classes": COCO_VEHICLES, "span_s": hand.get("span_s")})
    return cases, ""


# ---- the systems (run inside a worker process) --------------------------------------------
class Clock:
    """Wall time and frames from the second frame on (the first one pays for warm-up)."""

    def __init__(self):
        self.frames, self.t1, self.c1 = 0, None, None

    def tick(self) -> None:
        self.frames += 1
        if self.frames == 1:
            self.t1, self.c1 = time.perf_counter(), time.process_time()

    def result(self, times: list) -> dict:
        wall = time.perf_counter() - self.t1 if self.t1 else 0.0
        cpu = time.process_time() - self.c1 if self.c1 else 0.0
        return {"times_s": times, "frames": self.frames, "wall_s": wall, "cpu_s": cpu}


def run_convoycount(detector: str):
    def run(case: dict) -> dict:
        import convoycount
        clock = Clock()
        kw = {"model": case.get("model_name") or case["model"]} if detector == "yolo" else {}
        r = convoycount.analyze(case["path"], detector=detector, line=",".join(map(str, case["line"])),
                                speedup=case["speedup"], progress=lambda _f: clock.tick(), **kw)
        clock.frames = r.frames_processed
        return clock.result([e.clip_time_s for e in r.events])
    return run


def model_imgsz(path: str) -> int:
    """The size the model is meant to run at (recorded in our checkpoints, else 640)."""
    from ultralytics import YOLO
    from convoycount.detect.yolo import pt_inference_imgsz
    return pt_inference_imgsz(YOLO(path)) or 640


def run_objectcounter(case: dict) -> dict:
    import cv2
    from ultralytics import solutions
    cap = cv2.VideoCapture(case["path"])
    w, h = cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)
    x1, y1, x2, y2 = case["line"]
    counter = solutions.ObjectCounter(model=case["model"], region=[(x1 * w, y1 * h), (x2 * w, y2 * h)],
                                      classes=case["classes"], imgsz=model_imgsz(case["model"]),
                                      show=False, verbose=False)
    clock, times, seen = Clock(), [], 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        res = counter(frame)
        clock.tick()
        total = res.in_count + res.out_count
        times += [cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0] * (total - seen)
        seen = total
    cap.release()
    return clock.result(times)


def run_supervision(case: dict) -> dict:
    import supervision as sv
    import trackers
    from ultralytics import YOLO
    model, imgsz = YOLO(case["model"]), model_imgsz(case["model"])
    info = sv.VideoInfo.from_video_path(case["path"])
    x1, y1, x2, y2 = case["line"]
    zone = sv.LineZone(start=sv.Point(x1 * info.width, y1 * info.height),
                       end=sv.Point(x2 * info.width, y2 * info.height))
    tracker, clock, times = trackers.ByteTrackTracker(), Clock(), []
    for i, frame in enumerate(sv.get_video_frames_generator(case["path"])):
        dets = sv.Detections.from_ultralytics(model(frame, imgsz=imgsz, verbose=False)[0])
        if case["classes"] is not None:
            dets = dets[np.isin(dets.class_id, case["classes"])]
        crossed_in, crossed_out = zone.trigger(tracker.update(dets))
        clock.tick()
        times += [i / info.fps] * int(crossed_in.sum() + crossed_out.sum())
    return clock.result(times)


def run_decode(case: dict) -> dict:
    import av
    clock = Clock()
    with av.open(case["path"]) as c:
        for f in c.decode(video=0):
            f.to_ndarray(format="bgr24")
            clock.tick()
    return clock.result([])


RUNNERS = {"convoycount_yolo": run_convoycount("yolo"), "convoycount_coco": run_convoycount("coco"),
           "convoycount_motion": run_convoycount("motion"), "ultralytics_objectcounter": run_objectcounter,
           "supervision_bytetrack": run_supervision, "decode_only": run_decode}


def worker(system: str, manifest: Path, out: Path) -> None:
    """Run one system over the cases of `manifest` that `out` does not hold yet, in
    order. After each case `out` is rewritten whole (atomically) with every result so
    far and this process's peak RSS, so a run stopped in the middle of a case keeps the
    cases it finished, and the next run starts at the first one missing."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    cases = json.loads(manifest.read_text())
    done = load_done(out, cases)
    for case in cases:
        if case["name"] in done["results"]:
            continue
        res = RUNNERS[system](case)
        # This process's peak so far (it only grows; its own, not the runner's: rss.py):
        # the system's peak is the largest over the cases kept, whichever runs measured them.
        res["peak_rss_mb"] = peak_rss_mb()
        done["results"][case["name"]], done["cases"][case["name"]] = res, case
        done["peak_rss_mb"] = max(r["peak_rss_mb"] for r in done["results"].values())
        write_text(out, json.dumps(done))


def load_done(out: Path, cases: list) -> dict:
    """The results in `out` that are still valid for `cases`: those whose case (clip,
    line, truth, model) is the very same. {"results", "cases", "peak_rss_mb"}: the
    format a whole-system run always wrote, with the cases beside their results."""
    keep = {"results": {}, "cases": {}, "peak_rss_mb": 0.0}
    if not out.exists():
        return keep
    old = json.loads(out.read_text())
    wanted = {c["name"]: c for c in cases}
    for name, res in old.get("results", {}).items():
        if name in wanted and old.get("cases", {}).get(name) == wanted[name]:
            # a whole-system run's output (adopt_whole_runs) has one peak for all its cases
            res.setdefault("peak_rss_mb", old.get("peak_rss_mb", 0.0))
            keep["results"][name], keep["cases"][name] = res, wanted[name]
    keep["peak_rss_mb"] = max((r["peak_rss_mb"] for r in keep["results"].values()), default=0.0)
    return keep


# ---- scoring ------------------------------------------------------------------------------
def match(truth: list, counted: list, tol_s: float = MATCH_TOL_S) -> list:
    """Time errors of counted events paired one-to-one with true crossings (nearest first)."""
    pairs = sorted((abs(c - t), i, j) for i, t in enumerate(truth) for j, c in enumerate(counted)
                   if abs(c - t) <= tol_s)
    used_t, used_c, errs = set(), set(), []
    for err, i, j in pairs:
        if i not in used_t and j not in used_c:
            used_t.add(i)
            used_c.add(j)
            errs.append(err)
    return errs


def score(case: dict, res: dict) -> dict:
    times = res["times_s"]
    if case["span_s"]:
        lo, hi = case["span_s"]
        times = [t for t in times if lo <= t <= hi]
    errs = match(case["truth_s"], times)
    n_true, n = len(case["truth_s"]), len(times)
    return {"true": n_true, "counted": n, "exact": n == n_true == len(errs), "errors_s": errs}


def summarise(cases: list, raw: dict) -> dict:
    """systems.<name>.{exact_rate, mae, timing_err_s, fps, peak_rss_mb} (+ per-clip rows)."""
    systems = {}
    for name, out in raw.items():
        rows = {c["name"]: score(c, out["results"][c["name"]]) for c in cases}
        frames = sum(r["frames"] - 1 for r in out["results"].values())     # timed from the 2nd frame
        wall = sum(r["wall_s"] for r in out["results"].values())
        cpu = sum(r["cpu_s"] for r in out["results"].values())
        errs = [e for r in rows.values() for e in r["errors_s"]]
        counting = name != "decode_only"
        systems[name] = {
            "exact_rate": round(float(np.mean([r["exact"] for r in rows.values()])), 3) if counting else None,
            "mae": round(float(np.mean([abs(r["counted"] - r["true"]) for r in rows.values()])), 3)
            if counting else None,
            "timing_err_s": round(float(np.median(errs)), 3) if errs else None,
            "fps": round(frames / wall, 1) if wall > 0 else None,
            # CPU time (all threads) per frame: comparable even when other work shares the machine
            "cpu_ms_per_frame": round(1000 * cpu / frames, 1) if frames else None,
            "peak_rss_mb": round(out["peak_rss_mb"], 1),
            "clips": {k: {"true": r["true"], "counted": r["counted"], "exact": r["exact"]} for k, r in rows.items()}}
    return systems


# ---- the run --------------------------------------------------------------------------------
def adopt_whole_runs(folder: Path) -> None:
    """Outputs written before results were kept per case hold no cases: a system's file
    then covered every case of the manifest beside it. Name them, so those results are
    kept like any other (and not run again)."""
    manifest = folder / "cases.json"
    if not manifest.exists():
        return
    for out in folder.glob("*.json"):
        if out.stem not in SYSTEMS:
            continue
        old = json.loads(out.read_text())
        if "cases" not in old:
            by_name = {c["name"]: c for c in json.loads(manifest.read_text())}
            old["cases"] = {n: by_name[n] for n in old.get("results", {}) if n in by_name}
            write_text(out, json.dumps(old))


def run_systems(cases: list, folder: Path, systems=SYSTEMS) -> dict:
    """Each system in a fresh process over the cases it has not finished (one model load
    per clip at most). Results are kept per (system, clip) case in `folder/<system>.json`:
    a run that stops (a crash, Ctrl-C, a reboot) resumes at the first case missing, and
    a case already measured for the very same clip, line and model is never run again.
    (Its fps then comes from the earlier run: the load may have differed.)"""
    manifest = folder / "cases.json"
    adopt_whole_runs(folder)
    write_text(manifest, json.dumps(cases))
    raw = {}
    for system in systems:
        out = folder / f"{system}.json"
        if len(load_done(out, cases)["results"]) < len(cases):
            subprocess.run([sys.executable, __file__, "--worker", system, str(manifest), str(out)],
                           check=True, cwd=ROOT)
        done = load_done(out, cases)
        raw[system] = {"results": {c["name"]: done["results"][c["name"]] for c in cases},
                       "peak_rss_mb": done["peak_rss_mb"]}
        print(f"  {system}: done", file=sys.stderr, flush=True)
    return raw


def measure(quick: bool, work: Path, systems=SYSTEMS, clips=None) -> dict:
    """Clips and per-system outputs live in `work` (kept, so a stopped run resumes).
    `clips`: only the cases of these names (None: the whole suite)."""
    (work / "generated").mkdir(parents=True, exist_ok=True)
    (work / "real").mkdir(exist_ok=True)
    pick = (lambda cases: [c for c in cases if c["name"] in clips]) if clips else (lambda cases: cases)
    gen = generated_cases(work / "generated", quick, clips)
    real, note = real_cases(quick)
    real = pick(real)
    out = {"generated": summarise(gen, run_systems(gen, work / "generated", systems)), "note": note}
    if real:
        out["real"] = summarise(real, run_systems(real, work / "real", systems))
    out["clips"] = {"generated": [c["name"] for c in gen], "real": [c["name"] for c in real]}
    return out


def table(systems: dict) -> str:
    lines = ["| system | exact | exact_rate | mae | timing_err_s | fps | CPU ms/frame | peak_rss_mb |",
             "|---|---|---|---|---|---|---|---|"]
    for name, s in systems.items():
        n = len(s["clips"])
        exact = sum(c["exact"] for c in s["clips"].values()) if s["exact_rate"] is not None else None
        cells = ["-" if exact is None else f"{exact}/{n}"] + \
            ["-" if s[k] is None else f"{s[k]:g}" for k in ("exact_rate", "mae", "timing_err_s", "fps", "cpu_ms_per_frame", "peak_rss_mb")]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def versions() -> str:
    from importlib.metadata import version
    return ", ".join(f"{p} {version(p)}" for p in ("convoycount", "ultralytics", "torch", "supervision", "trackers"))


def run(quick: bool = False, json_out=None, work=None, systems=SYSTEMS, clips=None) -> str:
    work = Path(work) if work else Path(tempfile.gettempdir()) / f"convoycount-peers-{'quick' if quick else 'full'}"
    result = measure(quick, work, systems, clips)
    if json_out:
        write_text(json_out, json.dumps(result, indent=1))
    gen = result["generated"]
    block = [f"## Side by side with the peers ({'quick' if quick else 'full'} suite)\n",
             f"{len(result['clips']['generated'])} generated clips (looks standard, flat, haze; the last two never "
             f"trained on), model models/convoy-yolo.pt for every YOLO system:\n", table(gen), ""]
    if "real" in result:
        block += [f"{len(result['clips']['real'])} real clips with hand counts, pretrained COCO YOLOv10n "
                  "(vehicle classes) for every YOLO system:\n", table(result["real"]), ""]
    else:
        block.append(result["note"] + "\n")
    block.append(f"Versions: {versions()}.")
    return "\n".join(block) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", nargs=3, metavar=("SYSTEM", "MANIFEST", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", help="also write the raw results here")
    ap.add_argument("--work", help="folder for the clips and each system's raw output (kept: a stopped "
                                   "run resumes; default: convoycount-peers-quick|full in the temp folder)")
    ap.add_argument("--systems", help=f"comma-separated subset of {','.join(SYSTEMS)} (default: all)")
    ap.add_argument("--clips", help="comma-separated case names (e.g. standard-two_way,highway_b; "
                                    "default: the whole suite)")
    args = ap.parse_args()
    if args.worker:
        system, manifest, out = args.worker
        worker(system, Path(manifest), Path(out))
        return
    systems = tuple(args.systems.split(",")) if args.systems else SYSTEMS
    unknown = sorted(set(systems) - set(SYSTEMS))
    if unknown:
        sys.exit(f"bench_peers: unknown system(s) {', '.join(unknown)}; known: {', '.join(SYSTEMS)}")
    print(run(args.quick, args.json, args.work, systems, args.clips.split(",") if args.clips else None))


if __name__ == "__main__":
    main()
