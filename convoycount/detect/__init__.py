"""Detectors: each turns a Frame into Detections (see base.py).

`create(name, ...)` builds one by name; heavy back-ends (onnxruntime,
ultralytics/torch) are imported only when their detector is asked for."""
from __future__ import annotations

from typing import Optional, Sequence

from ..errors import ConvoyCountError
from .base import Detections, Detector, DetectorInfo, VEHICLE_CLASSES

DETECTORS = ("motion", "coco", "yolo", "auto")


def create(name: str = "motion", *, model: Optional[str] = None,
           conf: Optional[float] = None, imgsz: Optional[int] = None,
           device: Optional[str] = None, classes: Optional[Sequence[str]] = None,
           class_agnostic: Optional[bool] = None) -> Detector:
    """A fresh detector (one per clip: no state leaks between files). Options left at
    None keep each detector's own default; `device` applies to yolo only."""
    yolo_kw = _given(conf=conf, imgsz=imgsz, device=device, classes=classes,
                     class_agnostic=class_agnostic)
    coco_kw = _given(conf_threshold=conf, input_size=imgsz, classes=classes,
                     class_agnostic_nms=class_agnostic)
    if name == "motion":
        from .motion import MotionDetector
        return MotionDetector()
    if name == "coco":
        from .coco import CocoDetector
        return CocoDetector(model, **coco_kw)
    if name == "yolo":
        from .yolo import YoloDetector
        return YoloDetector(model, **yolo_kw)
    if name == "auto":
        from .models import auto_detector
        return auto_detector(model, yolo_options=yolo_kw, coco_options=coco_kw)
    raise ConvoyCountError(f"unknown detector {name!r}; choose one of {', '.join(DETECTORS)}")


def _given(**kw) -> dict:
    return {k: v for k, v in kw.items() if v is not None}


__all__ = ["Detections", "Detector", "DetectorInfo", "VEHICLE_CLASSES", "create", "DETECTORS"]
