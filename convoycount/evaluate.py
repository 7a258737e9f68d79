"""Score a Report against ground truth (a synth `.truth.json`, or a hand count).

Used by the tests and the benchmarks alike, so "exact" means one thing:
the totals agree, and every counted event is matched one-to-one to a true
crossing of the same direction, with its time error measured in frame
intervals of the clip.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
from scipy.optimize import linear_sum_assignment


@dataclass(frozen=True)
class Comparison:
    true_total: int
    counted_total: int
    matched: int                  # events matched to a true crossing (same direction, within max_gap)
    max_time_error_s: Optional[float]
    frame_interval_s: float       # median clip frame interval
    true_by_direction: dict
    counted_by_direction: dict

    @property
    def exact(self) -> bool:
        return self.true_total == self.counted_total == self.matched

    @property
    def max_time_error_frames(self) -> Optional[float]:
        if self.max_time_error_s is None:
            return None
        return self.max_time_error_s / self.frame_interval_s

    def to_dict(self) -> dict:
        return {"true_total": self.true_total, "counted_total": self.counted_total,
                "matched": self.matched, "exact": self.exact,
                "max_time_error_s": self.max_time_error_s,
                "max_time_error_frames": self.max_time_error_frames,
                "true_by_direction": self.true_by_direction,
                "counted_by_direction": self.counted_by_direction}


def load_truth(path) -> dict:
    return json.loads(Path(path).read_text())


def true_crossings(truth: dict) -> list:
    """[(clip_time_s, direction)] of every vehicle whose centre crosses the line."""
    return sorted((v["crossing_clip_time_s"], v["direction"])
                  for v in truth["vehicles"] if v.get("crosses_line"))


def compare(report, truth: dict, max_gap_s: float = 1.0) -> Comparison:
    """Match events to true crossings (Hungarian on time error, same direction only)."""
    true = true_crossings(truth)
    events = [(e.clip_time_s, e.direction) for e in report.events]
    times = np.asarray(truth.get("frame_times_s") or [0.0, 1.0])
    frame_dt = float(np.median(np.diff(times))) if len(times) > 1 else 1.0
    matched, max_err = 0, None
    if true and events:
        big = 1e9
        cost = np.full((len(events), len(true)), big)
        for i, (te, de) in enumerate(events):
            for j, (tt, dt_) in enumerate(true):
                if de == dt_ and abs(te - tt) <= max_gap_s:
                    cost[i, j] = abs(te - tt)
        rows, cols = linear_sum_assignment(cost)
        errs = [cost[r, c] for r, c in zip(rows, cols) if cost[r, c] < big]
        matched = len(errs)
        max_err = float(max(errs)) if errs else None
    tb, cb = {}, {}
    for _, d in true:
        tb[d] = tb.get(d, 0) + 1
    for _, d in events:
        cb[d] = cb.get(d, 0) + 1
    return Comparison(len(true), len(events), matched, max_err, frame_dt, tb, cb)


# The counting accuracy suite: varied generated clips shared by tests/test_pipeline.py
# and benchmarks/bench_count.py. (name, scenario, seed, overrides)
COUNT_SUITE = (
    ("news_story", "news_story", 0, {}),
    ("news_story_s1", "news_story", 1, {}),
    ("two_way_x1", "two_way", 0, {}),
    ("two_way_x2", "two_way", 2, {"speedup": 2}),
    ("two_way_x8", "two_way", 3, {"speedup": 8, "n_vehicles": 14}),
    ("two_way_720p_x6", "two_way", 4, {"speedup": 6, "width": 1280, "height": 720}),
    ("vfr_phone_rot90", "vfr_phone", 0, {}),
    ("vfr_x5", "news_story", 5, {"vfr": True, "speedup": 5}),
    ("shaky_noisy", "shaky_noisy", 0, {}),
    ("clock_x8", "clock", 0, {}),
    ("vertical", "vertical", 0, {}),
    ("stop_and_go", "stop_and_go", 0, {}),
    ("non_crossing", "non_crossing", 0, {}),
    ("convoy25_x2", "convoy25", 0, {}),
)


def make_suite_clip(entry, folder) -> tuple:
    """Render one COUNT_SUITE entry into folder (cached by name): (clip path, truth dict)."""
    from .synth import generate, scenario
    name, scen, seed, overrides = entry
    clip = Path(folder) / f"{name}.mp4"
    truth_file = clip.with_suffix(".truth.json")
    if not (clip.exists() and truth_file.exists()):
        generate(clip, scenario(scen, seed=seed, **overrides))
    return clip, load_truth(truth_file)


# Known limits of the motion detector, kept in the suite so they stay measured:
# at x6-x8 two-way traffic, vehicles passing each other in adjacent lanes merge
# into one blob for several frames and a track can jump to the other vehicle.
# Clips the motion detector is known to miscount: (why, the count it gives). Tests
# hold it to exactly that count, so a regression cannot hide behind the known
# limit, and an improvement shows up as a failure that asks for this table to be
# updated. Measured on two independent renders of each clip (both gave these).
MOTION_KNOWN_LIMITS = {
    "two_way_x8": ("vehicles passing in opposite lanes merge into one motion blob at x8", 13),
    "two_way_720p_x6": ("vehicles passing in opposite lanes merge into one motion blob at x6", 10),
}
