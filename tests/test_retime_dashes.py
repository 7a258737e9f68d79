"""Focal length from lane dashes (retime/dashes.py) on generated perspective clips with
dashed lane lines of a known period, seen through lenses of known focal length."""
import math

import pytest

import convoycount

from convoycount.retime.dashes import STANDARDS, read_dashes, sample_images
from convoycount.retime.ground import GroundSettings, fit_horizon
from convoycount.synth.perspective import PerspectiveConfig, generate_perspective

US = next(s for s in STANDARDS if s.name.startswith("US"))
DE = next(s for s in STANDARDS if s.name.startswith("Germany"))


def _clip(tmp_path, hfov: float, std, vehicles: int = 2):
    """A 1 s clip whose horizon sits 0.3 of the height above the centre whatever the lens."""
    f = 320 / math.tan(math.radians(hfov) / 2)
    cfg = PerspectiveConfig(hfov_deg=hfov, tilt_deg=math.degrees(math.atan(108 / f)),
                            dash_period_m=std.period_m, dash_mark_m=std.mark_m,
                            duration_s=1.0, fps=10, vehicles=vehicles)
    path = tmp_path / f"dashes_{hfov:g}.mp4"
    generate_perspective(path, cfg)
    return path, f


@pytest.mark.parametrize("hfov", [15, 40, 70])
def test_us_dashes_give_the_true_focal_length(tmp_path, hfov):
    path, f_true = _clip(tmp_path, hfov, US)
    r = read_dashes(sample_images(path, 5))
    assert r.focal_range_px is not None, r.why
    # the legal US period gives the lens within a few per cent...
    assert r.candidates[US.name] == pytest.approx(f_true, rel=0.05)
    # ...its mark share matches, and the range (every legal period) holds it
    assert US.period_m in r.periods_m
    assert r.focal_range_px[0] <= f_true <= r.focal_range_px[1]
    assert r.focal_range_px[0] <= r.focal_px <= r.focal_range_px[1]
    assert r.lines == 2 and r.dashes >= 8
    # far narrower than the assumed 3-80 deg span (a factor ~30 in focal length)
    assert r.focal_range_px[1] / r.focal_range_px[0] < 3.5


def test_long_marks_rule_out_short_mark_standards(tmp_path):
    path, f_true = _clip(tmp_path, 40, DE)
    r = read_dashes(sample_images(path, 5))
    assert r.duty == pytest.approx(DE.mark_m / DE.period_m, abs=0.08)
    assert DE.period_m in r.periods_m and US.period_m not in r.periods_m
    assert r.candidates[DE.name] == pytest.approx(f_true, rel=0.05)


def test_a_road_at_a_yaw_is_corrected_from_its_vanishing_point(tmp_path):
    f_true = 320 / math.tan(math.radians(40) / 2)
    cfg = PerspectiveConfig(hfov_deg=40, tilt_deg=math.degrees(math.atan(108 / f_true)),
                            heading_deg=165, lane_x_m=6.0, dash_period_m=US.period_m,
                            dash_mark_m=US.mark_m, duration_s=1.0, fps=10)
    generate_perspective(tmp_path / "yaw.mp4", cfg)
    r = read_dashes(sample_images(tmp_path / "yaw.mp4", 5))
    # uncorrected, a 15 deg yaw reads f / cos^2 15 = +7 %
    assert r.candidates[US.name] == pytest.approx(f_true, rel=0.04)


def test_no_dashes_is_unknown_with_the_reason(tmp_path):
    cfg = PerspectiveConfig(duration_s=0.5, fps=10)       # a plain road: no lane lines
    generate_perspective(tmp_path / "plain.mp4", cfg)
    r = read_dashes(sample_images(tmp_path / "plain.mp4", 3))
    assert r.focal_range_px is None and r.periods_m == ()
    assert "no dashed line" in r.why


def test_ground_uses_the_measured_range_only_when_given():
    assumed = fit_horizon([], 640, 360)
    measured = fit_horizon([], 640, 360, GroundSettings(dash_focal_px=(800.0, 1200.0),
                                                        dash_horizon_y=70.0))
    assert assumed.horizon_y is None and assumed.focal_range_px[1] / assumed.focal_range_px[0] > 20
    assert measured.focal_range_px == (800.0, 1200.0)
    assert measured.focal_px == pytest.approx(math.sqrt(800 * 1200))
    assert measured.horizon_y == 70.0 and "dashes" in measured.how


# ------------------------------------------------- through analyze(..., speedup="auto")

def _toward(tmp_path, dashed: bool, hfov: float = 20.0, k: float = 4.0):
    """Cars driving toward a 20 deg telephoto (the assumed lens is 40 deg), with or
    without US lane dashes; the horizon 0.3 of the height above the centre."""
    f = 320 / math.tan(math.radians(hfov) / 2)
    cfg = PerspectiveConfig(speedup=k, hfov_deg=hfov, tilt_deg=math.degrees(math.atan(108 / f)),
                            heading_deg=180, lane_y_m=90.0, spacing_m=30.0, duration_s=1.8,
                            dash_period_m=US.period_m if dashed else 0.0, dash_mark_m=US.mark_m)
    path = tmp_path / f"toward_{dashed}.mp4"
    generate_perspective(path, cfg)
    tm = convoycount.analyze(path, speedup="auto", integrity=False).time_map
    kin = next(e for e in tm.evidence if e.get("source") == "kinematics")
    return cfg, f, tm, kin


def test_analyze_auto_takes_the_focal_length_from_lane_dashes(tmp_path):
    cfg, f_true, tm, kin = _toward(tmp_path, dashed=True)
    dashes, cam = kin["lane_dashes"], kin["camera"]
    assert dashes["used"] and cam["focal_px_from"] == "lane dashes"
    assert dashes["candidates_focal_px"][US.name] == pytest.approx(f_true, rel=0.05)
    lo, hi = dashes["focal_px_range"]
    assert lo <= f_true <= hi and lo <= cam["focal_px"] <= hi
    # a reader can redo the arithmetic: f from the US period, k and the step per dash
    k_mid = math.sqrt(dashes["scale_k_range"][0] * dashes["scale_k_range"][1])
    a = US.period_m * k_mid / dashes["step_per_dash"]
    assert math.sqrt(a * a - (cfg.height / 2 - dashes["horizon_y_px"]) ** 2) == pytest.approx(
        dashes["candidates_focal_px"][US.name], rel=0.05)
    # K recovered: the ground speed is K x the true 14 m/s (the assumed lens reads ~0.5 K)
    assert kin["ground_speed_m_per_clip_s"] == pytest.approx(cfg.speedup * cfg.speed_mps, rel=0.2)
    assert tm.interval[0] <= cfg.speedup <= tm.interval[1]
    assert kin["camera_log_span"][1] < 1.0


def test_without_dashes_the_assumed_lens_range_stays_and_says_so(tmp_path):
    cfg, _, tm, kin = _toward(tmp_path, dashed=False)
    dashes, cam = kin["lane_dashes"], kin["camera"]
    assert not dashes["used"] and "no dashed line" in dashes["why"]
    assert "3-80 deg" in dashes["fallback"] and cam["focal_px_from"] == "assumed"
    # the 3-80 deg lens span: the telephoto end raises the speed by > x7
    assert kin["camera_log_span"][1] > 2.0
    assert tm.interval[0] <= cfg.speedup <= tm.interval[1]


def test_only_unscalable_vehicles_give_unknown_and_no_dash_reading(tmp_path):
    """A bus passing side-on 9 m from the camera is wider than the frame: no box is a
    whole vehicle, so no speed, no K (unknown with the reason), and the lane dashes
    are not even read (nothing to scale)."""
    from convoycount.retime.speed import lane_dashes_for
    cfg = PerspectiveConfig(heading_deg=90, lane_y_m=9.0, spacing_m=30.0, duration_s=2.0,
                            class_name="bus", dash_period_m=US.period_m, dash_mark_m=US.mark_m)
    path = tmp_path / "near.mp4"
    generate_perspective(path, cfg)
    r = convoycount.analyze(path, speedup="auto", integrity=False)
    assert r.tracks and r.time_map.speedup is None and r.time_map.source == "unknown"
    kin = next(e for e in r.time_map.evidence if e.get("source") == "kinematics")
    assert "can be scaled" in kin["reason"]
    assert lane_dashes_for(tmp_path / "not_decoded.mp4", r.tracks, cfg.width, cfg.height) is None
