"""The motion detector on small rendered clips (convoycount.synth, in memory: the
renderer's boxes and camera shake are the exact truth)."""
import numpy as np
import pytest

from convoycount.detect.motion import MotionDetector, MotionSettings
from convoycount.geometry import areas, center, diagonal, intersection_areas
from convoycount.synth import SynthConfig, render
from convoycount.video import Frame

SMALL = dict(width=320, height=180, pixels_per_m=8.0, lanes=1)


def clip(**overrides) -> list:
    """[(Frame, RenderedFrame)] of a small synthetic scene."""
    return [(Frame(r.index, r.clip_time_s, r.image), r)
            for r in render(SynthConfig(**{**SMALL, **overrides}))]


def detect_all(detector: MotionDetector, frames: list, prepare: bool = True) -> list:
    """Detections of every frame, after seeding the background the way analyze() does
    (frames sampled over the clip)."""
    if prepare:
        detector.prepare(frames[::8])
    return [detector.detect(f) for f in frames]


def iou(a, b) -> float:
    inter = float(intersection_areas(a, b)[0, 0])
    return inter / (float(areas(a, at_least=0)[0] + areas(b, at_least=0)[0]) - inter)


@pytest.fixture(scope="module")
def one_van():
    return clip(n_vehicles=1, speed_mps=(10.0, 10.0), seed=1)


def test_a_moving_vehicle_is_one_box_where_it_really_is(one_van):
    dets = detect_all(MotionDetector(), [f for f, _ in one_van])
    in_view = 0
    for d, (_, truth) in zip(dets, one_van):
        if not truth.boxes:
            assert len(d) == 0, f"{d.time_s:.2f} s: a box with no vehicle in view"
            continue
        (_, _, box, visible), = truth.boxes
        if visible < 1.0:
            continue                  # entering or leaving: partly outside the picture
        in_view += 1
        assert len(d) == 1, f"{d.time_s:.2f} s: {len(d)} boxes for one vehicle"
        assert iou(d.xyxy[0], box) > 0.7, (d.time_s, d.xyxy[0], box)
        # The centre (the anchor the counter uses) within a tenth of the vehicle's size.
        err = np.abs(np.subtract(center(d.xyxy[0]), center(box))).max()
        assert err < 0.1 * diagonal(box), (d.time_s, d.xyxy[0], box)
        assert list(d.class_name) == ["vehicle"]
    assert in_view > 60               # the vehicle crossed the whole picture


def test_a_static_scene_gives_nothing_after_prepare():
    frames = [f for f, _ in clip(n_vehicles=0, duration_real_s=3.0, noise_sigma=3.0, seed=2)]
    assert sum(len(d) for d in detect_all(MotionDetector(), frames)) == 0


def test_camera_shake_is_compensated():
    # 3 px on a 320 px wide picture: the shaky_noisy preset's 6 px at 640.
    shaken = clip(n_vehicles=0, duration_real_s=3.0, shake_px=3.0, seed=2)
    assert max(abs(v) for _, r in shaken for v in r.shake_xy) > 2.0     # it really shakes
    frames = [f for f, _ in shaken]
    assert sum(len(d) for d in detect_all(MotionDetector(), frames)) == 0
    # The same scene without stabilisation: every edge of the road lights up.
    unstable = MotionDetector(MotionSettings(stabilize=False))
    assert sum(len(d) for d in detect_all(unstable, frames)) > 50


def test_reset_forgets_the_background(one_van):
    # After a clip of another scene, a reset detector finds on a new clip exactly what
    # a fresh one finds; one that was not reset compares the new clip against the old
    # scene's background and its clock (no prepare here: nothing re-seeds it).
    other = [f for f, _ in clip(n_vehicles=1, speed_mps=(10.0, 10.0), seed=5,
                                reverse_direction=True)]
    frames = [f for f, _ in one_van]
    fresh = detect_all(MotionDetector(), frames, prepare=False)
    assert sum(len(d) for d in fresh) > 60

    def after_other(reset: bool) -> list:
        detector = MotionDetector()
        detect_all(detector, other)
        if reset:
            detector.reset()
        return detect_all(detector, frames, prepare=False)

    def same(a, b):
        return all(np.array_equal(p.xyxy, q.xyxy) for p, q in zip(a, b))

    assert same(after_other(reset=True), fresh)
    assert not same(after_other(reset=False), fresh)


def test_detect_all_aligns_ahead_and_gives_exactly_detect_boxes():
    # Two vehicles on a shaking camera: the shift is undone for every frame, so frames
    # aligned in a thread ahead of the background model must give the very same boxes.
    frames = [f for f, _ in clip(n_vehicles=2, duration_real_s=4.0, shake_px=3.0, seed=3)]
    one = MotionDetector()
    one.prepare(frames[::8])
    expected = [one.detect(f) for f in frames]
    ahead = MotionDetector()
    ahead.prepare(frames[::8])
    got = list(ahead.detect_all(iter(frames)))
    assert [f.index for f, _ in got] == [f.index for f in frames]
    assert sum(len(d) for d in expected) > 20           # there were boxes to compare
    for (_, d), e in zip(got, expected):
        assert np.array_equal(d.xyxy, e.xyxy) and np.array_equal(d.confidence, e.confidence)


def test_closing_and_labelling_the_foreground_box_is_the_whole_mask():
    # Blobs at the picture's edges and close to each other (the closing joins some),
    # noise specks everywhere: the crop must change nothing.
    import cv2
    from convoycount.detect.motion import _closed_blobs
    rng = np.random.default_rng(5)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))
    for trial in range(30):
        mask = np.zeros((180, 320), np.uint8)
        for _ in range(rng.integers(1, 8)):
            x, y = rng.integers(-10, 310), rng.integers(-10, 170)
            mask[max(0, y):y + rng.integers(3, 40), max(0, x):x + rng.integers(3, 60)] = 255
        if trial % 2:
            mask[rng.random(mask.shape) < 0.002] = 255
        closed = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel)
        _, _, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
        whole = [(x, y, x + w, y + h, a) for x, y, w, h, a in stats[1:] if a >= 4]
        assert [tuple(map(int, b)) for b in _closed_blobs(mask, kernel, 4)] == \
            [tuple(map(int, b)) for b in whole]
    assert _closed_blobs(np.zeros((180, 320), np.uint8), kernel, 4) == []
