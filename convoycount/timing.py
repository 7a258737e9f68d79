"""TimeMap: from clip time to real time.

A clip that plays K times faster than reality (K = `speedup`) shows at clip
time t what happened at real time K * t. The map always says where K came from
and, when it is estimated, how sure we are (`interval`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .errors import ConvoyCountError

SOURCES = ("unknown", "given", "real_duration", "metadata", "kinematics", "clock", "combined")


@dataclass(frozen=True)
class TimeMap:
    speedup: Optional[float] = None                  # K; None = not known
    source: str = "unknown"
    interval: Optional[tuple] = None                 # (low, high) for K, or None
    evidence: tuple = ()                             # dicts: what each estimate rests on

    def __post_init__(self):
        if self.source not in SOURCES:
            raise ValueError(f"time map source must be one of {SOURCES}, got {self.source!r}")
        if self.speedup is not None and not (self.speedup > 0):
            raise ValueError(f"speed-up must be > 0, got {self.speedup}")
        if self.interval is not None:
            lo, hi = self.interval
            if not (0 < lo <= hi):
                raise ValueError(f"speed-up interval must satisfy 0 < low <= high, got {self.interval}")

    @property
    def known(self) -> bool:
        return self.speedup is not None

    @classmethod
    def unknown(cls) -> "TimeMap":
        return cls()

    @classmethod
    def given(cls, speedup: float) -> "TimeMap":
        if not (speedup > 0) or speedup != speedup or speedup == float("inf"):
            raise ConvoyCountError(f"--speedup must be a positive number, got {speedup}")
        return cls(speedup=float(speedup), source="given")

    @classmethod
    def from_real_duration(cls, real_duration_s: float, clip_duration_s: float) -> "TimeMap":
        if not (real_duration_s > 0):
            raise ConvoyCountError(f"--real-duration must be a positive number of seconds, got {real_duration_s}")
        if not (clip_duration_s > 0):
            raise ConvoyCountError("cannot use --real-duration: the clip has no measurable duration")
        return cls(speedup=real_duration_s / clip_duration_s, source="real_duration",
                   evidence=({"real_duration_s": real_duration_s, "clip_duration_s": clip_duration_s},))

    def to_real(self, clip_time_s: float) -> Optional[float]:
        return None if self.speedup is None else clip_time_s * self.speedup

    def to_dict(self) -> dict:
        return {"speedup": self.speedup, "source": self.source,
                "interval": list(self.interval) if self.interval else None,
                "evidence": list(self.evidence)}
