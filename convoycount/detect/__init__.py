"""Detectors: each turns a Frame into Detections (see base.py).

`create(DetectorOptions(...))` builds one; heavy back-ends (onnxruntime,
ultralytics/torch) are imported only when their detector is asked for."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

from ..errors import ConvoyCountError
from .base import Detections, Detector, DetectorInfo, VEHICLE_CLASSES

DETECTORS = ("motion", "coco", "yolo", "auto")

# Which detectors read each option. An option the chosen detector would ignore is
# refused: a user who typed --conf 0.6 for the motion detector must not believe it
# took effect.
OPTION_USERS = {"model": ("coco", "yolo", "auto"), "conf": ("coco", "yolo", "auto"),
                "imgsz": ("coco", "yolo", "auto"), "classes": ("coco", "yolo", "auto"),
                "device": ("yolo", "auto"), "trust_model": ("yolo", "auto")}


@dataclass(frozen=True)
class DetectorOptions:
    """Which detector, and the options a user may give it. None keeps each
    detector's own default (e.g. the model's training size for `imgsz`)."""
    name: str = "motion"                 # motion | coco | yolo | auto
    model: Optional[str] = None          # weights: a path or a name resolved in models/
    conf: Optional[float] = None         # confidence threshold
    imgsz: Optional[int] = None          # detector input size, pixels
    device: Optional[str] = None         # yolo: cpu | cuda
    classes: Optional[tuple] = None      # only these of our class names
    trust_model: bool = False            # yolo: load pickled .pt weights from anywhere

    def __post_init__(self):
        if self.name not in DETECTORS:
            raise ConvoyCountError(f"unknown detector {self.name!r}; choose one of {', '.join(DETECTORS)}")
        if isinstance(self.classes, str):      # "car, truck" as typed on a command line
            object.__setattr__(self, "classes", tuple(
                c.strip() for c in self.classes.split(",") if c.strip()) or None)
        elif self.classes is not None:
            object.__setattr__(self, "classes", tuple(self.classes) or None)
        if self.model is not None:
            object.__setattr__(self, "model", str(self.model))
        for option, users in OPTION_USERS.items():
            if getattr(self, option) not in (None, False) and self.name not in users:
                raise ConvoyCountError(
                    f"--{option.replace('_', '-')} is not used by the {self.name} detector; it applies to "
                    f"--detector {' / '.join(users)}")


def create(options: Union[DetectorOptions, str] = DetectorOptions(), *,
           class_agnostic: Optional[bool] = None, **keywords) -> Detector:
    """A fresh detector (one per clip: no state leaks between files).
    `create("coco", conf=0.3)` is short for `create(DetectorOptions("coco", conf=0.3))`."""
    if isinstance(options, str):
        options = DetectorOptions(options, **keywords)
    elif keywords:
        raise TypeError("give DetectorOptions or a name with keywords, not both")
    o = options
    yolo_kw = _given(conf=o.conf, imgsz=o.imgsz, device=o.device, classes=o.classes,
                     class_agnostic=class_agnostic, trust_model=o.trust_model or None)
    coco_kw = _given(conf_threshold=o.conf, input_size=o.imgsz, classes=o.classes,
                     class_agnostic_nms=class_agnostic)
    if o.name == "motion":
        from .motion import MotionDetector
        return MotionDetector()
    if o.name == "coco":
        from .coco import CocoDetector
        return CocoDetector(o.model, **coco_kw)
    if o.name == "yolo":
        from .yolo import YoloDetector
        return YoloDetector(o.model, **yolo_kw)
    from .models import auto_detector
    return auto_detector(o.model, yolo_options=yolo_kw, coco_options=coco_kw)


def _given(**kw) -> dict:
    return {k: v for k, v in kw.items() if v is not None}


__all__ = ["Detections", "Detector", "DetectorInfo", "DetectorOptions", "VEHICLE_CLASSES",
           "create", "DETECTORS"]
