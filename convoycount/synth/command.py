"""`convoycount synth`: write a synthetic convoy clip and its truth.

Register with `app.command("synth")(synth_command)`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


from ..errors import ConvoyCountError
from .config import SCENARIOS, scenario as make_scenario


def synth_command(
    out: Annotated[Path, typer.Argument(help="Output clip (.mp4); <stem>.truth.json is written beside it.")],
    scenario: Annotated[str, typer.Option(help=f"Preset: {', '.join(SCENARIOS)}.")] = "news_story",
    seed: Annotated[int, typer.Option(help="Random seed: same seed and options, same clip.")] = 0,
    vehicles: Annotated[Optional[int], typer.Option("--vehicles", help="Vehicles that cross the line.")] = None,
    non_crossing: Annotated[Optional[int], typer.Option(help="Extra vehicles that never cross.")] = None,
    speedup: Annotated[Optional[int], typer.Option(help="Keep every K-th real frame (clip = real / K).")] = None,
    duration_real: Annotated[Optional[float], typer.Option(
        "--duration-real", help="Real seconds to cover (default: until the last vehicle left).")] = None,
    width: Annotated[Optional[int], typer.Option(help="Display width, px (even).")] = None,
    height: Annotated[Optional[int], typer.Option(help="Display height, px (even).")] = None,
    fps: Annotated[Optional[float], typer.Option("--fps", help="Real capture rate.")] = None,
    pixels_per_m: Annotated[Optional[float], typer.Option(
        "--pixels-per-m", help="Scene scale of the nearest lane.")] = None,
    lanes: Annotated[Optional[int], typer.Option(help="Number of lanes.")] = None,
    two_way: Annotated[Optional[bool], typer.Option("--two-way/--one-way", help="Traffic both ways.")] = None,
    orientation: Annotated[Optional[str], typer.Option(help="horizontal | vertical traffic.")] = None,
    line: Annotated[Optional[str], typer.Option(
        help="Counting line 'x1,y1,x2,y2', normalised display coordinates.")] = None,
    stop_and_go: Annotated[Optional[float], typer.Option(help="Share of vehicles that stop once.")] = None,
    overlap: Annotated[Optional[bool], typer.Option("--overlap/--no-overlap", help="Lanes occlude.")] = None,
    rotation: Annotated[Optional[int], typer.Option(help="Display rotation tag: 0, 90, 180, 270.")] = None,
    vfr: Annotated[Optional[bool], typer.Option("--vfr/--cfr", help="Variable frame rate.")] = None,
    clock: Annotated[Optional[bool], typer.Option("--clock/--no-clock", help="Burn the real time in.")] = None,
    audio: Annotated[Optional[bool], typer.Option("--audio/--no-audio", help="Add a tone track.")] = None,
    shake: Annotated[Optional[float], typer.Option("--shake", help="Camera shake amplitude, px.")] = None,
    noise: Annotated[Optional[float], typer.Option("--noise", help="Sensor noise sigma, grey levels.")] = None,
    crf: Annotated[Optional[int], typer.Option(help="x264 quality (0-51, lower is better).")] = None,
    look: Annotated[Optional[str], typer.Option(
        help="Drawing style: standard (what models/convoy-yolo.pt trained on) | flat | haze (held out).")] = None,
    edit: Annotated[Optional[str], typer.Option(
        "--edit", help="Edit the clip as a forger would: loop | cut | reverse | dup | gap | speed "
                       "(the truth file records it exactly).")] = None,
    hand_shake: Annotated[Optional[float], typer.Option(help="Moving camera: handheld shake, "
                                                              "share of the width (e.g. 0.03).")] = None,
    pan: Annotated[Optional[float], typer.Option(help="Moving camera: pan after the column, "
                                                      "in frame widths (e.g. 0.8).")] = None,
    zoom: Annotated[Optional[float], typer.Option(help="Moving camera: zoom reached (1-2).")] = None,
    parked: Annotated[Optional[int], typer.Option(help="Moving camera: parked vehicles beside the line.")] = None,
    window: Annotated[Optional[float], typer.Option(help="Moving camera: through a window (0-0.4).")] = None,
) -> None:
    """Generate a synthetic convoy clip with exact ground truth."""
    overrides = {k: v for k, v in dict(
        n_vehicles=vehicles, non_crossing=non_crossing, speedup=speedup, duration_real_s=duration_real,
        width=width, height=height, real_fps=fps, pixels_per_m=pixels_per_m, lanes=lanes, two_way=two_way,
        orientation=orientation,
        stop_and_go=stop_and_go, overlap=overlap, rotation=rotation, vfr=vfr, clock=clock, audio=audio,
        shake_px=shake, noise_sigma=noise, crf=crf, look=look).items() if v is not None}
    if line is not None:
        overrides["line"] = _parse_line(line)
    try:
        cfg = make_scenario(scenario, seed=seed, **overrides)
    except ValueError as e:        # the scene's own checks: a value the user typed
        raise ConvoyCountError(str(e)) from None
    truth = _write(out, cfg, edit, dict(shake_frac=hand_shake, pan_frac=pan, zoom=zoom,
                                        parked=parked, window=window))
    typer.echo(f"{out}: {len(truth.vehicles)} vehicles, {truth.total_crossing} crossing, "
               f"{truth.frames} frames, {truth.duration_s:.2f} s clip (x{truth.speedup}); truth "
               f"{out.with_name(out.stem + '.truth.json')}"
               + (f"; edit {edit}: {truth.edit['finding']}" if edit else ""))


def _parse_line(line: str) -> tuple:
    try:
        return tuple(float(p) for p in line.split(","))
    except ValueError:
        raise ConvoyCountError(f"--line must be four numbers 'x1,y1,x2,y2', got {line!r}") from None


def _write(out: Path, cfg, edit: Optional[str], moving: dict):
    """Render and encode the clip (with a moving camera when `moving` has settings)."""
    moving = {k: v for k, v in moving.items() if v is not None}
    if moving and edit is not None:
        raise ConvoyCountError("--edit and a moving camera (--hand-shake/--pan/--zoom/--parked/"
                               "--window) cannot be combined yet")
    if moving:
        from .camera import CameraMove, generate_moving
        return generate_moving(out, cfg, CameraMove(**moving))
    from .encode import generate   # PyAV only when we actually encode
    return generate(out, cfg, edit=edit)
