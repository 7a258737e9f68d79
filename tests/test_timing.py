"""convoycount.timing.TimeMap: clip time -> real time, and where the speed-up came from.

The map is pure arithmetic, so these are plain unit tests; the end-to-end use (events'
real_time_s in a report) is checked in tests/test_report.py on a sample clip."""
from __future__ import annotations

import dataclasses
import json
import math

import pytest

from convoycount.timing import SOURCES, TimeMap


# --------------------------------------------------------------------------- the three makers

def test_unknown_map_has_no_real_times():
    tm = TimeMap.unknown()
    assert tm == TimeMap()
    assert not tm.known
    assert (tm.speedup, tm.source, tm.interval, tm.evidence) == (None, "unknown", None, ())
    assert tm.to_real(0.0) is None and tm.to_real(7.5) is None


def test_given_speedup_multiplies_clip_time():
    tm = TimeMap.given(4)
    assert tm.known and tm.source == "given" and tm.interval is None
    assert type(tm.speedup) is float and tm.speedup == 4.0
    assert tm.to_real(0.0) == 0.0
    assert tm.to_real(2.5) == 10.0
    # a slow-motion clip (K < 1) is a speed-up too: real time is shorter than clip time
    assert TimeMap.given(0.25).to_real(8.0) == 2.0


@pytest.mark.parametrize("bad", [0, -2.0, float("nan"), float("inf"), -float("inf")])
def test_given_rejects_what_is_not_a_positive_finite_number(bad):
    with pytest.raises(ValueError, match="--speedup must be a positive number") as e:
        TimeMap.given(bad)
    assert str(bad) in str(e.value)          # says what it got


def test_real_duration_gives_the_ratio_and_keeps_its_evidence():
    tm = TimeMap.from_real_duration(39.6, 9.9)
    assert tm.source == "real_duration" and tm.interval is None
    assert tm.speedup == pytest.approx(4.0, rel=1e-12)
    assert tm.to_real(9.9) == pytest.approx(39.6, rel=1e-12)
    assert tm.evidence == ({"real_duration_s": 39.6, "clip_duration_s": 9.9},)


@pytest.mark.parametrize("real, clip, words", [
    (0.0, 10.0, "--real-duration must be a positive number of seconds, got 0.0"),
    (-5.0, 10.0, "got -5.0"),
    (float("nan"), 10.0, "got nan"),
    (40.0, 0.0, "no measurable duration"),
    (40.0, -1.0, "no measurable duration"),
])
def test_real_duration_rejects_impossible_durations(real, clip, words):
    with pytest.raises(ValueError, match=words):
        TimeMap.from_real_duration(real, clip)


# --------------------------------------------------------------------------- validation

def test_every_listed_source_is_accepted_and_others_are_named_in_the_error():
    for source in SOURCES:
        assert TimeMap(source=source).source == source
    with pytest.raises(ValueError) as e:
        TimeMap(speedup=2.0, source="guess")
    assert "'guess'" in str(e.value) and "kinematics" in str(e.value)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan")])
def test_speedup_must_be_positive(bad):
    with pytest.raises(ValueError, match="speed-up must be > 0"):
        TimeMap(speedup=bad, source="metadata")


@pytest.mark.parametrize("interval", [(3.0, 2.0), (0.0, 2.0), (-1.0, 2.0)])
def test_interval_must_be_ordered_and_positive(interval):
    with pytest.raises(ValueError, match=r"0 < low <= high") as e:
        TimeMap(speedup=2.5, source="kinematics", interval=interval)
    assert str(interval) in str(e.value)


def test_a_point_interval_is_allowed_and_the_map_is_immutable():
    tm = TimeMap(speedup=2.0, source="clock", interval=(2.0, 2.0))
    assert tm.interval == (2.0, 2.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        tm.speedup = 3.0


# --------------------------------------------------------------------------- to_dict

def test_to_dict_is_json_and_keeps_the_numbers():
    evidence = ({"method": "flow", "speedup": 5.2, "used": True}, {"method": "gps", "ok": False})
    tm = TimeMap(speedup=10 / 3, source="combined", interval=(2.9, 3.8), evidence=evidence)
    d = tm.to_dict()
    assert set(d) == {"speedup", "source", "interval", "evidence"}
    # tuples become lists, numbers stay exactly as estimated (rounding is for display)
    assert d == {"speedup": 10 / 3, "source": "combined", "interval": [2.9, 3.8],
                 "evidence": list(evidence)}
    assert json.loads(json.dumps(d)) == d
    assert math.isclose(tm.to_real(3.0), 10.0)


def test_to_dict_of_an_unknown_map():
    assert TimeMap.unknown().to_dict() == {"speedup": None, "source": "unknown",
                                           "interval": None, "evidence": []}
