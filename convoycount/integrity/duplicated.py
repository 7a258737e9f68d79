"""Duplicated frames: a frame that repeats the previous one (up to compression noise)
while the footage around it moves. That is what a frame-rate conversion leaves
(25 -> 30 fps repeats every 5th frame... every 6th of the output), and what pads a
clip. It changes timing, not content: the file's pts advance at its frame rate while
the picture changes at a lower one."""
from __future__ import annotations

import numpy as np

from .findings import Finding

MOVING = 0.06            # grey levels: footage that moves (a re-encoded repeat of a picture: 0-0.03)
STILL_SHARE = 0.15       # a duplicate changes under this share of the motion around it
NEIGHBOUR_SHARE = 0.5    # the frames either side of a duplicate move at least this share of the level
WINDOW = 8               # frames each side that set the local motion level
MERGE_S = 2.0            # duplicates closer than this belong to one stretch
MIN_DUPS = 4             # fewer is an encoder hiccup, not a pattern
MAX_RUN = 3              # a longer still run is a pause in the scene
MIN_SPAN_S = 1.0         # a pattern, not a moment


def duplicate_mask(step: np.ndarray) -> np.ndarray:
    """True for frame i when it repeats frame i-1 inside moving footage: a short run
    (<= MAX_RUN) of still steps between moving ones. A still scene repeats itself
    too, for longer, and that is not a duplicate.

    The test is relative to the motion around, not an absolute grey level: every new
    capture differs from the last by the scene's motion and the sensor's noise, a
    repeated picture only by the codec's re-quantising, so in a noisy or shaky clip a
    duplicate's step is larger in grey levels but as small a share of its neighbours'."""
    n = len(step)
    still = np.zeros(n, dtype=bool)
    level = np.zeros(n)
    for i in range(1, n):
        around = np.concatenate([step[max(1, i - WINDOW):i], step[i + 1:i + 1 + WINDOW]])
        level[i] = np.percentile(around, 75) if len(around) >= 4 else 0.0
        still[i] = level[i] > MOVING and step[i] < STILL_SHARE * level[i]
    dup = np.zeros(n, dtype=bool)
    i = 1
    while i < n:
        if not still[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and still[j + 1]:
            j += 1
        # both sides move at the local pace: a vehicle slowing to a stop and moving
        # off again dips smoothly, a repeated picture drops out between moving frames
        moving_after = j + 1 < n and step[j + 1] >= NEIGHBOUR_SHARE * level[i]
        moving_before = step[i - 1] >= NEIGHBOUR_SHARE * level[i]
        if j - i + 1 <= MAX_RUN and moving_before and moving_after:
            dup[i:j + 1] = True
        i = j + 1
    return dup


def find_duplicates(t: np.ndarray, step: np.ndarray) -> list:
    dup = duplicate_mask(step)
    idx = np.flatnonzero(dup)
    findings = []
    for run in _stretches(t, idx):
        if len(run) < MIN_DUPS or t[run[-1]] - t[run[0]] < MIN_SPAN_S:
            continue
        lo, hi = run[0], run[-1]
        frames_in = max(1, hi - lo + 1)
        findings.append(Finding("duplicated_frames", float(t[lo]), float(t[hi]),
                                _describe(t, run, frames_in),
                                confidence=min(1.0, 0.5 + len(run) / 20)))
    return findings


def _stretches(t: np.ndarray, idx: np.ndarray) -> list:
    runs, cur = [], []
    for i in idx:
        if cur and t[i] - t[cur[-1]] > MERGE_S:
            runs.append(cur)
            cur = []
        cur.append(int(i))
    if cur:
        runs.append(cur)
    return runs


def _describe(t: np.ndarray, run: list, frames_in: int) -> str:
    dt = np.diff(t)
    fps = 1.0 / float(np.median(dt)) if len(dt) else 0.0
    share = len(run) / frames_in
    text = (f"{len(run)} of {frames_in} frames ({share:.0%}) repeat the previous frame: the pts "
            f"advance at {fps:.1f} fps but the picture changes about {fps * (1 - share):.1f} times a "
            f"second, so motion between consecutive frames is uneven and a duplicate's time is not "
            f"a capture time")
    gaps = np.diff(run)
    if len(gaps) >= 2:
        period = int(np.bincount(gaps).argmax())
        if period >= 2 and np.mean(gaps == period) >= 0.6:
            text += (f"; regular, every {period}th frame: a {fps * (period - 1) / period:.0f} -> "
                     f"{fps:.0f} fps conversion")
    return text
