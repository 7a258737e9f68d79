"""Leaps: steps where the picture changes far more than in the steps around it.

A leap is either a cut (the background itself changes: another shot) or a jump
inside one shot (the background stays, the vehicles are elsewhere: frames were
removed, a loop or a reversed span starts or ends). The local level is an upper
quantile of the steps around, so the every-other-frame zeros of a clip full of
duplicated frames do not make ordinary motion look like a leap; and the step
just after a duplicate (two frames' motion at once) is compared with that
doubled motion."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WINDOW = 10              # frames each side for the local level
LEAP_RATIO = 4.0         # a leap changes the picture this many times the local level...
LEAP_MIN = 0.5           # ...and by at least this many grey levels (thumbnail mean)
LEVEL_FLOOR = 0.15       # grey levels: the level of a still scene is noise, not zero
SIDE = 6                 # frames each side whose median picture is the background
BG_DIFF = 20.0           # grey levels: a background pixel that changed
CUT_SHARE = 0.35         # a cut changes at least this share of the background
STRONG_DIFF = 12.0       # grey levels: a pixel where something moved, not a codec's re-quantising
STRONG_MIN = 0.01        # a leap moves things in at least this share of the picture (a keyframe
                         # re-quantising a still scene changes many pixels a little, few a lot)


@dataclass(frozen=True)
class Leap:
    index: int           # first frame after the leap
    ratio: float         # step / local level
    background_share: float   # share of the picture whose background changed

    @property
    def is_cut(self) -> bool:
        return self.background_share >= CUT_SHARE


def find_leaps(step: np.ndarray, grey: np.ndarray, dup: np.ndarray) -> list:
    leaps = []
    n = len(step)
    for i in range(1, n):
        if step[i] < LEAP_MIN:
            continue
        ratio = step[i] / _level(step, dup, i)
        if ratio >= LEAP_RATIO and np.mean(np.abs(grey[i] - grey[i - 1]) > STRONG_DIFF) >= STRONG_MIN:
            leaps.append(Leap(i, float(ratio), _background_share(grey, i)))
    return leaps


def _level(step: np.ndarray, dup: np.ndarray, i: int) -> float:
    lo, hi = max(1, i - WINDOW), min(len(step), i + WINDOW + 1)
    around = [step[j] * (2 if j > 0 and dup[j - 1] else 1)   # after a duplicate: two frames' motion
              for j in range(lo, hi) if abs(j - i) > 1 and not dup[j]]
    if not around:
        return LEVEL_FLOOR
    return max(float(np.percentile(around, 75)), LEVEL_FLOOR)


def _background_share(grey: np.ndarray, i: int) -> float:
    before = np.median(grey[max(0, i - SIDE):i], axis=0)
    after = np.median(grey[i:i + SIDE], axis=0)
    return float(np.mean(np.abs(before - after) > BG_DIFF))
