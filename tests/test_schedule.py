"""The adaptive detection stride (convoycount/schedule.py): the detector may skip a
frame only where nothing a count or an event time depends on could happen."""
from pathlib import Path

import numpy as np
import pytest

from convoycount.detect.base import Detections
from convoycount.schedule import DetectionSchedule

ROOT = Path(__file__).resolve().parents[1]
PROJECT_MODEL = ROOT / "models" / "convoy-yolo.pt"
W, H, FPS = 640, 360, 30.0


def car_at(t: float, x0: float, speed_px_s: float, y: float = 180.0, size=(80.0, 40.0)) -> Detections:
    """One car box, its centre at x0 + speed * t."""
    cx = x0 + speed_px_s * t
    box = [cx - size[0] / 2, y - size[1] / 2, cx + size[0] / 2, y + size[1] / 2]
    return Detections(np.array([box]), np.array([0.9]), np.array(["car"], dtype=object), t, int(round(t * FPS)))


def drive(schedule: DetectionSchedule, x0: float, speed: float, seconds: float) -> list:
    """Run one car through the schedule frame by frame; the frames it asked for."""
    looked = []
    for i in range(int(seconds * FPS)):
        t = i / FPS
        if schedule.needed(t):
            schedule.observe(car_at(t, x0, speed))
            looked.append(i)
    return looked


def test_a_steady_car_is_looked_at_on_every_frame_around_its_crossing_only():
    line_x, speed, x0 = 320.0, 60.0, 100.0          # 2 px a frame: a 90 px box crosses slowly
    schedule = DetectionSchedule(((line_x, 0.0), (line_x, H)), W, H)
    looked = drive(schedule, x0, speed, 6.0)
    crossing = (line_x - x0) / speed * FPS          # the frame index at which the centre crosses
    # the counter needs the last frame clearly before and the first clearly after
    before, after = int(np.floor(crossing)), int(np.ceil(crossing))
    assert {before - 1, before, after, after + 1} <= set(looked)
    assert len(looked) < 0.6 * 6.0 * FPS             # far from the line, most frames are skipped
    assert schedule.skipped_s and all(abs(t * FPS - crossing) > 1 for t in schedule.skipped_s)


def test_no_line_or_a_fast_car_means_every_frame():
    auto = DetectionSchedule(None, W, H)
    assert len(drive(auto, 0.0, 60.0, 2.0)) == int(2.0 * FPS)
    # 60 px a frame against a 89 px diagonal: more than half its size between looks, in a
    # picture wide enough that the line stays far and no vehicle could enter and reach it
    wide = 1920
    fast = DetectionSchedule(((1600.0, 0.0), (1600.0, H)), wide, H)
    assert len(drive(fast, 40.0, 1800.0, 0.4)) == int(0.4 * FPS)
    slower = DetectionSchedule(((1600.0, 0.0), (1600.0, H)), wide, H)
    assert len(drive(slower, 40.0, 450.0, 0.4)) < int(0.4 * FPS)


def test_no_frame_is_skipped_when_a_vehicle_could_enter_unseen_and_reach_the_line():
    # A car at 600 px/s (20 px a frame, under half its 89 px diagonal over two frames),
    # driving away from the line: far from it, every other frame may be skipped.
    mid = DetectionSchedule(((320.0, 0.0), (320.0, H)), W, H)
    assert len(drive(mid, 340.0, 600.0, 0.4)) < 0.7 * int(0.4 * FPS)
    # The line 30 px from the left edge: a car entering there at the speed seen reaches it
    # within two frames, so once that speed is known no frame may be skipped.
    edge = DetectionSchedule(((30.0, 0.0), (30.0, H)), W, H)
    assert len(drive(edge, 100.0, 600.0, 0.4)) == int(0.4 * FPS)


@pytest.mark.slow
def test_adaptive_stride_counts_and_times_like_every_frame(yolo_two_way, yolo_every_frame_report):
    # every frame: the CLI's count of the same clip at the same line with --every-frame
    # (tests/conftest.py), one run shared with tests/test_yolo.py; events compared as the
    # report's JSON has them (the report's contract)
    from convoycount.pipeline import analyze
    clip, truth = yolo_two_way
    every = yolo_every_frame_report
    line = ",".join(str(v) for v in truth.line)
    adaptive = analyze(clip, detector="yolo", model=str(PROJECT_MODEL), line=line)
    assert every["analysis"]["frames_detected"] == every["analysis"]["frames_processed"] \
        == adaptive.frames_processed
    assert adaptive.frames_detected < 0.8 * adaptive.frames_processed
    assert len(every["events"]) == truth.total_crossing
    assert [(e["clip_time_s"], e["direction"], e["track_id"]) for e in adaptive.to_dict()["events"]] == \
        [(e["clip_time_s"], e["direction"], e["track_id"]) for e in every["events"]]
    assert adaptive.stable_tracks == every["count"]["stable_tracks"]
    # The annotated video draws a tracked vehicle on the frames between its looks too
    # (thin, labelled "between looks"), where it is: its box does not blink.
    from convoycount.evidence.annotate import Annotator
    from convoycount.evidence.draw import track_colour
    from convoycount.video import frames
    times = {f.index: f.time_s for f in frames(clip)}
    tr = max(adaptive.tracks, key=lambda t: len(t.observations))
    a, b = next((p, q) for p, q in zip(tr.observations, tr.observations[1:])
                if q.frame_index - p.frame_index > 1)
    index = a.frame_index + 1
    frac = (times[index] - a.time_s) / (b.time_s - a.time_s)
    x1, y1, x2, y2 = (int(round(u + frac * (v - u))) for u, v in zip(a.box, b.box))
    blank = np.zeros((adaptive.probe.height, adaptive.probe.width, 3), np.uint8)
    img = Annotator(adaptive).draw(index, times[index], blank)
    edge = img[y1 + 4:y2 - 3, x1].astype(int)
    assert (np.abs(edge - track_colour(tr.track_id)).sum(axis=1) < 60).mean() > 0.8
