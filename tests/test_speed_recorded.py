"""Integrity (issue 17): the speed-change rules on what the whole pipeline gave them.

tests/data/speed_inputs.json.gz holds, for five generated clips (our generator, the
motion detector), the tracks, picture size, clip span and leap times that the integrity
pass handed to `find_speed_change` (tests/data/record_speed_inputs.py re-records them).
Each clip took ~30 s to render and analyse in a test; the rules take well under a second.
A speed edit is still found end to end in test_integrity_edits.py."""
import gzip
import json
from pathlib import Path

import pytest

from convoycount.integrity.speed import find_speed_change
from convoycount.track import Observation, Track

DATA = Path(__file__).parent / "data" / "speed_inputs.json.gz"


@pytest.fixture(scope="module")
def recorded() -> dict:
    with gzip.open(DATA, "rt") as f:
        return json.load(f)["cases"]


def _speed_change(case: dict) -> tuple:
    """(findings, notes) of find_speed_change on a recorded case."""
    tracks = [Track(tid, tuple(Observation(t, i, (x1, y1, x2, y2), conf, cls)
                               for t, i, x1, y1, x2, y2, conf, cls in obs))
              for tid, obs in case["tracks"]]
    return find_speed_change(tracks, case["width"], case["height"], tuple(case["clip"]), case["leap_times"])


def _found_at_the_edit(case: dict) -> list:
    """The speed_change findings within 0.5 s of the edit (asserted: exactly one finding)."""
    findings, _ = _speed_change(case)
    start = case["edit"]["start_s"]
    assert len(findings) == 1 and abs(findings[0].start_s - start) <= 0.5, \
        (start, [f.to_dict() for f in findings])
    return findings


def test_a_speed_up_seen_on_vehicles_entering_the_frame_is_found_where_it_starts(recorded):
    # vertical seed 1: the vehicles across the moment are partly outside the frame, so
    # their boxes' centres move at half pace; their inner edges show the pace doubling
    # at once (before: two independent K estimates whose intervals overlapped, missed)
    _found_at_the_edit(recorded["vertical_1_speed"])


def test_queues_moving_off_at_once_are_not_a_speed_change(recorded):
    # the generator's stop-and-go vehicles change speed in steps, a queue of four at once
    # (seed 1, 31 s): each steps up 1.7x and the traffic of the next seconds is faster, as
    # after dropped frames; but the rest of the clip is no faster than the part before
    findings, notes = _speed_change(recorded["stop_and_go_1_clean"])
    assert not findings, [f.to_dict() for f in findings]
    # three vehicles step up together at 42.4 s, with too few others after it to tell:
    # the report says so instead of guessing
    assert any(n.startswith("speed_change undetermined at 42.") for n in notes), notes


def test_a_speed_up_is_witnessed_by_a_vehicle_lost_just_after_it(recorded):
    # vertical seed 200: the two vehicles across the moment are each seen for under 0.3 s
    # on one side of it (one is lost where it meets an oncoming one, one enters just
    # before); their step still shows without the trend window there (before: no candidate)
    _found_at_the_edit(recorded["vertical_200_speed"])


def test_a_speed_up_in_stop_and_go_traffic_is_confirmed_at_the_same_places(recorded):
    # stop_and_go seed 200: three vehicles step up at once; in the 4 s before, no other
    # vehicle is measurable for the length-prior K (before: missed). The traffic after
    # the moment passes the places the traffic before passed about twice as fast.
    found = _found_at_the_edit(recorded["stop_and_go_200_speed"])
    assert "vehicles witness it" in found[0].detail


def test_of_two_moments_that_pass_the_one_where_the_witnesses_agree_is_the_edit(recorded):
    # stop_and_go seed 400 (edit at 27.57 s): two moments pass both witnesses. At 27.97 s the
    # vehicles step up 1.25x against their own pace as the traffic at the same places; at
    # 30.77 s a queue moving off raises the places' pace 1.46x beyond the vehicles' step.
    # An edit scales both alike: the moment where they agree is reported (before: the
    # later, stronger one, 3.2 s after the edit: checked, this test then fails)
    _found_at_the_edit(recorded["stop_and_go_400_speed"])


def test_the_recording_is_what_the_pipeline_found_when_it_was_made(recorded):
    """The recorded inputs give the speed findings the whole analysis gave (a recording
    that rounding or a wrong field had spoiled would not)."""
    for name, case in recorded.items():
        findings, _ = _speed_change(case)
        want = [f for f in case["findings_when_recorded"] if f["kind"] == "speed_change"]
        assert [f.to_dict() for f in findings] == want, name
