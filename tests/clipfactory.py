"""Tiny test clips with known truth, written with PyAV (and the pip ffmpeg binary from
imageio-ffmpeg where only a remux can set a property, e.g. the display rotation).

Every writer returns a `ClipTruth` holding the exact pts written, so tests compare
what the reader reports against what was put in, not against hard-coded numbers.
"""
from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import List, Optional, Sequence

import av
import numpy as np

TB_90K = Fraction(1, 90000)


@dataclass
class ClipTruth:
    path: Path
    time_base: Fraction
    pts_written: List[int]            # every video frame written, presentation order
    pts_decodable: List[int]          # those a decoder can show
    display_width: int
    display_height: int
    rotation_cw: int = 0
    has_audio: bool = False
    notes: List[str] = field(default_factory=list)

    @property
    def times_s(self) -> List[float]:
        return [float(p * self.time_base) for p in self.pts_decodable]


def ffmpeg_exe() -> str:
    import imageio_ffmpeg
    return imageio_ffmpeg.get_ffmpeg_exe()


def pattern(i: int, width: int, height: int) -> np.ndarray:
    """Upright BGR test picture: dark background, a white block in the top-left
    corner (shows orientation), and a grey bar whose x position encodes `i`."""
    img = np.full((height, width, 3), 40, np.uint8)
    img[: height // 4, : width // 4] = 255
    x = (8 + 4 * i) % max(1, width - 8)
    img[height // 2:, x: x + 4] = 160
    return img


def noise(i: int, width: int, height: int) -> np.ndarray:
    """Incompressible picture: makes the mdat dominate the file size."""
    return np.random.default_rng(i).integers(0, 256, (height, width, 3), dtype=np.uint8)


def cfr_pts(n: int, fps: Fraction, time_base: Fraction = TB_90K, start_s: float = 0.0) -> List[int]:
    """Exact CFR pts: frame k at start + k / fps, rounded to the time base."""
    fps = Fraction(fps)
    start = Fraction(start_s).limit_denominator(10 ** 6)
    return [round((start + Fraction(k) / fps) / time_base) for k in range(n)]


def write_video(path, pts: Sequence[int], *, time_base: Fraction = TB_90K,
                width: int = 160, height: int = 96, rate: Optional[Fraction] = None,
                images=pattern, codec: str = "libx264", audio: bool = False,
                gop: int = 12, bframes: int = 2, movflags: Optional[str] = None,
                drop_first_packets: int = 0) -> ClipTruth:
    """Write one video stream whose frame k has pts `pts[k]` (in `time_base`).

    `drop_first_packets`: the first k encoded packets (decode order) are not muxed,
    so the file starts with packets that precede its first keyframe. Use with
    bframes=0 so decode order equals presentation order and the truth is simple.
    """
    path = Path(path)
    opts = {"movflags": movflags} if movflags else {}
    if path.suffix.lower() in (".mp4", ".mov", ".m4v"):
        # The start offset of an MP4 (an edit list) is stored in the *movie* timescale,
        # 1/1000 by default: a first pts of 12345/90000 s would come back as 0.137 s.
        # Use the stream's timescale so the written pts survive exactly.
        opts["movie_timescale"] = str(Fraction(time_base).denominator)
    out = av.open(str(path), mode="w", options=opts)
    vs = out.add_stream(codec, rate=rate or Fraction(25))
    vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
    # Both time bases: the stream's (what the muxer writes) and the encoder's (what
    # the frames' pts are in); otherwise PyAV rescales from 1/rate and pts get rounded.
    vs.time_base = time_base
    vs.codec_context.time_base = time_base
    if codec == "libx264":
        vs.options = {"x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes={bframes}",
                      "preset": "ultrafast" if bframes == 0 else "veryfast"}
    aus = None
    if audio:
        aus = out.add_stream("aac", rate=48000)
        aus.layout = "mono"
    n_pkt = 0
    muxed_pts: List[int] = []
    keyflags: List[bool] = []

    def mux_video(packets):
        nonlocal n_pkt
        for pkt in packets:
            n_pkt += 1
            if n_pkt <= drop_first_packets:
                continue
            muxed_pts.append(int(pkt.pts))
            keyflags.append(bool(pkt.is_keyframe))
            out.mux(pkt)

    for k, p in enumerate(pts):
        frame = av.VideoFrame.from_ndarray(images(k, width, height), format="bgr24")
        frame.pts = int(p)
        frame.time_base = time_base
        mux_video(vs.encode(frame))
    mux_video(vs.encode(None))
    if aus is not None:
        # a 440 Hz tone spanning the video
        sr = 48000
        total = int((pts[-1] - pts[0]) * time_base * sr) + sr // 10
        t = np.arange(total) / sr
        samples = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        for s in range(0, total, 1024):
            chunk = samples[s: s + 1024]
            af = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
            af.sample_rate = sr
            af.pts = s
            for pkt in aus.encode(af):
                out.mux(pkt)
        for pkt in aus.encode(None):
            out.mux(pkt)
    out.close()

    if drop_first_packets:
        if bframes:
            raise ValueError("drop_first_packets needs bframes=0 for a simple truth")
        first_key = keyflags.index(True) if True in keyflags else len(keyflags)
        decodable = sorted(muxed_pts[first_key:])
    else:
        decodable = sorted(int(p) for p in pts)
    return ClipTruth(path=path, time_base=Fraction(time_base), pts_written=sorted(int(p) for p in pts),
                     pts_decodable=decodable, display_width=width, display_height=height,
                     has_audio=audio)


def write_no_keyframe(path, *, n: int = 20) -> ClipTruth:
    """Only P-frames: the single keyframe (the first packet) is not muxed, so not
    one frame can be decoded although every packet is there."""
    return write_video(path, cfr_pts(n, Fraction(25)), gop=1000, bframes=0,
                       drop_first_packets=1)


def write_rotated(path, rotation_cw: int, *, n: int = 10, width: int = 96, height: int = 160,
                  time_base: Fraction = TB_90K) -> ClipTruth:
    """A phone-style clip: the *upright* picture is `width` x `height` (pattern with
    the white block top-left); the stored pixels are that picture turned so that a
    player applying `rotation_cw` degrees clockwise shows it upright again.

    The display matrix is set by remuxing with the ffmpeg binary
    (`-display_rotation` is counter-clockwise, hence the minus sign)."""
    path = Path(path)
    k = {0: 0, 90: 1, 180: 2, 270: 3}[rotation_cw]   # np.rot90 turns counter-clockwise

    def stored(i, w, h):
        return np.ascontiguousarray(np.rot90(pattern(i, width, height), k))

    sw, sh = (height, width) if rotation_cw in (90, 270) else (width, height)
    raw = path.with_name(path.stem + "_norot" + path.suffix)
    truth = write_video(raw, cfr_pts(n, Fraction(10), time_base), time_base=time_base,
                        width=sw, height=sh, images=stored)
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-display_rotation", str(-rotation_cw),
                    "-i", str(raw), "-c", "copy", str(path)], check=True)
    raw.unlink()
    truth.path = path
    truth.display_width, truth.display_height = width, height
    truth.rotation_cw = rotation_cw
    return truth


def upright_reference(i: int, truth: ClipTruth) -> np.ndarray:
    return pattern(i, truth.display_width, truth.display_height)


def truncate_copy(src, dst, keep_fraction: float) -> Path:
    data = Path(src).read_bytes()
    Path(dst).write_bytes(data[: int(len(data) * keep_fraction)])
    return Path(dst)


def write_mdat_truncated(path, *, n: int = 40, keep_fraction: float = 0.6) -> ClipTruth:
    """MP4 with its index (moov) at the front, then cut inside the sample data: the
    way a file looks when a fast-start download stops early."""
    path = Path(path)
    full = path.with_name(path.stem + "_full.mp4")
    truth = write_video(full, cfr_pts(n, Fraction(25)), movflags="faststart", images=noise)
    truncate_copy(full, path, keep_fraction)
    full.unlink()
    truth.path = path
    truth.notes.append(f"cut to {keep_fraction:.0%} of the bytes after a front moov")
    return truth


def write_cut_at_packet_boundary(path, *, n: int = 40, keep_packets: int = 20) -> ClipTruth:
    """Front-moov MP4 cut exactly where a sample ends: no partial packet betrays the
    cut, only the index (which declares `n` samples) does."""
    path = Path(path)
    full = path.with_name(path.stem + "_full.mp4")
    truth = write_video(full, cfr_pts(n, Fraction(25)), movflags="faststart", images=noise)
    with av.open(str(full)) as c:
        entries = sorted(c.streams.video[0].index_entries, key=lambda e: e.pos)
        end = entries[keep_packets - 1].pos + entries[keep_packets - 1].size
    Path(path).write_bytes(full.read_bytes()[:end])
    full.unlink()
    truth.path = path
    return truth


def write_moov_missing(path, *, n: int = 40, keep_fraction: float = 0.5) -> Path:
    """Default MP4 (moov written last), cut in half: the index never made it."""
    path = Path(path)
    full = path.with_name(path.stem + "_full.mp4")
    write_video(full, cfr_pts(n, Fraction(25)), images=noise)
    truncate_copy(full, path, keep_fraction)
    full.unlink()
    return path


def write_audio_only(path, *, seconds: float = 0.5) -> Path:
    out = av.open(str(path), mode="w")
    aus = out.add_stream("aac", rate=48000)
    aus.layout = "mono"
    total = int(48000 * seconds)
    for s in range(0, total, 1024):
        af = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        af.sample_rate = 48000
        af.pts = s
        for pkt in aus.encode(af):
            out.mux(pkt)
    for pkt in aus.encode(None):
        out.mux(pkt)
    out.close()
    return Path(path)


def write_unknown_codec(path) -> Path:
    """A valid MP4 whose video sample entry names a codec nobody knows ('zzzz'
    instead of 'avc1'): the container opens, no decoder exists."""
    path = Path(path)
    tmp = path.with_name(path.stem + "_avc1.mp4")
    write_video(tmp, cfr_pts(5, Fraction(25)))
    data = bytearray(tmp.read_bytes())
    tmp.unlink()
    i = data.index(b"avc1", data.index(b"stsd"))
    data[i: i + 4] = b"zzzz"
    path.write_bytes(bytes(data))
    return path


def write_random_bytes(path, n_bytes: int = 50_000, seed: int = 0) -> Path:
    Path(path).write_bytes(np.random.default_rng(seed).integers(0, 256, n_bytes, dtype=np.uint8).tobytes())
    return Path(path)


def write_text(path) -> Path:
    Path(path).write_text("this is a text file that someone renamed to .mp4\n" * 20)
    return Path(path)
