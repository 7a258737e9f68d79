"""Leaps: steps where the picture changes far more than in the steps around it.

A leap is either a cut (the background itself changes: another shot) or a jump
inside one shot (the background stays, the vehicles are elsewhere: frames were
removed, a loop or a reversed span starts or ends). The local level is an upper
quantile of the steps around, so the every-other-frame zeros of a clip full of
duplicated frames do not make ordinary motion look like a leap. Every step is
measured against the time it carries: the step after a run of duplicates (or
after a longer pts interval of a variable-rate clip) shows all the motion since
the picture last changed, two or three frames' worth, and is compared with that
much motion, not with one frame's."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WINDOW = 10              # frames each side for the local level
LEAP_RATIO = 4.0         # a leap's solid change is this many times the local level...
LEAP_MIN = 0.003         # ...and at least this share of the picture (a small car's body)
LEVEL_FLOOR = 0.001      # solid share: the level of footage where nothing jumps
STEP_RATIO = 4.5         # and the mean change beyond shake is this many times its local level
STEP_FLOOR = 0.02        # grey levels: the level of a still scene is noise, not zero
SIDE = 6                 # frames each side whose median picture is the background
BG_DIFF = 20.0           # grey levels: a background pixel that changed
CUT_SHARE = 0.35         # a cut changes at least this share of the background


@dataclass(frozen=True)
class Leap:
    index: int           # first frame after the leap
    ratio: float         # solid change / its local level
    background_share: float   # share of the picture whose background changed
    steady: bool = True  # the mean change beyond shake leaps too (else: the solid change alone)

    @property
    def is_cut(self) -> bool:
        return self.background_share >= CUT_SHARE


def find_leaps(log, dup: np.ndarray) -> list:
    """Jumps in the picture. Two measures must agree: the solid change (what appears
    or vanishes as a patch, blind to shake and noise, see SignatureLog.solid_change)
    and the mean change beyond shake (steady_step), which one near vehicle moving
    fast through a low-frame-rate clip, or codec noise on a solid patch, does not
    raise far above its neighbours while a jump of the whole scene does. Leaps of the
    solid change alone are kept too (`steady` False): where near vehicles move about
    their own length per picture the mean change saturates, and a jump of seconds
    is then only a few steps' worth; such a leap is used only where something else
    confirms it (a reversal's two seams that continue each other)."""
    solid, step = log.solid_change, log.steady_step
    carried = frames_carried(log.t, dup)
    leaps = []
    for i in range(1, len(solid)):
        if solid[i] < LEAP_MIN:
            continue
        ratio = solid[i] / _level(solid, carried, dup, i, LEVEL_FLOOR)
        if ratio >= LEAP_RATIO:
            steady = step[i] >= STEP_RATIO * _level(step, carried, dup, i, STEP_FLOOR)
            leaps.append(Leap(i, float(ratio), _background_share(log.grey, i), steady))
    return leaps


def frames_carried(t: np.ndarray, dup: np.ndarray) -> np.ndarray:
    """For each step, the frame intervals of motion it shows: the time since the
    picture last changed (the last frame that is not a duplicate) in typical frame
    intervals. 1 for ordinary footage; 3 after two duplicates (a clip whose pictures
    are repeated irregularly, as a low-rate camera's stream re-timed to 30 fps)."""
    dt = np.diff(t)
    frame_s = float(np.median(dt)) if len(dt) and np.median(dt) > 0 else 1.0
    carried = np.ones(len(t))
    last_change = 0
    for i in range(1, len(t)):
        carried[i] = max(1.0, (t[i] - t[last_change]) / frame_s)
        if not dup[i]:
            last_change = i
    return carried


def _level(step: np.ndarray, carried: np.ndarray, dup: np.ndarray, i: int, floor: float) -> float:
    """The local level a step must stand out from: an upper quantile of the
    neighbours' steps as they are (where pictures are captured at irregular times a
    step carries irregular motion, more than its pts say), and of the neighbours'
    steps scaled to as many frame intervals as step i carries (after two duplicates,
    three frames' motion), and of still footage's level over that time; the largest."""
    lo, hi = max(1, i - WINDOW), min(len(step), i + WINDOW + 1)
    near = [j for j in range(lo, hi) if abs(j - i) > 1 and not dup[j]]
    if not near:
        return floor * carried[i]
    as_is = float(np.percentile([step[j] for j in near], 75))
    scaled = float(np.percentile([step[j] * carried[i] / carried[j] for j in near], 75))
    return max(as_is, scaled, floor * carried[i])


def _background_share(grey: np.ndarray, i: int) -> float:
    before = np.median(grey[max(0, i - SIDE):i], axis=0)
    after = np.median(grey[i:i + SIDE], axis=0)
    diff = after - before
    return float(np.mean(np.abs(diff - np.median(diff)) > BG_DIFF))   # light changing is not a cut
