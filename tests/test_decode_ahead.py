"""Decode-ahead (video.DecodeAhead): the analysis decodes in a thread ahead of the detector;
what it yields and reports must be exactly what the plain reader yields and reports."""
from __future__ import annotations

import threading
from fractions import Fraction

import pytest

import clipfactory as cf
from convoycount.video import DecodeAhead, frames


def _decode_threads() -> int:
    return sum(t.name == "convoycount-decode" for t in threading.enumerate())


def test_frames_times_and_stride_are_the_plain_readers(tmp_path):
    clip = cf.write_video(tmp_path / "cfr.mp4", cf.cfr_pts(30, Fraction(25)))
    for stride in (1, 3):
        plain = [(f.index, f.time_s, f.image.sum()) for f in frames(clip.path, stride=stride)]
        ahead = [(f.index, f.time_s, f.image.sum()) for f in DecodeAhead(frames(clip.path, stride=stride), depth=2)]
        assert ahead == plain and len(plain) == -(-30 // stride)


def test_a_truncated_clip_reports_the_same_break_through_decode_ahead(tmp_path):
    cut = cf.write_mdat_truncated(tmp_path / "cut.mp4", n=40, keep_fraction=0.6)
    plain = frames(cut.path)
    n_plain = sum(1 for _ in plain)
    ahead = DecodeAhead(frames(cut.path))
    assert sum(1 for _ in ahead) == n_plain < 40
    assert ahead.truncated and plain.truncated
    assert ahead.last_time_s == plain.last_time_s and ahead.error == plain.error


def test_a_consumer_that_stops_early_stops_the_decode_thread(tmp_path):
    clip = cf.write_video(tmp_path / "long.mp4", cf.cfr_pts(60, Fraction(30)))
    before = _decode_threads()
    with DecodeAhead(frames(clip.path), depth=2) as ahead:
        first = next(ahead)
    assert first.index == 0
    assert _decode_threads() == before


def test_depth_must_be_positive(tmp_path):
    clip = cf.write_video(tmp_path / "c.mp4", cf.cfr_pts(3, Fraction(30)))
    with pytest.raises(ValueError, match="depth must be >= 1, got 0"):
        DecodeAhead(frames(clip.path), depth=0)
