"""Cuts: a leap where the background changes (another shot).

We detect on our own thumbnails rather than with PySceneDetect: its detectors
could be fed our frames one by one, but they measure full-resolution HSV change
with fixed or adaptive thresholds that know nothing of duplicated frames, and a
cut is only half the question here: the same leap signal, split by whether the
background changed, also finds jumps inside a shot (gaps, loop seams), which no
shot detector reports. See README ("Integrity")."""
from __future__ import annotations

import numpy as np

from .findings import Finding


def find_cuts(t: np.ndarray, leaps: list) -> list:
    out = []
    for lp in leaps:
        if not lp.is_cut:
            continue
        i = lp.index
        out.append(Finding("cut", float(t[i]), float(t[i]),
                           f"hard cut between the frames at {t[i - 1]:.3f} and {t[i]:.3f} s: "
                           f"{lp.background_share:.0%} of the background changes at once "
                           f"({lp.ratio:.0f}x the change between neighbouring frames)",
                           confidence=min(1.0, 0.5 + lp.background_share)))
    return out
