"""One `Estimate` per kind of evidence, and how they become one `TimeMap`.

Each estimator (metadata, kinematics, clock) stands alone: it looks at its own
evidence and returns an `Estimate`, either with a speed-up K and a 95 %
interval, or without one and a one-line `reason` why it could not say anything.

Combining (`combine`): estimates are taken in order of trust
(clock > capture-rate tag > kinematics > encoder-rate mismatch). Each further
estimate whose interval overlaps the running interval is fused into it (the
point is the precision-weighted mean of log K, the interval is the
intersection, so a tight clock reading inside a wide kinematic interval
simply wins); one whose interval does not overlap is left out and the
disagreement is written into the evidence. Nothing usable: speedup None,
source "unknown", and the evidence says why each estimator had nothing.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Sequence

from ..timing import TimeMap

Z95 = 1.959964          # two-sided 95 % normal quantile

# Trust ranks: higher wins when intervals do not overlap.
TRUST_CLOCK = 40
TRUST_TAG = 30
TRUST_KINEMATICS = 20
TRUST_RATE_MISMATCH = 10


@dataclass(frozen=True)
class Estimate:
    source: str                          # "metadata" | "kinematics" | "clock" (a TimeMap source)
    method: str                          # what exactly, e.g. "android_capture_fps"
    speedup: Optional[float] = None      # K; None = this estimator has nothing to say
    interval: Optional[tuple] = None     # (low, high), ~95 %
    trust: int = 0
    evidence: dict = field(default_factory=dict)   # JSON-ready details
    reason: Optional[str] = None         # why there is no estimate (or a caveat)

    def __post_init__(self):
        if self.speedup is not None:
            lo, hi = self.interval
            if not (0 < lo <= self.speedup <= hi and math.isfinite(hi)):
                raise ValueError(f"estimate {self.method}: need 0 < low <= K <= high, "
                                 f"got K={self.speedup}, interval={self.interval}")

    @property
    def ok(self) -> bool:
        return self.speedup is not None

    @property
    def sigma_log(self) -> float:
        """Log-space standard deviation implied by the (95 %) interval."""
        lo, hi = self.interval
        return max(math.log(self.speedup / lo), math.log(hi / self.speedup), 1e-4) / Z95

    def to_evidence(self) -> dict:
        d = {"source": self.source, "method": self.method, "used": False}
        if self.ok:
            d["speedup"] = _r(self.speedup)
            d["interval"] = [_r(self.interval[0]), _r(self.interval[1])]
        if self.reason:
            d["reason"] = self.reason
        d.update(self.evidence)
        return d

    @classmethod
    def none(cls, source: str, method: str, reason: str, **evidence) -> "Estimate":
        return cls(source=source, method=method, reason=reason, evidence=evidence)


def _r(x: float, digits: int = 5) -> float:
    return float(f"{x:.{digits}g}")


def combine(estimates: Sequence[Estimate]) -> TimeMap:
    """Fuse estimates into a TimeMap (see module docstring)."""
    usable = sorted((e for e in estimates if e.ok), key=lambda e: -e.trust)
    evidence = {id(e): e.to_evidence() for e in estimates}
    if not usable:
        return TimeMap(speedup=None, source="unknown",
                       evidence=tuple(evidence[id(e)] for e in estimates))

    fused = [usable[0]]
    lo, hi = usable[0].interval
    w_sum = 1.0 / usable[0].sigma_log ** 2
    m_sum = math.log(usable[0].speedup) * w_sum
    notes = []
    for e in usable[1:]:
        e_lo, e_hi = e.interval
        if e_lo <= hi and lo <= e_hi:
            fused.append(e)
            lo, hi = max(lo, e_lo), min(hi, e_hi)
            w = 1.0 / e.sigma_log ** 2
            w_sum += w
            m_sum += math.log(e.speedup) * w
        else:
            notes.append({"disagreement": f"{e.source}/{e.method} says \u00d7{_r(e.speedup, 3)} "
                          f"({_r(e_lo, 3)}\u2013{_r(e_hi, 3)}), outside \u00d7{_r(lo, 3)}\u2013"
                          f"{_r(hi, 3)} from {', '.join(f.method for f in fused)}; "
                          f"left out (less trusted)",
                          "kept": [f.method for f in fused], "left_out": e.method})
    k = min(max(math.exp(m_sum / w_sum), lo), hi)
    for e in fused:
        evidence[id(e)]["used"] = True
    sources = {e.source for e in fused}
    source = fused[0].source if len(sources) == 1 else "combined"
    ev = tuple(evidence[id(e)] for e in estimates) + tuple(notes)
    return TimeMap(speedup=k, source=source, interval=(lo, hi), evidence=ev)


def estimate_time_map(path, info, tracks, span_s: float, *, clock: Optional[bool] = None,
                      ocr_engine=None, person_tracks: Optional[Sequence] = None,
                      lane_dashes: bool = True) -> TimeMap:
    """K (the clip plays K times faster than reality) from everything the clip offers.

    `info` is the clip's ClipInfo, `tracks` the confirmed tracks of the analysed
    footage, `span_s` its clip-time span. `clock`: None or True reads a burned-in
    clock when an OCR engine is installed (else the evidence says none is);
    False skips it. `ocr_engine` overrides the engine choice (an object with
    `detect` and `read`, see ocr.py). `person_tracks`: tracks of people on foot, when
    a detector looked for them (None: nobody looked; the pedestrian cues are skipped).
    `lane_dashes`: measure the focal length from dashed lane lines (retime/dashes.py)
    when the clip has them; False keeps the assumed lens range."""
    from .clock import estimate_clock
    from .metadata import estimate_metadata
    from .speed import estimate_ground, fuse_cues, lane_dashes_for
    from .walkers import estimate_walkers

    estimates = list(estimate_metadata(path, info))
    walkers = None if person_tracks is None else sum(len(t.observations) >= 5 for t in person_tracks)
    # the focal length from painted lane dashes, read once (a few frames) when some
    # vehicle can be scaled at all
    dashes = lane_dashes_for(path, tracks, info.width, info.height) if lane_dashes else None
    cues = [estimate_ground(tracks, info.width, info.height, pedestrians=walkers, dashes=dashes)]
    if person_tracks is not None:
        cues.append(estimate_walkers(person_tracks, info.width, info.height))
    estimates.append(fuse_cues(cues))
    if clock is False:
        estimates.append(Estimate.none("clock", "burned_in_clock", "clock reading switched off"))
    else:
        estimates.append(estimate_clock(path, info, engine=ocr_engine))
    return combine(estimates)
