"""Speed-up from what the file says about its own capture rate.

Two kinds of evidence, read with PyAV (container and stream metadata):

1. A capture-rate tag. Android's camera writes `com.android.capture.fps` into
   the MP4 user data (`moov/udta/meta`, an mdta key, float32) for slow-motion
   and time-lapse recordings: the rate the sensor captured at, while the file
   plays at the rate of its timestamps. Other tools write similar keys
   (`capture_fps`, `capture-frame-rate`, ...); any key matching
   `capture[._-]?(fps|frame[._-]?rate)` counts. Direction:

       K = playback fps (from the frame timestamps) / capture fps

   a time-lapse captured at 2 fps and played at 30 fps has K = 15 (one clip
   second shows 30 frames = 15 real seconds); an Android slow-motion clip
   captured at 240 fps and stored at 30 fps has K = 1/8; a 240 fps clip stored
   at 240 fps (also common) has K = 1. Apple's QuickTime keys are recorded as
   evidence but not used: `com.apple.quicktime.full-frame-rate-playback-intent`
   is 0 for normal and slow-motion clips alike, and iPhone time-lapses carry no
   capture-rate key.

2. An encoder-rate mismatch: the H.264/HEVC bitstream keeps the frame rate the
   encoder was given (VUI timing info, `codec_context.framerate`); a remux that
   rescales the timestamps (`ffmpeg -itsscale`, MP4Box `-fps`) leaves it
   behind, so K = timestamp fps / bitstream fps. Weak evidence: many writers
   put a time base there (90000), VFR phones put nothing useful, so it is used
   only when the bitstream rate is a plausible frame rate, and it is the least
   trusted estimate. Clips written by `convoycount retime` carry the tag
   `convoycount.retime.speedup` and a stale bitstream rate on purpose (stream
   copy), so the mismatch is ignored for them.
"""
from __future__ import annotations

import math
import re
from typing import Optional

from .estimate import TRUST_RATE_MISMATCH, TRUST_TAG, Estimate

CAPTURE_KEY = re.compile(r"capture[._-]?(fps|frame[._-]?rate)", re.I)
APPLE_PREFIX = "com.apple.quicktime."
RETIME_TAG = "convoycount.retime.speedup"

TAG_REL_TOL = 0.02          # capture rates are nominal; timestamps jitter (VFR phones)
MISMATCH_MIN_RATIO = 1.05   # below this a bitstream/timestamp rate difference is just rounding
MISMATCH_REL_TOL = 0.05
PLAUSIBLE_FPS = (1.0, 300.0)


def _float(value) -> Optional[float]:
    try:
        v = float(str(value).strip().split()[0])
    except (ValueError, IndexError):
        return None
    return v if math.isfinite(v) and v > 0 else None


def read_tags(path) -> tuple[dict, dict, Optional[float]]:
    """(container metadata, video-stream metadata, bitstream frame rate or None)."""
    import av
    with av.open(str(path), mode="r", metadata_errors="ignore") as c:
        fmt = dict(c.metadata or {})
        vs = next((s for s in c.streams.video if not s.disposition & 1024), None)
        stream_md = dict(vs.metadata or {}) if vs is not None else {}
        rate = None
        if vs is not None and vs.codec_context is not None:
            fr = vs.codec_context.framerate
            rate = float(fr) if fr else None
    return fmt, stream_md, rate


def estimate_metadata(path, info) -> list[Estimate]:
    """[tag estimate, rate-mismatch estimate]: each with K or with the reason it has none."""
    try:
        fmt, stream_md, codec_fps = read_tags(path)
    except Exception as e:      # unreadable metadata must not stop the other estimators
        reason = f"could not read metadata: {type(e).__name__}: {e}"
        return [Estimate.none("metadata", "capture_rate_tag", reason)]
    playback = float(info.fps_measured or 0.0)
    tags = {**{f"format:{k}": v for k, v in fmt.items()},
            **{f"stream:{k}": v for k, v in stream_md.items()}}
    apple = {k: v for k, v in tags.items() if k.split(":", 1)[1].startswith(APPLE_PREFIX)
             and any(w in k.lower() for w in ("rate", "fps", "slow", "lapse", "playback"))}
    return [_from_tag(tags, playback, apple), _from_rate_mismatch(tags, playback, codec_fps, info)]


def _from_tag(tags: dict, playback: float, apple: dict) -> Estimate:
    found = [(k, v) for k, v in tags.items() if CAPTURE_KEY.search(k.split(":", 1)[1])]
    extra = {"apple_keys": apple} if apple else {}
    if not found:
        return Estimate.none("metadata", "capture_rate_tag", "no capture-rate tag in the file", **extra)
    key, raw = found[0]
    capture = _float(raw)
    if capture is None:
        return Estimate.none("metadata", "capture_rate_tag",
                             f"tag {key}={raw!r} is not a positive number", tag=key, **extra)
    if not playback > 0:
        return Estimate.none("metadata", "capture_rate_tag",
                             "the clip has no measurable frame rate to compare the tag with",
                             tag=key, value=str(raw), **extra)
    k = playback / capture
    return Estimate(source="metadata", method="capture_rate_tag", speedup=k,
                    interval=(k / (1 + TAG_REL_TOL), k * (1 + TAG_REL_TOL)), trust=TRUST_TAG,
                    evidence={"tag": key, "value": str(raw), "capture_fps": capture,
                              "playback_fps": round(playback, 4),
                              "rule": "K = playback fps (timestamps) / capture fps", **extra})


def _from_rate_mismatch(tags: dict, playback: float, codec_fps: Optional[float], info) -> Estimate:
    method = "encoder_rate_mismatch"
    retimed = next((v for k, v in tags.items() if k.lower().endswith(RETIME_TAG)), None)  # MKV: upper case
    if retimed is not None:
        return Estimate.none("metadata", method, "written by convoycount retime (bitstream rate is "
                             "stale on purpose)", retime_tag=str(retimed))
    if codec_fps is None:
        return Estimate.none("metadata", method, "the bitstream states no frame rate")
    if not PLAUSIBLE_FPS[0] <= codec_fps <= PLAUSIBLE_FPS[1]:
        return Estimate.none("metadata", method,
                             f"bitstream rate {codec_fps:g} is a time base, not a frame rate")
    if not playback > 0 or info.frames < 10:
        return Estimate.none("metadata", method, "too few frames to measure the timestamp rate")
    ratio = playback / codec_fps
    detail = {"bitstream_fps": round(codec_fps, 4), "playback_fps": round(playback, 4)}
    if info.vfr or 1 / MISMATCH_MIN_RATIO < ratio < MISMATCH_MIN_RATIO:
        why = ("variable frame rate: the bitstream rate is only nominal" if info.vfr else
               "bitstream and timestamp rates agree (says nothing about the capture rate)")
        return Estimate.none("metadata", method, why, **detail)
    return Estimate(source="metadata", method=method, speedup=ratio,
                    interval=(ratio / (1 + MISMATCH_REL_TOL), ratio * (1 + MISMATCH_REL_TOL)),
                    trust=TRUST_RATE_MISMATCH,
                    evidence={**detail, "rule": "K = timestamp fps / bitstream fps (a remux "
                              "rescaled the timestamps)"})
