"""Speed-up estimation (`--speedup auto`) on generated clips with a known K.

Each clip is rendered by convoycount.synth (true K, speeds and lengths in its
truth file) into a temporary directory and analysed with
`convoycount.pipeline.analyze(clip, speedup="auto")` (motion detector, so every
vehicle's class is just "vehicle" and the generic length prior applies).
Clips: K from 1 to 10; one- and two-way traffic, horizontal (side view) and
vertical (top view), VFR, sensor noise, camera shake, stop-and-go; civilian,
mixed and military fleets. Each clip renders one kind of road (street, road,
motorway, convoy) and draws its cruise speeds from that kind's legal range (the
range the estimator's scene prior stands for, `road_speeds`), so the priors are
tested on traffic that drives at them. Clock
clips burn the real capture time into a corner (read by OCR when an engine is
installed); tag clips carry an Android `com.android.capture.fps` tag added by
a remux with the bundled ffmpeg.
"""
from __future__ import annotations

import math
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CLIP_TARGET_S = 11.0        # clip seconds per generated clip (before the tail)


@dataclass(frozen=True)
class Spec:
    name: str
    k: int
    road: str                  # the kind of road it renders: speeds come from its prior
    overrides: dict = field(default_factory=dict)
    tag: bool = False          # add com.android.capture.fps = clip fps / K by remux


def road_speeds(road: str) -> tuple:
    """Cruise speeds (m/s) drawn for a road kind: its legal speed range, the one the
    estimator's prior stands for (retime/scene.py), so a prior is tested on traffic
    that really drives at it rather than at one ~40 km/h for every clip."""
    from convoycount.retime.scene import KMH, PRIORS
    p = PRIORS[road]
    return (p.low_kmh * KMH, p.high_kmh * KMH)


def specs(quick: bool) -> list:
    # Road kinds were assigned before any run, military fleets to convoys, motorways only
    # at K <= 4: at 16 px/m a 25-36 m/s vehicle at K >= 6 crosses the 40 m view in fewer
    # clip frames than a track needs to be measured (the estimator then says unknown).
    civ, mix, mil = "civilian", "mixed", "military"
    s = [
        Spec("civ-1way", 1, "motorway", dict(class_mix=civ)),
        Spec("civ-2way", 2, "road", dict(class_mix=civ, two_way=True)),
        Spec("mix-vfr", 3, "street", dict(class_mix=mix, vfr=True)),
        Spec("mil-noise", 4, "convoy", dict(class_mix=mil, noise_sigma=5.0, pixels_per_m=14.0)),
        Spec("civ-2way-noise", 5, "road", dict(class_mix=civ, two_way=True, noise_sigma=6.0)),
        Spec("mix-1way", 6, "street", dict(class_mix=mix)),
        Spec("mil-vfr", 8, "convoy", dict(class_mix=mil, vfr=True, pixels_per_m=14.0)),
        Spec("civ-k10", 10, "street", dict(class_mix=civ)),
        Spec("mix-2way-k10", 10, "road", dict(class_mix=mix, two_way=True)),
        Spec("mil-2way", 1, "convoy", dict(class_mix=mil, two_way=True, pixels_per_m=14.0)),
        Spec("civ-vertical", 3, "road", dict(class_mix=civ, orientation="vertical", two_way=True,
                                             pixels_per_m=12.0)),
        Spec("mix-stopgo", 4, "street", dict(class_mix=mix, stop_and_go=0.4)),
        Spec("mix-shake", 7, "road", dict(class_mix=mix, shake_px=2.0, noise_sigma=4.0)),
        Spec("civ-2way-vfr", 2, "motorway", dict(class_mix=civ, two_way=True, vfr=True)),
        Spec("mil-k6", 6, "convoy", dict(class_mix=mil, pixels_per_m=14.0)),
        Spec("mix-k9", 9, "street", dict(class_mix=mix)),
        Spec("civ-vert-k4", 4, "motorway", dict(class_mix=civ, orientation="vertical",
                                                pixels_per_m=12.0)),
        Spec("mix-noise8", 2, "motorway", dict(class_mix=mix, noise_sigma=8.0)),
        Spec("clock-k1", 1, "road", dict(class_mix=civ, clock=True, clock_decimals=0)),
        Spec("clock-k3", 3, "street", dict(class_mix=mix, clock=True, clock_decimals=1, vfr=True)),
        Spec("clock-k6", 6, "convoy", dict(class_mix=mil, clock=True, clock_decimals=1, two_way=True,
                                           clock_corner="bottom_right", pixels_per_m=14.0)),
        Spec("clock-k10", 10, "street", dict(class_mix=mix, clock=True, clock_decimals=2,
                                             noise_sigma=4.0)),
        Spec("tag-k5", 5, "road", dict(class_mix=civ), tag=True),
        Spec("tag-k8", 8, "convoy", dict(class_mix=mil, pixels_per_m=14.0), tag=True),
    ]
    if quick:
        keep = {"civ-1way", "mil-noise", "civ-k10", "mix-stopgo", "clock-k6", "tag-k5"}
        s = [x for x in s if x.name in keep]
    return s


def make_config(spec: Spec, seed: int):
    from convoycount.synth import SynthConfig
    o = dict(spec.overrides)
    o.setdefault("speed_mps", road_speeds(spec.road))
    lanes = 2 if o.get("two_way") else 1
    spacing = o.pop("spacing_s", 3.0)
    real_s = CLIP_TARGET_S * spec.k
    n = max(4, min(60, int(round(real_s / spacing * lanes))))
    return SynthConfig(seed=seed, speedup=spec.k, n_vehicles=n, lanes=lanes, spacing_s=spacing,
                       duration_real_s=real_s, **o)


def add_capture_tag(src: Path, out: Path, capture_fps: float) -> None:
    """Remux with the bundled ffmpeg, adding Android's capture-rate tag."""
    import imageio_ffmpeg
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel",
                    "error", "-y", "-i", str(src), "-c", "copy", "-map", "0",
                    "-movflags", "use_metadata_tags",
                    "-metadata", f"com.android.capture.fps={capture_fps:.6f}", str(out)],
                   check=True, capture_output=True)


def make_clip(spec: Spec, seed: int, folder: Path) -> tuple:
    """(clip path, truth) for one spec."""
    from convoycount.synth import generate
    from convoycount.video import probe
    path = folder / f"{spec.name}.mp4"
    truth = generate(path, make_config(spec, seed))
    if spec.tag:
        tagged = folder / f"{spec.name}.tagged.mp4"
        fps = probe(path).fps_measured
        add_capture_tag(path, tagged, fps / spec.k)
        path = tagged
    return path, truth


def run_one(spec: Spec, seed: int, folder: Path) -> dict:
    from convoycount.pipeline import analyze
    path, truth = make_clip(spec, seed, folder)
    t0 = time.perf_counter()
    rep = analyze(path, speedup="auto")
    tm = rep.time_map
    k = float(truth.speedup)
    row = {"name": spec.name, "k": k, "est": tm.speedup, "interval": tm.interval,
           "source": tm.source, "elapsed_s": time.perf_counter() - t0,
           "clip_s": truth.duration_s, "vehicles": len(truth.vehicles), "clock": spec.overrides.get("clock", False),
           "evidence": tm.evidence}
    row["err"] = None if tm.speedup is None else (tm.speedup / k - 1.0)
    row["covered"] = tm.interval is not None and tm.interval[0] <= k <= tm.interval[1]
    used = [e for e in tm.evidence if isinstance(e, dict) and e.get("used")]
    row["used"] = "+".join(e.get("method", "?") for e in used)
    row["road"] = spec.road
    kin = _kinematic_evidence(tm.evidence)
    true_mps = sorted(v.speed_mps for v in truth.vehicles)[len(truth.vehicles) // 2]
    gs = kin.get("ground_speed_m_per_clip_s")
    row["geometry_k"] = None if gs is None else gs / true_mps
    row["scene"] = "/".join(c["scene"] for c in kin.get("scene", {}).get("candidates", [])) or "-"
    return row


def _kinematic_evidence(evidence) -> dict:
    """The vehicles' ground-speed evidence inside the time map's evidence ({} if none)."""
    for e in evidence:
        if isinstance(e, dict) and e.get("source") == "kinematics":
            if "ground_speed_m_per_clip_s" in e:
                return e
            for c in e.get("cues", []):
                if "ground_speed_m_per_clip_s" in c:
                    return c
    return {}


def table(rows: list) -> str:
    lines = ["| clip | road (speeds drawn) | true K | estimate | 95 % interval | source | error | "
             "covered | scene read | K from ground speed at the true speed | clip s | analyse s |",
             "|---|---|---:|---:|---|---|---:|:---:|---|---:|---:|---:|"]
    for r in rows:
        est = "—" if r["est"] is None else f"{r['est']:.3f}"
        iv = "—" if r["interval"] is None else f"{r['interval'][0]:.3g}–{r['interval'][1]:.3g}"
        err = "—" if r["err"] is None else f"{100 * r['err']:+.1f} %"
        geo = "—" if r["geometry_k"] is None else f"{r['geometry_k']:.2f} ({100 * (r['geometry_k'] / r['k'] - 1):+.0f} %)"
        lines.append(f"| {r['name']} | {r['road']} | {r['k']:g} | {est} | {iv} | {r['source']} | {err} | "
                     f"{'yes' if r['covered'] else 'NO'} | {r['scene']} | {geo} | {r['clip_s']:.1f} | "
                     f"{r['elapsed_s']:.1f} |")
    return "\n".join(lines)


def summary(rows: list) -> str:
    n = len(rows)
    have = [r for r in rows if r["err"] is not None]
    within = sum(abs(r["err"]) <= 0.30 for r in have)
    covered = sum(r["covered"] for r in rows)
    clock_rows = [r for r in rows if r["clock"]]
    clock_ok = [r for r in clock_rows if r["err"] is not None and abs(r["err"]) <= 0.03
                and any(e.get("source") == "clock" and e.get("used") for e in r["evidence"])]
    kin = [r for r in have if r["source"] == "kinematics"]
    med_abs = (sorted(abs(r["err"]) for r in kin)[len(kin) // 2] if kin else float("nan"))
    widths = sorted(r["interval"][1] / r["interval"][0] for r in kin if r["interval"])
    out = [f"- point estimate within ±30 %: **{within}/{n}** clips "
           f"(max |error| {100 * max((abs(r['err']) for r in have), default=float('nan')):.1f} %)",
           f"- 95 % interval contains the true K: **{covered}/{n}** ({100 * covered / n:.0f} %)",
           f"- clock clips within ±3 % (read from the clock): **{len(clock_ok)}/{len(clock_rows)}**"]
    if kin:
        out.append(f"- kinematics-only clips: median |error| {100 * med_abs:.1f} %, interval "
                   f"high/low ratio median {widths[len(widths) // 2]:.2f}")
    geo = [r for r in rows if r.get("geometry_k") is not None]
    geo_ok = sum(abs(r["geometry_k"] / r["k"] - 1) <= 0.30 for r in geo)
    out.append(f"- ground speed / true speed within ±30 % of K (the geometry, prior left out): "
               f"**{geo_ok}/{len(geo)}** clips with a ground speed")
    for road in ("street", "road", "motorway", "convoy"):
        rr = [r for r in have if r["source"] == "kinematics" and r.get("road") == road]
        if rr:
            out.append(f"- {road} traffic, kinematics only: point within ±30 % "
                       f"{sum(abs(r['err']) <= 0.30 for r in rr)}/{len(rr)}, "
                       f"median error {100 * sorted(r['err'] for r in rr)[len(rr) // 2]:+.0f} %")
    return "\n".join(out)


def run(quick: bool = False) -> str:
    rows = []
    with tempfile.TemporaryDirectory(prefix="cc-bench-speedup-") as tmp:
        for i, spec in enumerate(specs(quick)):
            rows.append(run_one(spec, seed=100 + i, folder=Path(tmp)))
    from convoycount.retime.ocr import load_engine
    engine, why = load_engine()
    eng = engine.name if engine else f"none ({why})"
    return "\n".join([
        "## Speed-up estimation (`--speedup auto`)", "",
        table(rows), "", summary(rows), "",
        f"{len(rows)} synthetic 640x360 clips (convoycount.synth, ~{CLIP_TARGET_S:g} s of clip each), "
        "analysed with `analyze(clip, speedup=\"auto\")` and the motion detector (class "
        "\"vehicle\": no class). Error = "
        f"estimate / true K - 1. OCR engine: {eng}. Each clip renders one kind of road and draws "
        "its cruise speeds from that kind's legal range (street 20-50 km/h, road 50-90, motorway "
        "90-130, convoy 30-60: the ranges the scene priors stand for; kinds assigned in `specs()` "
        "before the run, military fleets as convoys, motorways only at K <= 4). \"K from ground "
        "speed at the true speed\": the measured ground speed (m per clip s) over the median true "
        "cruise speed, the geometry alone."])


if __name__ == "__main__":
    import sys
    print(run(quick="--quick" in sys.argv))


# --------------------------------------------------------------- perspective (issue 15)
# view -> (heading deg: 0 away, 180 toward, 90 across; camera tilt deg; lane x, y m; spacing m)
PERSPECTIVE_VIEWS = {"toward": (180, 20.0, 3.0, 45.0, 25.0), "away": (0, 12.0, -3.0, 25.0, 25.0),
                     "side-on": (90, 15.0, 0.0, 35.0, 12.0), "diagonal": (135, 12.0, 0.0, 30.0, 12.0)}
PERSPECTIVE_KS = (1, 2, 4, 7, 10)


# lane dashes painted on the held-out dash rows: the UK lane line (2 m mark, 7 m gap),
# a standard none of the dash tests use
PERSPECTIVE_DASHES = (2.0, 9.0)


def _perspective_config(view: str, k: float, fov: float, dashed: bool = False):
    from convoycount.synth.perspective import PerspectiveConfig
    heading, tilt, x, y, spacing = PERSPECTIVE_VIEWS[view]
    # across the view, a lane far enough that a car stays in view ~0.4 clip s
    far = y if heading in (0, 180) else max(y, 6.0 * k)
    height = 8.0
    if fov < 20:
        # a telephoto films from far and high (highway_uk's view): from 8 m up the cars
        # of one lane would hide each other
        height, tilt, far, spacing = 30.0, 8.0, 200.0, 60.0
    mark, period = PERSPECTIVE_DASHES if dashed else (3.0, 0.0)
    return PerspectiveConfig(speedup=k, heading_deg=heading, tilt_deg=tilt, lane_x_m=x,
                             lane_y_m=far, spacing_m=spacing, hfov_deg=fov, camera_height_m=height,
                             duration_s=max(1.5, 7.2 / k) if fov >= 20 else 2.5,
                             dash_mark_m=mark, dash_period_m=period)


def perspective_rows(quick: bool = False) -> list:
    """Ground speed (retime/ground.py) on perspective clips (synth/perspective.py) with
    exact K, through the motion detector and the tracker: measured metres per clip
    second / (K x true speed), i.e. the K the geometry gives when the real speed is known,
    and whether K lies within that point's camera span (the lens range) widened by the
    +-20 % goal. The camera's field of view is
    40 deg (what ground.py assumes) and, at K = 4, also 15, 28, 55 and 70 deg (none of
    them used to choose anything) to show what the assumption costs; toward and away at
    those lenses once more with UK lane dashes, read as `--speedup auto` reads them."""
    import convoycount
    from convoycount.retime.dashes import read_clip_dashes
    from convoycount.retime.speed import estimate_ground
    from convoycount.synth.perspective import generate_perspective
    grid = [(v, k, 40.0, False) for v in PERSPECTIVE_VIEWS for k in PERSPECTIVE_KS]
    grid += [(v, 4, fov, False) for v in PERSPECTIVE_VIEWS for fov in (15.0, 28.0, 55.0, 70.0)]
    grid += [(v, 4, fov, True) for v in ("toward", "away") for fov in (15.0, 28.0, 55.0, 70.0)]
    rows = []
    with tempfile.TemporaryDirectory(prefix="cc-bench-persp-") as tmp:
        for view, k, fov, dashed in (grid[::5] if quick else grid):
            cfg = _perspective_config(view, k, fov, dashed)
            path = Path(tmp) / f"{view}_{k}_{fov:g}_{dashed}.mp4"
            generate_perspective(path, cfg)
            r = convoycount.analyze(path, detector="motion", integrity=False)
            dashes = read_clip_dashes(path) if dashed else None
            est = estimate_ground(r.tracks, cfg.width, cfg.height, dashes=dashes)
            got = est.evidence["ground_speed_m_per_clip_s"] / cfg.speed_mps if est.ok else None
            span = est.evidence.get("camera_log_span", (0.0, 0.0))
            rows.append({"view": view, "k": k, "fov": fov, "got": got, "why": est.reason,
                         "dashes": None if dashes is None else
                         (f"{dashes.fov_deg(cfg.width)[1]:.0f}-{dashes.fov_deg(cfg.width)[0]:.0f} deg"
                          if dashes.focal_range_px else f"none ({dashes.why})"),
                         "holds": bool(got) and (got * math.exp(span[0]) / 1.2 <= k
                                                 <= got * math.exp(span[1]) * 1.2),
                         "camera": est.evidence.get("camera", {}).get("how")})
    return rows


def perspective_table(rows: list) -> str:
    lines = ["| view | HFOV | UK lane dashes: lens read | true K | K from ground speed (true real "
             "speed) | error | K within camera span +-20 % | horizon |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        got = f"{r['got']:.2f}" if r["got"] else f"unknown ({r['why']})"
        err = f"{100 * (r['got'] / r['k'] - 1):+.0f} %" if r["got"] else "-"
        lines.append(f"| {r['view']} | {r['fov']:g} | {r.get('dashes') or '-'} | {r['k']} | {got} | {err} | "
                     f"{'yes' if r['holds'] else 'no'} | {r['camera']} |")
    main = [r for r in rows if r["fov"] == 40.0 and not r.get("dashes")]
    ok = sum(1 for r in main if r["got"] and abs(r["got"] / r["k"] - 1) <= 0.2)
    held = sum(1 for r in rows if r["holds"])
    lines.append(f"\nAt the assumed 40 deg field of view: {ok}/{len(main)} within +-20 %. "
                 f"K within the camera span +-20 %: {held}/{len(rows)} clips (all fields of view).")
    dashed = [r for r in rows if r.get("dashes")]
    plain = [r for r in rows if not r.get("dashes") and r["fov"] != 40.0
             and any((d["view"], d["fov"]) == (r["view"], r["fov"]) for d in dashed)]
    near = lambda rr: sum(1 for r in rr if r["got"] and abs(r["got"] / r["k"] - 1) <= 0.2)
    if dashed:
        lines.append(f"Toward and away at 15/28/55/70 deg: {near(dashed)}/{len(dashed)} within "
                     f"+-20 % with the focal length from UK lane dashes (a standard no dash test "
                     f"uses; these clips were first rendered in this run), {near(plain)}/"
                     f"{len(plain)} with the assumed 40 deg.")
    return "\n".join(lines)
