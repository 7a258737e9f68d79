"""The looks rule of the YOLO input size (detect/yolo.py, `looks_in_view`): a clip runs at the
stride rule's smaller input only when moving vehicles stay in view for MIN_LOOKS_IN_VIEW
frames or more. Measured on generated clips, whose boxes and frame times are exact."""
from __future__ import annotations

from collections import defaultdict
from functools import lru_cache

import numpy as np
import pytest

from convoycount.detect.base import Detections
from convoycount.detect.yolo import MIN_LOOKS_IN_VIEW, looks_in_view
from convoycount.synth.config import scenario
from convoycount.synth.render import render


# (real fps, speed-up, real seconds): a 15 fps camera as found, and a 10 fps one sped up x4
# (2.5 pictures per real second, as residential_a x4).
AS_FOUND, SPED_UP = (15.0, 1, 12.0), (10.0, 4, 40.0)


@lru_cache(maxsize=2)
def rendered(real_fps: float, speedup: int, duration_real_s: float):
    """(per-frame Detections of the rendered boxes, {vehicle id: frames it is in view},
    width, height) of a small one-way generated clip; parked cars included."""
    cfg = scenario("non_crossing", seed=3, n_vehicles=4, non_crossing=2, two_way=False, lanes=1,
                   real_fps=real_fps, speedup=speedup, duration_real_s=duration_real_s)
    dets, in_view = [], defaultdict(int)
    for f in render(cfg):
        h, w = f.image.shape[:2]
        xyxy = [b[2] for b in f.boxes if b[3] >= 0.999]      # whole boxes, as a detector sees
        for b in f.boxes:
            in_view[b[0]] += 1
        dets.append(Detections(np.array(xyxy, float).reshape(-1, 4), [0.9] * len(xyxy),
                               ["car"] * len(xyxy), f.clip_time_s, f.index))
    return dets, dict(in_view), w, h


def measured(dets, w, h) -> list:
    return [x for a, b in zip(dets, dets[1:]) for x in looks_in_view(a, b, w, h)]


@pytest.mark.parametrize("clip", [AS_FOUND, SPED_UP])
def test_looks_in_view_match_the_frames_a_generated_vehicle_is_seen_on(clip):
    """Every step measured between consecutive frames predicts, within a third, how many
    frames the moving vehicles of the clip are in view (their truth: frames holding
    their box); parked vehicles give no step."""
    dets, in_view, w, h = rendered(*clip)
    looks = measured(dets, w, h)
    moving = sorted(n for n in in_view.values() if n < len(dets) - 1)   # parked: every frame
    assert looks and moving
    lo, hi = min(moving), max(moving)
    assert lo * 0.67 <= float(np.median(looks)) <= hi * 1.33, (np.median(looks), moving)


def test_a_sped_up_low_rate_clip_keeps_the_full_input_and_a_slow_one_may_shrink():
    """The rule's verdict on the same street: a 15 fps camera as found gives every vehicle
    far more than MIN_LOOKS_IN_VIEW frames; a 10 fps one sped up x4 fewer, so that clip
    keeps the full input."""
    slow = measured(*_drop_truth(rendered(*AS_FOUND)))
    fast = measured(*_drop_truth(rendered(*SPED_UP)))
    assert min(slow) >= MIN_LOOKS_IN_VIEW
    assert min(fast) < MIN_LOOKS_IN_VIEW


def _drop_truth(r):
    dets, _, w, h = r
    return dets, w, h


def test_a_car_passing_a_parked_one_is_paired_with_itself_not_the_parked_car():
    """Least total distance, not nearest box: the moving car's step is 64 px (10 looks in
    a 640 px frame) although a parked car lies nearer to where it arrives."""
    def d(*b):
        return Detections(np.array(b, float), [0.9] * len(b), ["car"] * len(b), 0.0, 0)
    parked = [250, 100, 310, 140]
    before = d(parked, [150, 130, 210, 170])
    after = d([250, 101, 310, 141], [214, 130, 274, 170])   # nearer the parked car's centre
    assert looks_in_view(before, after, 640, 360) == [10.0]
