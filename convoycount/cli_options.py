"""The analysis options on the command line, declared once for `count` and `batch`.

`with_analysis_options(command)` adds the shared options (--detector, --line,
--speedup, --claim, ...) to a typer command and hands it one checked
`AnalysisOptions` as its `options` argument, so both commands spell, document,
parse and check them identically, and neither lists them again.
"""
from __future__ import annotations

import functools
import inspect
import typing
from typing import Optional

import typer
from typing_extensions import Annotated

from .limits import DEFAULT_MAX_DURATION_S, DEFAULT_MAX_PIXELS


def _shared(
    start: Annotated[Optional[float], typer.Option("--start", help="Analyse from this clip time (s).")] = None,
    end: Annotated[Optional[float], typer.Option("--end", help="Analyse up to this clip time (s).")] = None,
    detector: Annotated[str, typer.Option("--detector", help="motion | coco | yolo | auto.")] = "motion",
    model: Annotated[Optional[str], typer.Option("--model", help="Weights for the yolo/coco detector.")] = None,
    conf: Annotated[Optional[float], typer.Option("--conf", help="Detector confidence threshold.")] = None,
    imgsz: Annotated[Optional[int], typer.Option("--imgsz", help="Detector input size (yolo, coco).")] = None,
    device: Annotated[Optional[str], typer.Option("--device", help="yolo: cpu (default) or cuda.")] = None,
    classes: Annotated[Optional[str], typer.Option(
        "--classes", help="Only these classes, comma-separated, e.g. car,truck,bus (yolo, coco).")] = None,
    trust_model: Annotated[bool, typer.Option(
        "--trust-model", help="yolo: load a .pt from outside models/ and ultralytics' weights folder "
                              "(a .pt is a pickle: loading it runs code).")] = False,
    stride: Annotated[int, typer.Option(
        "--stride", min=1, help="Detect on every Nth frame only (N times fewer detector calls; "
                                "times stay exact, from each frame's own timestamp).")] = 1,
    adaptive_stride: Annotated[bool, typer.Option(
        "--adaptive-stride/--every-frame", help="With a given --line, a learned detector (yolo, coco) "
                                               "skips frames where every vehicle is predictable and "
                                               "none is near the line (default: on; counts and times "
                                               "as on every frame).")] = True,
    line: Annotated[Optional[str], typer.Option(
        "--line", help="Counting line x1,y1,x2,y2 in 0..1 (default: across the main flow).")] = None,
    line_at: Annotated[Optional[float], typer.Option(
        "--line-at", help="Place --line as it lies in the frame at this clip time (s); with a "
                          "moving camera the line stays fixed in the scene from there.")] = None,
    camera: Annotated[bool, typer.Option(
        "--camera/--no-camera", help="Measure camera motion (shake, pan, zoom) and count in scene "
                                     "coordinates (default: on).")] = True,
    speedup: Annotated[Optional[str], typer.Option(
        "--speedup", help="The clip plays K times faster than reality; 'auto' estimates K.")] = None,
    real_duration: Annotated[Optional[float], typer.Option(
        "--real-duration", help="The filmed event really lasted S seconds.")] = None,
    claim: Annotated[Optional[str], typer.Option(
        "--claim", help='A claim to judge, e.g. "nine vehicles in 10 seconds" '
                        '(batch: --claims gives clips their own).')] = None,
    claim_basis: Annotated[Optional[str], typer.Option(
        "--claim-basis", help="clip | real (default: real when a speed-up is known).")] = None,
    integrity: Annotated[bool, typer.Option(
        "--integrity/--no-integrity", help="Look for edits (loops, cuts, reversed spans, duplicated "
                                           "frames, gaps) while decoding (default: on).")] = True,
    max_pixels: Annotated[int, typer.Option(
        "--max-pixels", help="Refuse clips whose header declares more pixels per frame "
                             "(checked before decoding; 8192x8192 by default).")] = DEFAULT_MAX_PIXELS,
    max_duration: Annotated[float, typer.Option(
        "--max-duration", help="Refuse clips whose timestamps span more seconds "
                               "(6 h by default).")] = DEFAULT_MAX_DURATION_S,
):
    """The shared options; its signature is what typer reads."""


def _to_options(start, end, detector, model, conf, imgsz, device, classes, trust_model, stride,
                adaptive_stride, line, line_at, camera, speedup, real_duration, claim, claim_basis, integrity,
                max_pixels, max_duration):
    from .options import AnalysisOptions
    return AnalysisOptions.from_keywords(
        start_s=start, end_s=end, detector=detector, model=model, conf=conf, imgsz=imgsz,
        device=device, classes=classes, trust_model=trust_model, stride=stride,
        adaptive_stride=adaptive_stride, line=line,
        line_at_s=line_at, camera=camera, speedup=speedup, real_duration_s=real_duration, claim=claim, claim_basis=claim_basis,
        integrity=integrity, max_pixels=max_pixels, max_duration_s=max_duration)


def _resolved(func) -> list:
    """func's parameters with their annotations evaluated (this module and cli.py
    use postponed annotations; typer needs the real `Annotated` objects)."""
    hints = typing.get_type_hints(func, include_extras=True)
    return [p.replace(annotation=hints.get(p.name, p.annotation))
            for p in inspect.signature(func).parameters.values()]


_SHARED = _resolved(_shared)
_NAMES = [p.name for p in _SHARED]


def with_analysis_options(command):
    """Decorate a command whose last parameter is `options` (an AnalysisOptions):
    typer sees the command's own parameters followed by the shared ones."""
    own = [p for p in _resolved(command) if p.name != "options"]

    @functools.wraps(command)
    def wrapper(**kw):
        shared = {n: kw.pop(n) for n in _NAMES}
        return command(options=_to_options(**shared), **kw)

    params = own + _SHARED
    wrapper.__signature__ = inspect.Signature(params)
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    del wrapper.__wrapped__          # typer must read this signature, not the command's
    return wrapper
