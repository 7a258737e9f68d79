"""The bundled COCO detector (NanoDet-g, ONNX): the file is the one the model card
describes, the ONNX reproduces the original TensorFlow.js model, and CocoDetector finds
vehicles on real footage with boxes in frame pixels."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from convoycount.detect.base import VEHICLE_CLASSES, Detections, Detector
from convoycount.hashing import sha256_file as file_sha256
from convoycount.detect.coco import (DEFAULT_MODEL_PATH, CocoDetector,
                                     letterbox_geometry, preprocess)
from convoycount.errors import ConvoyCountError, ModelUnavailableError
from convoycount.realclips import realclips_dir, why_missing
from convoycount.video import Frame

REPO = Path(__file__).resolve().parents[1]
MODEL_CARD = REPO / "models" / "nanodet-g-coco.md"
REFERENCE = REPO / "models" / "nanodet" / "reference_synthetic.npz"
REALCLIPS = realclips_dir()
_WHY_NO_CLIPS = why_missing(("highway_a.mp4", "city_street_a.mp4"))

needs_realclips = pytest.mark.skipif(_WHY_NO_CLIPS is not None, reason=_WHY_NO_CLIPS or "")


@pytest.fixture(scope="module")
def detector() -> CocoDetector:
    return CocoDetector(threads=1)


def read_frame(name: str, time_s: float) -> Frame:
    """The first decoded frame at or after `time_s` (pts * time_base), with its index."""
    import av
    with av.open(str(REALCLIPS / name)) as container:
        stream = container.streams.video[0]
        for index, frame in enumerate(container.decode(stream)):
            t = float(frame.pts * frame.time_base)
            if t >= time_s:
                return Frame(index=index, time_s=t, image=frame.to_ndarray(format="bgr24"))
    raise AssertionError(f"{name} has no frame at or after {time_s} s")


# --------------------------------------------------------------------------- the file

def test_model_file_is_the_one_in_the_model_card():
    assert DEFAULT_MODEL_PATH.is_file()
    size = DEFAULT_MODEL_PATH.stat().st_size
    assert 5_000_000 < size < 10_000_000
    card = MODEL_CARD.read_text()
    m = re.search(r"ONNX sha256: `([0-9a-f]{64})`", card)
    assert m, "model card must state the ONNX sha256"
    assert file_sha256(DEFAULT_MODEL_PATH) == m.group(1)
    assert str(size) in card.replace(",", "")


def test_onnx_reproduces_the_tfjs_reference_outputs():
    """Stored outputs of the ORIGINAL TF.js model (pure-JS CPU backend) on a fixed
    synthetic image; our preprocessing + ONNX must give the same numbers."""
    import onnxruntime as ort
    ref = np.load(REFERENCE)
    image = np.repeat(np.repeat(ref["image_104_bgr"], 4, axis=0), 4, axis=1)   # 416x416
    box = letterbox_geometry(416, 416, 416, square=True)
    assert (box.scale, box.pad_x, box.pad_y) == (1.0, 0, 0)
    x = preprocess(image, box)[None]
    sess = ort.InferenceSession(str(DEFAULT_MODEL_PATH), providers=["CPUExecutionProvider"])
    names = ["cls_s8", "cls_s16", "cls_s32", "box_s8", "box_s16", "box_s32"]
    outs = dict(zip(names, sess.run(names, {"input": x})))
    steps = dict(zip(("s8", "s16", "s32"), ref["rows_step"].tolist()))
    for name in names:
        got = outs[name][0, ::steps[name.split("_")[1]]]
        want = ref[name]
        assert got.shape == want.shape, name
        if name.startswith("box"):
            # logits, |values| up to ~6: a wrong op or layout would be off by >> 1e-2
            assert np.abs(want).max() > 1.0
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-4, err_msg=name)
        else:
            assert want.min() >= 0 and want.max() <= 1 and want.max() > 0.05
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-5, err_msg=name)


# --------------------------------------------------------------------------- errors

def test_missing_model_raises_model_unavailable(tmp_path):
    missing = tmp_path / "nope.onnx"
    with pytest.raises(ModelUnavailableError) as exc:
        CocoDetector(missing)
    assert str(missing) in str(exc.value) and "\n" not in str(exc.value)


def test_unreadable_model_raises_model_unavailable(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx file")
    with pytest.raises(ModelUnavailableError):
        CocoDetector(bad)


def test_bad_options_are_refused():
    with pytest.raises(ConvoyCountError):
        CocoDetector(classes=("person",))
    with pytest.raises(ConvoyCountError):
        CocoDetector(conf_threshold=0.0)


def test_info_describes_the_model(detector):
    info = detector.info
    assert isinstance(detector, Detector)
    assert info.name == "coco" and info.model == str(DEFAULT_MODEL_PATH)
    assert info.model_sha256 == file_sha256(DEFAULT_MODEL_PATH)
    assert set(info.classes) == {"car", "motorcycle", "bus", "truck"}
    assert set(info.classes) <= set(VEHICLE_CLASSES)
    assert "Apache-2.0" in info.license and "MIT" in info.license


# --------------------------------------------------------------------------- geometry

@pytest.mark.parametrize("w,h,square", [(1280, 720, False), (1280, 720, True),
                                        (640, 360, False), (360, 640, False), (500, 500, True)])
def test_letterbox_geometry_inverts(w, h, square):
    box = letterbox_geometry(w, h, 416, square=square)
    assert max(box.new_w, box.new_h) == 416
    assert box.input_w % 32 == 0 and box.input_h % 32 == 0
    if square:
        assert (box.input_w, box.input_h) == (416, 416)
    assert 0 <= box.pad_x and box.pad_x + box.new_w <= box.input_w
    assert 0 <= box.pad_y and box.pad_y + box.new_h <= box.input_h
    # The frame's corners land on the corners of the resized area, and back.
    corners_in = np.array([[box.pad_x, box.pad_y, box.pad_x + box.new_w, box.pad_y + box.new_h]])
    np.testing.assert_allclose(box.to_frame(corners_in), [[0, 0, w, h]], atol=1e-9)
    # Boxes in the padding are clipped to the frame.
    assert (box.to_frame(np.array([[-50.0, -50, 1000, 1000]])) == [[0, 0, w, h]]).all()


@needs_realclips
@pytest.mark.realclips
def test_boxes_map_back_through_scaling_and_padding(detector):
    """Three frames that give the network the very same input: a 416x234 image, the
    same image doubled (832x468, every pixel repeated) and the image with 11 black rows
    above and below (416x256). Their boxes must be the same boxes in each frame's own
    pixels: x2, and shifted down by 11."""
    import cv2
    frame = read_frame("highway_a.mp4", 12.0)
    small = cv2.resize(frame.image, (416, 234), interpolation=cv2.INTER_AREA)
    doubled = np.repeat(np.repeat(small, 2, axis=0), 2, axis=1)
    padded = cv2.copyMakeBorder(small, 11, 11, 0, 0, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    a = detector.detect(Frame(0, 0.0, small))
    b = detector.detect(Frame(1, 0.1, doubled))
    c = detector.detect(Frame(2, 0.2, padded))
    assert len(a) >= 3
    assert len(a) == len(b) == len(c)
    np.testing.assert_allclose(b.xyxy, 2 * a.xyxy, atol=1e-3)
    np.testing.assert_allclose(np.clip(c.xyxy - [0, 11, 0, 11], 0, [416, 234, 416, 234]),
                               a.xyxy, atol=1e-3)
    np.testing.assert_allclose(b.confidence, a.confidence, atol=1e-6)
    np.testing.assert_allclose(c.confidence, a.confidence, atol=1e-6)


# --------------------------------------------------------------------------- real frames

@needs_realclips
@pytest.mark.realclips
def test_finds_vehicles_on_a_highway_frame(detector):
    frame = read_frame("highway_a.mp4", 12.0)
    d = detector.detect(frame)
    assert isinstance(d, Detections)
    assert d.time_s == frame.time_s and d.frame_index == frame.index
    assert len(d) >= 4, f"only {len(d)} vehicles on a busy highway frame"
    assert set(d.class_name) <= set(detector.info.classes)
    assert (d.confidence >= detector.conf_threshold).all() and (d.confidence <= 1).all()
    w = d.xyxy[:, 2] - d.xyxy[:, 0]
    h = d.xyxy[:, 3] - d.xyxy[:, 1]
    assert (d.xyxy[:, [0, 2]] >= 0).all() and (d.xyxy[:, [0, 2]] <= 1280).all()
    assert (d.xyxy[:, [1, 3]] >= 0).all() and (d.xyxy[:, [1, 3]] <= 720).all()
    # Cars on this overpass view are ~25-200 px wide, with car-like proportions,
    # and on the road: below the horizon (y ~ 170 px), not in the sky.
    assert ((w > 15) & (w < 400) & (h > 10) & (h < 400)).all()
    assert ((w / h > 0.6) & (w / h < 3.0)).all()
    assert (d.center[:, 1] > 170).all()
    # Agnostic NMS: no two kept boxes overlap much.
    x1 = np.maximum(d.xyxy[:, None, 0], d.xyxy[None, :, 0])
    y1 = np.maximum(d.xyxy[:, None, 1], d.xyxy[None, :, 1])
    x2 = np.minimum(d.xyxy[:, None, 2], d.xyxy[None, :, 2])
    y2 = np.minimum(d.xyxy[:, None, 3], d.xyxy[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    iou = inter / (d.area[:, None] + d.area[None, :] - inter)
    np.fill_diagonal(iou, 0)
    assert iou.max() <= detector.nms_iou


@needs_realclips
@pytest.mark.realclips
def test_class_filter_and_batch_on_a_city_frame(detector):
    """At 40 s the city clip shows cars and buses at a bus stop."""
    frames = [read_frame("city_street_a.mp4", t) for t in (20.0, 40.0)]
    one_by_one = [detector.detect(f) for f in frames]
    batched = detector.detect_batch(frames)
    for a, b in zip(one_by_one, batched):
        assert (a.time_s, a.frame_index) == (b.time_s, b.frame_index)
        assert list(a.class_name) == list(b.class_name)
        np.testing.assert_allclose(a.xyxy, b.xyxy, atol=1e-3)
    d = one_by_one[1]
    assert {"car", "bus"} <= set(d.class_name)
    buses_only = CocoDetector(classes=("bus",), threads=1).detect(frames[1])
    assert len(buses_only) >= 1 and set(buses_only.class_name) == {"bus"}
    # Each bus found alone is also among all vehicles (same place, IoU > 0.5).
    for bb in buses_only.xyxy:
        inter_w = np.clip(np.minimum(d.xyxy[:, 2], bb[2]) - np.maximum(d.xyxy[:, 0], bb[0]), 0, None)
        inter_h = np.clip(np.minimum(d.xyxy[:, 3], bb[3]) - np.maximum(d.xyxy[:, 1], bb[1]), 0, None)
        inter = inter_w * inter_h
        iou = inter / (d.area + (bb[2] - bb[0]) * (bb[3] - bb[1]) - inter)
        assert iou.max() > 0.5
