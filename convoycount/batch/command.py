"""`convoycount batch DIR -o OUT`: the CLI shell over run_batch().

Registered by cli.py with `app.command("batch")(batch_command)`. Imports stay inside
the function so `convoycount --help` (and every spawned worker, which re-imports
the CLI module) stays light.
"""
from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Optional

import typer

from ..cli_options import with_analysis_options


@with_analysis_options
def batch_command(
    folder: Path = typer.Argument(..., help="Folder of clips (videos are found by content, not only by extension)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder: one sub-folder per clip, summary.csv, summary.json."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", help="Clips analysed at once (default: CPU count)."),
    claims: Optional[Path] = typer.Option(None, "--claims", help="CSV with columns file (or sha256) and claim: each clip's own caption."),
    glob: Optional[str] = typer.Option(None, "--glob", help="Only files whose name or relative path matches, e.g. '*.mp4'."),
    recursive: bool = typer.Option(False, "--recursive", "-r", help="Also look in sub-folders."),
    timeout: Optional[float] = typer.Option(None, "--timeout", help="Give up on a clip after S seconds (its analysis is killed)."),
    evidence: bool = typer.Option(False, "--evidence", help="Also write each clip's evidence files."),
    executor: str = typer.Option("local", "--executor", help="local (processes on this machine) | ray."),
    address: Optional[str] = typer.Option(None, "--address", help="Ray cluster address (default: start a local Ray instance)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar and no summary line."),
    options=None,
):
    """Count every clip in a folder in parallel; resumable, one failed row per broken file."""
    from .run import run_batch

    with _ProgressBar(enabled=not quiet and sys.stderr.isatty()) as bar:
        summary = run_batch(
            folder, out, jobs=jobs, claims=claims, glob=glob, recursive=recursive,
            timeout_s=timeout, evidence=evidence, executor=executor, address=address,
            progress=bar.update if bar.enabled else None,
            command_line=" ".join(shlex.quote(a) for a in sys.argv), options=options)
    if not quiet:
        typer.echo(summary.line(), err=True)
    if summary.any_failed:
        # The run finished, but not every file could be counted. sys.exit rather than
        # typer.Exit: cli.main() runs the app with standalone_mode=False, where click
        # returns an Exit's code instead of exiting with it.
        sys.exit(1)


class _ProgressBar:
    """A rich bar over clips with ETA, only on a terminal."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._progress = None
        self._task = None

    def __enter__(self) -> "_ProgressBar":
        if self.enabled:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)
            self._progress = Progress(TextColumn("batch"), BarColumn(), MofNCompleteColumn(),
                                      TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                                      TextColumn("{task.description}"), transient=True)
            self._progress.__enter__()
        return self

    def update(self, event) -> None:
        if self._progress is None:
            return
        if self._task is None:
            self._task = self._progress.add_task("", total=event.total)
        if event.kind == "done":
            self._progress.update(self._task, completed=event.done, description=event.path)
        else:
            self._progress.update(self._task, description=event.path)

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)
