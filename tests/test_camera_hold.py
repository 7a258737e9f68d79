"""The camera chain holds through frames it cannot register when the scene's light
changes or vehicles fill the view: neither is the camera moving. Seen on the peers
benchmark's hazy, shaky, noisy clip (convoycount counted 0 of 10: the chain broke at
0.67 s as the haze brightened and counting stopped there)."""
import numpy as np

from convoycount.camera.estimate import CameraEstimator
from convoycount.detect.base import Detections
from convoycount.video import Frame


def frame(i, image):
    return Frame(index=i, time_s=i / 30.0, image=image)


def noisy_bands(rng, brighten):
    """Horizontal bands (nothing to pin a horizontal shift) under fresh noise each frame
    (corners that cannot be followed), `brighten` grey levels lighter."""
    rows = np.repeat((np.arange(360) // 45 % 2 * 60 + 90)[:, None], 640, axis=1)
    img = rows + rng.normal(0, 25, (360, 640)) + brighten
    return np.clip(img, 0, 255).astype(np.uint8)[..., None].repeat(3, axis=2)


def test_light_drifting_while_registration_fails_does_not_break_the_chain():
    rng = np.random.default_rng(0)
    est = CameraEstimator()
    steps = [est.update(frame(i, noisy_bands(rng, 0.5 * i)), None) for i in range(90)]   # 3 s, +45 grey
    assert not all(s.registered for s in steps)           # the fits do fail here
    assert {s.segment for s in steps} == {0}


def test_a_convoy_filling_the_view_does_not_break_the_chain():
    rng = np.random.default_rng(1)
    est = CameraEstimator()
    steps = []
    for i in range(90):
        img = noisy_bands(rng, 0)
        if i >= 10:                                        # a truck covers 3/4 of the picture
            img[:, :480] = 200
        det = Detections.empty(i / 30.0, i) if i < 10 else Detections(
            xyxy=[[0, 0, 480, 360]], confidence=[0.9], class_name=["truck"], time_s=i / 30.0, frame_index=i)
        steps.append(est.update(frame(i, img), det))
    assert {s.segment for s in steps} == {0}


def test_a_real_change_of_view_still_breaks_it():
    rng = np.random.default_rng(2)
    est = CameraEstimator()
    steps = [est.update(frame(i, noisy_bands(rng, 0)), None) for i in range(10)]
    other = np.clip(np.repeat((np.arange(640) // 40 % 2 * 120 + 60)[None, :], 360, axis=0), 0, 255)
    other = other.astype(np.uint8)[..., None].repeat(3, axis=2)     # vertical stripes: another shot
    steps += [est.update(frame(10 + i, other), None) for i in range(60)]
    assert steps[-1].segment >= 1
