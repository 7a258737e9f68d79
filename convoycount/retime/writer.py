"""`retime()`: write a copy of a clip that plays at real speed.

Video: every presentation timestamp is multiplied by K, so frame count and
order are preserved and a variable frame rate stays proportional. Without a
clock this is a stream copy (`ffmpeg -itsscale K -c:v copy`): lossless, no
frame is re-encoded. With `clock=True` the picture gets a real-time overlay and
is re-encoded (libx264, `setpts=PTS*K`, `-fps_mode passthrough` so no frame is
dropped or duplicated); the overlay is ffmpeg's drawtext when the bundled
ffmpeg finds a font, else frames are drawn with OpenCV (its Hershey fonts are
built in) and encoded with PyAV at the exact scaled timestamps.
Audio: slowed (or sped up) by K with a chain of `atempo` filters, which keeps
the pitch. Everything runs the ffmpeg binary that pip's imageio-ffmpeg ships
(no system ffmpeg), through ffmpeg-python.

The output carries the tag `convoycount.retime.speedup=K` (so the metadata
estimator knows the bitstream frame rate is stale on purpose) and keeps the
source's metadata, including a capture-rate tag, which stays correct: the
re-timed file plays at the capture rate.
"""
from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Optional

from ..errors import ConvoyCountError
from .metadata import RETIME_TAG

OUTPUT_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv")
K_MIN, K_MAX = 1e-3, 1000.0
ATEMPO_RANGE = (0.5, 2.0)       # the range every ffmpeg version accepts per atempo instance
CLOCK_RENDERERS = ("auto", "drawtext", "opencv")


def ffmpeg_exe() -> str:
    import imageio_ffmpeg
    return imageio_ffmpeg.get_ffmpeg_exe()


def check_speedup(k, what: str = "--speedup") -> float:
    """K as a float, or a one-line ConvoyCountError."""
    kf = _positive(k, what)
    if not K_MIN <= kf <= K_MAX:
        raise ConvoyCountError(f"{what} {kf:g} is outside the supported range "
                               f"{K_MIN:g}..{K_MAX:g}")
    return kf


def _positive(x, what: str) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise ConvoyCountError(f"{what} must be a number, got {x!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise ConvoyCountError(f"{what} must be a positive finite number, got {x!r}")
    return v


def atempo_chain(tempo: float) -> list:
    """Factors within ATEMPO_RANGE whose product is `tempo` (audio plays
    `tempo` times faster; for a K-times sped-up clip, tempo = 1/K)."""
    lo, hi = ATEMPO_RANGE
    out = []
    while tempo < lo:
        out.append(lo)
        tempo /= lo
    while tempo > hi:
        out.append(hi)
        tempo /= hi
    if abs(tempo - 1.0) > 1e-9 or not out:
        out.append(tempo)
    return out


def _check_output(src: Path, out) -> Path:
    out = Path(out)
    if out.is_dir():
        raise ConvoyCountError(f"output {out} is a directory; give a file name")
    if out.suffix.lower() not in OUTPUT_SUFFIXES:
        raise ConvoyCountError(f"output {out} must end in one of {', '.join(OUTPUT_SUFFIXES)}, "
                               f"got {out.suffix or 'no extension'!r}")
    parent = out.parent if str(out.parent) else Path(".")
    for p in (parent, *parent.parents):
        if p.exists():
            if not p.is_dir():
                raise ConvoyCountError(f"output {out}: {p} is a file, not a directory")
            if not os.access(p, os.W_OK):
                raise ConvoyCountError(f"output {out}: no permission to write in {p}")
            break
    if out.resolve() == src.resolve() or (out.exists() and os.path.samefile(out, src)):
        raise ConvoyCountError(f"output {out} is the input clip; choose another file name")
    return out


def _run(stream, what: str) -> None:
    import ffmpeg
    cmd = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error"]
    try:
        stream.run(cmd=cmd, capture_stdout=True, capture_stderr=True, overwrite_output=True)
    except ffmpeg.Error as e:
        err = (e.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        raise ConvoyCountError(f"ffmpeg failed while {what}: {err[-1] if err else 'no message'}") from None


def _metadata_args(k: float, suffix: str) -> dict:
    args = {"metadata:g:0": f"{RETIME_TAG}={k:.9g}"}
    if suffix in (".mp4", ".mov", ".m4v"):
        # keep arbitrary keys (our tag, an Android capture-rate tag) as mdta entries
        args["movflags"] = "use_metadata_tags"
    return args


def _audio(inp, k: float):
    a = inp["a:0"]
    for f in atempo_chain(1.0 / k):
        a = a.filter("atempo", f"{f:.9g}")
    return a


def _clock_text(k: float, start_s: float) -> str:
    # drawtext expands %{pts:hms:OFFSET}: the frame's (already scaled) pts, as real
    # time elapsed since the first frame.
    return f"REAL %{{pts:hms:{-start_s * k:.6f}}}  (x{k:.4g})"


def _write_stream_copy(src: Path, tmp: Path, k: float, has_audio: bool) -> None:
    import ffmpeg
    v_in = ffmpeg.input(str(src), itsscale=f"{k:.12g}")
    streams = [v_in["v:0"]]
    kw = {"vcodec": "copy", **_metadata_args(k, tmp.suffix.lower())}
    if has_audio:
        a_in = ffmpeg.input(str(src))
        streams.append(_audio(a_in, k))
        kw.update(acodec="aac", **{"b:a": "160k"})
    _run(ffmpeg.output(*streams, str(tmp), **kw), "re-timing the clip")


def _encode_kw(tmp: Path, k: float) -> dict:
    return {"vcodec": "libx264", "crf": 18, "preset": "veryfast", "pix_fmt": "yuv420p",
            # passthrough: no frame dropped or duplicated; a fine encoder time base: the
            # default (1/frame rate) would round the scaled timestamps to the old grid
            "fps_mode": "passthrough", "enc_time_base": "1/90000",
            **_metadata_args(k, tmp.suffix.lower())}


def _write_drawtext(src: Path, tmp: Path, k: float, info) -> None:
    import ffmpeg
    inp = ffmpeg.input(str(src))
    size = max(12, int(round(info.height / 22)))
    v = inp["v:0"].filter("setpts", f"PTS*{k:.12g}").drawtext(
        text=_clock_text(k, info.start_time_s), escape_text=False, x=size // 2, y=size // 2,
        fontsize=size, fontcolor="white", box=1, boxcolor="black@0.6", boxborderw=size // 4)
    streams = [v] + ([_audio(inp, k)] if info.has_audio else [])
    kw = _encode_kw(tmp, k)
    if info.has_audio:
        kw.update(acodec="aac", **{"b:a": "160k"})
    _run(ffmpeg.output(*streams, str(tmp), **kw), "drawing the clock")


def _hms(seconds: float) -> str:
    ms = int(round(seconds * 1000))
    h, rem = divmod(ms, 3600_000)
    m, rem = divmod(rem, 60_000)
    return f"{h:02d}:{m:02d}:{rem / 1000:06.3f}"


def _write_opencv(src: Path, tmp: Path, k: float, info) -> None:
    """Clock drawn with OpenCV, video encoded with PyAV at pts * K, audio muxed by ffmpeg."""
    import av
    import cv2
    import ffmpeg

    from ..video import frames

    tb = Fraction(1, 90000)
    fd, vid = tempfile.mkstemp(prefix=f".{tmp.stem}.video.", suffix=".mp4", dir=tmp.parent)
    os.close(fd)
    vid = Path(vid)
    try:
        size = max(0.4, info.height / 700)
        thick = max(1, int(round(size * 2)))
        with av.open(str(vid), mode="w") as out:
            vs = out.add_stream("libx264", rate=Fraction(30))
            vs.width, vs.height, vs.pix_fmt = info.width, info.height, "yuv420p"
            vs.time_base = tb
            vs.codec_context.time_base = tb
            vs.options = {"crf": "18", "preset": "veryfast"}
            last = None
            with frames(src) as reader:
                for fr in reader:
                    img = fr.image
                    text = f"REAL {_hms((fr.time_s - info.start_time_s) * k)}  (x{k:.4g})"
                    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, size, thick)
                    pad = int(8 * size)
                    cv2.rectangle(img, (0, 0), (tw + 2 * pad, th + base + 2 * pad), (0, 0, 0), -1)
                    cv2.putText(img, text, (pad, pad + th), cv2.FONT_HERSHEY_SIMPLEX, size,
                                (255, 255, 255), thick, cv2.LINE_AA)
                    pts = int(round(Fraction(fr.time_s) * Fraction(k) / tb))
                    if last is not None and pts <= last:
                        pts = last + 1          # keep strictly increasing after rounding
                    last = pts
                    f = av.VideoFrame.from_ndarray(img, format="bgr24")
                    f.pts, f.time_base = pts, tb
                    for pkt in vs.encode(f):
                        out.mux(pkt)
            for pkt in vs.encode(None):
                out.mux(pkt)
        v_in = ffmpeg.input(str(vid))
        streams = [v_in["v:0"]]
        kw = {"vcodec": "copy", **_metadata_args(k, tmp.suffix.lower())}
        if info.has_audio:
            streams.append(_audio(ffmpeg.input(str(src)), k))
            kw.update(acodec="aac", **{"b:a": "160k"})
        _run(ffmpeg.output(*streams, str(tmp), **kw), "muxing the audio")
    finally:
        vid.unlink(missing_ok=True)


def resolve_speedup(src: Path, info, speedup=None, real_duration_s=None, estimate=None):
    """(K, TimeMap or None): K from a number, "auto" (estimated by `estimate(src)`,
    a function the caller passes in, e.g. `convoycount.pipeline.estimate_speedup`:
    re-timing writes files, it does not run the analysis itself), or a real duration."""
    if (speedup is None) == (real_duration_s is None):
        raise ConvoyCountError("give exactly one of --speedup K, --speedup auto or --real-duration S")
    if real_duration_s is not None:
        rd = _positive(real_duration_s, "--real-duration")
        if not info.duration_s > 0:
            raise ConvoyCountError(f"{src}: the clip has no measurable duration")
        return check_speedup(rd / info.duration_s, f"--real-duration {rd:g} s gives a speed-up that"), None
    if _is_auto(speedup):
        if estimate is None:
            raise ConvoyCountError("speedup 'auto' needs an estimator: pass "
                                   "estimate=convoycount.pipeline.estimate_speedup")
        tmap = estimate(src)
        if not tmap.known:
            reasons = "; ".join(f"{e.get('source')}: {e.get('reason')}" for e in tmap.evidence
                                if isinstance(e, dict) and e.get("reason"))
            raise ConvoyCountError(f"could not estimate the speed-up ({reasons}); "
                                   "give --speedup K or --real-duration S")
        return check_speedup(tmap.speedup, "estimated speed-up"), tmap
    return check_speedup(speedup), None


def _is_auto(speedup) -> bool:
    return isinstance(speedup, str) and speedup.strip().lower() == "auto"


@dataclass(frozen=True)
class RetimeResult:
    path: Path
    speedup: float                      # the K applied
    clip_duration_s: float
    time_map: Optional[object] = None   # the estimated TimeMap when K was "auto"
    clock_renderer: Optional[str] = None

    @property
    def real_duration_s(self) -> float:
        return self.clip_duration_s * self.speedup


def retime(path, out_path, *, speedup=None, real_duration_s: Optional[float] = None,
           clock: bool = False, clock_renderer: str = "auto", estimate=None) -> Path:
    """Write `out_path`: `path` played at real speed (pts x K, audio slowed, pitch kept).

    `speedup`: K (the clip plays K times faster than reality) or "auto";
    `real_duration_s`: the filmed event really lasted this long (K = it / clip
    duration). `clock`: burn a real-time clock (elapsed since the first frame)
    into the picture. `clock_renderer`: "auto" (drawtext, else OpenCV),
    "drawtext" or "opencv". `estimate`: for "auto", a function clip -> TimeMap
    (e.g. `convoycount.pipeline.estimate_speedup`). The output is written atomically."""
    return run_retime(path, out_path, speedup=speedup, real_duration_s=real_duration_s,
                      clock=clock, clock_renderer=clock_renderer, estimate=estimate).path


def run_retime(path, out_path, *, speedup=None, real_duration_s: Optional[float] = None,
               clock: bool = False, clock_renderer: str = "auto", estimate=None) -> RetimeResult:
    """`retime()` that also says which K was applied and, for "auto", the TimeMap."""
    from ..io import atomic_path
    from ..video import probe

    if clock_renderer not in CLOCK_RENDERERS:
        raise ConvoyCountError(f"clock_renderer must be one of {CLOCK_RENDERERS}, got {clock_renderer!r}")
    src = Path(path)
    if speedup is None and real_duration_s is None:
        raise ConvoyCountError("give exactly one of --speedup K, --speedup auto or --real-duration S")
    if speedup is not None and not _is_auto(speedup):
        check_speedup(speedup)               # fail on a bad factor before reading anything
    if real_duration_s is not None:
        _positive(real_duration_s, "--real-duration")
    out = _check_output(src, out_path)
    info = probe(src)                        # InputError for anything unreadable
    k, tmap = resolve_speedup(src, info, speedup, real_duration_s, estimate)
    used = None
    try:
        with atomic_path(out) as tmp:
            if not clock:
                _write_stream_copy(src, tmp, k, info.has_audio)
            elif clock_renderer == "opencv":
                _write_opencv(src, tmp, k, info)
                used = "opencv"
            else:
                try:
                    _write_drawtext(src, tmp, k, info)
                    used = "drawtext"
                except ConvoyCountError:
                    if clock_renderer == "drawtext":
                        raise
                    _write_opencv(src, tmp, k, info)   # e.g. no font for drawtext here
                    used = "opencv"
    except OSError as e:
        raise ConvoyCountError(f"cannot write {out}: {e.strerror or e}") from None
    return RetimeResult(out, k, info.duration_s, tmap, used)
