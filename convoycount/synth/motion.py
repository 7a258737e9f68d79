"""Vehicle motion: piecewise-linear position along the lane as a function of real time.

A `Trajectory` is a list of breakpoints (t, a): `a` is the box centre's distance in
metres along the vehicle's own direction of travel (0 = screen centre of its lane),
linear in between (constant velocity or stopped). Breakpoints span [T_MIN, T_MAX]
so evaluation never extrapolates. Everything the truth needs (crossing instant,
visibility intervals) is solved exactly on the segments, not sampled.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

T_MIN = -1.0e4
T_MAX = 1.0e5


@dataclass(frozen=True)
class Trajectory:
    t: np.ndarray      # (n,) strictly increasing real times, t[0] = T_MIN, t[-1] = T_MAX
    a: np.ndarray      # (n,) positions, metres along the direction of travel

    @classmethod
    def build(cls, t_ref: float, a_ref: float, v_before_mps: float, segments, v_after_mps: float
              ) -> "Trajectory":
        """Constant `v_before_mps` up to (t_ref, a_ref), then `segments` [(duration_s,
        velocity_mps), ...] in order, then constant `v_after_mps` for ever."""
        ts = [T_MIN, t_ref]
        as_ = [a_ref - v_before_mps * (t_ref - T_MIN), a_ref]
        for dur, v in segments:
            if dur <= 0:
                continue
            ts.append(ts[-1] + dur)
            as_.append(as_[-1] + v * dur)
        as_.append(as_[-1] + v_after_mps * (T_MAX - ts[-1]))
        ts.append(T_MAX)
        return cls(np.asarray(ts, dtype=np.float64), np.asarray(as_, dtype=np.float64))

    def at(self, t):
        return np.interp(t, self.t, self.a)

    def shifted(self, da_m: float) -> "Trajectory":
        return Trajectory(self.t, self.a + da_m)

    def minimum(self, other: "Trajectory") -> "Trajectory":
        """Pointwise min, exact: breakpoints of both plus every point where they cross."""
        t = np.union1d(self.t, other.t)
        d = self.at(t) - other.at(t)
        i = np.nonzero(((d[:-1] < 0) & (d[1:] > 0)) | ((d[:-1] > 0) & (d[1:] < 0)))[0]
        tc = t[i] - d[i] * (t[i + 1] - t[i]) / (d[i + 1] - d[i])
        t = np.union1d(t, tc)
        return Trajectory(t, np.minimum(self.at(t), other.at(t)))

    def first_time_reaching(self, level_m: float) -> Optional[float]:
        """First real time the position reaches `level_m` (None if it never does)."""
        hit = np.nonzero(self.a >= level_m)[0]
        if len(hit) == 0:
            return None
        k = int(hit[0])
        if k == 0:
            return float(self.t[0])
        a0, a1, t0, t1 = self.a[k - 1], self.a[k], self.t[k - 1], self.t[k]
        return float(t0 + (level_m - a0) / (a1 - a0) * (t1 - t0))

    def intervals_within(self, lo_m: float, hi_m: float) -> list:
        """Exact real-time intervals [(t_start, t_end), ...] while lo_m <= a <= hi_m."""
        out = []
        for k in range(len(self.t) - 1):
            t0, t1, a0, a1 = self.t[k], self.t[k + 1], self.a[k], self.a[k + 1]
            if a0 == a1:
                if lo_m <= a0 <= hi_m:
                    s, e = t0, t1
                else:
                    continue
            else:
                s_lo = t0 + (lo_m - a0) / (a1 - a0) * (t1 - t0)
                s_hi = t0 + (hi_m - a0) / (a1 - a0) * (t1 - t0)
                s, e = max(t0, min(s_lo, s_hi)), min(t1, max(s_lo, s_hi))
                if s > e:
                    continue
            if out and s <= out[-1][1] + 1e-12:
                out[-1] = (out[-1][0], max(out[-1][1], e))
            else:
                out.append((s, e))
        return [(float(s), float(e)) for s, e in out]

    def rest_time(self) -> Optional[float]:
        """Start of the final stop if the vehicle ends at rest, else None."""
        if self.a[-1] != self.a[-2]:
            return None
        k = len(self.a) - 1
        while k > 0 and self.a[k - 1] == self.a[-1]:
            k -= 1
        return float(self.t[k])

    def stops(self, t_lo: float = T_MIN, t_hi: float = T_MAX) -> list:
        """Stationary intervals [(t_start, t_end, a_m), ...] clipped to [t_lo, t_hi]."""
        out = []
        for k in range(len(self.t) - 1):
            if self.a[k] == self.a[k + 1]:
                s, e = max(self.t[k], t_lo), min(self.t[k + 1], t_hi)
                if s < e:
                    if out and abs(out[-1][1] - s) < 1e-12 and out[-1][2] == self.a[k]:
                        out[-1] = (out[-1][0], e, out[-1][2])
                    else:
                        out.append((float(s), float(e), float(self.a[k])))
        return out


def measure(intervals: list, t_lo: float, t_hi: float) -> float:
    """Total length of `intervals` inside [t_lo, t_hi]."""
    return float(sum(max(0.0, min(e, t_hi) - max(s, t_lo)) for s, e in intervals))


def stop_segments(v_mps: float, decel_mps2: float, steps: int = 3) -> list:
    """A stop from `v_mps` as `steps` constant-velocity segments (piecewise linear, so the
    crossing stays solvable exactly) covering the same distance as a constant deceleration:
    v^2 / (2 decel)."""
    dur = v_mps / decel_mps2 / steps
    return [(dur, v_mps * (2 * (steps - i) - 1) / (2 * steps)) for i in range(steps)]


def start_segments(v_mps: float, accel_mps2: float, steps: int = 3) -> list:
    return list(reversed(stop_segments(v_mps, accel_mps2, steps)))


def braking_distance_m(v_mps: float, decel_mps2: float) -> float:
    return v_mps * v_mps / (2 * decel_mps2)
