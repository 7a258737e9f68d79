"""Reversed segments played in place, two ways:

find_reversed_splices (frames only): a span played backwards where it was is
bounded by two jumps in the picture, and across each jump the picture continues
the one on the other side of the span: the frame before the first jump is the
source frame just before the span's last frame, the frame after the second jump
the one just after its first. Nothing else joins two jumps that way.

find_reversed (tracks): every vehicle moves against the flow of its
own part of the picture at once, between two jumps of the picture.

The flow of each part of the picture (an 8x6 grid) is the sum of the tracks'
step directions over the whole clip; a track opposes it when most of its steps
point against that flow. Two-way traffic keeps its lanes apart on the grid, and
a single vehicle turning or reversing is one track, so a reversed span needs at
least two opposing tracks and none going with the flow, and must start or end
at a jump in the picture (where the editor spliced it) or at the clip's edge."""
from __future__ import annotations

import numpy as np

from .findings import Finding

GRID = (8, 6)
MIN_SPEED_PX_S = 15.0    # slower steps are jitter, not a direction
OPPOSE_SHARE = 0.7       # a track opposes when this share of its steps do
MIN_OPPOSING = 2
BIN_S = 0.2
MIN_SPAN_S = 0.5
SPLICE_TOL_S = 0.4
PAIR_SHARE = 0.25        # across the span, the pictures differ by under this share of each jump
                         # (one frame's motion against a jump of seconds; seen: <= 0.11)
MAX_SPLICE_S = 10.0      # longest reversed span looked for between two jumps
COPY_SHARE = 0.5         # a copy's pictures match this much closer than the footage moves
COPY_LAG_S, COPY_LAG = 0.15, 4   # frames this far from both seams: a reversal's have moved apart
                                 # (beyond a run of duplicated pictures), a copy's have not


def find_reversed_splices(x: np.ndarray, t: np.ndarray, seams: list, held=None) -> tuple:
    """(findings, the seams they explain). x: SignatureLog.normalised(); seams: first
    frame after each non-cut jump; held: frames each picture carries (leaps.frames_carried).
    Where pictures are held for two or three frames (a low-rate camera's stream), the
    pictures across the span are that many frames of motion apart, not one, and are
    allowed that much more difference."""
    cands = []
    lag = max(COPY_LAG, int(round(COPY_LAG_S / float(np.median(np.diff(t)))))) if len(t) > 1 else COPY_LAG
    for i in seams:
        for k in seams:
            if not (MIN_SPAN_S <= t[k] - t[i] <= MAX_SPLICE_S):
                continue
            r1 = (1.0 - x[i - 1] @ x[k - 1]) / max(1.0 - x[i - 1] @ x[i], 1e-9)
            r2 = (1.0 - x[i] @ x[k]) / max(1.0 - x[k - 1] @ x[k], 1e-9)
            hold = 1.0 if held is None else max(held[i], held[k])
            if max(r1, r2) < PAIR_SHARE * hold and not _shown_twice(x, i, k, lag):
                cands.append((max(r1, r2), i, k))
    out, used = [], set()
    for r, i, k in sorted(cands):
        if i in used or k in used:
            continue
        used |= {i, k}
        out.append(Finding("reversed", float(t[i]), float(t[k - 1]),
                           f"{t[i]:.2f}-{t[k - 1]:.2f} s plays backwards in place: across the jumps at "
                           f"its ends the picture continues the one at its other end (within {r:.0%} "
                           f"of the jump)", confidence=min(1.0, 0.6 + (PAIR_SHARE - r))))
    return out, used


def _shown_twice(x: np.ndarray, i: int, k: int, lag: int) -> bool:
    """The two jumps are one stretch of footage shown twice (a loop repeats whatever
    jump lies in its span): `lag` frames before or after them the pictures still
    match at the same offset, far closer than the footage moves over that lag,
    where a reversal's run apart, one forwards, one backwards. (In a scene too still
    to move over the lag nothing can be told, and nothing is ruled out.)"""
    for j in (-lag, lag):
        if 0 <= i + j and k + j < len(x):
            own = 1.0 - x[i + j] @ x[i - 1 if j < 0 else i]       # on its own side of the jump
            if 1.0 - x[i + j] @ x[k + j] < COPY_SHARE * own:
                return True
    return False


def find_reversed(tracks, width: int, height: int, leap_times: list, clip: tuple) -> list:
    steps = _steps(tracks, width, height)
    if not steps:
        return []
    flow = np.zeros((GRID[1], GRID[0], 2))
    for _, cell, unit, _ in steps:
        flow[cell] += unit
    legs = _track_legs(steps, flow)
    spans = _opposing_spans(legs)
    out = []
    for lo, hi, n in spans:
        lo2, hi2 = _snap(lo, leap_times), _snap(hi, leap_times)
        spliced = (lo2, hi2) != (lo, hi) or lo - clip[0] <= SPLICE_TOL_S or clip[1] - hi <= SPLICE_TOL_S
        lo, hi = lo2, hi2
        if hi - lo >= MIN_SPAN_S and spliced:
            out.append(Finding("reversed", lo, hi,
                               f"{n} vehicles move against the flow of their lanes at once from "
                               f"{lo:.2f} to {hi:.2f} s, and none with it, between jumps in the "
                               f"picture: this span plays backwards", confidence=min(1.0, 0.4 + 0.15 * n)))
    return out


def _snap(t: float, leap_times: list) -> float:
    """The splice the tracks' edge points to: tracks start a little after it and end
    a little before, so the edge moves to a jump in the picture within SPLICE_TOL_S."""
    near = [lt for lt in leap_times if abs(lt - t) <= SPLICE_TOL_S]
    return min(near, key=lambda lt: abs(lt - t)) if near else t


def _steps(tracks, width: int, height: int) -> list:
    """(track_id, grid cell, unit direction, time) of every moving step of every track."""
    out = []
    for tr in tracks:
        obs = tr.observations
        for a, b in zip(obs[:-1], obs[1:]):
            dt = b.time_s - a.time_s
            if dt <= 0:
                continue
            v = (np.asarray(b.center, float) - np.asarray(a.center, float)) / dt
            speed = float(np.hypot(*v))
            if speed < MIN_SPEED_PX_S:
                continue
            cx = min(GRID[0] - 1, max(0, int(a.center[0] / width * GRID[0])))
            cy = min(GRID[1] - 1, max(0, int(a.center[1] / height * GRID[1])))
            out.append((tr.track_id, (cy, cx), v / speed, b.time_s))
    return out


def _track_legs(steps: list, flow: np.ndarray) -> list:
    """(first time, last time, opposes?) of each track."""
    by_track = {}
    for tid, cell, unit, t in steps:
        f = flow[cell]
        norm = float(np.hypot(*f))
        agree = float(unit @ f) / norm if norm > 0 else 0.0
        by_track.setdefault(tid, []).append((t, agree))
    legs = []
    for rows in by_track.values():
        times = [r[0] for r in rows]
        share = np.mean([r[1] < -0.5 for r in rows])
        legs.append((min(times), max(times), share >= OPPOSE_SHARE))
    return legs


def _opposing_spans(legs: list) -> list:
    """Runs of time bins with >= MIN_OPPOSING opposing tracks and no track with the flow."""
    if not legs:
        return []
    t0, t1 = min(l[0] for l in legs), max(l[1] for l in legs)
    bins = np.arange(t0, t1 + BIN_S, BIN_S)
    opp = np.zeros(len(bins), int)
    wit = np.zeros(len(bins), int)
    for lo, hi, opposes in legs:
        sel = (bins >= lo - BIN_S / 2) & (bins <= hi + BIN_S / 2)
        (opp if opposes else wit)[sel] += 1
    ok = (opp >= MIN_OPPOSING) & (wit == 0)
    spans, start = [], None
    for k, flag in enumerate(list(ok) + [False]):
        if flag and start is None:
            start = k
        elif not flag and start is not None:
            spans.append((float(bins[start]), float(bins[k - 1]), int(opp[start:k].max())))
            start = None
    return spans
