"""Confirmation and box ownership. Vehicles the camera sees on only a few frames (a low frame rate, or a clip sped up by
dropping frames) count, and flicker, detector noise and parked cars still never do.

The generated clips are rendered (convoycount.synth, exact boxes and crossing times, no
encoding) at 10 pictures per real second sped up x6, as benchmarks/realclips.md's
residential_a x6: a vehicle steps more than its own length from one frame to the next and
its whole box is in view on 3-5 frames."""
from __future__ import annotations

import numpy as np
import pytest

from convoycount.count import Line, LineCounter
from convoycount.detect.base import Detections
from convoycount.synth import truth_for
from convoycount.synth.config import scenario
from convoycount.synth.render import render
from convoycount.track import Tracker

FEW_LOOKS = dict(real_fps=10.0, speedup=6, pixels_per_m=20.0)


def detections(boxes: list, t: float, i: int) -> Detections:
    n = len(boxes)
    return Detections(np.array(boxes, float).reshape(-1, 4), np.full(n, 0.9),
                      np.array(["car"] * n, dtype=object), t, i)


def count_rendered(cfg, noise=None):
    """Events counted on the clip's whole boxes (as a detector sees them), the truth, and
    {vehicle id: frames its whole box is in view}. `noise(frame, whole)` (whole: the
    frame's [(vehicle id, class, box, visible fraction)]) gives the boxes a detector would,
    e.g. with flicker."""
    tracker, looks = Tracker(), {}
    for f in render(cfg):
        h, w = f.image.shape[:2]
        whole = [b for b in f.boxes if b[3] >= 0.999]
        for b in whole:
            looks[b[0]] = looks.get(b[0], 0) + 1
        boxes = [list(b[2]) for b in whole] if noise is None else noise(f, whole)
        tracker.update(detections(boxes, f.clip_time_s, f.index))
    truth = truth_for(cfg)
    events = LineCounter(Line(*truth.line), w, h).count(tracker.tracks())
    return events, truth, looks


def assert_counts_match_truth(events, truth, tol_s: float):
    crossing = sorted(v.crossing_clip_time_s for v in truth.vehicles if v.crosses_line)
    counted = sorted(e.clip_time_s for e in events)
    assert len(counted) == len(crossing), (counted, crossing)
    assert counted == pytest.approx(crossing, abs=tol_s)


@pytest.mark.parametrize("seed", [0, 2])
def test_vehicles_seen_on_three_to_five_frames_each_count_once(seed):
    cfg = scenario("two_way", seed=seed, n_vehicles=8, **FEW_LOOKS)
    events, truth, looks = count_rendered(cfg)
    crossing = [v.id for v in truth.vehicles if v.crosses_line]
    assert min(looks[v] for v in crossing) <= 3            # the case this is about
    assert max(looks[v] for v in crossing) <= 6
    # within one frame interval of the exact crossing (interpolated between two frames)
    assert_counts_match_truth(events, truth, tol_s=1.0 / cfg.real_fps)


# Seed 2: a flash seen on 3 frames, then (0.5 s later, still within lost_track_s) another
# flash further on, makes a 6-look track whose medians move; the few-looks rule does not
# judge it (2 + 2 looks do), but the track comes back from being unseen at another pace than
# it went (count.py, _across_gap), which no vehicle does. (It counted before that rule.)
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_flicker_noise_and_parked_cars_never_count_at_few_looks(seed):
    """Parked and reversing cars (non_crossing) whose boxes jitter and are now and then
    missed, and detector flicker: vehicle-sized boxes near the line that flash for one or
    two frames where they are (jittering, not moving as a vehicle), a new one on 30 % of
    the frames. Every count is a vehicle that really crossed (the flashes may cost a
    vehicle seen on 3 frames one of its looks, so not every crossing is counted)."""
    rng = np.random.default_rng(100 + seed)
    cfg = scenario("non_crossing", seed=seed, n_vehicles=8, non_crossing=4, **FEW_LOOKS)
    crossing = {v.id for v in truth_for(cfg).vehicles if v.crosses_line}
    flashes = []                               # [frames left, box]

    def noise(frame, whole):
        h, w = frame.image.shape[:2]
        out = [list(b[2]) if b[0] in crossing else jitter(b[2])
               for b in whole if b[0] in crossing or rng.random() > 0.15]
        if rng.random() < 0.3:
            cx, cy = w / 2 + rng.normal(0, 60), rng.uniform(0.2, 0.8) * h
            bw, bh = rng.uniform(40, 100), rng.uniform(20, 40)
            flashes.append([int(rng.integers(1, 3)), [cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2]])
        for f in flashes:
            out.append(jitter(f[1]))
            f[0] -= 1
        flashes[:] = [f for f in flashes if f[0] > 0]
        return out

    def jitter(box):
        return list(np.add(box, rng.normal(0, 2.0, 4)))

    events, truth, _ = count_rendered(cfg, noise)
    assert any(not v.crosses_line for v in truth.vehicles)
    real = [(v.crossing_clip_time_s, v.direction) for v in truth.vehicles if v.crosses_line]
    phantoms = [(e.clip_time_s, e.direction) for e in events
                if not any(abs(e.clip_time_s - t) <= 1.5 / cfg.real_fps and e.direction == d for t, d in real)]
    assert phantoms == []
    assert 2 * len(events) >= len(real)


def test_a_vehicle_boxed_twice_at_the_edge_does_not_push_a_confirmed_one_into_its_lane():
    """residential_a x6 at 16.0 s, in its own pixels: a car going right in the near lane
    is missed for one frame while a pickup going left enters at the right edge, boxed twice
    (cut by the edge). The new boxes must not win the car's box in one summed assignment,
    leaving the car to take the pickup's box a lane over; both cross the line once."""
    car = {0.0: (138, 174, 230, 223), 0.1: (193, 166, 305, 220), 0.2: (265, 157, 398, 218),
           0.4: (507, 139, 639, 209)}
    pickup = {0.3: [(550, 60, 640, 146), (550, 60, 640, 240)], 0.4: [(386, 76, 553, 191)],
              0.5: [(262, 99, 396, 170)]}
    tracker = Tracker()
    for i, t in enumerate((0.0, 0.1, 0.2, 0.3, 0.4, 0.5)):
        boxes = ([car[t]] if t in car else []) + pickup.get(t, [])
        tracker.update(detections(boxes, t, i))
    line = Line(0.55, 0.15, 0.55, 0.66)
    events = LineCounter(line, 640, 360).count(tracker.tracks())
    assert sorted(e.direction for e in events) == ["left_to_right", "right_to_left"]


def test_a_confirmed_vehicle_missed_for_a_frame_does_not_take_a_parked_cars_box():
    """residential_a x1 at 16.0 s, in its own pixels: a pickup going left is missed for one
    frame beside a parked car that the detector has just found again (a new track). The
    parked car's box is the new track's: the pickup misses that frame rather than jump onto
    the parked car, and crosses the line once, as itself."""
    pickup = {0.0: (358, 78, 518, 151), 0.08: (340, 80, 497, 154), 0.19: (315, 86, 463, 160),
              0.39: (276, 97, 413, 169), 0.47: (263, 97, 397, 168)}
    parked = {0.0: (218, 79, 293, 133), 0.19: (219, 79, 294, 133), 0.27: (221, 79, 294, 131),
              0.47: (219, 78, 292, 127)}
    tracker = Tracker()
    for i, t in enumerate(sorted(set(pickup) | set(parked))):
        tracker.update(detections([b for b in (pickup.get(t), parked.get(t)) if b], t, i))
    events = LineCounter(Line(0.55, 0.15, 0.55, 0.66), 640, 360).count(tracker.tracks())
    assert [e.direction for e in events] == ["right_to_left"]
    assert 0.19 < events[0].clip_time_s < 0.39
    crossing = next(tr for tr in tracker.tracks() if tr.track_id == events[0].track_id)
    assert all(o.box[2] > 390 for o in crossing.observations)      # never the parked car's box
