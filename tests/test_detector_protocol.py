"""Every detector is a `Detector`: prepare(frames), detect(frame), reset(), info.

analyze() calls prepare, then detect on every frame; reset() readies a detector
for another clip. (That the motion detector's reset really forgets its background
is shown in test_motion.py, on a case where prepare does not hide the difference.)"""
from pathlib import Path

import numpy as np
import pytest

from convoycount import detect
from convoycount.detect.base import Detections, Detector, DetectorInfo
from convoycount.video import frames, probe

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "samples" / "news_story.mp4"
OPTIONS = {"motion": {}, "coco": {}, "yolo": {"model": str(REPO / "models" / "convoy-yolo.pt")}}


def run_on_clip(det: Detector) -> list:
    """prepare as analyze() does (frames sampled over the clip), then detect 20
    frames from the middle, where vehicles are in view."""
    det.prepare(frames(CLIP, stride=max(1, probe(CLIP).frames // 40)))
    return [det.detect(f) for f in frames(CLIP, start_s=4.0, end_s=5.0, stride=2)][:20]


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_every_detector_satisfies_the_protocol_and_repeats_itself_after_reset(name):
    det = detect.create(name, **OPTIONS[name])
    assert isinstance(det, Detector)
    assert isinstance(det.info, DetectorInfo) and det.info.name == name
    first = run_on_clip(det)
    assert all(isinstance(d, Detections) for d in first)
    assert sum(len(d) for d in first) > 0               # vehicles are in view
    det.reset()
    again = run_on_clip(det)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a.xyxy, b.xyxy)
        np.testing.assert_array_equal(a.confidence, b.confidence)
        np.testing.assert_array_equal(a.class_name, b.class_name)


def test_a_detector_without_prepare_is_not_a_detector():
    class Incomplete:
        info = DetectorInfo(name="incomplete")

        def detect(self, frame):
            return Detections.empty(frame.time_s, frame.index)

        def reset(self):
            pass

    assert not isinstance(Incomplete(), Detector)
