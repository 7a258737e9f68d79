"""Re-timing: speed-up estimators (kinematics, metadata, clock), their combination, and
`retime()` writing a real-speed copy. Clips come from convoycount.synth (true K, speeds,
lengths, a burned-in real-time clock) and tests/clipfactory (exact pts, colour ramps)."""
from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

from convoycount.detect.base import Detections
from convoycount.errors import ConvoyCountError, InputError
from convoycount.retime import combine, estimate_kinematics, parse_clock, retime
from convoycount.retime.estimate import Estimate, estimate_time_map
from convoycount.retime.metadata import estimate_metadata
from convoycount.retime.writer import atempo_chain
from convoycount.synth import SynthConfig, generate, render
from convoycount.track import Tracker
from convoycount.video import frames, probe

from clipfactory import cfr_pts, ffmpeg_exe, write_video


# ----------------------------------------------------------------------------- helpers

def scene(k: int, seed: int = 3, **kw) -> SynthConfig:
    """A scene inside the documented prior: mixed traffic at 10-12 m/s."""
    base = dict(seed=seed, speedup=k, n_vehicles=6, spacing_s=2.5, speed_mps=(10.0, 12.0),
                class_mix="mixed", duration_real_s=None)
    base.update(kw)
    return SynthConfig(**base)


def rendered_tracks(cfg: SynthConfig, time_scale: float = 1.0):
    """Confirmed tracks from the real Tracker fed with the renderer's exact boxes
    (every vehicle labelled "vehicle", as the motion detector does). `time_scale`
    stretches the clip clock (2.0 = the same footage played twice as slowly)."""
    tracker = Tracker()
    for fr in render(cfg):
        boxes = [b[2] for b in fr.boxes if b[3] > 0.5]
        n = len(boxes)
        tracker.update(Detections(np.array(boxes, dtype=float).reshape(-1, 4), np.ones(n),
                                  np.array(["vehicle"] * n, dtype=object),
                                  fr.clip_time_s * time_scale, fr.index))
    return tracker.tracks()


def remux(src, out, *post, pre=()):
    """ffmpeg [pre] -i src [post] out, with the pip ffmpeg binary."""
    subprocess.run([ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *pre,
                    "-i", str(src), *post, str(out)], check=True, capture_output=True)
    return out


def ramp(i, w, h):
    """Frame i is a flat grey of level 4 i: frame order is readable from the pixels."""
    return np.full((h, w, 3), min(255, 4 * i), np.uint8)


def frame_means(path, top: int = 8):
    return [float(f.image[top:-8, 8:-8].mean()) for f in frames(path)]


@pytest.fixture(scope="module")
def ocr():
    from convoycount.retime.ocr import load_engine
    engine, why = load_engine()
    if engine is None:
        pytest.skip(why)
    return engine


# ----------------------------------------------------------------------------- kinematics

def test_kinematics_k1_interval_contains_1():
    est = estimate_kinematics(rendered_tracks(scene(1)), 640, 360)
    assert est.ok and est.source == "kinematics"
    assert est.interval[0] <= 1.0 <= est.interval[1]
    assert est.evidence["vehicles_used"] >= 4


def test_kinematics_k4_point_within_30pct_and_interval():
    cfg = scene(4, n_vehicles=10, spacing_s=3.0)
    est = estimate_kinematics(rendered_tracks(cfg), 640, 360)
    assert est.interval[0] <= 4 <= est.interval[1]
    assert abs(est.speedup / 4 - 1) <= 0.30, est.speedup


def test_kinematics_measurement_is_proportional_to_k_and_reaches_slow_motion():
    # The same footage played at its real rate and twice as slowly (K = 0.5): the
    # estimate must halve exactly (prior-free check of the measurement itself).
    cfg = scene(1, seed=7)
    k1 = estimate_kinematics(rendered_tracks(cfg), 640, 360).speedup
    k_half = estimate_kinematics(rendered_tracks(cfg, time_scale=2.0), 640, 360).speedup
    assert k_half / k1 == pytest.approx(0.5, rel=0.02)
    assert k_half < 1


def test_kinematics_apparent_rates_match_truth():
    # Each vehicle's lengths per clip second = K * v / L from the truth (exact boxes).
    cfg = scene(3, seed=11, n_vehicles=5, spacing_s=3.5, class_mix="civilian")
    from convoycount.retime.kinematics import vehicle_rate
    from convoycount.synth import truth_for
    truth = truth_for(cfg)
    expected = sorted(3 * v.speed_mps * cfg.pixels_per_m / v.box_size_px[0] for v in truth.vehicles
                      if v.crosses_line)
    got = sorted(r.lengths_per_s for r, _ in (vehicle_rate(t, 640, 360)
                                               for t in rendered_tracks(cfg)) if r is not None)
    assert len(got) == len(expected)
    assert np.allclose(got, expected, rtol=0.06), (got, expected)


def test_kinematics_skips_stopped_spells_and_brief_tracks():
    # Stop-and-go: vehicles brake, stand still for seconds and pull away in view. Their
    # rate must come from the moving spells: well above the average over the whole
    # track (stops included), never above the truth's cruise rate.
    cfg = scene(2, seed=4, stop_and_go=0.8, stop_on_line_fraction=0.0, n_vehicles=5,
                stop_duration_s=(3.0, 4.0), speed_mps=(10.0, 11.0))
    from convoycount.retime.kinematics import vehicle_rate
    from convoycount.synth import truth_for
    truth = truth_for(cfg)
    assert sum(bool(v.stops) for v in truth.vehicles) >= 3
    cruise = {round(v.box_size_px[0]): 2 * v.speed_mps * cfg.pixels_per_m / v.box_size_px[0]
              for v in truth.vehicles}
    tracks = rendered_tracks(cfg)
    for tr in tracks:
        r, _ = vehicle_rate(tr, 640, 360)
        o = tr.observations
        overall = (abs(o[-1].center[0] - o[0].center[0]) / (o[-1].time_s - o[0].time_s)
                   / r.length_px)
        assert r.lengths_per_s > 1.5 * overall
        assert r.lengths_per_s <= 1.05 * cruise[round(r.length_px)]
    # a track seen for three frames is skipped, with the reason in the evidence
    brief = dataclasses.replace(tracks[0], observations=tracks[0].observations[10:13])
    est = estimate_kinematics([brief], 640, 360)
    assert not est.ok and "usable" in est.reason
    assert est.evidence["skipped"][0]["reason"].startswith("3 observations")


def test_kinematics_without_tracks_gives_a_reason():
    est = estimate_kinematics([], 640, 360)
    assert not est.ok and est.reason == "no vehicle tracks"


# ----------------------------------------------------------------------------- combining

def _est(source, k, lo, hi, trust, method=None):
    return Estimate(source=source, method=method or source, speedup=k, interval=(lo, hi), trust=trust)


def test_combine_fuses_agreeing_estimates_and_the_tight_one_wins():
    tm = combine([_est("kinematics", 5.0, 2.5, 10.0, 20), _est("clock", 4.0, 3.98, 4.02, 40)])
    assert tm.source == "combined" and tm.interval == (3.98, 4.02)
    assert tm.speedup == pytest.approx(4.0, rel=2e-3)
    assert all(e["used"] for e in tm.evidence)


def test_combine_keeps_the_trusted_estimate_and_reports_disagreement():
    tm = combine([_est("kinematics", 2.0, 1.0, 4.0, 20), _est("metadata", 15.0, 14.7, 15.3, 30)])
    assert tm.source == "metadata" and tm.speedup == 15.0
    notes = [e for e in tm.evidence if "disagreement" in e]
    assert len(notes) == 1 and notes[0]["left_out"] == "kinematics"


def test_combine_nothing_usable_is_unknown_with_reasons():
    tm = combine([Estimate.none("clock", "burned_in_clock", "no OCR engine"),
                  Estimate.none("kinematics", "k", "no vehicle tracks")])
    assert tm.speedup is None and tm.source == "unknown" and tm.interval is None
    assert [e["reason"] for e in tm.evidence] == ["no OCR engine", "no vehicle tracks"]


# ----------------------------------------------------------------------------- metadata

@pytest.fixture(scope="module")
def plain_clip(tmp_path_factory):
    d = tmp_path_factory.mktemp("plain")
    generate(d / "plain.mp4", scene(1, n_vehicles=2, width=320, height=180, pixels_per_m=8.0,
                                     duration_real_s=3.0))
    return d / "plain.mp4"


@pytest.mark.parametrize("capture_fps, k", [(7.5, 4.0), (2.0, 15.0), (240.0, 0.125), (30.0, 1.0)])
def test_capture_rate_tag_round_trip(plain_clip, tmp_path, capture_fps, k):
    tagged = remux(plain_clip, tmp_path / "tagged.mp4", "-c", "copy", "-movflags",
                   "use_metadata_tags", "-metadata", f"com.android.capture.fps={capture_fps:.6f}")
    info = probe(tagged)
    assert info.fps_measured == pytest.approx(30.0, rel=1e-3)
    tag = estimate_metadata(tagged, info)[0]
    assert tag.ok and tag.evidence["tag"] == "format:com.android.capture.fps"
    assert tag.speedup == pytest.approx(k, rel=2e-3)
    assert tag.interval[0] < k < tag.interval[1]
    # through the whole estimator: the tag beats an untracked clip
    tm = estimate_time_map(tagged, info, [], info.duration_s, clock=False)
    assert tm.source == "metadata" and tm.speedup == pytest.approx(k, rel=2e-3)


def test_untagged_clip_says_why(plain_clip):
    tag, mismatch = estimate_metadata(plain_clip, probe(plain_clip))
    assert not tag.ok and tag.reason == "no capture-rate tag in the file"
    assert not mismatch.ok and "time base" in mismatch.reason     # synth writes 1/90000


def test_encoder_rate_mismatch_after_timestamp_rescale(tmp_path):
    # x264 records 30 fps in the bitstream; a remux with -itsscale 0.25 makes the file
    # play 4x faster without touching the bitstream.
    src = tmp_path / "enc30.mp4"
    subprocess.run([ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc=size=160x96:rate=30", "-t", "2", "-c:v", "libx264", "-preset",
                    "ultrafast", str(src)], check=True, capture_output=True)
    fast = remux(src, tmp_path / "fast.mp4", "-c", "copy", pre=("-itsscale", "0.25"))
    assert not estimate_metadata(src, probe(src))[1].ok         # rates agree: no claim
    est = estimate_metadata(fast, probe(fast))[1]
    assert est.ok and est.speedup == pytest.approx(4.0, rel=0.01)
    # our own re-timed output is a stream copy: its stale bitstream rate is ignored
    back = retime(fast, tmp_path / "back.mp4", speedup=4)
    m = estimate_metadata(back, probe(back))[1]
    assert not m.ok and "convoycount retime" in m.reason


# ----------------------------------------------------------------------------- clock

@pytest.mark.parametrize("case", [dict(speedup=6, clock_decimals=1),
                                  dict(speedup=1, clock_decimals=0, clock_corner="bottom_right")])
def test_clock_reading_within_3pct(ocr, tmp_path, case):
    from convoycount.retime.clock import estimate_clock
    k = case["speedup"]
    cfg = scene(k, n_vehicles=2, clock=True, duration_real_s=6.0 * k, **case)
    generate(tmp_path / "c.mp4", cfg)
    est = estimate_clock(tmp_path / "c.mp4", probe(tmp_path / "c.mp4"), engine=ocr)
    assert est.ok, est.reason
    assert abs(est.speedup / k - 1) <= 0.03
    assert est.interval[0] <= k <= est.interval[1]
    assert est.evidence["readings_used"] >= 10


def test_clock_absent_gives_reason(ocr, plain_clip):
    from convoycount.retime.clock import estimate_clock
    est = estimate_clock(plain_clip, probe(plain_clip), engine=ocr)
    assert not est.ok and "no clock" in est.reason


@pytest.mark.parametrize("text, value", [
    ("12:00:07", (43207.0, 1.0)), ("2024-05-01 23:59:59.5", (86399.5, 0.1)),
    ("REAL 00:01:02.25", (62.25, 0.01)), ("l2:O0:05", (43205.0, 1.0)),
    ("25:00:00", None), ("speed 120", None), ("01.05.24", (3924.0, 1.0))])
def test_parse_clock(text, value):
    assert parse_clock(text) == value


def test_clock_fit_bounds_contain_truth_and_drop_misreads():
    from convoycount.retime.clock import ClockReading, ClockSettings, _robust_fit
    k, t0 = 3.0, 100.0
    ts = np.arange(0, 10, 0.2)
    rs = [ClockReading(t, "", math.floor((t0 + k * t) * 10) / 10, 0.1) for t in ts]
    rs[17] = ClockReading(ts[17], "", rs[17].value_s + 40.0, 0.1)       # OCR misread
    lo, hi, used, dropped, q = _robust_fit(rs, ClockSettings())
    assert lo <= k <= hi and (hi - lo) / k < 0.01 and len(dropped) == 1 and q == 0.1


# ----------------------------------------------------------------------------- retime()

@pytest.fixture(scope="module")
def ramp_clip(tmp_path_factory):
    """40 frames, VFR (a 3-frame gap), grey ramp, with an audio tone."""
    d = tmp_path_factory.mktemp("ramp")
    pts = cfr_pts(40, Fraction(25))
    pts = pts[:20] + [p + 3 * 3600 for p in pts[20:]]          # +0.12 s gap: VFR
    write_video(d / "ramp.mp4", pts, images=ramp, audio=True, width=96, height=64)
    return d / "ramp.mp4"


def audio_duration_s(path) -> float:
    import av
    with av.open(str(path)) as c:
        return sum(f.samples / f.sample_rate for f in c.decode(c.streams.audio[0]))


@pytest.mark.parametrize("k", [4.0, 2.5, 0.5])
def test_retime_stream_copy_scales_time_keeps_frames(ramp_clip, tmp_path, k):
    out = retime(ramp_clip, tmp_path / "out.mp4", speedup=k)
    src_i, out_i = probe(ramp_clip), probe(out, full_decode=True)
    frame_interval = out_i.duration_s / out_i.frames
    assert out_i.duration_s == pytest.approx(src_i.duration_s * k, abs=frame_interval)
    src_t = [f.time_s for f in frames(ramp_clip)]
    out_t = [f.time_s for f in frames(out)]
    assert len(out_t) == len(src_t) == 40
    assert np.allclose(out_t, np.array(src_t) * k, atol=2e-3)      # VFR stays proportional
    means = frame_means(out)
    assert np.all(np.diff(means) > 0)                                  # order preserved
    assert np.allclose(means, frame_means(ramp_clip), atol=1.5)        # lossless copy
    assert out_i.has_audio
    assert audio_duration_s(out) == pytest.approx(audio_duration_s(ramp_clip) * k, rel=0.05)


@pytest.mark.parametrize("renderer", ["drawtext", "opencv"])
def test_retime_with_clock(ramp_clip, tmp_path, renderer):
    from convoycount.retime.writer import run_retime
    res = run_retime(ramp_clip, tmp_path / "clock.mkv", speedup=3, clock=True, clock_renderer=renderer)
    assert res.clock_renderer == renderer
    out_i = probe(res.path, full_decode=True)
    assert out_i.frames == 40 and out_i.has_audio
    assert [f.time_s for f in frames(res.path)] == pytest.approx(
        [3 * f.time_s for f in frames(ramp_clip)], abs=2e-3)
    # the ramp is read below the clock's box (top-left, ~20 px high on this 64-px frame):
    # its changing digits are content too, and how big they render depends on the library
    assert np.all(np.diff(frame_means(res.path, top=24)) > 0)


@pytest.mark.slow
def test_burned_clock_reads_back_as_real_time(ocr, tmp_path):
    # retime --clock writes real time into the picture; reading it back says K = 1.
    from convoycount.retime.clock import estimate_clock
    src = tmp_path / "k5.mp4"
    generate(src, scene(5, n_vehicles=3, duration_real_s=30.0))
    out = retime(src, tmp_path / "real.mp4", speedup=5, clock=True)
    est = estimate_clock(out, probe(out), engine=ocr)
    assert est.ok and abs(est.speedup - 1) <= 0.03


def test_retime_real_duration(ramp_clip, tmp_path):
    d = probe(ramp_clip).duration_s
    out = retime(ramp_clip, tmp_path / "rd.mp4", real_duration_s=10 * d)
    assert probe(out).duration_s == pytest.approx(10 * d, rel=0.01)


@pytest.mark.parametrize("factor", [0, -2, float("nan"), float("inf"), 5000, "abc", "1e9"])
def test_bad_factor_is_one_line_error(ramp_clip, tmp_path, factor):
    with pytest.raises(ConvoyCountError) as e:
        retime(ramp_clip, tmp_path / "x.mp4", speedup=factor)
    assert "\n" not in str(e.value) and "--speedup" in str(e.value)
    assert not (tmp_path / "x.mp4").exists()


def test_bad_outputs_and_inputs(ramp_clip, tmp_path):
    cases = [(tmp_path / "x.avi", "must end in"), (ramp_clip, "is the input clip"),
             (tmp_path, "is a directory"), (ramp_clip / "x.mp4", "is a file, not a directory")]
    for out, words in cases:
        with pytest.raises(ConvoyCountError, match=words) as e:
            retime(ramp_clip, out, speedup=2)
        assert "\n" not in str(e.value)
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n")
    with pytest.raises(InputError, match="text file"):
        retime(text, tmp_path / "y.mp4", speedup=2)
    with pytest.raises(ConvoyCountError, match="exactly one"):
        retime(ramp_clip, tmp_path / "y.mp4", speedup=2, real_duration_s=5)
    with pytest.raises(ConvoyCountError, match="exactly one"):
        retime(ramp_clip, tmp_path / "y.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.mp4"]      # nothing half-written


def test_atempo_chain_products():
    for tempo in (1 / 10, 1 / 4, 0.5, 1.0, 3.0, 1 / 1000):
        chain = atempo_chain(tempo)
        assert math.prod(chain) == pytest.approx(tempo, rel=1e-9)
        assert all(0.5 <= f <= 2.0 for f in chain)


def test_retime_command_cli(ramp_clip, tmp_path):
    import typer
    from typer.testing import CliRunner
    from convoycount.retime.command import retime_command
    app = typer.Typer()
    app.command("retime")(retime_command)
    app.command("noop")(lambda: None)       # keep typer in multi-command mode, as in cli.py
    r = CliRunner().invoke(app, ["retime", str(ramp_clip), "-o", str(tmp_path / "o.mp4"),
                                 "--speedup", "2"])
    assert r.exit_code == 0, r.output
    assert "\u00d72" in r.output and (tmp_path / "o.mp4").exists()


# ----------------------------------------------------------------------------- end to end

@pytest.mark.slow
def test_analyze_auto_on_a_k4_clip(tmp_path):
    from convoycount.pipeline import analyze
    generate(tmp_path / "k4.mp4", scene(4, n_vehicles=12, spacing_s=3.0, duration_real_s=36.0))
    tm = analyze(tmp_path / "k4.mp4", speedup="auto").time_map
    assert tm.known and tm.source in ("kinematics", "combined")
    assert tm.interval[0] <= 4 <= tm.interval[1]
    # the point rests on the scene prior (the motion detector gives no classes, so every
    # kind of road is a candidate); the measured ground speed is K x the true 10-12 m/s
    kin = next(e for e in tm.evidence if e.get("source") == "kinematics")
    assert 4 * 10.0 * 0.8 <= kin["ground_speed_m_per_clip_s"] <= 4 * 12.0 * 1.2
    # `retime --speedup auto` applies the same estimate; the writer is handed the
    # estimator (it does not import the pipeline), and without one it says so.
    out = tmp_path / "real.mp4"
    r = subprocess.run([sys.executable, "-m", "convoycount.cli", "retime", str(tmp_path / "k4.mp4"),
                        "-o", str(out), "--speedup", "auto"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert f"\u00d7{tm.speedup:.4g} (estimated from {tm.source}" in r.stdout
    assert probe(out).duration_s == pytest.approx(probe(tmp_path / "k4.mp4").duration_s * tm.speedup,
                                                  rel=0.02)
    with pytest.raises(ConvoyCountError, match="needs an estimator"):
        retime(tmp_path / "k4.mp4", tmp_path / "x.mp4", speedup="auto")
