"""The `convoycount` command: a thin shell over the Python API.

It parses options, calls convoycount's functions, prints, and turns every
user-fixable error into one line on stderr with a non-zero exit. Heavy
modules are imported inside the commands, so `--help` and `probe` stay fast
(and never import torch).
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Optional

import typer

from .cli_options import with_analysis_options
from .errors import ConvoyCountError, ConvoyCountWarning

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Check claims about vehicle footage: count distinct vehicles with exact "
                       "timestamps, undo speed-ups, judge claims, and show the evidence.")

@app.callback()
def _global_options(debug: bool = typer.Option(
        False, "--debug", help="On an internal error, print the traceback (it is always saved to a file).")):
    # Read by main() from argv before the app runs; declared here so typer accepts it.
    del debug


EXIT_USER_ERROR = 2
EXIT_INTERNAL = 1


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
          full: bool = typer.Option(False, "--full", help="Decode every frame (finds damage)."),
          camera: bool = typer.Option(False, "--camera", help="Also estimate the camera's motion "
                                      "(max shift, pan, zoom) on frames sampled 6 times a second.")):
    """What a clip really is: codec, size, rotation, nominal vs measured fps, VFR, truncation."""
    from .video import probe as probe_clip
    info = probe_clip(clip, full_decode=full)
    d = info.to_dict()
    if camera:
        from .probe import camera_motion
        moved = camera_motion(clip, info)
        d["camera_motion"] = moved.to_dict()
    if as_json:
        typer.echo(json.dumps(d, indent=2))
        return
    width = max(len(k) for k in d)
    for k, v in d.items():
        if k != "camera_motion":
            typer.echo(f"{k:<{width}}  {v}")
    if camera:
        typer.echo("\n".join(moved.lines()))


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
    _check_outputs(clip, json_out=None if json_out == "-" else json_out, csv_out=csv_out)
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


def _check_outputs(clip: Path, **outputs) -> None:
    """No output may overwrite the input clip or another output (`--json clip.mp4`
    would replace the video with JSON): refused before any work is done."""
    given = {name: Path(p) for name, p in outputs.items() if p}
    seen = {}
    for name, path in given.items():
        option = "--" + name.replace("_out", "")
        if path.is_dir():
            raise ConvoyCountError(f"{option} {path} is a directory; give a file name")
        if _same_file(path, clip):
            raise ConvoyCountError(f"{option} {path} is the input clip; choose another file name")
        for other, other_path in seen.items():
            if _same_file(path, other_path):
                raise ConvoyCountError(f"{option} and {other} are the same file {path}")
        seen[option] = path


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
        return a.resolve() == b.resolve()
    except (OSError, RuntimeError):     # a symlink loop: reading the input says so
        return False


def _register_commands() -> None:
    """Commands that live beside their features (each module imports its heavy
    dependencies only when the command runs)."""
    from .batch.command import batch_command
    from .detect.commands import export_command, train_command
    from .integrity.command import inspect_command
    from .retime.command import retime_command
    from .synth.command import synth_command
    app.command("batch", help="Count every clip in a folder: parallel, resumable, one summary table.")(batch_command)
    app.command("retime", help="Write a copy that plays at real speed (pts x K, audio slowed, "
                               "optional real-time clock).")(retime_command)
    app.command("train", help="Train the project's YOLO vehicle model on synthetic clips (CPU, offline).")(train_command)
    app.command("export", help="Export YOLO weights to ONNX or OpenVINO for faster CPU inference.")(export_command)
    app.command("synth", help="Render a convoy clip with exact ground truth (OUT.truth.json).")(synth_command)
    app.command("inspect", help="Was this clip edited? Loops, cuts, reversed spans, duplicated frames, "
                                "gaps, timestamp breaks.")(inspect_command)


_register_commands()


def main() -> None:
    """Entry point. Exit 0: done. Exit 2: something the user can fix (one line: what
    and how). Exit 1: our bug (one line and the path of the saved traceback; `--debug`
    prints it). Exit 130: interrupted. Never a raw traceback or a raw Python warning."""
    debug = "--debug" in sys.argv[1:]
    with _one_line_warnings():
        try:
            # Without standalone mode click returns a command's exit code instead of exiting.
            sys.exit(app(standalone_mode=False) or 0)
        except ConvoyCountError as e:
            _fail(str(e))
        except typer.Exit as e:
            sys.exit(e.exit_code)
        except (typer.Abort, KeyboardInterrupt):
            _fail("interrupted", 130)
        except Exception as e:
            if _is_usage_error(e):
                if not e.format_message().strip():     # no arguments: help was printed already
                    sys.exit(e.exit_code)
                _fail(e.format_message())
            _internal_error(e, debug)


def _is_usage_error(e: BaseException) -> bool:
    """Typer's parser errors (click's UsageError family, which typer may vendor):
    a bad or missing option is the user's to fix."""
    return hasattr(e, "format_message") and hasattr(e, "exit_code")


def _internal_error(e: BaseException, debug: bool) -> None:
    """Anything we did not anticipate is our bug, not the user's: save the
    traceback where a bug report can attach it, and say where."""
    import tempfile
    import time
    import traceback
    text = "".join(traceback.format_exception(type(e), e, e.__traceback__))
    if debug:
        sys.stderr.write(text)
    where = Path(tempfile.gettempdir()) / f"convoycount-traceback-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
    try:
        # argv may hold a file name that is not valid UTF-8
        where.write_text(f"convoycount {' '.join(sys.argv[1:])}\n{text}", encoding="utf-8",
                         errors="backslashreplace")
        saved = f"traceback saved to {where}"
    except OSError:
        saved = "the traceback could not be saved"
    _fail(f"internal error (a bug in convoycount): {type(e).__name__}: {e} ({saved}; "
          "--debug prints it)", EXIT_INTERNAL)


@contextlib.contextmanager
def _one_line_warnings():
    """Library warnings as one `warning:` line each, once. convoycount's own warnings
    are in the report (and the summary), so they are not printed twice."""
    shown = set()

    def show(message, category, *_args, **_kw):
        if issubclass(category, ConvoyCountWarning):
            return
        line = " ".join(str(message).split())
        if line not in shown:
            shown.add(line)
            sys.stderr.write(f"warning: {line}\n")

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = show
        yield


if __name__ == "__main__":
    main()
