"""Command-line options shared by `count` and `batch`, declared once.

Each is an `Annotated` type for typer, so both commands spell, document and
parse them identically."""
from __future__ import annotations

from typing import Optional

import typer
from typing_extensions import Annotated

Start = Annotated[Optional[float], typer.Option("--start", help="Analyse from this clip time (s).")]
End = Annotated[Optional[float], typer.Option("--end", help="Analyse up to this clip time (s).")]
Detector = Annotated[str, typer.Option("--detector", help="motion | coco | yolo | auto.")]
Model = Annotated[Optional[str], typer.Option("--model", help="Weights for the yolo/coco detector.")]
Imgsz = Annotated[Optional[int], typer.Option("--imgsz", help="Detector input size (yolo, coco).")]
Device = Annotated[Optional[str], typer.Option("--device", help="yolo: cpu (default) or cuda.")]
Stride = Annotated[int, typer.Option(
    "--stride", min=1, help="Detect on every Nth frame only (N times fewer detector calls; "
                            "times stay exact, from each frame's own timestamp).")]
Classes = Annotated[Optional[str], typer.Option(
    "--classes", help="Only these classes, comma-separated, e.g. car,truck,bus (yolo, coco).")]
Conf = Annotated[Optional[float], typer.Option("--conf", help="Detector confidence threshold.")]
Line = Annotated[Optional[str], typer.Option(
    "--line", help="Counting line x1,y1,x2,y2 in 0..1 (default: across the main flow).")]
Speedup = Annotated[Optional[str], typer.Option(
    "--speedup", help="The clip plays K times faster than reality; 'auto' estimates K.")]
RealDuration = Annotated[Optional[float], typer.Option(
    "--real-duration", help="The filmed event really lasted S seconds.")]
Claim = Annotated[Optional[str], typer.Option(
    "--claim", help='A claim to judge, e.g. "nine vehicles in 10 seconds".')]
ClaimBasis = Annotated[Optional[str], typer.Option(
    "--claim-basis", help="clip | real (default: real when a speed-up is known).")]


def parse_classes(text: Optional[str]) -> Optional[tuple]:
    """--classes "car, truck" -> ("car", "truck"); None stays None."""
    return tuple(c.strip() for c in text.split(",") if c.strip()) if text else None
