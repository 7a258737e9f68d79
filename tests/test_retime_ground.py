"""Speed on the ground (retime/ground.py), scene priors (retime/scene.py) and their
estimator (retime/speed.py), on perspective clips with exact K (synth/perspective.py)
and on tracks built from real Observations."""
from __future__ import annotations

import math

import pytest

import convoycount
from convoycount.retime.ground import GENERIC, SIZES, view_at
from convoycount.retime.scene import PRIORS, read_scene
from convoycount.retime.speed import estimate_ground
from convoycount.synth.perspective import PerspectiveConfig, generate_perspective
from convoycount.track import Observation, Track


def _track(tid: int, boxes, cls: str = "car", dt: float = 1 / 30) -> Track:
    return Track(tid, tuple(Observation(i * dt, i, tuple(float(v) for v in b), 0.9, cls)
                            for i, b in enumerate(boxes)))


def test_side_on_view_is_the_length_and_head_on_the_width_over_sin_depression():
    car = SIZES["car"]
    side = view_at(0.0, math.radians(20), car)
    assert side.metres_per_width == pytest.approx(car.length_m, rel=1e-6)
    head = view_at(math.pi / 2, math.radians(20), car)
    assert head.metres_per_width == pytest.approx(car.width_m / math.sin(math.radians(20)), rel=1e-6)
    assert GENERIC.width_m < GENERIC.length_m


# heading (0 away, 180 toward, 90 across, 135 diagonal), tilt, lane position
VIEWS = {"toward": (180, 20.0, 3.0, 45.0, 25.0), "away": (0, 12.0, -3.0, 25.0, 25.0),
         "side-on": (90, 15.0, 0.0, 35.0, 12.0), "diagonal": (135, 12.0, 0.0, 30.0, 12.0)}


@pytest.mark.parametrize("view", list(VIEWS))
def test_ground_speed_on_perspective_clips_is_within_20_percent(tmp_path, view):
    """The motion detector's boxes of cuboids seen in perspective: the measured speed in
    metres per clip second is K x the true speed within 20 % in every direction."""
    heading, tilt, x, y, spacing = VIEWS[view]
    k = 4.0
    cfg = PerspectiveConfig(speedup=k, heading_deg=heading, tilt_deg=tilt, lane_x_m=x,
                            lane_y_m=y, spacing_m=spacing, duration_s=1.8)
    generate_perspective(tmp_path / "p.mp4", cfg)
    r = convoycount.analyze(tmp_path / "p.mp4", detector="motion", integrity=False)
    est = estimate_ground(r.tracks, cfg.width, cfg.height)
    assert est.ok, est.reason
    got = est.evidence["ground_speed_m_per_clip_s"]
    assert got == pytest.approx(k * cfg.speed_mps, rel=0.20)


# field of view, camera height, tilt, lane distance: a telephoto from a tall building
# (the view highway_uk was filmed with) and a wide lens close to the road
LENSES = {"telephoto 12 deg": (12.0, 30.0, 8.0, 220.0), "wide 70 deg": (70.0, 8.0, 25.0, 20.0)}


@pytest.mark.parametrize("lens", list(LENSES))
def test_the_camera_span_holds_the_true_speed_whatever_the_lens(tmp_path, lens):
    """Nothing in the boxes measures the focal length, so the speed is read at the
    assumed 40 deg view (a 12 deg telephoto reads ~0.3x) and the camera span of the
    evidence, the lens range 3-80 deg, must reach the true speed either way."""
    fov, height, tilt, y = LENSES[lens]
    cfg = PerspectiveConfig(speedup=2.0, heading_deg=180, tilt_deg=tilt, lane_x_m=2.0, lane_y_m=y,
                            spacing_m=60.0 if fov < 40 else 15.0, hfov_deg=fov,
                            camera_height_m=height, duration_s=2.5 if fov < 40 else 2.0)
    generate_perspective(tmp_path / "p.mp4", cfg)
    r = convoycount.analyze(tmp_path / "p.mp4", detector="motion", integrity=False)
    est = estimate_ground(r.tracks, cfg.width, cfg.height)
    assert est.ok, est.reason
    got = est.evidence["ground_speed_m_per_clip_s"]
    down, up = est.evidence["camera_log_span"]
    true = cfg.speedup * cfg.speed_mps
    assert got * math.exp(down) <= true <= got * math.exp(up)
    if fov < 40:      # the telephoto error the span is there for: the point alone is far off
        assert got < 0.5 * true


def test_a_camera_looking_down_on_the_road_is_inside_the_span(tmp_path):
    """From high above (85 deg down, a drone or a bridge) paths are parallel and boxes
    hardly grow: no horizon, so the point reads the view as 15 deg down and traffic
    toward the camera ~x3 too fast; the span must still reach the true speed."""
    cfg = PerspectiveConfig(speedup=3.0, heading_deg=180, tilt_deg=85, lane_x_m=0.0,
                            lane_y_m=60.0 / math.tan(math.radians(85)), camera_height_m=60.0,
                            spacing_m=30.0, duration_s=2.0, speed_mps=10.0)
    generate_perspective(tmp_path / "p.mp4", cfg)
    r = convoycount.analyze(tmp_path / "p.mp4", detector="motion", integrity=False)
    est = estimate_ground(r.tracks, cfg.width, cfg.height)
    assert est.ok, est.reason
    assert est.evidence["camera"]["horizon_y_px"] is None
    got = est.evidence["ground_speed_m_per_clip_s"]
    down, up = est.evidence["camera_log_span"]
    true = cfg.speedup * cfg.speed_mps
    assert got > 2 * true                                 # the point is off, as it must be
    assert got * math.exp(down) <= true <= got * math.exp(up)


def test_evidence_lets_a_reader_redo_the_arithmetic():
    boxes = [(40 + 6 * i, 150, 40 + 6 * i + 90, 190) for i in range(30)]
    est = estimate_ground([_track(1, boxes)], 640, 360)
    v = est.evidence["vehicles"][0]
    assert v["m_per_clip_s"] == pytest.approx(v["box_widths_per_clip_s"] * v["metres_per_box_width"],
                                              rel=1e-3)
    # 6 px per 1/30 s over a 90 px box: 2 box widths per clip second, side-on: 2 x 4.6 m
    assert v["m_per_clip_s"] == pytest.approx(2 * SIZES["car"].length_m, rel=0.02)
    priors = [PRIORS[c["scene"]] for c in est.evidence["scene"]["candidates"]]
    mids = [math.log(v["m_per_clip_s"] / p.median_mps) for p in priors]
    assert est.speedup == pytest.approx(math.exp(sum(mids) / len(mids)), rel=1e-3)


def test_ambiguous_scene_interval_spans_both_candidates():
    boxes = [(40 + 6 * i, 150, 40 + 6 * i + 90, 190) for i in range(30)]
    est = estimate_ground([_track(1, boxes)], 640, 360)
    scene = est.evidence["scene"]
    assert scene["ambiguous"] and {c["scene"] for c in scene["candidates"]} == {"motorway", "road"}
    v = est.evidence["vehicles"][0]["m_per_clip_s"]
    lo, hi = est.interval
    assert lo < v / PRIORS["motorway"].median_mps and v / PRIORS["road"].median_mps < hi


def test_scene_evidence_picks_street_and_convoy():
    moving = [_track(i, [(40 + 6 * j, 40 * i, 130 + 6 * j, 40 * i + 40) for j in range(30)])
              for i in range(1, 4)]
    parked = _track(9, [(500, 300, 560, 340)] * 30)
    assert read_scene(moving + [parked]).candidates == ("street",)
    assert "parked" in read_scene(moving + [parked]).evidence["because"][0]
    column = [_track(t.track_id, [o.box for o in t.observations], "military") for t in moving]
    assert read_scene(column).candidates == ("convoy",)
    # people on foot are also seen beside urban arterials: street or road
    assert read_scene(moving, pedestrians=5).candidates == ("street", "road")
    assert read_scene(moving).candidates == ("road", "motorway")
    blobs = [_track(t.track_id, [o.box for o in t.observations], "vehicle") for t in moving]
    assert len(read_scene(blobs).candidates) == 4


def test_only_unscalable_things_give_unknown_with_the_reason():
    # a blob cut by the frame edge in every frame: no box is a whole vehicle
    cut = _track(1, [(0, 100, 50 + 5 * i, 160) for i in range(30)])
    est = estimate_ground([cut], 640, 360)
    assert not est.ok and "can be scaled" in est.reason
    assert est.evidence["skipped"][0]["reason"].startswith("0 observations fully inside")


def test_people_walking_give_k_from_their_height_and_pace():
    from convoycount.retime.walkers import estimate_walkers
    # 170 px tall (1.7 m): 1.4 m/s is 140 px per real second; at K = 3, 420 px per clip second
    people = [_track(i, [(50 + 14 * j, 80 + 20 * i, 110 + 14 * j, 250 + 20 * i) for j in range(20)],
                     "person") for i in range(3)]
    est = estimate_walkers(people, 640, 480)
    assert est.speedup == pytest.approx(3.0, rel=0.02)
    assert est.interval[0] < 3.0 < est.interval[1]
    standing = [_track(1, [(50, 80, 110, 250)] * 12, "person")]
    assert not estimate_walkers(standing, 640, 480).ok


def test_cues_are_fused_only_when_their_intervals_agree():
    from convoycount.retime.estimate import Estimate
    from convoycount.retime.speed import fuse_cues
    a = Estimate("kinematics", "vehicles", 4.0, (2.0, 8.0), 20)
    b = Estimate("kinematics", "walkers", 5.0, (4.0, 6.25), 20)
    fused = fuse_cues([a, b])
    assert fused.evidence["fusion"].startswith("consistent")
    assert 4.0 < fused.speedup < 5.0 and fused.interval[1] - fused.interval[0] < 6.25 - 4.0
    c = Estimate("kinematics", "walkers", 20.0, (15.0, 26.0), 20)
    apart = fuse_cues([a, c])
    assert "disagree" in apart.evidence["fusion"]
    assert apart.interval == (2.0, 26.0) and len(apart.evidence["cues"]) == 2
