"""`convoycount inspect CLIP [--json FILE]`: was this clip edited?

Runs the analysis (the reversed-in-place test needs the vehicles' tracks; the
other tests need only the frames, decoded once) and prints the integrity
findings, with the count as played and of distinct vehicles.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer


def inspect_command(
    clip: Annotated[Path, typer.Argument(help="Video file.")],
    json_out: Annotated[Optional[str], typer.Option(
        "--json", help="Write the integrity findings as JSON to FILE ('-' = stdout).")] = None,
    detector: Annotated[str, typer.Option("--detector", help="motion | coco | yolo | auto (for the tracks).")] = "motion",
) -> None:
    """Look for edits: loops, cuts, reversed spans, duplicated frames, gaps, timestamp breaks."""
    import warnings

    from ..errors import ConvoyCountWarning
    from ..pipeline import analyze
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvoyCountWarning)   # they are in the output below
        report = analyze(clip, detector=detector, integrity=True)
    doc = {"input": str(clip), "count": {"total": report.total, "distinct": report.distinct},
           "integrity": report.integrity.to_dict(), "warnings": list(report.warnings)}
    if json_out == "-":
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    elif json_out:
        from ..io import write_text
        write_text(json_out, json.dumps(doc, indent=2) + "\n")
    if json_out != "-":
        for line in report.integrity.summary_lines():
            typer.echo(line)
        typer.echo(f"crossings as played: {report.total}; distinct vehicles: {report.distinct}")
