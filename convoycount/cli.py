"""The `convoycount` command: a thin shell over the Python API.

It parses options, calls convoycount's functions, prints, and turns every
user-fixable error into one line on stderr with a non-zero exit. Heavy
modules are imported inside the commands, so `--help` and `probe` stay fast
(and never import torch).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

import typer

from .cli_options import with_analysis_options
from .errors import ConvoyCountError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Check claims about vehicle footage: count distinct vehicles with exact "
                       "timestamps, undo speed-ups, judge claims, and show the evidence.")

EXIT_USER_ERROR = 2
EXIT_INTERNAL = 3


def _fail(message: str, code: int = EXIT_USER_ERROR) -> None:
    # One line, always: a clip name with a newline must not break it.
    typer.echo(f"error: {' '.join(str(message).split())}", err=True)
    sys.exit(code)


def _progress_bar(enabled: bool):
    """A rich progress bar on a terminal; nothing when piped or asked to be quiet."""
    import contextlib
    if not enabled or not sys.stderr.isatty():
        return contextlib.nullcontext(None)
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
    return Progress(TextColumn("{task.description}"), BarColumn(),
                    TextColumn("{task.percentage:>3.0f}%"), TimeRemainingColumn(),
                    transient=True, console=None)


@app.command()
def probe(clip: Path = typer.Argument(..., help="Video file."),
          as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
          full: bool = typer.Option(False, "--full", help="Decode every frame (finds damage).")):
    """What a clip really is: codec, size, rotation, nominal vs measured fps, VFR, truncation."""
    from .video import probe as probe_clip
    info = probe_clip(clip, full_decode=full)
    if as_json:
        typer.echo(json.dumps(info.to_dict(), indent=2))
        return
    d = info.to_dict()
    width = max(len(k) for k in d)
    for k, v in d.items():
        typer.echo(f"{k:<{width}}  {v}")


@app.command()
@with_analysis_options
def count(
    clip: Path = typer.Argument(..., help="Video file."),
    json_out: Optional[str] = typer.Option(None, "--json", help="Write the report as JSON to FILE ('-' = stdout)."),
    csv_out: Optional[Path] = typer.Option(None, "--csv", help="Write one row per counted vehicle to FILE."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Write the evidence to DIR: report.html, annotated.mp4, contact sheet, timeline, tracks.txt, report.json, events.csv."),
    no_video: bool = typer.Option(False, "--no-video", help="With --out: skip annotated.mp4 (the slow part)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No summary, no progress bar."),
    options=None,
):
    """Count distinct vehicles crossing a line, with clip and real time for each."""
    from .pipeline import analyze
    if out_dir:
        from .evidence import check_out_dir
        check_out_dir(out_dir)   # fail before the long analysis, not after
    with _progress_bar(not quiet) as bar:
        task = bar.add_task(clip.name, total=1.0) if bar else None
        report = analyze(clip, options,
                         progress=(lambda f: bar.update(task, completed=f)) if bar else None)
    if json_out == "-":
        sys.stdout.write(report.to_json())
    elif json_out:
        report.write_json(json_out)
    if csv_out:
        report.write_csv(csv_out)
    if out_dir:
        import shlex
        from .evidence import write_evidence
        with _progress_bar(not quiet) as bar:
            task = bar.add_task("evidence", total=1.0) if bar else None
            write_evidence(report, out_dir, command_line=shlex.join(["convoycount", *sys.argv[1:]]),
                           progress=(lambda f: bar.update(task, completed=f)) if bar else None,
                           annotate=not no_video)
    if not quiet:
        typer.echo(report.summary(), err=json_out == "-")
        if out_dir:
            typer.echo(f"evidence: {out_dir / 'report.html'}", err=json_out == "-")


def _register_commands() -> None:
    """Commands that live beside their features (each module imports its heavy
    dependencies only when the command runs)."""
    from .batch.command import batch_command
    from .detect.commands import export_command, train_command
    from .retime.command import retime_command
    from .synth.command import synth_command
    app.command("batch", help="Count every clip in a folder: parallel, resumable, one summary table.")(batch_command)
    app.command("retime", help="Write a copy that plays at real speed (pts x K, audio slowed, "
                               "optional real-time clock).")(retime_command)
    app.command("train", help="Train the project's YOLO vehicle model on synthetic clips (CPU, offline).")(train_command)
    app.command("export", help="Export YOLO weights to ONNX or OpenVINO for faster CPU inference.")(export_command)
    app.command("synth", help="Render a convoy clip with exact ground truth (OUT.truth.json).")(synth_command)


_register_commands()


def main() -> None:
    """Entry point: run the app; user errors become one line, never a traceback."""
    try:
        # Without standalone mode click returns a command's exit code instead of exiting.
        sys.exit(app(standalone_mode=False) or 0)
    except (ConvoyCountError, ValueError) as e:
        # The library raises ValueError (ConvoyCountError is one) for anything the
        # user can fix: expected vs actual, in one line.
        _fail(str(e))
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        _fail("interrupted", 130)
    except Exception as e:   # usage errors from typer's parser, and anything unexpected
        if hasattr(e, "format_message") and hasattr(e, "exit_code"):   # click's UsageError family
            if not e.format_message().strip():     # no arguments: help was printed already
                sys.exit(e.exit_code)
            _fail(e.format_message())
        if os.environ.get("CONVOYCOUNT_DEBUG"):
            raise
        _fail(f"internal error: {type(e).__name__}: {e} (set CONVOYCOUNT_DEBUG=1 for the traceback)",
              EXIT_INTERNAL)


if __name__ == "__main__":
    main()
