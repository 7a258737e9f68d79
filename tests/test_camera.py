"""Counting in scene coordinates (convoycount/camera/) on generated moving-camera clips
(convoycount/synth/camera.py), whose truth is exact in the scene: the camera path,
the line's place and when it was in view, the parked vehicles."""
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import convoycount
from convoycount.camera.estimate import CameraEstimator, CameraStep
from convoycount.camera.scene import LINE_VIEW_SHARE, line_share_in_view, place_line, settle
from convoycount.camera.transform import IDENTITY, apply, as3x3
from convoycount.count import CounterSettings
from convoycount.errors import ConvoyCountError
from convoycount.options import AnalysisOptions
from convoycount.synth import scenario
from convoycount.synth.camera import CameraMove, generate_moving
from convoycount.video import frames

ROOT = Path(__file__).resolve().parents[1]
YOLO = dict(detector="yolo", model=str(ROOT / "models" / "convoy-yolo.pt"), line="0.5,0,0.5,1")


def analyze(path, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return convoycount.analyze(path, **kw)


def truth_of(path) -> dict:
    return json.loads(Path(str(path).replace(".mp4", ".truth.json")).read_text())


# ------------------------------------------------------------------ the stage alone
@pytest.fixture(scope="module")
def pan_zoom_clip(tmp_path_factory):
    """A phone that shakes, pans after the column by half the width and zooms to 1.4x."""
    path = tmp_path_factory.mktemp("cam") / "pan_zoom.mp4"
    cfg = scenario("news_story", seed=5, speedup=3, n_vehicles=2, real_fps=15.0, spacing_s=2.0)
    generate_moving(path, cfg, CameraMove(shake_frac=0.03, pan_frac=0.5, zoom=1.4))
    return path


def test_each_frame_is_placed_in_the_scene_to_a_pixel(pan_zoom_clip):
    truth = truth_of(pan_zoom_clip)
    exact = [np.vstack([np.reshape(m, (2, 3)), [0, 0, 1]]) for m in truth["camera"]["frame_to_scene"]]
    w, h = truth["width"], truth["height"]
    corners = [(0, 0), (w, 0), (0, h), (w, h)]
    est = CameraEstimator()
    worst = 0.0
    for f in frames(pan_zoom_clip):
        step = est.update(f, None)
        worst = max(worst, float(np.abs(apply(step.to_scene, corners) - apply(exact[f.index], corners)).max()))
    assert {s.segment for s in est.steps} == {0}          # followed without a break
    # The pan moves the view by 320 px and the zoom by 1.4x; the picture's corners
    # stay within 1.5 px of where the truth puts them.
    assert worst < 1.5, worst


def test_frames_that_hide_the_scene_keep_the_last_place_and_do_not_break_the_chain(pan_zoom_clip):
    """A truck filling the view for a few frames (here: blank frames) is not a cut."""
    from convoycount.video import Frame
    truth = truth_of(pan_zoom_clip)
    est = CameraEstimator()
    for f in frames(pan_zoom_clip):
        hidden = 10 <= f.index < 14
        est.update(Frame(f.index, f.time_s, np.full_like(f.image, 90)) if hidden else f, None)
    assert [s.registered for s in est.steps[8:16]] == [True] * 2 + [False] * 4 + [True] * 2
    assert {s.segment for s in est.steps} == {0}
    exact = np.vstack([np.reshape(truth["camera"]["frame_to_scene"][20], (2, 3)), [0, 0, 1]])
    assert np.abs(apply(est.steps[20].to_scene, [(0, 0), (640, 360)]) - apply(exact, [(0, 0), (640, 360)])).max() < 1.5


def test_probe_estimates_the_camera_motion_from_sampled_frames(pan_zoom_clip):
    """`probe --camera`: a pan of half the width and a 1.4x zoom, seen on frames
    sampled six times a second; a tripod clip is reported fixed."""
    from typer.testing import CliRunner
    from convoycount.cli import app
    out = CliRunner().invoke(app, ["probe", str(pan_zoom_clip), "--camera", "--json"])
    assert out.exit_code == 0, out.output
    m = json.loads(out.output)["camera_motion"]
    assert m["moved"] and m["sampled_frames"] >= 10 and m["segments"] == 1
    assert 0.5 * 640 - 40 < m["pan_x_px"][1] < 0.5 * 640 + 40     # the pan, give or take the shake
    assert m["zoom"][1] == pytest.approx(1.4, abs=0.05)
    fixed = CliRunner().invoke(app, ["probe", str(ROOT / "samples" / "two_way.mp4"), "--camera"])
    assert fixed.exit_code == 0 and "camera: fixed" in fixed.output


def test_a_fixed_camera_is_exactly_identity():
    """Sub-pixel jitter of the estimate must not move a tripod clip's boxes at all."""
    steps = [CameraStep(i, i / 30, np.array([[1, 0, 0.4 * (-1) ** i], [0, 1, 0.3], [0, 0, 1.0]]), 0, 50)
             for i in range(20)]
    moved = steps + [CameraStep(20, 20 / 30, np.array([[1, 0, 9.0], [0, 1, 0], [0, 0, 1.0]]), 0, 50)]
    assert all(s.to_scene is IDENTITY for s in settle(steps, 640, 360))
    assert not any(s.to_scene is IDENTITY for s in settle(moved, 640, 360))


def test_the_line_is_watched_while_half_of_it_is_in_view():
    line = (320.0, 0.0, 320.0, 360.0)
    pan = lambda dx: np.array([[1, 0, dx], [0, 1, 0], [0, 0, 1.0]])   # noqa: E731  frame -> scene
    assert line_share_in_view(IDENTITY, line, 640, 360) > 0.9
    assert line_share_in_view(pan(400.0), line, 640, 360) == 0.0        # panned past it
    steps = [CameraStep(i, i * 0.1, pan(40.0 * i), 0, 50) for i in range(20)]
    place = place_line(steps, line, None, [], 2.0, 640, 360)
    # The line (x = 320) leaves at the left edge once the view has moved ~307 px: frame 8.
    assert place.watched_s == [(0.0, pytest.approx(0.8))]
    assert place.counts_at(0.75) and not place.counts_at(0.85)
    assert LINE_VIEW_SHARE == 0.5


# ------------------------------------------------------------------ whole analyses
def test_a_parked_car_under_a_shaking_phone_is_never_counted(tmp_path):
    """A 3 % shake moves a parked car's box back and forth across the line; in image
    pixels that is a crossing. In scene pixels the car stands still. (The counter's
    travel rules alone also stop it, so they are switched off here to test the stage.)"""
    path = tmp_path / "parked.mp4"
    cfg = scenario("news_story", seed=6, speedup=1, n_vehicles=0, duration_real_s=4.0, real_fps=10.0)
    truth = generate_moving(path, cfg, CameraMove(shake_frac=0.03, parked=1))
    assert truth.total_crossing == 0 and len(truth.camera["parked"]) == 1
    no_travel = CounterSettings(min_travel_diag=0.0, rigid_travel_frac=0.0)
    fixed = analyze(path, **YOLO, counter=no_travel, camera=False)
    assert fixed.total >= 1             # without compensation the shake counts the parked car
    report = analyze(path, **YOLO, counter=no_travel)
    assert report.total == 0
    motion = report.to_dict()["camera"]["motion"]
    # The summary saw the shake: up to 3 % each way on each axis, from the first frame.
    assert 0.01 < motion["max_shift_frac"] <= 2 * np.sqrt(2) * 0.03


@pytest.fixture(scope="module")
def pan_clip(tmp_path_factory):
    """One vehicle, a phone panning after it by 0.6 of the width (the line leaves the
    view), analysed once for the count and the evidence tests."""
    path = tmp_path_factory.mktemp("pan") / "pan.mp4"
    cfg = scenario("news_story", seed=1, speedup=2, n_vehicles=1, real_fps=15.0, speed_mps=(13.0, 14.0),
                   lead_in_s=0.2, tail_s=0.3)
    truth = generate_moving(path, cfg, CameraMove(pan_frac=0.6, shake_frac=0.01))
    return truth, analyze(path, **YOLO)


def frame_to_ref(truth, frame_index: int) -> np.ndarray:
    """The exact scene -> frame transform of a frame, the scene being the first frame's."""
    m = lambda i: np.vstack([np.reshape(truth.camera["frame_to_scene"][i], (2, 3)), [0, 0, 1]])  # noqa: E731
    return np.linalg.inv(m(frame_index)) @ m(0)


def test_a_vehicle_the_phone_pans_after_is_counted_once_at_its_time(pan_clip):
    truth, report = pan_clip
    (crossing,) = [v.crossing_clip_time_s for v in truth.vehicles if v.crosses_line]
    assert report.total == 1
    assert abs(report.events[0].clip_time_s - crossing) < 0.1
    cam = report.to_dict()["camera"]
    assert cam["moved"] and cam["motion"]["pan_x_px"][1] > 0.5 * 640
    # The pan takes the line out of view: the report says until when it was watched.
    watched = truth.camera["watched_s"]
    assert len(cam["watched_s"]) == 1 and abs(cam["watched_s"][0][1] - watched[0][1]) < 0.2
    assert any("left the view" in w for w in report.warnings)


def test_the_annotated_video_and_the_contact_sheet_draw_the_line_where_it_lies_in_the_scene(pan_clip):
    from convoycount.evidence.annotate import Annotator
    from convoycount.evidence.sheet import plan_tiles, tile_line
    truth, report = pan_clip
    annot = Annotator(report)
    for step in report.camera.steps[::10]:
        want = apply(frame_to_ref(truth, step.frame_index), [(320, 0), (320, 360)])
        _, drawn = annot._to_frame(step.frame_index)
        assert np.abs(np.array(drawn) - want).max() < 2.5, (step.frame_index, drawn, want)
    # The tile's frame is one where the camera had already panned: the line is drawn
    # where the scene puts it there, not at x = 320 where it was drawn on the first.
    (spec,) = plan_tiles(report)
    want = apply(frame_to_ref(truth, spec.frame_index), [(320, 0), (320, 360)])
    assert abs(want[0][0] - 320) > 20
    assert np.abs(np.array(tile_line(report, spec.frame_index)) - want).max() < 2.5


def test_the_html_report_has_a_camera_section(pan_clip):
    from convoycount.evidence.html import render_html
    _, report = pan_clip
    page = render_html(report, contact_sheet_png=None, timeline_png=None, command_line=None,
                       files=[], render={}, annotated=None)
    section = page[page.index("<section id=camera>"):]
    section = section[:section.index("</section>")]
    cam = report.to_dict()["camera"]
    (a, b), = cam["watched_s"]
    for text in (f"{cam['motion']['max_shift_px']:.0f} px", "zoom", f"{a:.2f}-{b:.2f} s", "line watched"):
        assert text in section, text


def test_after_a_cut_counting_stops_and_the_shots_are_listed(tmp_path):
    """The second shot is another road: its vehicles must not be counted at a line
    drawn on the first, and the report says which span was counted."""
    from convoycount.synth import generate
    path = tmp_path / "cut.mp4"
    truth = generate(path, scenario("two_way", seed=3, width=480, height=270, pixels_per_m=11.0,
                                    real_fps=20.0, n_vehicles=8, spacing_s=1.5), edit="cut")
    cut_s = truth.edit["finding"]["start_s"]
    before = [v.crossing_clip_time_s for v in truth.vehicles
              if v.crosses_line and v.crossing_clip_time_s < cut_s]
    report = analyze(path, line="0.5,0,0.5,1")
    cam = report.to_dict()["camera"]
    assert len(cam["shots"]) == 2 and cam["shots"][1][0] == pytest.approx(cut_s, abs=0.06)
    assert cam["counted_s"][1] == pytest.approx(cut_s, abs=0.06)
    assert all(e.clip_time_s < cut_s for e in report.events)
    assert abs(report.total - len(before)) <= 1
    assert any("2 shots" in w and "holds the line" in w for w in report.warnings)
    # No track runs across the cut.
    assert not any(t.observations[0].time_s < cut_s - 1e-6 <= t.observations[-1].time_s - 0.06
                   for t in report.tracks)


# ------------------------------------------------------------------ options
def test_line_at_needs_a_line_and_a_time_in_range():
    assert AnalysisOptions(line="0.5,0,0.5,1", line_at_s=2.0).params()["line_at_s"] == 2.0
    with pytest.raises(ConvoyCountError, match="--line-at places a given line"):
        AnalysisOptions(line_at_s=2.0)
    with pytest.raises(ConvoyCountError, match="outside the analysed range"):
        AnalysisOptions(line="0.5,0,0.5,1", line_at_s=1.0, start_s=2.0)
    with pytest.raises(ConvoyCountError, match="--no-camera"):
        AnalysisOptions(line="0.5,0,0.5,1", line_at_s=1.0, camera=False)


# ------------------------------------------------------------------ the generator
def test_a_clip_filmed_through_a_window_keeps_its_truth_and_its_frame_stays_in_the_picture(tmp_path):
    """--window: a reflection and the window's frame fixed in the picture. The frame
    covers only strips clear of the road, so the scene's truth is the clip's without it."""
    from convoycount.synth.camera import WINDOW_FRAME_FRAC
    cfg = scenario("news_story", seed=7, speedup=1, n_vehicles=1, duration_real_s=2.0, real_fps=10.0)
    move = CameraMove(shake_frac=0.02, pan_frac=0.3, zoom=1.2, parked=1)
    plain = generate_moving(tmp_path / "plain.mp4", cfg, move)
    seen = generate_moving(tmp_path / "window.mp4", cfg, CameraMove(**{**move.__dict__, "window": 0.3}))
    for key in ("frame_to_scene", "parked", "watched_s", "line_world_px"):
        assert seen.camera[key] == plain.camera[key], key
    assert seen.vehicles == plain.vehicles and seen.camera["window"] == 0.3
    top = round(WINDOW_FRAME_FRAC[0] * 360)
    pictures = [(f.image, g.image) for f, g in zip(frames(tmp_path / "window.mp4"), frames(tmp_path / "plain.mp4"))]
    assert len(pictures) == plain.frames
    for through, bare in pictures:
        assert through[2:top - 2].mean() < 40 < bare[2:top - 2].mean()      # the frame, not the sky
        # the reflection lies over the whole view: no pixel row of the road is as filmed
        assert np.abs(through[top + 4:300].astype(int) - bare[top + 4:300]).mean() > 3
    with pytest.raises(ConvoyCountError, match="window"):
        CameraMove(window=0.5)


def test_a_phone_filming_through_a_window_is_placed_by_the_scene_not_by_the_glass(tmp_path):
    """The window's reflection (a smooth glow and bright glints) and its frame stay put in
    the picture while the phone pans 0.6 widths: the stage follows the road behind them.
    Before the stage followed detail() and dropped corners fixed in the picture, the glow
    held Lucas-Kanade back and the glints outvoted the road: 56 px off on this clip."""
    path = tmp_path / "window.mp4"
    cfg = scenario("news_story", seed=5, speedup=3, n_vehicles=2, real_fps=15.0, spacing_s=2.0)
    truth = generate_moving(path, cfg, CameraMove(shake_frac=0.015, pan_frac=0.6, zoom=1.1, window=0.25))
    exact = [as3x3(np.reshape(m, (2, 3))) for m in truth.camera["frame_to_scene"]]
    corners = [(0, 0), (truth.width, 0), (0, truth.height), (truth.width, truth.height)]
    est = CameraEstimator()
    worst = max(float(np.abs(apply(est.update(f, None).to_scene, corners) - apply(exact[f.index], corners)).max())
                for f in frames(path))
    assert {s.segment for s in est.steps} == {0}
    assert worst < 2.0, worst


def test_a_caption_burned_into_the_picture_does_not_hold_the_camera_still(tmp_path):
    """Four captions fixed in the picture (a broadcaster's overlay) give the strongest
    corners of a plain road scene, and all of them say "the camera did not move" while
    the phone pans half a width. The scene's motion is the one whose corners cover more
    of the picture; before that rule the stage followed the captions (319 px off here)."""
    import cv2
    import dataclasses
    path = tmp_path / "caption.mp4"
    cfg = scenario("news_story", seed=2, speedup=2, n_vehicles=2, real_fps=15.0, spacing_s=2.0)
    truth = generate_moving(path, cfg, CameraMove(shake_frac=0.01, pan_frac=0.5, zoom=1.0))
    exact = [as3x3(np.reshape(m, (2, 3))) for m in truth.camera["frame_to_scene"]]
    corners = [(0, 0), (truth.width, 0), (0, truth.height), (truth.width, truth.height)]

    def captioned(image):
        image = image.copy()
        for x, y in [(10, 30), (330, 30), (10, 340), (330, 340)]:
            cv2.putText(image, "LIVE 12:34:56", (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (255, 255, 255), 2)
        return image
    est = CameraEstimator()
    worst = max(float(np.abs(apply(est.update(dataclasses.replace(f, image=captioned(f.image)), None).to_scene,
                                   corners) - apply(exact[f.index], corners)).max()) for f in frames(path))
    assert {s.segment for s in est.steps} == {0}
    assert worst < 2.0, worst
