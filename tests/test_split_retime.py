"""Steps of `retime.clock.estimate_clock` and `retime.kinematics.vehicle_rate`."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from convoycount.retime.clock import ClockSettings, _clock_crops, _ClockReads, _find_region
from convoycount.retime.kinematics import KinematicSettings, _not_a_moving_vehicle, _Path, _windows
from convoycount.video import probe

CLOCK = Path(__file__).resolve().parents[1] / "samples" / "clock.mp4"


def test_refining_locates_the_first_and_last_ticks_to_adjacent_frames():
    from convoycount.retime.ocr import load_engine
    engine, why = load_engine()
    if engine is None:
        pytest.skip(why)
    if not CLOCK.exists():
        pytest.skip("samples/clock.mp4 is not in the checkout")
    info = probe(CLOCK)
    settings = ClockSettings(coarse_reads=8, refine_transitions=1, max_reads=40)
    region, _ = _find_region(CLOCK, info, engine, settings)
    reads = _ClockReads(engine, *_clock_crops(CLOCK, info, region, settings))
    reads.coarse(settings.coarse_reads)
    coarse = dict(reads.cache)
    first, last = reads.ticks()[0], reads.ticks()[-1]
    reads.refine(settings)
    # the coarse reads are kept; the bisection only adds reads inside the two ticks
    assert all(reads.cache[i] == r for i, r in coarse.items())
    added = set(reads.cache) - set(coarse)
    assert added and all(first[0] < i < first[1] or last[0] < i < last[1] for i in added)
    # each end is bisected down to two adjacent frames: a reading, then a frame that
    # shows another value (or cannot be read, which the bisection treats alike)
    cache = reads.cache

    def changes_at(i):
        return (cache[i] is not None and i + 1 in cache
                and (cache[i + 1] is None or cache[i + 1].value_s != cache[i].value_s))

    assert any(changes_at(i) for i in range(first[0], first[1]))
    assert any(changes_at(i) for i in range(last[0], last[1]))


def _uniform_path(speed_px_s: float, length_px: float, fps: float = 30.0, n: int = 31) -> _Path:
    t = np.arange(n) / fps
    return _Path(t=t, p=speed_px_s * t, lengths=np.full(n, length_px), off_px=np.zeros(n))


def test_windows_of_a_steady_vehicle_all_give_its_rate():
    s = KinematicSettings()
    rates, speeds, spans, lens = _windows(_uniform_path(90.0, 30.0), s)
    assert rates and np.allclose(rates, 3.0) and np.allclose(speeds, 90.0)
    assert all(b - a >= s.window_s - 1e-9 for a, b in spans)
    assert lens == [30.0] * len(rates)


def test_a_vehicle_that_barely_moves_is_not_measured():
    s = KinematicSettings()
    assert _not_a_moving_vehicle(_uniform_path(90.0, 30.0), s) is None
    why = _not_a_moving_vehicle(_uniform_path(15.0, 30.0), s)
    assert why == "moved 0.50 lengths (< 1): parked or stopped"
