"""`convoycount train` and `convoycount export`: typer commands for the YOLO path.

Registered by cli.py (`app.command("train")(train_command)`, `app.command("export")(export_command)`).
Heavy imports (ultralytics, torch) happen inside the commands.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional

import typer

from ..errors import ConvoyCountError
from .models import MODELS_DIR, PROJECT_MODEL, resolve_model, user_cache_dir

TRAIN_DIR = MODELS_DIR / "train"
EXPORT_FORMATS = ("onnx", "openvino")
# The Python package each export format needs (ultralytics would try to pip-install it).
EXPORT_NEEDS = {"onnx": "onnx", "openvino": "openvino"}


def train_command(
    data: Path = typer.Option(Path("/tmp/convoy-data"), "--data",
                              help="Dataset folder (rendered here first when it has no data.yaml)."),
    out: Path = typer.Option(MODELS_DIR / PROJECT_MODEL, "--out", help="Where the trained weights go."),
    epochs: int = typer.Option(18, "--epochs", min=1),
    imgsz: int = typer.Option(320, "--imgsz", min=32, help="Training image size (long side)."),
    batch: int = typer.Option(16, "--batch", min=1),
    train_clips: int = typer.Option(150, "--train-clips", min=1, help="Synthetic clips for training (if rendering)."),
    val_clips: int = typer.Option(30, "--val-clips", min=1, help="Synthetic clips for validation (if rendering)."),
    project: Path = typer.Option(Path("/tmp/convoy-train"), "--project", help="ultralytics run folder."),
):
    """Train the vehicle detector on synthetic convoy clips (CPU, offline; see models/convoy-yolo.md)."""
    scripts = TRAIN_DIR / "make_dataset.py", TRAIN_DIR / "train.py"
    if not all(s.is_file() for s in scripts):
        raise ConvoyCountError(f"training scripts not found in {TRAIN_DIR}: `convoycount train` "
                               f"needs a checkout of the convoycount repository")
    env = {**os.environ, "YOLO_OFFLINE": "1"}
    if not (data / "data.yaml").is_file():
        _run([sys.executable, str(scripts[0]), "--out", str(data), "--train-clips", str(train_clips),
              "--val-clips", str(val_clips), "--imgsz", str(imgsz)], env)
    _run([sys.executable, str(scripts[1]), "--data", str(data / "data.yaml"), "--epochs", str(epochs),
          "--imgsz", str(imgsz), "--batch", str(batch), "--out", str(out), "--project", str(project)], env)
    typer.echo(f"wrote {out}")


def _run(cmd: list, env: dict) -> None:
    if subprocess.run(cmd, env=env).returncode != 0:
        raise ConvoyCountError(f"{Path(cmd[1]).name} failed (see its output above)")


def export_command(
    fmt: str = typer.Option("onnx", "--format", help="onnx | openvino."),
    model: Optional[str] = typer.Option(PROJECT_MODEL, "--model", help="YOLO weights (.pt) to export."),
    imgsz: Optional[int] = typer.Option(None, "--imgsz", min=32,
                                        help="Input size (default: the model's own inference size)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output file / folder (default: next to the .pt)."),
):
    """Export YOLO weights for faster CPU inference; use the result with `count --model`."""
    typer.echo(str(export_model(model, fmt=fmt, imgsz=imgsz, out=out)))


def export_model(model: Optional[str] = PROJECT_MODEL, *, fmt: str = "onnx", imgsz: Optional[int] = None,
                 out: Optional[Path] = None) -> Path:
    """Export a .pt model with ultralytics; returns the written file (onnx) or folder
    (openvino). `out` defaults to ultralytics' own name next to the .pt
    (`convoy-yolo.onnx`, `convoy-yolo_openvino_model/`). The export runs on a copy in a
    temporary folder beside `out` and is then moved into place, so an existing export
    is replaced atomically and nothing else next to the .pt is touched."""
    import tempfile
    if fmt not in EXPORT_FORMATS:
        raise ConvoyCountError(f"--format must be one of {', '.join(EXPORT_FORMATS)}, got {fmt!r}")
    if importlib.util.find_spec(EXPORT_NEEDS[fmt]) is None:
        raise ConvoyCountError(f"exporting to {fmt} needs the {EXPORT_NEEDS[fmt]!r} package: "
                               f"pip install {EXPORT_NEEDS[fmt]}")
    resolved = resolve_model(model)
    src = resolved.path
    if src is None:
        raise ConvoyCountError(f"--model {model}: export needs a local .pt file")
    if src.suffix.lower() != ".pt":
        raise ConvoyCountError(f"--model must be a PyTorch .pt file to export, got {src}")
    # Never write into an installed package: a user cache folder keyed by the weights' hash.
    beside = src if resolved.packaged is None else user_cache_dir() / resolved.sha256[:16] / src.name
    if out is None:
        out = beside.with_suffix(".onnx") if fmt == "onnx" else beside.parent / f"{beside.stem}_openvino_model"
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)

    from ultralytics import YOLO
    from .yolo import _ultralytics_logs_to_stderr, pt_inference_imgsz
    with tempfile.TemporaryDirectory(prefix=".export-", dir=out.parent) as tmp:
        copy = Path(tmp) / src.name
        shutil.copyfile(src, copy)
        with _ultralytics_logs_to_stderr():
            yolo = YOLO(str(copy))
            size = imgsz or pt_inference_imgsz(yolo) or 640
            # Fixed batch 1 and fixed size: the fastest graph on CPU; fp32 (fp16 is GPU-only).
            written = Path(yolo.export(format=fmt, imgsz=size, dynamic=False, batch=1,
                                       simplify=importlib.util.find_spec("onnxslim") is not None,
                                       device="cpu", verbose=False))
        if out.is_dir():
            old = Path(tmp) / "previous"
            os.replace(out, old)       # a folder cannot be replaced in one step: swap, then drop
        os.replace(written, out)
    return out
