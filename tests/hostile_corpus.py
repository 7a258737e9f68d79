"""Builders of hostile inputs: files a user (or an attacker) may hand convoycount
that are not the clean clips it was made for. Each builder writes into a folder
and returns the path to give the command line.

tests/test_hostile.py runs each through the real CLI with its defined outcome;
tests/test_video.py uses the damage builders on the reader directly. Valid clips
come from tests/clipfactory.py; everything here is built from those, or from
bytes, in a few milliseconds to a second.
"""
from __future__ import annotations

import io
import os
import struct
import subprocess
import zipfile
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import av
import numpy as np

import clipfactory as cf


# --------------------------------------------------------------------------- valid material


def small_clip(path, *, n: int = 30, width: int = 64, height: int = 48, fps: int = 15,
               **kw) -> Path:
    """A short valid clip (the pattern of clipfactory: a bar that moves)."""
    cf.write_video(path, cf.cfr_pts(n, Fraction(fps)), width=width, height=height,
                   rate=Fraction(fps), **kw)
    return Path(path)


def moving_block(i: int, width: int, height: int, *, fps: float = 25.0,
                 speed: float = 0.2, x0: float = 0.1) -> np.ndarray:
    """A grey road with a dark vehicle-sized block driving left to right: its
    left edge is at x0 + speed * t of the width at time t (t = i / fps)."""
    img = np.full((height, width, 3), 150, np.uint8)
    img[height // 2 - 1: height // 2 + 1, :] = 200          # a lane marking
    bw, bh = width // 8, height // 6
    x = int(round((x0 + speed * i / fps) * width))
    y = height // 2 + 4
    if x < width:
        img[y: y + bh, max(0, x): min(width, x + bw)] = 30
    return img


def write_moving_block(path, *, n: int = 150, fps: int = 25, gop: int = 75,
                       width: int = 160, height: int = 96) -> cf.ClipTruth:
    """The block crosses the vertical centre line at (0.5 - 0.1 - 1/16) / 0.2 s,
    about 1.69 s; no B-frames, so decode order is presentation order."""
    return cf.write_video(path, cf.cfr_pts(n, Fraction(fps)), width=width, height=height,
                          rate=Fraction(fps), gop=gop, bframes=0,
                          images=lambda i, w, h: moving_block(i, w, h, fps=fps))


# --------------------------------------------------------------------------- damage


def packet_spans(path) -> list:
    """(byte offset, size, pts) of each video packet, in decode order, from the
    container's index (MP4): where to hit a given frame."""
    with av.open(str(path)) as c:
        entries = c.streams.video[0].index_entries
        return [(e.pos, e.size, e.timestamp) for e in entries]


def damage_packets(src, dst, packets: Sequence[int], *, seed: int = 0) -> Path:
    """Copy `src` with the payload of the given packets (decode-order indices)
    overwritten by random bytes, past the first 4 (the NAL length), so the demuxer
    still finds every packet and only the decoder sees damage."""
    data = bytearray(Path(src).read_bytes())
    rng = np.random.default_rng(seed)
    spans = packet_spans(src)
    for k in packets:
        pos, size, _ = spans[k]
        data[pos + 4: pos + size] = rng.integers(0, 256, size - 4, dtype=np.uint8).tobytes()
    Path(dst).write_bytes(bytes(data))
    return Path(dst)


def write_damaged_middle(path, *, n: int = 100, nbytes: int = 3000) -> cf.ClipTruth:
    """Issue 16's case: a front-index noise clip with `nbytes` in the middle of the
    file overwritten (the decoder rejects a packet there)."""
    path = Path(path)
    full = path.with_name(path.stem + "_intact.mp4")
    truth = cf.write_video(full, cf.cfr_pts(n, Fraction(25)), movflags="faststart",
                           images=cf.noise)
    data = bytearray(full.read_bytes())
    full.unlink()
    mid = len(data) // 2
    data[mid: mid + nbytes] = np.random.default_rng(1).integers(0, 256, nbytes, np.uint8).tobytes()
    path.write_bytes(bytes(data))
    truth.path = path
    return truth


def cut_copy(src, dst, nbytes: int) -> Path:
    """The first `nbytes` of `src`: a download stopped there."""
    Path(dst).write_bytes(Path(src).read_bytes()[:nbytes])
    return Path(dst)


def write_header_only(path) -> Path:
    """An MP4 cut right after its first box (ftyp): a header and nothing else."""
    full = Path(path).with_name("_full_" + Path(path).name)
    small_clip(full, movflags="faststart")
    size = int.from_bytes(full.read_bytes()[:4], "big")
    cut_copy(full, path, size)
    full.unlink()
    return Path(path)


def write_mpegts_damaged(path, *, n: int = 75) -> Path:
    """An MPEG-TS (dashcam container) with 4 KB in the middle overwritten: the
    demuxer resynchronises by itself, the decoder meets damage."""
    path = Path(path)
    mp4 = path.with_name(path.stem + "_src.mp4")
    cf.write_video(mp4, cf.cfr_pts(n, Fraction(25)), images=cf.noise, gop=12)
    subprocess.run([cf.ffmpeg_exe(), "-v", "error", "-y", "-i", str(mp4), "-c", "copy",
                    "-f", "mpegts", str(path)], check=True)
    mp4.unlink()
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid: mid + 4096] = np.random.default_rng(2).integers(0, 256, 4096, np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path


# --------------------------------------------------------------------------- not videos


def write_html(path) -> Path:
    Path(path).write_text("<!DOCTYPE html>\n<html><head><title>Traffic video</title></head>"
                          "<body><video src='clip.mp4'></video></body></html>\n" * 5)
    return Path(path)


def write_zip(path) -> Path:
    """A zip holding a real clip: someone renamed the download."""
    clip = Path(path).with_name("_inner.mp4")
    small_clip(clip)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.write(clip, "clip.mp4")
    clip.unlink()
    Path(path).write_bytes(buf.getvalue())
    return Path(path)


def write_still(path, fmt: str) -> Path:
    """A PNG or JPEG picture saved under a video name."""
    import cv2
    ok, enc = cv2.imencode("." + fmt, cf.pattern(0, 64, 48))
    assert ok
    Path(path).write_bytes(enc.tobytes())
    return Path(path)


def write_gif(path, *, n: int = 20, fps: int = 10) -> Path:
    """An animated GIF of a moving bar (converted by the ffmpeg binary from a clip):
    frame delays of 1/fps s, stored in 1/100 s units."""
    path = Path(path)
    src = path.with_name(path.stem + "_src.mp4")
    small_clip(src, n=n, fps=fps)
    subprocess.run([cf.ffmpeg_exe(), "-v", "error", "-y", "-i", str(src), str(path)], check=True)
    src.unlink()
    return path


# --------------------------------------------------------------------------- odd shapes


def write_one_frame(path) -> Path:
    cf.write_video(path, [0], width=64, height=48)
    return Path(path)


def write_sized(path, width: int, height: int, *, n: int = 20) -> Path:
    """A clip of any size, odd ones included: FFV1 in Matroska takes any width and
    height (H.264 4:2:0 needs even ones)."""
    cf.write_video(path, cf.cfr_pts(n, Fraction(25)), width=width, height=height,
                   codec="ffv1")
    return Path(path)


def write_rawvideo_avi(path, *, n: int = 5) -> Path:
    """An uncompressed AVI (64x48): its size lives only in the container header."""
    cf.write_video(path, list(range(n)), time_base=Fraction(1, 25), width=64, height=48,
                   codec="rawvideo")
    return Path(path)


def write_declared_size(path, width: int, height: int) -> Path:
    """A small uncompressed AVI whose headers (avih, strf) are patched to declare
    width x height: the pictures stay 64x48 and the file stays small."""
    src = Path(path).with_name("_small_" + Path(path).name)
    write_rawvideo_avi(src)
    data = src.read_bytes()
    src.unlink()
    small, big = struct.pack("<II", 64, 48), struct.pack("<II", width, height)
    assert data.count(small) == 2, "avih and strf each hold the size once"
    Path(path).write_bytes(data.replace(small, big))
    return Path(path)


def write_absurd_frame_count(path, declared: int = 2_000_000_000) -> Path:
    """An AVI (remuxed by the ffmpeg binary, with its idx1 index) whose headers claim
    `declared` frames: avih dwTotalFrames and the video strh dwLength."""
    path = Path(path)
    mp4 = path.with_name(path.stem + "_src.mp4")
    cf.write_video(mp4, cf.cfr_pts(25, Fraction(25)), width=64, height=48, bframes=0)
    subprocess.run([cf.ffmpeg_exe(), "-v", "error", "-y", "-i", str(mp4), "-c", "copy",
                    str(path)], check=True)
    mp4.unlink()
    data = bytearray(path.read_bytes())
    i = data.index(b"avih") + 8
    data[i + 16: i + 20] = struct.pack("<I", declared)
    j = data.index(b"strh") + 8
    assert data[j: j + 4] == b"vids"
    data[j + 32: j + 36] = struct.pack("<I", declared)
    path.write_bytes(bytes(data))
    return path


def write_avi_bframes(path) -> Path:
    """H.264 with B-frames in AVI (no presentation timestamps in the container): the
    decoder hands some frames out with times that go backwards."""
    cf.write_video(path, list(range(25)), time_base=Fraction(1, 25), width=64, height=48,
                   bframes=2)
    return Path(path)


# --------------------------------------------------------------------------- file system


def make_fifo(path) -> Path:
    os.mkfifo(path)
    return Path(path)


def make_symlink_loop(path) -> Path:
    """a -> b -> a."""
    path = Path(path)
    other = path.with_name(path.stem + "_other" + path.suffix)
    os.symlink(other.name, path)
    os.symlink(path.name, other)
    return path


def make_broken_symlink(path) -> Path:
    os.symlink("gone_for_good.mp4", path)
    return Path(path)


def non_utf8_name(folder) -> bytes:
    """A clip whose file name is not UTF-8 (Latin-1 e-acute, 0xE9), as bytes."""
    raw = os.fsencode(Path(folder)) + b"/caf\xe9.mp4"
    small_clip(os.fsdecode(raw))
    return raw


def claims_outside(folder_in, outside_clip) -> Path:
    """A batch claims CSV in `folder_in` whose `file` column points at a clip
    outside the input folder (by a relative path that climbs out)."""
    rel = os.path.relpath(outside_clip, folder_in)
    csv_path = Path(folder_in).parent / "claims.csv"
    csv_path.write_text(f"file,claim\n{rel},at least 1 vehicle\n")
    return csv_path


# --------------------------------------------------------------------------- mutation


def mutate(data: bytes, ops: Sequence[tuple]) -> bytes:
    """Apply (kind, position fraction, value) edits: 'flip' xors a byte with value,
    'insert' puts `value` bytes of 0xA5 there, 'delete' removes `value` bytes,
    'truncate' cuts the file there. Positions are fractions of the current length."""
    b = bytearray(data)
    for kind, frac, value in ops:
        if not b:
            break
        i = min(len(b) - 1, int(frac * len(b)))
        if kind == "flip":
            b[i] ^= value or 1
        elif kind == "insert":
            b[i:i] = bytes([0xA5]) * value
        elif kind == "delete":
            del b[i: i + value]
        elif kind == "truncate":
            del b[max(1, i):]
    return bytes(b)
