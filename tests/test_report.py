"""convoycount.report.Report: the JSON keys contract, counts by direction and class,
the CSV, atomic writes and the terminal summary.

The report under test comes from a real analysis of samples/news_story.mp4 (nine
vehicles, left to right, in a clip that plays x4; the caption says "nine vehicles in
10 seconds"). Hand-built CrossingEvents cover only what that clip cannot show."""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import re
from pathlib import Path

import pytest

import convoycount
from convoycount import report as report_mod
from convoycount.count import DIRECTIONS, CrossingEvent
from convoycount.hashing import sha256_file
from convoycount.report import CSV_COLUMNS, Report
from convoycount.timing import TimeMap

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "news_story.mp4"
CLAIM = "nine vehicles in 10 seconds"

# The contract in report.py's docstring, key by key: later versions may add keys,
# never rename or drop these.
CONTRACT = ["input.path", "input.sha256", "probe", "params", "tool.version", "detector.name",
            "time_map.speedup", "time_map.source", "time_map.interval", "count.total",
            "count.by_direction", "count.by_class", "count.stable_tracks", "claim.text",
            "claim.parsed", "claim.basis", "claim.observed", "claim.verdict", "claim.by_basis",
            "count.distinct", "integrity.checked", "integrity.frames", "integrity.findings",
            "integrity.notes", "claim.parts", "decode_gaps", "camera"]
EVENT_KEYS = ["track_id", "clip_time_s", "real_time_s", "direction", "class", "confidence"]


@pytest.fixture()
def report(news_story_readme_report) -> Report:
    """analyze(SAMPLE, speedup=4, claim=CLAIM), made once per session (tests/conftest.py)."""
    assert news_story_readme_report.claim.text == CLAIM
    return news_story_readme_report


def _event(track_id: int, t: float, direction: str, class_name: str = "car") -> CrossingEvent:
    return CrossingEvent(track_id=track_id, clip_time_s=t, direction=direction,
                         class_name=class_name, confidence=0.5, frame_index=int(t * 30),
                         point=(100.0, 50.0), box=(90.0, 40.0, 110.0, 60.0))


# --------------------------------------------------------------------------- to_dict

def _docstring_contract() -> tuple:
    """(dotted keys, event keys) as report.py's docstring spells them:
    "a.b/c" stands for a.b and a.c, "events[] (x, y)" for the event keys."""
    text = " ".join(report_mod.__doc__.split("never rename them):", 1)[1].split())
    events = re.search(r"events\[\] \(([^)]*)\),?", text)
    keys = []
    for item in text.replace(events.group(0), "").rstrip(".").split(", "):
        head, _, tails = item.strip().partition(".")
        keys += [f"{head}.{t}" for t in tails.split("/")] if tails else [head]
    return keys, events.group(1).split(", ")


def test_the_docstring_lists_the_keys_this_test_holds_to():
    keys, event_keys = _docstring_contract()
    assert sorted(keys) == sorted(CONTRACT)
    assert event_keys == EVENT_KEYS


def test_to_dict_has_every_contract_key(report):
    d = report.to_dict()
    for dotted in CONTRACT:
        node = d
        for part in dotted.split("."):
            assert isinstance(node, dict) and part in node, f"missing {dotted}"
            node = node[part]
    assert d["events"] and all(set(EVENT_KEYS) <= set(e) for e in d["events"])
    # to_json is the same dict, and keeps non-ASCII text (the reason's "x" sign) as is
    text = report.to_json()
    assert json.loads(text) == d and "\u00d7" in text


def test_to_dict_values_describe_the_sample(report):
    d = report.to_dict()
    assert d["input"]["path"] == str(SAMPLE)
    assert d["input"]["sha256"] == sha256_file(SAMPLE)
    assert d["input"]["bytes"] == SAMPLE.stat().st_size
    assert d["tool"]["version"] == convoycount.__version__
    assert d["detector"]["name"] == "motion"
    assert d["params"]["speedup"] == 4.0 and d["params"]["claim"] == CLAIM
    assert d["time_map"] == {"speedup": 4.0, "source": "given", "interval": None, "evidence": []}
    assert d["count"] == {"total": 9, "distinct": 9, "by_direction": {"left_to_right": 9},
                          "by_class": {"vehicle": 9}, "stable_tracks": 9}
    times = [e["clip_time_s"] for e in d["events"]]
    assert times == sorted(times)
    for e in d["events"]:
        assert e["real_time_s"] == pytest.approx(4 * e["clip_time_s"], abs=1e-3)
    # nine in ten seconds of clip time, but the clip plays x4: about 3 in ten real seconds
    claim = d["claim"]
    assert (claim["text"], claim["basis"], claim["verdict"]) == (CLAIM, "real", "inconsistent")
    assert claim["parsed"]["count"] == 9 and claim["observed"] == 3
    assert claim["by_basis"]["clip"]["verdict"] == "consistent"
    assert d["analysis"]["frames_processed"] == report.frames_processed == 297


def test_no_claim_is_null_and_no_elapsed_time_has_no_fps(report):
    d = dataclasses.replace(report, claim=None, elapsed_s=0.0).to_dict()
    assert d["claim"] is None
    assert d["analysis"]["fps"] is None


# --------------------------------------------------------------------------- counts

def test_by_direction_follows_the_direction_order_and_omits_zeros(report):
    events = [_event(1, 0.5, "right_to_left"), _event(2, 1.0, "bottom_to_top"),
              _event(3, 1.5, "left_to_right"), _event(4, 2.0, "right_to_left")]
    r = dataclasses.replace(report, events=events)
    assert r.total == 4
    assert r.by_direction() == {"left_to_right": 1, "right_to_left": 2, "bottom_to_top": 1}
    assert list(r.by_direction()) == [d for d in DIRECTIONS if d in r.by_direction()]


def test_by_class_is_sorted_by_name(report):
    events = [_event(1, 0.5, "left_to_right", "truck"), _event(2, 1.0, "left_to_right", "bus"),
              _event(3, 1.5, "left_to_right", "truck"), _event(4, 2.0, "left_to_right", "car")]
    r = dataclasses.replace(report, events=events)
    assert list(r.by_class().items()) == [("bus", 1), ("car", 1), ("truck", 2)]


def test_no_events_counts_nothing(report):
    r = dataclasses.replace(report, events=[])
    assert (r.total, r.by_direction(), r.by_class()) == (0, {}, {})
    assert r.to_dict()["count"]["total"] == 0 and r.to_dict()["events"] == []


# --------------------------------------------------------------------------- CSV

def test_csv_has_the_columns_and_one_row_per_event(report):
    rows = list(csv.reader(io.StringIO(report.to_csv())))
    assert tuple(rows[0]) == CSV_COLUMNS
    body = [dict(zip(CSV_COLUMNS, r)) for r in rows[1:]]
    assert len(body) == report.total == 9
    for row, e in zip(body, report.events):
        assert int(row["track_id"]) == e.track_id
        assert float(row["clip_time_s"]) == pytest.approx(e.clip_time_s, abs=5e-5)
        assert float(row["real_time_s"]) == pytest.approx(4 * e.clip_time_s, abs=1e-3)
        assert (row["direction"], row["class"]) == (e.direction, e.class_name)
        assert int(row["frame_index"]) == e.frame_index
        assert float(row["x"]) == pytest.approx(e.point[0], abs=0.05)


def test_csv_leaves_real_time_empty_when_the_speedup_is_unknown(report):
    events = [_event(7, 1.25, "top_to_bottom")]
    r = dataclasses.replace(report, events=events, time_map=TimeMap.unknown())
    rows = list(csv.DictReader(io.StringIO(r.to_csv())))
    assert rows == [{"track_id": "7", "clip_time_s": "1.2500", "real_time_s": "",
                     "direction": "top_to_bottom", "class": "car", "confidence": "0.5000",
                     "frame_index": "37", "x": "100.0", "y": "50.0",
                     "continues_track": "", "also_tracks": ""}]
    assert dataclasses.replace(report, events=[]).to_csv() == ",".join(CSV_COLUMNS) + "\n"


# --------------------------------------------------------------------------- atomic writes

@pytest.mark.parametrize("kind", ["json", "csv"])
def test_writes_replace_the_target_whole_and_leave_no_temp_file(report, tmp_path, kind):
    target = tmp_path / "out" / f"report.{kind}"          # the folder is created
    write = report.write_json if kind == "json" else report.write_csv
    expected = report.to_json() if kind == "json" else report.to_csv()
    write(target)
    assert target.read_text(encoding="utf-8") == expected
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask

    # Rewriting swaps in a new file: a reader that opened the old one still reads it
    # whole, never a mix of old and new.
    target.write_text("old contents\n")
    inode = target.stat().st_ino
    with open(target) as old:
        write(target)
        assert old.read() == "old contents\n"
    assert target.stat().st_ino != inode
    assert target.read_text(encoding="utf-8") == expected
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]


def test_a_failed_write_leaves_no_temp_file(report, tmp_path):
    taken = tmp_path / "report.json"
    taken.mkdir()                                          # a folder cannot be replaced by a file
    (taken / "keep.txt").write_text("mine")
    with pytest.raises(OSError):
        report.write_json(taken)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]
    assert (taken / "keep.txt").read_text() == "mine"


# --------------------------------------------------------------------------- summary

def test_summary_names_the_clip_count_time_map_and_verdict(report):
    lines = report.summary().splitlines()
    assert lines[0].startswith(f"{SAMPLE}: 640x360 h264, 9.90 s, 297 frames")
    assert "counted 9 vehicles crossing the line (left_to_right 9)" in lines[1]
    assert "time map: clip plays x4.00 faster than real (given)" in lines
    claim = [ln for ln in lines if ln.startswith("claim ")]
    assert len(claim) == 1 and "INCONSISTENT on the real basis" in claim[0]
    assert not any(ln.startswith("warning:") for ln in lines)


def test_summary_says_when_the_speedup_is_unknown_or_estimated(report):
    unknown = dataclasses.replace(report, time_map=TimeMap.unknown(), claim=None).summary()
    assert "speed-up unknown (give --speedup or --real-duration)" in unknown
    assert "claim" not in unknown
    estimated = TimeMap(speedup=4.2, source="kinematics", interval=(3.5, 5.0))
    text = dataclasses.replace(report, time_map=estimated).summary()
    assert "x4.20 [3.50..5.00] faster than real (kinematics)" in text


def test_summary_ends_with_each_warning(report):
    warns = ["decoding stopped early at 7.000 s", "variable frame rate"]
    lines = dataclasses.replace(report, warnings=warns).summary().splitlines()
    assert lines[-2:] == [f"warning: {w}" for w in warns]
