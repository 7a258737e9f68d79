"""Finding and IntegrityReport: what the integrity pass says about a clip's editing."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

MARK_HOLD_S = 0.5        # a momentary finding is marked this long either side in the video
KINDS = ("repeat", "cut", "reversed", "duplicated_frames", "gap", "timestamp", "speed_change")


@dataclass(frozen=True)
class Finding:
    """One sign of editing, in clip time. For `repeat` (and a `reversed` span that
    replays earlier footage) the source span is where the footage first appeared."""
    kind: str
    start_s: float
    end_s: float
    detail: str
    confidence: float                     # 0..1: how sure the measurement is, not a probability
    source_start_s: Optional[float] = None
    source_end_s: Optional[float] = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"finding kind must be one of {KINDS}, got {self.kind!r}")
        if self.end_s < self.start_s:
            raise ValueError(f"finding end_s ({self.end_s}) before start_s ({self.start_s})")

    def to_dict(self) -> dict:
        d = {"kind": self.kind, "start_s": round(self.start_s, 4), "end_s": round(self.end_s, 4),
             "detail": self.detail, "confidence": round(float(self.confidence), 3)}
        if self.source_start_s is not None:
            d["source_start_s"] = round(self.source_start_s, 4)
            d["source_end_s"] = round(self.source_end_s, 4)
        return d


@dataclass
class IntegrityReport:
    """Every finding, in time order, and how much footage was examined."""
    findings: list = field(default_factory=list)
    frames: int = 0
    checked: bool = True                  # False when the pass was skipped (--no-integrity)
    notes: list = field(default_factory=list)

    def of_kind(self, kind: str) -> list:
        return [f for f in self.findings if f.kind == kind]

    @property
    def edited(self) -> bool:
        """Signs of editing beyond a frame-rate conversion (duplicated frames alone
        change timing, not content)."""
        return any(f.kind != "duplicated_frames" for f in self.findings)

    def to_dict(self) -> dict:
        return {"checked": self.checked, "frames": self.frames,
                "findings": [f.to_dict() for f in self.findings], "notes": list(self.notes)}

    def marks_at(self, time_s: float) -> list:
        """One short line per finding in effect at `time_s`, for the annotated video; a
        finding at one moment (a cut, a gap) stays up MARK_HOLD_S either side so it
        can be seen."""
        out = []
        for f in self.findings:
            if f.start_s - MARK_HOLD_S <= time_s <= max(f.end_s, f.start_s) + MARK_HOLD_S:
                src = f" of {f.source_start_s:.2f} s" if f.source_start_s is not None else ""
                out.append(f"EDIT? {f.kind} {f.start_s:.2f}-{f.end_s:.2f} s{src}")
        return out

    def summary_lines(self) -> list:
        if not self.checked:
            return ["integrity: not checked (--no-integrity)"]
        if not self.findings:
            return [f"integrity: no sign of editing in {self.frames} frames"]
        return [f"integrity: {f.kind} {f.start_s:.2f}-{f.end_s:.2f} s: {f.detail}"
                for f in self.findings]
