"""Counting with a moving camera: generated handheld clips (shake up to 3 % of the width,
a pan after the column of up to one frame width, zoom up to 1.5x, parked vehicles on the
verge beside the line), counted in scene coordinates with the project's YOLO model.

Done when (issue 14): counts exact on >= 90 % of the clips and no parked vehicle ever
counted. Held-out seeds 600-639. Tuned on: seeds 1-6 (the camera stage and the
standing-track rules), 200-219 (the counter's rigid-motion rule: the misses of the
first run, seeds 202, 204, 213, 214, 218, 219, were diagnosed on them), 300-319 (the
held-out range until the parked counts on seeds 300 and 312 were diagnosed: the rigid
check at the crossing itself and one count per vehicle), 320-339 (held out once,
then seed 332's parked count was diagnosed: the check's sightings) and 340-359 (held out
once, then seeds 340 and 345 were diagnosed: the tracker's pace rule), 360-379 (held out
once, then seed 368 was diagnosed: a standing track's jitter is no direction), 380-399 (held
out once; then the window clips of 323-399 were diagnosed: registration through a window),
400-439 (held out once; then seeds 422 and 426 were diagnosed: a box end a few pixels short of
the picture's edge), 440-479 (held out once; then, with 360-439, the tracker's and counter's
handling of a vehicle passing a parked one was diagnosed on seeds 391, 422 and 473: a crossing
made across an id switch counts), 480-519 (measured once on the code before that) and 520-559
(held out once; then the parked vehicles counted on 532, 533 and 537 were diagnosed: a box cut
by the picture's edge proves one side of the line only) and 560-599 (held out once; then the
parked vehicles counted on 566, 577 and 583 were diagnosed: a crossing nobody saw, across a
track's gap, and a box over the line for one look).
From seed 320 on, a quarter of the clips (seed % 4 == 3) are filmed through a window
(reflection and frame fixed in the picture). Two worker
processes, one clip each. A few clips are also counted with --no-camera, and the
camera stage's cost is measured on a fixed-camera sample.
"""
from __future__ import annotations

import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

import convoycount
from convoycount.evaluate import compare, load_truth
from convoycount.synth import scenario
from convoycount.synth.camera import CameraMove, generate_moving

ROOT = Path(__file__).resolve().parents[1]
MODEL = str(ROOT / "models" / "convoy-yolo.pt")
HELD_OUT = range(600, 640)
TUNED = "1-6, 200-219, 300-319, 320-339, 340-359, 360-379, 380-399, 400-439, 440-479, 480-519, 520-559 and 560-599"
WINDOW_FROM = 320              # seeds this high or higher may be filmed through a window
NO_CAMERA = 3                  # clips also counted without compensation


def clip_settings(seed: int) -> tuple:
    """(SynthConfig, CameraMove) drawn from the seed: every clip moves differently."""
    rng = np.random.default_rng([seed, 14])
    cfg = scenario("news_story", seed=seed, speedup=int(rng.choice([1, 2, 3])), real_fps=15.0,
                   n_vehicles=int(rng.integers(3, 7)), spacing_s=float(rng.uniform(2.0, 3.0)),
                   class_mix="mixed", speed_mps=(9.0, 14.0), reverse_direction=bool(rng.random() < 0.3),
                   crf=26)
    move = CameraMove(shake_frac=round(float(rng.uniform(0.0, 0.03)), 4),
                      pan_frac=round(float(rng.uniform(0.0, 1.0)), 3),
                      zoom=round(float(rng.uniform(1.0, 1.5)), 3), parked=int(rng.integers(1, 4)),
                      window=_window(seed))
    return cfg, move


def _window(seed: int) -> float:
    """Reflection strength through a window (0: none), on its own random stream so the
    other settings of every seed stay what they were."""
    if seed < WINDOW_FROM or seed % 4 != 3:
        return 0.0
    return round(float(np.random.default_rng([seed, 14, 1]).uniform(0.1, 0.3)), 3)


def _count(path, camera: bool = True):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return convoycount.analyze(path, detector="yolo", model=MODEL, line="0.5,0,0.5,1", camera=camera)


def parked_counted(report, truth: dict) -> int:
    """Events of tracks that never left a parked vehicle's place (its box in the scene,
    grown by half) before they crossed. A passing vehicle first seen there (out from
    behind the parked one) is flagged too: `false_parked` keeps the false counts."""
    boxes = [p["box_reference_px"] for p in truth["camera"]["parked"]]
    tracks = {t.track_id: t for t in report.tracks}
    n = 0
    for e in report.events:
        obs = [o for o in tracks[e.track_id].observations if o.time_s <= e.clip_time_s + 1e-9]
        for x1, y1, x2, y2 in boxes:
            gx, gy = 0.5 * (x2 - x1), 0.5 * (y2 - y1)
            if all(x1 - gx <= o.scene_center[0] <= x2 + gx and y1 - gy <= o.scene_center[1] <= y2 + gy
                   for o in obs):
                n += 1
                break
    return n


def false_parked(parked: int, c) -> int:
    """Parked-place events that are also false counts: no more than the events that
    matched no true crossing (an event that did is a vehicle that crossed)."""
    return min(parked, c.counted_total - c.matched)


def line_error_px(report, truth: dict) -> tuple:
    """(median, max) over the analysed frames of how far the line the pipeline placed in
    each frame lies from where the generator's exact camera path puts it (px, the worse
    end): registration's error where counting sees it, apart from detection and tracking."""
    from convoycount.camera.transform import apply, as3x3
    x1, y1, x2, y2 = truth["line_px"]
    errs = []
    for i, m in enumerate(truth["camera"]["frame_to_scene"]):
        got = report.camera.line_in_frame(i)
        if got is None:
            continue
        exact = apply(np.linalg.inv(as3x3(np.reshape(m, (2, 3)))), [(x1, y1), (x2, y2)])
        errs.append(float(np.abs(np.asarray(got, float).reshape(-1) - exact.reshape(-1)).max()))
    return (float(np.median(errs)), float(np.max(errs))) if errs else (float("nan"), float("nan"))


def _row(seed: int, d: str) -> tuple:
    cfg, move = clip_settings(seed)
    path = Path(d) / f"cam{seed}.mp4"
    generate_moving(path, cfg, move)
    truth = load_truth(path.with_name(path.stem + ".truth.json"))
    t0, c0 = time.perf_counter(), time.process_time()
    r = _count(path)
    fps = r.frames_processed / (time.perf_counter() - t0)
    cpu_ms = 1000 * (time.process_time() - c0) / r.frames_processed
    c = compare(r, truth)
    parked = parked_counted(r, truth)
    false = false_parked(parked, c)
    m = r.camera.motion()
    err = line_error_px(r, truth)
    line = (f"| {seed} | x{cfg.speedup} | {move.shake_frac:.1%} | {move.pan_frac:.2f} | {move.zoom:.2f} | "
            f"{move.window or '-'} | "
            f"{move.parked} | {truth['camera']['not_watched_crossings']} | {c.true_total} | "
            f"{c.counted_total} | {c.matched} | {parked} | {false} | {'yes' if c.exact else 'NO'} | "
            f"{m['max_shift_frac']:.1%} | x{m['zoom'][1]:.2f} | {err[0]:.1f} / {err[1]:.0f} | "
            f"{cpu_ms:.0f} | {fps:.1f} |")
    return c.exact, false, line, path, truth


def _overhead() -> str:
    """Pipeline speed on a fixed-camera sample, camera stage on and off (motion detector:
    the cheapest, so the stage's share is largest there)."""
    clip = ROOT / "samples" / "two_way.mp4"
    out = []
    for camera in (False, True, False, True):
        t0 = time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = convoycount.analyze(clip, camera=camera)
        out.append((camera, (time.process_time() - t0) / r.frames_processed * 1000, r.total))
    off = min(ms for cam, ms, _ in out if not cam)
    on = min(ms for cam, ms, _ in out if cam)
    totals = {cam: n for cam, _, n in out}
    return (f"Cost on a fixed camera (samples/two_way.mp4, motion detector, best of two, CPU time): "
            f"{off:.1f} ms per frame without the camera stage, {on:.1f} ms with it "
            f"(+{on - off:.1f} ms, {100 * (on - off) / off:+.0f} %); counts {totals[False]} and "
            f"{totals[True]}: a still camera's transforms are identity, so counts and times are "
            "unchanged (tests/test_golden.py).")


HEAD = ("| seed | K | shake (of width) | pan (widths) | zoom | window | parked | crossings out of view | true | "
        "counted | matched | events on a parked place | parked counted (false) | exact | "
        "measured max shift | measured zoom | line error px (median / max) | CPU ms/frame | fps |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")


def _seed_job(seed: int) -> tuple:
    """One held-out clip in a worker process: (seed, exact, parked, row, no-camera result)."""
    with tempfile.TemporaryDirectory() as d:
        ok, p, line, path, truth = _row(seed, d)
        nocam = None
        if seed - HELD_OUT[0] < NO_CAMERA:
            r = _count(path, camera=False)
            c = compare(r, truth)
            nocam = (c.exact, c.counted_total, c.true_total, false_parked(parked_counted(r, truth), c))
    return seed, ok, p, line, nocam


def run(quick: bool = False) -> str:
    import os
    from concurrent.futures import ProcessPoolExecutor
    held = list(HELD_OUT)[:4] if quick else list(HELD_OUT)
    load0 = os.getloadavg()[0]
    with ProcessPoolExecutor(2) as pool:          # two cores: one clip each
        results = sorted(pool.map(_seed_job, held))
    load = f"load average {load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
    exact = sum(ok for _, ok, _, _, _ in results)
    parked = sum(p for _, _, p, _, _ in results)
    rows = [line for _, _, _, line, _ in results]
    nc = "; ".join(f"seed {s}: {n[1]} counted of {n[2]}{' (exact)' if n[0] else ''}, {n[3]} parked"
                   for s, _, _, _, n in results if n is not None)
    split = []
    for name, through in (("without a window", False), ("through a window", True)):
        part = [(ok, p) for s, ok, p, _, _ in results if bool(_window(s)) == through]
        if part:
            split.append(f"{name} {sum(ok for ok, _ in part)}/{len(part)} exact, "
                         f"{sum(p for _, p in part)} parked counted")
    return ("## Moving camera (generated handheld clips, project YOLO, scene coordinates)\n\n"
            f"Held-out seeds {held[0]}-{held[-1]}: **{exact}/{len(held)} counted exactly** "
            f"({100 * exact / len(held):.0f} %), **{parked} parked vehicle(s) counted** "
            f"({'; '.join(split)}). A crossing "
            "counts in the truth only while at least half the line is in the picture (the pipeline's "
            "own rule); 'crossings out of view' were left out of 'true' for that reason. 'Events on a "
            "parked place': events of tracks that stayed within a parked vehicle's box (grown by half) "
            "until they crossed, which also catches passing vehicles first seen there; 'parked counted "
            "(false)': those that are false counts (at most the events that matched no true crossing). "
            f"Tuned on seeds {TUNED} and other hand-made clips, never on these. CPU ms/frame is the "
            f"worker's process time (detection, camera, tracking); the machine was shared ({load}, "
            "2 cores), so fps is not a speed.\n\n"
            + HEAD + "\n".join(rows) + "\n\n"
            + f"Without compensation (`--no-camera`), first {NO_CAMERA} held-out clips: {nc}.\n\n"
            + _overhead() + "\n")
