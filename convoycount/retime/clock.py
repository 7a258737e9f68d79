"""Speed-up from a burned-in clock (CCTV, dashcams, bodycams, news overlays).

A clock drawn into the picture at capture shows real time; reading it at many
clip times and fitting real = a + K * clip gives K directly, with no prior.

Steps (OCR cost is bounded: a few whole-frame detections, then cheap
single-line recognition on a small crop):
  1. find the clock: OCR-detect text on `detect_frames` frames spread over the
     clip and keep the text line that parses as a time of day (HH:MM:SS with
     optional fraction; a leading date is fine) in most of them;
  2. decode the clip once, keeping only that region of every frame (at most
     `max_crops` frames, evenly spaced in time);
  3. read `coarse_reads` crops evenly spaced, then bisect between reads whose
     values differ to find the exact frames where the display ticks, for the
     first and last `refine_transitions` ticks (those pin the slope);
  4. fit: a display that shows value v (with resolution q: 1 s for HH:MM:SS,
     0.1 s for HH:MM:SS.d) at clip time t means a + K t lies in [v, v + q). Every
     pair of readings bounds K; the intersection of all pair bounds is a hard
     interval for K (it shrinks to about one frame interval over the span at
     each end once the ticks are located); readings that make it empty are OCR
     misreads and are dropped (largest residual from a Theil-Sen line first).

Limits: a clock that shows clip time (added when the clip was edited) gives
K = 1 for the edited file; a clock that jumps (NTP correction, DST) breaks the
line fit and is reported as inconsistent readings.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .estimate import TRUST_CLOCK, Estimate

_COLON = re.compile(r"(?<!\d)(\d{1,2})\s*:\s*(\d{2})\s*:\s*(\d{2})(?:\s*[.,]\s*(\d{1,3}))?(?!\d)")
_DOTTED = re.compile(r"(?<!\d)(\d{1,2})\s*[:.]\s*(\d{2})\s*[:.]\s*(\d{2})(?:\s*[.,]\s*(\d{1,3}))?(?!\d)")
# Common OCR confusions inside digit runs.
_CONFUSIONS = str.maketrans({"O": "0", "o": "0", "D": "0", "l": "1", "I": "1", "|": "1", ";": ":"})
DAY_S = 86400.0


@dataclass(frozen=True)
class ClockSettings:
    detect_frames: int = 3          # whole-frame OCR detections to find the clock
    max_crops: int = 3000           # frames whose clock region is kept in memory
    coarse_reads: int = 24          # evenly spaced single-line reads
    refine_transitions: int = 3     # ticks located exactly at each end of the clip
    max_reads: int = 90             # hard cap on single-line reads
    min_readings: int = 4
    max_outlier_fraction: float = 0.25
    slack_s: float = 0.002          # timing slack per reading, seconds (pts rounding)


@dataclass(frozen=True)
class ClockReading:
    clip_s: float
    text: str
    value_s: float          # seconds since midnight shown
    quantum_s: float        # display resolution


def parse_clock(text: str) -> Optional[tuple]:
    """(seconds since midnight, resolution in s) from OCR text, or None."""
    t = str(text).translate(_CONFUSIONS)
    m = _COLON.search(t) or _DOTTED.search(t)
    if m is None:
        return None
    h, mi, s = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if not (h < 24 and mi < 60 and s < 60):
        return None
    frac = m.group(4)
    value = h * 3600 + mi * 60 + s + (int(frac) / 10 ** len(frac) if frac else 0.0)
    return value, (10.0 ** -len(frac) if frac else 1.0)


def fit_clock(t: np.ndarray, v: np.ndarray, q: float, slack_s: float = 0.002):
    """Hard bounds on K from readings v (shown at clip times t) of a display with
    resolution q: for every pair i < j in time, (v_j - v_i - q) / dt <= K <=
    (v_j - v_i + q) / dt. Returns (low, high); low > high means inconsistent."""
    order = np.argsort(t)
    t, v = t[order], v[order]
    i, j = np.triu_indices(len(t), k=1)
    dt = t[j] - t[i]
    ok = dt > 0
    i, j, dt = i[ok], j[ok], dt[ok]
    dv = v[j] - v[i]
    w = q + 2 * slack_s
    lo = float(np.max((dv - w) / dt)) if len(dt) else -math.inf
    hi = float(np.min((dv + w) / dt)) if len(dt) else math.inf
    return lo, hi


def theil_sen(t: np.ndarray, v: np.ndarray) -> tuple:
    i, j = np.triu_indices(len(t), k=1)
    dt = t[j] - t[i]
    ok = np.abs(dt) > 1e-9
    slope = float(np.median((v[j] - v[i])[ok] / dt[ok]))
    return slope, float(np.median(v - slope * t))


def _unwrap_midnight(values: np.ndarray) -> np.ndarray:
    out = values.copy()
    for k in range(1, len(out)):
        while out[k] - out[k - 1] < -DAY_S / 2:
            out[k:] += DAY_S
    return out


def _robust_fit(readings: list, settings: ClockSettings):
    """(low, high, inliers, dropped) with misreads removed."""
    rs = sorted(readings, key=lambda r: r.clip_s)
    t = np.array([r.clip_s for r in rs])
    v = _unwrap_midnight(np.array([r.value_s for r in rs]))
    q = max(r.quantum_s for r in rs)
    keep = np.ones(len(rs), dtype=bool)
    max_drop = int(settings.max_outlier_fraction * len(rs))
    slope, icpt = theil_sen(t, v)
    dropped = []
    while True:
        lo, hi = fit_clock(t[keep], v[keep], q, settings.slack_s)
        if lo <= hi or len(dropped) >= max_drop or keep.sum() <= settings.min_readings:
            break
        resid = np.abs(v + q / 2 - (icpt + slope * t))
        resid[~keep] = -1
        worst = int(np.argmax(resid))
        keep[worst] = False
        dropped.append(rs[worst])
        slope, icpt = theil_sen(t[keep], v[keep])
    return lo, hi, [r for r, k in zip(rs, keep) if k], dropped, q


def _find_region(path, info, engine, settings: ClockSettings):
    """(x1, y1, x2, y2) of the clock text, or (None, what was seen)."""
    from ..video import frames
    n = settings.detect_frames
    start, dur = info.start_time_s, info.duration_s
    hits, seen = [], []
    for k in range(n):
        target = start + dur * (0.15 + 0.7 * k / max(1, n - 1))
        with frames(path, start_s=target) as reader:
            fr = next(reader, None)
        if fr is None:
            continue
        for x1, y1, x2, y2, text, conf in engine.detect(fr.image):
            seen.append(text)
            if parse_clock(text) is not None:
                hits.append((x1, y1, x2, y2, conf))
    if not hits:
        return None, seen
    # group hits by overlap; the group seen in most frames is the clock
    groups: list = []
    for h in hits:
        for g in groups:
            gx1, gy1, gx2, gy2 = g["box"]
            ix = min(gx2, h[2]) - max(gx1, h[0])
            iy = min(gy2, h[3]) - max(gy1, h[1])
            if ix > 0 and iy > 0:
                g["box"] = (min(gx1, h[0]), min(gy1, h[1]), max(gx2, h[2]), max(gy2, h[3]))
                g["n"] += 1
                break
        else:
            groups.append({"box": h[:4], "n": 1})
    best = max(groups, key=lambda g: g["n"])
    x1, y1, x2, y2 = best["box"]
    h = y2 - y1
    pad_x, pad_y = 0.08 * (x2 - x1) + 0.5 * h, 0.3 * h
    W, H = info.width, info.height
    box = (int(max(0, x1 - pad_x)), int(max(0, y1 - pad_y)),
           int(min(W, math.ceil(x2 + pad_x))), int(min(H, math.ceil(y2 + pad_y))))
    return box, seen


def _clock_crops(path, info, region, settings: ClockSettings) -> tuple:
    """(clip times, crops of the clock region): one decode of the clip, keeping at
    most about `max_crops` frames evenly spaced by frame index, so memory stays
    bounded on long clips."""
    from ..video import frames
    x1, y1, x2, y2 = region
    stride = max(1, math.ceil(info.frames / settings.max_crops)) if info.frames else 1
    times, crops = [], []
    with frames(path) as reader:
        for fr in reader:
            if fr.index % stride == 0:
                times.append(fr.time_s)
                crops.append(fr.image[y1:y2, x1:x2].copy())
    return times, crops


class _ClockReads:
    """OCR reads of the clock crops, each crop read at most once (`cache`: crop
    index -> ClockReading, or None when the text is not a time)."""

    def __init__(self, engine, times: list, crops: list):
        self.engine, self.times, self.crops = engine, times, crops
        self.cache: dict = {}

    def read(self, i: int) -> Optional[ClockReading]:
        if i not in self.cache:
            text, _ = self.engine.read(self.crops[i])
            p = parse_clock(text)
            self.cache[i] = None if p is None else ClockReading(self.times[i], text, p[0], p[1])
        return self.cache[i]

    def coarse(self, n_reads: int) -> None:
        """Read `n_reads` crops evenly spaced over the clip (first and last included)."""
        n = len(self.crops)
        for i in sorted({round(k * (n - 1) / max(1, n_reads - 1))
                         for k in range(min(n, n_reads))}):
            self.read(i)

    def ticks(self) -> list:
        """Adjacent coarse/refined read pairs whose values differ and are not yet adjacent."""
        cache = self.cache
        idx = sorted(i for i, r in cache.items() if r is not None)
        return [(a, b) for a, b in zip(idx, idx[1:])
                if cache[a].value_s != cache[b].value_s and b - a > 1]

    def refine(self, settings: ClockSettings) -> None:
        """Bisect the first and the last `refine_transitions` ticks down to adjacent
        frames: the exact frames where the display changes pin the slope far better
        than the coarse reads (stops at `max_reads`)."""
        cache = self.cache
        for end in ("first", "last"):
            for _ in range(settings.refine_transitions):
                pairs = self.ticks()
                if not pairs or len(cache) >= settings.max_reads:
                    break
                a, b = pairs[0] if end == "first" else pairs[-1]
                while b - a > 1 and len(cache) < settings.max_reads:
                    m = (a + b) // 2
                    r = self.read(m)
                    if r is not None and r.value_s == cache[a].value_s:
                        a = m
                    else:
                        b = m


def _estimate_from_readings(readings: list, ev: dict, method: str,
                            settings: ClockSettings) -> Estimate:
    """Fit real = a + K * clip to the readings (misreads dropped) and turn the hard
    bounds on K into an estimate, or into the reason they do not pin K: readings no
    steady clock could show, or a clock that did not tick often enough."""
    lo, hi, inliers, dropped, q = _robust_fit(readings, settings)
    ev.update({"resolution_s": q, "readings_used": len(inliers), "readings_dropped": len(dropped),
               "readings": [{"clip_s": round(r.clip_s, 4), "text": r.text} for r in
                            sorted(inliers, key=lambda r: r.clip_s)],
               "dropped": [{"clip_s": round(r.clip_s, 4), "text": r.text} for r in dropped],
               "rule": "real = a + K * clip; every pair of readings bounds K"})
    if lo > hi:
        return Estimate.none("clock", method, "clock readings are inconsistent with a steady "
                             "clock (misreads, or the clock jumps)", **ev)
    if hi <= 0 or lo <= 0:
        span = max(r.clip_s for r in inliers) - min(r.clip_s for r in inliers)
        why = ("the clock did not change over the clip" if len({r.value_s for r in inliers}) == 1
               else "the clock readings do not pin the rate (too few ticks)")
        if hi > 0 and span > 0:
            why += f"; only an upper bound K <= {hi:.3g}"
        return Estimate.none("clock", method, why, **ev)
    k = (lo + hi) / 2
    return Estimate(source="clock", method=method, speedup=k, interval=(lo, hi), trust=TRUST_CLOCK,
                    evidence=ev)


def estimate_clock(path, info, engine=None, settings: ClockSettings = ClockSettings()) -> Estimate:
    """K from a burned-in clock, or the reason there is none (see module docstring)."""
    method = "burned_in_clock"
    if engine is None:
        from .ocr import load_engine
        engine, why = load_engine()
        if engine is None:
            return Estimate.none("clock", method, why)
    region, seen = _find_region(path, info, engine, settings)
    if region is None:
        sample = [s for s in seen if s.strip()][:5]
        return Estimate.none("clock", method, "no clock (HH:MM:SS text) found in the picture",
                             engine=engine.name, text_seen=sample)

    reads = _ClockReads(engine, *_clock_crops(path, info, region, settings))
    reads.coarse(settings.coarse_reads)
    reads.refine(settings)

    cache = reads.cache
    readings = [r for r in cache.values() if r is not None]
    ev = {"engine": engine.name, "region_xyxy": list(region), "reads": len(cache),
          "unreadable": len(cache) - len(readings)}
    if len(readings) < settings.min_readings:
        return Estimate.none("clock", method, f"only {len(readings)} of {len(cache)} clock reads "
                             f"parsed as a time (< {settings.min_readings})", **ev)
    return _estimate_from_readings(readings, ev, method, settings)
