"""Rendering looks change how the traffic appears, never where it is."""
import numpy as np
import pytest

from convoycount.synth.config import scenario
from convoycount.synth.looks import HELD_OUT_LOOKS, LOOKS, TRAINING_LOOKS
from convoycount.synth.render import render
from convoycount.errors import ConvoyCountError


def _frame(look: str, index: int = 40):
    for i, f in enumerate(render(scenario("two_way", seed=5, look=look, n_vehicles=4))):
        if i == index:
            return f
    raise AssertionError("clip too short")


def test_looks_keep_the_boxes_and_change_the_pixels():
    base = _frame("standard")
    assert base.boxes, "the test frame must show vehicles"
    for look in HELD_OUT_LOOKS:
        other = _frame(look)
        assert [b[:3] for b in other.boxes] == [b[:3] for b in base.boxes]
        x1, y1, x2, y2 = (int(round(v)) for v in base.boxes[0][2])
        diff = np.abs(other.image.astype(int) - base.image.astype(int))[y1:y2, x1:x2].mean()
        assert diff > 4.0, f"{look} draws a vehicle like standard (mean difference {diff:.2f})"


def test_flat_vehicles_have_few_colours():
    """A flat drawing has no gradients: inside a vehicle, few distinct colours."""
    std, flat = _frame("standard"), _frame("flat")
    x1, y1, x2, y2 = (int(round(v)) for v in std.boxes[0][2])
    n_std = len(np.unique(std.image[y1 + 2:y2 - 2, x1 + 2:x2 - 2].reshape(-1, 3), axis=0))
    n_flat = len(np.unique(flat.image[y1 + 2:y2 - 2, x1 + 2:x2 - 2].reshape(-1, 3), axis=0))
    assert n_flat < n_std / 2


def test_held_out_looks_are_not_training_looks_and_unknown_looks_are_refused():
    assert set(TRAINING_LOOKS).isdisjoint(HELD_OUT_LOOKS) and len(HELD_OUT_LOOKS) >= 2
    assert set(TRAINING_LOOKS) | set(HELD_OUT_LOOKS) == set(LOOKS)
    with pytest.raises(ConvoyCountError, match="look"):
        scenario("two_way", look="photo")
