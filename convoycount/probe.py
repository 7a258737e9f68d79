"""`probe --camera`: a cheap look at how the camera moved, before any counting.

A user deciding how to count a clip wants to know first whether it was filmed
from a tripod or a hand: every `analyze` measures the camera on every frame (see
camera/), but that costs a full analysis. Here the same estimator runs on frames
sampled a few times a second, with no detector: corners on vehicles are not
masked, so a convoy filling the view can pull the estimate (RANSAC drops most of
them); the summary is an estimate, the report of a real analysis is the measure.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .camera.estimate import CameraEstimator
from .camera.scene import CameraReport, settle
from .video import ClipInfo, frames

SAMPLES_PER_S = 6.0      # registration follows the camera from keyframes: at 6 samples a
                         # second a pan of one width in 3 s moves ~35 px between samples at
                         # 640 px, well within Lucas-Kanade's pyramid (3 levels of 21 px)


@dataclass(frozen=True)
class CameraProbe:
    """The camera's motion, estimated on sampled frames."""
    sampled_frames: int
    every_s: float                   # about this much clip time between samples
    motion: dict                     # camera.scene.CameraReport.motion(): max shift, pan, zoom
    moved: bool

    def to_dict(self) -> dict:
        return {"sampled_frames": self.sampled_frames, "every_s": round(self.every_s, 3),
                "moved": self.moved, **self.motion}

    def lines(self) -> list:
        m = self.motion
        if not self.moved:
            return [f"camera: fixed (no motion in {self.sampled_frames} frames sampled every "
                    f"{self.every_s:.2f} s)"]
        return [f"camera: moved up to {m['max_shift_px']:.0f} px ({m['max_shift_frac']:.1%} of the "
                f"width); pan x {m['pan_x_px'][0]:.0f}..{m['pan_x_px'][1]:.0f} px, y "
                f"{m['pan_y_px'][0]:.0f}..{m['pan_y_px'][1]:.0f} px; zoom x{m['zoom'][0]:.2f}..x"
                f"{m['zoom'][1]:.2f}; {m['segments']} segment(s) (estimated on "
                f"{self.sampled_frames} frames sampled every {self.every_s:.2f} s)"]


def camera_motion(path, info: ClipInfo, samples_per_s: float = SAMPLES_PER_S) -> CameraProbe:
    """Run the camera estimator over frames sampled `samples_per_s` times a second."""
    if not samples_per_s > 0:
        raise ValueError(f"samples_per_s must be > 0, got {samples_per_s!r}")
    fps = info.fps_measured or info.fps_nominal or 30.0
    stride = max(1, int(round(fps / samples_per_s)))
    est = CameraEstimator()
    size = (info.width, info.height)
    for frame in frames(Path(path), stride=stride):
        est.update(frame, None)
        size = (frame.image.shape[1], frame.image.shape[0])
    if not est.steps:
        raise ValueError(f"{path}: expected decodable frames to sample, got none")
    report = CameraReport(True, *size, steps=settle(est.steps, *size))
    return CameraProbe(len(est.steps), stride / fps, report.motion(), report.moved)
