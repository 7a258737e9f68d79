"""`convoycount retime CLIP -o OUT (--speedup K | --speedup auto | --real-duration S) [--clock]`.

Registered by cli.py as `app.command("retime")(retime_command)`. Only typer is
imported here; the work (and ffmpeg, PyAV) is imported when the command runs.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def retime_command(
    clip: Path = typer.Argument(..., help="Video file that plays faster (or slower) than reality."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write the real-speed copy "
                                "(.mp4, .mov, .m4v or .mkv)."),
    speedup: Optional[str] = typer.Option(None, "--speedup", help="The clip plays K times faster "
                                          "than reality; 'auto' estimates K (metadata, vehicle "
                                          "speeds, a burned-in clock)."),
    real_duration: Optional[float] = typer.Option(None, "--real-duration", help="The filmed event "
                                                  "really lasted S seconds (K = S / clip duration)."),
    clock: bool = typer.Option(False, "--clock", help="Burn a real-time clock (elapsed since the "
                               "first frame) into the picture (re-encodes the video)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing on success."),
):
    """Write a copy that plays at real speed: timestamps x K (every frame kept, in order),
    audio slowed with its pitch kept, optionally a real-time clock in the picture."""
    from ..pipeline import estimate_speedup
    from .writer import run_retime
    res = run_retime(clip, output, speedup=speedup, real_duration_s=real_duration, clock=clock,
                     estimate=estimate_speedup)
    if quiet:
        return
    how = "given"
    if res.time_map is not None:
        tm = res.time_map
        how = f"estimated from {tm.source}"
        if tm.interval is not None:
            how += f", 95 % interval \u00d7{tm.interval[0]:.3g}\u2013{tm.interval[1]:.3g}"
    elif real_duration is not None:
        how = f"from --real-duration {real_duration:g} s"
    typer.echo(f"wrote {res.path}: \u00d7{res.speedup:.4g} ({how}); clip {res.clip_duration_s:.3f} s "
               f"-> real {res.real_duration_s:.3f} s"
               + (f"; clock drawn with {res.clock_renderer}" if res.clock_renderer else ""))
