"""`generate()`: render a config to an H.264 .mp4 with exact per-frame pts, plus its truth.

Timestamps: the stream AND codec time base are 1/90000 and every frame carries its own
pts, so variable frame rates survive exactly (with only `rate` set, PyAV would
quantise pts to 1/rate). Packet durations are set explicitly (next pts - pts; the
last frame lasts 1/real_fps) so the container's duration is what the truth says.

Rotation: pixels are stored rotated counter-clockwise by `rotation` degrees and the
container's display matrix tells players to turn them back (clockwise by `rotation`),
written with PyAV's `set_display_rotation(-rotation)` (its angle is counter-clockwise).
"""
from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import ConvoyCountError
from .config import SynthConfig
from .plan import PTS_HZ, build_plan
from .render import render_plan
from .truth import Truth, truth_path

TIME_BASE = Fraction(1, PTS_HZ)
AUDIO_RATE_HZ = 48000


def generate(out_path, config: SynthConfig, edit: Optional[str] = None) -> Truth:
    """Render `config` to `out_path` (.mp4) and write `<stem>.truth.json` beside it.
    Both files are written atomically. Returns the truth. `edit` (see synth.edit:
    loop | reverse | dup | gap | cut) re-arranges the rendered frames and records
    the edit's exact truth."""
    import av   # heavy-ish import only when encoding

    out = Path(out_path)
    if out.suffix.lower() != ".mp4":
        raise ConvoyCountError(f"synth output must be an .mp4 file, got {str(out)!r}")
    if not isinstance(config, SynthConfig):
        raise ConvoyCountError(f"generate() needs a SynthConfig, got {type(config).__name__}")
    out.parent.mkdir(parents=True, exist_ok=True)
    plan = build_plan(config)
    truth, pictures = plan.truth, None
    if edit is not None:
        from .edit import apply_edit
        try:
            pictures, pts, truth = apply_edit(plan, edit, render_plan, build_plan)
        except ValueError as e:
            raise ConvoyCountError(str(e)) from None
        pictures = (pictures, pts)
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.tmp.mp4")
    try:
        _encode(plan, tmp, av, pictures)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    truth.write_json(truth_path(out))
    return truth


def _encode(plan, path: Path, av, edited=None) -> None:
    """Encode the plan's rendered frames, or `edited` = (pictures, pts) instead."""
    cfg = plan.config
    rot = cfg.rotation
    stored_w, stored_h = (cfg.width, cfg.height) if rot in (0, 180) else (cfg.height, cfg.width)
    if edited is None:
        pts = [int(p) for p in plan.frame_pts]
        pictures = ((f.index, f.clip_time_s, f.image) for f in render_plan(plan))
    else:
        pts = edited[1]
        pictures = ((j, p / PTS_HZ, img) for j, (img, p) in enumerate(zip(*edited)))
    last_dur = int(round(PTS_HZ / cfg.real_fps))
    durations = {p: (pts[i + 1] - p if i + 1 < len(pts) else last_dur) for i, p in enumerate(pts)}
    with av.open(str(path), "w", format="mp4") as container:
        vs = container.add_stream("libx264", rate=Fraction(cfg.real_fps).limit_denominator(100000))
        vs.width, vs.height, vs.pix_fmt = stored_w, stored_h, "yuv420p"
        vs.time_base = TIME_BASE
        vs.codec_context.time_base = TIME_BASE
        vs.options = {"crf": str(cfg.crf), "preset": cfg.x264_preset}
        if rot:
            vs.set_display_rotation(-rot if rot != 270 else 90)    # counter-clockwise degrees
        audio = _Tone(container, cfg, pts[-1] / PTS_HZ + 1.0 / cfg.real_fps - pts[0] / PTS_HZ, pts[0] / PTS_HZ) \
            if cfg.audio else None

        def mux(packets):
            for pk in packets:
                if pk.pts is not None and pk.pts in durations:
                    pk.duration = durations[pk.pts]
                container.mux(pk)

        for index, clip_time_s, image in pictures:
            img = np.ascontiguousarray(np.rot90(image, k=rot // 90)) if rot else image
            vf = av.VideoFrame.from_ndarray(img, format="bgr24")
            vf.pts = pts[index]
            vf.time_base = TIME_BASE
            mux(vs.encode(vf))
            if audio is not None:
                audio.write_until(clip_time_s + 0.25)
        mux(vs.encode(None))
        if audio is not None:
            audio.finish()


class _Tone:
    """A quiet tone with a soft 1 Hz pulse, mono AAC, covering the video's span."""

    def __init__(self, container, cfg: SynthConfig, duration_s: float, start_s: float):
        import av
        self.av = av
        self.container = container
        self.stream = container.add_stream("aac", rate=AUDIO_RATE_HZ, layout="mono")
        self.stream.time_base = Fraction(1, AUDIO_RATE_HZ)
        self.freq = cfg.audio_tone_hz
        self.start = int(round(start_s * AUDIO_RATE_HZ))
        self.total = int(round(duration_s * AUDIO_RATE_HZ))
        self.done = 0
        self.frame_size = 1024

    def write_until(self, clip_s: float) -> None:
        target = min(self.total, int(clip_s * AUDIO_RATE_HZ) - self.start)
        while self.done < target:
            n = min(self.frame_size, self.total - self.done)
            t = (self.start + self.done + np.arange(n)) / AUDIO_RATE_HZ
            x = 0.15 * np.sin(2 * np.pi * self.freq * t) * (0.75 + 0.25 * np.cos(2 * np.pi * t))
            fr = self.av.AudioFrame.from_ndarray(x.astype(np.float32)[None, :], format="fltp", layout="mono")
            fr.sample_rate = AUDIO_RATE_HZ
            fr.pts = self.start + self.done
            fr.time_base = Fraction(1, AUDIO_RATE_HZ)
            for pk in self.stream.encode(fr):
                self.container.mux(pk)
            self.done += n

    def finish(self) -> None:
        self.write_until(self.total / AUDIO_RATE_HZ + self.start / AUDIO_RATE_HZ + 1)
        for pk in self.stream.encode(None):
            self.container.mux(pk)
