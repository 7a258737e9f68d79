"""Focal length from lane dashes (retime/dashes.py) on generated perspective clips with
dashed lane lines of a known period, seen through lenses of known focal length."""
import math

import pytest

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
