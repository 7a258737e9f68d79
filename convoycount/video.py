"""Reading clips: `probe()` says what a clip really is, `frames()` yields decoded
frames with their exact presentation time.

Time comes from each frame's pts * time_base (PyAV), never from index / fps:
phone footage is usually variable-frame-rate and many clips start at pts > 0.
"""
from __future__ import annotations

import errno
import itertools
import math
import os
import stat
import statistics
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np

from convoycount.errors import InputError
from convoycount.limits import DEFAULT_MAX_DURATION_S, DEFAULT_MAX_PIXELS, MIN_SIDE_PX


@dataclass(frozen=True)
class ClipInfo:
    path: str
    container: str
    codec: str
    width: int                  # display width (after rotation)
    height: int                 # display height (after rotation)
    rotation: int               # degrees clockwise a player applies: 0, 90, 180, 270
    duration_s: float           # last frame end - first frame pts, from decoded timestamps
    frames: int                 # decodable frames (fast probe: packets from the first keyframe on)
    frames_declared: Optional[int]
    fps_nominal: Optional[float]   # what the stream header claims
    fps_measured: float            # (frames - 1) / (last pts - first pts)
    vfr: bool                       # frame durations vary beyond rounding
    has_audio: bool
    truncated: bool                 # decoding stopped early or ended in an error
    start_time_s: float             # pts of the first decoded frame
    time_base: str                  # e.g. "1/90000"
    warnings: tuple = ()
    # Added fields (defaults keep the original constructor valid):
    packets: Optional[int] = None   # video packets demuxed (incl. undecodable / discarded ones)
    full_decode: bool = False       # True: `frames` and timestamps come from decoding every
                                    # frame; False: from packet timestamps (fast probe)
    gaps: tuple = ()                # DecodeGaps found by a full decode (fast probe: none)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["path"] = printable_path(self.path)
        d["warnings"] = list(self.warnings)
        d["gaps"] = [g.to_dict() for g in self.gaps]
        return d


def printable_path(path) -> str:
    """A file name as text that any UTF-8 writer accepts: bytes that are not UTF-8
    (kept by Python as lone surrogates) become \\xNN escapes. Only for showing
    and recording; open the file by the original path."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


@dataclass(frozen=True)
class Frame:
    index: int          # position in decode order of *decoded* frames (0-based)
    time_s: float       # pts * time_base: the only clock
    image: np.ndarray   # HxWx3 uint8 BGR, upright (display rotation applied)


# --------------------------------------------------------------------------- opening

_TEXT_BYTES = bytes(range(32, 127)) + b"\n\r\t\f\b"


def _looks_like_text(head: bytes) -> bool:
    if not head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        # a multi-byte char may be cut at the end of the sample
        try:
            head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return False
    printable = sum(b in _TEXT_BYTES or b >= 0x80 for b in head)
    return b"\x00" not in head and printable / len(head) > 0.95


def _mp4_top_level_boxes(path: Path, max_boxes: int = 10000) -> Tuple[List[str], bool]:
    """Top-level ISO-BMFF box types, and whether the last box runs past the end of the
    file. Only reads box headers, so it is cheap even for large files."""
    size_total = path.stat().st_size
    types: List[str] = []
    cut = False
    with open(path, "rb") as fh:
        pos = 0
        while pos + 8 <= size_total and len(types) < max_boxes:
            fh.seek(pos)
            hdr = fh.read(16)
            size = int.from_bytes(hdr[0:4], "big")
            btype = hdr[4:8].decode("latin-1")
            if size == 1:
                if len(hdr) < 16:
                    cut = True
                    break
                size = int.from_bytes(hdr[8:16], "big")
            elif size == 0:        # box runs to end of file
                size = size_total - pos
            if size < 8:           # not a box structure (garbage)
                break
            types.append(btype)
            if pos + size > size_total:
                cut = True
                break
            pos += size
    return types, cut


def _mp4_missing_index(path: Path) -> bool:
    """True if the file is an MP4/MOV (starts with an ftyp box) without a moov box:
    the typical interrupted download or recording."""
    with open(path, "rb") as fh:
        head = fh.read(12)
    if len(head) < 8 or head[4:8] != b"ftyp":
        return False
    types, _ = _mp4_top_level_boxes(path)
    # fragmented MP4 carries its sample tables in moof boxes
    return "moov" not in types and "moof" not in types


def _check_path(path) -> Path:
    """A regular, non-empty file, or an InputError that says what it is instead. A
    FIFO or a device is never opened: reading one could block forever."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError as e:
        raise InputError(f"{p}: {_stat_failure(p, e)}") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{p}: is a directory, expected a video file")
    if not stat.S_ISREG(st.st_mode):
        kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(st.st_mode)
                else "a socket" if stat.S_ISSOCK(st.st_mode) else "a device")
        raise InputError(f"{p}: not a regular file ({kind}); give a video file")
    if st.st_size == 0:
        raise InputError(f"{p}: file is empty (0 bytes)")
    return p


def _stat_failure(p: Path, e: OSError) -> str:
    if e.errno == errno.ELOOP:
        return "a symbolic link loop (the link leads back to itself)"
    if e.errno == errno.ENOENT and p.is_symlink():
        return "a broken symbolic link (its target does not exist)"
    if e.errno == errno.ENOENT:
        return "file not found"
    if e.errno == errno.EACCES:
        return "permission denied"
    return f"cannot be read ({e.strerror})"


# What some common non-video files start with, for a message that says what they are.
_NOT_VIDEO_MAGIC = ((b"PK\x03\x04", "a zip archive"), (b"%PDF", "a PDF document"),
                    (b"\x1f\x8b", "a gzip archive"), (b"Rar!", "a RAR archive"),
                    (b"7z\xbc\xaf", "a 7-zip archive"))


def _unreadable_reason(p: Path) -> str:
    if _mp4_missing_index(p):
        return ("MP4 is cut short before its index (no 'moov' atom): the download "
                "or recording was probably interrupted")
    with open(p, "rb") as fh:
        head = fh.read(4096)
    for magic, what in _NOT_VIDEO_MAGIC:
        if head.startswith(magic):
            return f"is {what}, not a video"
    if _looks_like_text(head):
        if b"<html" in head[:1024].lower() or b"<!doctype html" in head[:1024].lower():
            return "is an HTML page (a saved web page?), not a video: save the video itself"
        return "is a text file, not a video"
    return "not a recognised video container (unknown or corrupted data)"


def _pick_video_stream(container):
    for s in container.streams.video:
        # skip cover art / thumbnails stored as a one-picture "video" stream
        if s.disposition & 1024:       # AV_DISPOSITION_ATTACHED_PIC
            continue
        return s
    return None


def _open_input(path, max_pixels: Optional[int] = None):
    """Open `path` and return (path, container, video_stream); raise InputError with
    one clean line for anything that is not a decodable video, or (with `max_pixels`)
    whose header declares larger pictures than that, before any frame is decoded."""
    import av

    p = _check_path(path)
    # Opening decodes a picture or two when the header leaves something out (H.264's
    # reorder delay): with the limit, FFmpeg refuses that for an oversized stream
    # instead of allocating it, and the size still comes from the parsed header.
    limit = {"max_pixels": str(max_pixels)} if max_pixels is not None else {}
    try:
        container = av.open(str(p), mode="r", metadata_errors="ignore", options=limit)
    except (av.error.FFmpegError, OSError) as e:
        if isinstance(e, PermissionError):
            raise InputError(f"{p}: permission denied") from None
        raise InputError(f"{p}: {_unreadable_reason(p)}") from None
    try:
        if container.format.name.startswith("mov") and _mp4_missing_index(p):
            raise InputError(f"{p}: {_unreadable_reason(p)}")
        vs = _pick_video_stream(container)
        if vs is None:
            kinds = [s.type for s in container.streams]
            found = ", ".join(kinds) if kinds else "no streams at all"
            raise InputError(f"{p}: no video stream (found: {found})")
        _refuse_still_image(p, container.format.name, vs)
        if vs.codec_context is None:
            raise InputError(f"{p}: the video codec is unknown or not supported by this "
                             f"FFmpeg build (no decoder available)")
        if max_pixels is not None:
            _check_pixels(p, vs, max_pixels)
    except BaseException:
        container.close()
        raise
    return p, container, vs


def _refuse_still_image(p: Path, fmt: str, vs) -> None:
    """FFmpeg reads a single picture (PNG, JPEG, ...) as a one-frame video: say what
    it is instead of analysing it. Animated GIF and APNG have their own demuxers
    (`gif`, `apng`) with real frame delays, and are analysed as clips."""
    if fmt == "image2" or fmt.endswith("_pipe"):
        kind = fmt[: -len("_pipe")] if fmt.endswith("_pipe") else (
            vs.codec_context.name if vs.codec_context is not None else "image")
        raise InputError(f"{p}: a still image ({kind}), not a video")


def _check_pixels(p: Path, vs, max_pixels: int) -> None:
    """The header's picture size against the limit, and the same limit handed to the
    decoder, so that a size changed later in the stream is refused there too (the
    frames it would have given are reported as lost, not allocated)."""
    w, h = vs.codec_context.width, vs.codec_context.height
    if not (w and h):
        w, h = _size_without_limit(p)
    if w * h > max_pixels:
        raise InputError(f"{p}: declares {w}x{h} pixels per frame ({w * h / 1e6:.0f} MP), "
                         f"above the limit of {max_pixels / 1e6:.0f} MP; --max-pixels "
                         "raises it if the clip really is that large")
    vs.codec_context.options = {**(vs.codec_context.options or {}),
                                "max_pixels": str(max_pixels)}


def _size_without_limit(p: Path) -> Tuple[int, int]:
    """The size the header declares, read again without the limit: when only the
    header holds it (raw video, FFV1), FFmpeg's probing decoder leaves it out once it
    refuses it under the limit. For those codecs nothing is decoded to read it."""
    import av
    try:
        with av.open(str(p), mode="r", metadata_errors="ignore") as c:
            vs = _pick_video_stream(c)
            if vs is None or vs.codec_context is None:
                return 0, 0
            return vs.codec_context.width, vs.codec_context.height
    except (av.error.FFmpegError, OSError):
        return 0, 0


def _size_hint(vs) -> str:
    """Why a stream may give no picture at all: its header has no usable size
    (FFmpeg zeroes sizes above its own limit of about 268 megapixels)."""
    if vs.codec_context is not None and not (vs.codec_context.width and vs.codec_context.height):
        return ("; its header declares no usable picture size: none, or one beyond "
                "FFmpeg's own limit of about 268 megapixels")
    return ""


# --------------------------------------------------------------------------- helpers


def _rotation_cw(av_frame, stream) -> Tuple[int, Optional[str]]:
    """Clockwise degrees a player rotates the picture, in {0, 90, 180, 270}.

    FFmpeg's display matrix (exported on decoded frames as `frame.rotation`) is
    counter-clockwise; the legacy `rotate` tag is clockwise."""
    ccw = None
    if av_frame is not None:
        try:
            ccw = av_frame.rotation
        except Exception:       # no display matrix
            ccw = None
    cw = None
    if ccw:
        cw = -float(ccw)
    else:
        tag = (stream.metadata or {}).get("rotate")
        if tag is not None:
            try:
                cw = float(tag)
            except ValueError:
                cw = None
    if cw is None:
        return 0, None
    snapped = int(round(cw / 90.0)) * 90 % 360
    note = None
    if abs(((cw - snapped + 180) % 360) - 180) > 1:
        note = f"display rotation {cw:g} deg is not a multiple of 90; using {snapped}"
    return snapped, note


def _rotate_image(img: np.ndarray, rotation_cw: int) -> np.ndarray:
    if rotation_cw == 0:
        return img
    import cv2
    code = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180,
            270: cv2.ROTATE_90_COUNTERCLOCKWISE}[rotation_cw]
    return cv2.rotate(img, code)


def _is_vfr(pts_sorted: Sequence[int], tick_s: float) -> Tuple[bool, Optional[str]]:
    """Frame durations vary beyond timestamp rounding.

    Rounding to the time base moves a duration by up to one tick, so a CFR clip in a
    coarse time base (29.97 fps in 1/1000) shows 33/34 ms jitter: that must stay CFR.
    VFR is a gap or squeeze beyond 1.5x/0.67x the median, or more than 1 % of the
    durations off the median by more than max(5 %, 1.5 ticks)."""
    d = np.diff(np.asarray(pts_sorted, dtype=np.int64)).astype(np.float64) * tick_s
    if len(d) < 2:
        return False, None
    med = float(np.median(d))
    if med <= 0:
        return True, "more than half the frames share a timestamp"
    big = d > 1.5 * med
    small = d < med / 1.5
    if big.any() or small.any():
        i = int(np.argmax(d)) if big.any() else int(np.argmin(d))
        t0 = pts_sorted[i] * tick_s
        return True, (f"frame durations range {d.min() * 1000:.1f}-{d.max() * 1000:.1f} ms "
                      f"(median {med * 1000:.1f} ms; e.g. {d[i] * 1000:.1f} ms at "
                      f"{t0:.3f}-{t0 + d[i]:.3f} s)")
    tol = max(0.05 * med, 1.5 * tick_s)
    off = np.abs(d - med) > tol
    if off.sum() > max(1, 0.01 * len(d)):
        return True, (f"{int(off.sum())} of {len(d)} frame durations differ from the median "
                      f"{med * 1000:.2f} ms by more than {tol * 1000:.2f} ms")
    return False, None


def _fraction_str(tb) -> str:
    tb = Fraction(tb)
    return f"{tb.numerator}/{tb.denominator}"


def _nominal_fps(stream) -> Optional[float]:
    for rate in (stream.average_rate, stream.base_rate):
        if rate is not None and rate > 0:
            return float(rate)
    return None


# --------------------------------------------------------------------------- decoding


@dataclass(frozen=True)
class DecodeGap:
    """A stretch of a clip lost to damaged data: decoding dropped the pictures from
    the damage up to the next keyframe (they are predicted from damaged ones) and
    went on from there."""
    start_s: float          # clip time of the first frame lost
    end_s: float            # clip time of the first frame decoded after the gap
    packets_lost: int       # packets (one frame each) that gave no usable picture
    reason: str             # what went wrong first, in the decoder's words

    def describe(self) -> str:
        return (f"damaged data: {self.packets_lost} frame(s) lost from {self.start_s:.3f} "
                f"to {self.end_s:.3f} s ({self.reason}); decoding resumed at the next keyframe")

    def to_dict(self) -> dict:
        return {"start_s": round(self.start_s, 6), "end_s": round(self.end_s, 6),
                "packets_lost": self.packets_lost, "reason": self.reason}


@dataclass
class _Damage:
    """An open gap: what has been lost since the damage was found, and the pts of
    the keyframe decoding will resume at (None until one is fed)."""
    reason: str
    after_pts: Optional[int]        # the last good frame's pts (None: no frame yet)
    lost: set                       # pts of the packets whose pictures are dropped
    resume_pts: Optional[int] = None


class _DecodeLoop:
    """Demux + decode one video stream without ever raising on bad data.

    A demux error ends the read cleanly (`truncated`, `error`): a clip cut short
    yields every frame up to the break. Damage in the middle (a packet the decoder
    rejects, a picture it had to conceal, a packet flagged corrupt) does not end it:
    the pictures from there to the next keyframe are dropped, since they are
    predicted from damaged ones, and decoding goes on; each such stretch is a
    `DecodeGap`. Damage that no keyframe follows is a truncation."""

    def __init__(self, container, stream):
        self.container = container
        self.stream = stream
        self.truncated = False
        self.error: Optional[str] = None
        self.packets = 0
        self.corrupt_packets = 0
        self.corrupt_frames = 0
        self.exhausted = False          # demux reached the end (cleanly or not)
        self.gaps: List[DecodeGap] = []
        self.lost_at_end = 0            # packets dropped by damage no keyframe followed
        self._damage: Optional[_Damage] = None
        self._pending: List[int] = []   # pts fed to the decoder, not out as a frame yet
        self._last_pts: Optional[int] = None
        self._tb = Fraction(stream.time_base)

    def _drain(self):
        # frames still buffered in the decoder (B-frame reorder, frame threads) were
        # decoded fine; get them out after a break
        try:
            yield from self.stream.codec_context.decode(None)
        except Exception:
            pass

    def __iter__(self):
        import av
        demux = self.container.demux(self.stream)
        while True:
            try:
                packet = next(demux)
            except StopIteration:
                self.exhausted = True
                break
            except av.error.FFmpegError as e:
                self.truncated = True
                self.exhausted = True
                self.error = f"reading packets failed after {self.packets} packets: {e.strerror}"
                yield from self._good(self._drain())
                break
            yield from self._good(self._feed(packet))
        self._end()

    def _feed(self, packet) -> list:
        """Decode one packet; a rejected packet opens (or extends) a gap."""
        import av
        if packet.size:
            self.packets += 1
            pts = packet.pts
            if pts is not None:
                self._pending.append(pts)
            d = self._damage
            if d is not None:
                if pts is not None:
                    d.lost.add(pts)
                if packet.is_keyframe and d.resume_pts is None:
                    d.resume_pts = pts
            if packet.is_corrupt:
                self.corrupt_packets += 1
                self._damaged(f"packet {self.packets} is incomplete or damaged")
        try:
            return packet.decode()
        except av.error.FFmpegError as e:
            self._damaged(f"decoding failed at packet {self.packets}: {e.strerror}")
            return []

    def _damaged(self, reason: str) -> None:
        d = self._damage
        if d is not None:
            d.resume_pts = None         # damaged again: wait for a later keyframe
            return
        last = self._last_pts
        # the pictures in flight were decoded around the damage: not trusted either
        self._damage = _Damage(reason, last, {q for q in self._pending
                                              if last is None or q > last})

    def _good(self, decoded):
        """The decoded frames that are not damaged nor predicted from damage."""
        for f in decoded:
            if f.is_corrupt:
                self.corrupt_frames += 1
                t = "" if f.pts is None else f" at {float(f.pts * self._tb):.3f} s"
                self._damaged(f"picture{t} decoded with errors")
            d = self._damage
            if d is not None:
                if d.resume_pts is None or f.pts is None or f.pts < d.resume_pts:
                    continue
                self._close_gap(d, f.pts)
            if f.pts is not None:
                self._last_pts = f.pts
                self._pending = [q for q in self._pending if q > f.pts]
            yield f

    def _close_gap(self, d: _Damage, resume_pts: int) -> None:
        self._damage = None
        lost = sorted(q for q in d.lost
                      if (d.after_pts is None or q > d.after_pts) and q < resume_pts)
        if lost:
            self.gaps.append(DecodeGap(start_s=float(lost[0] * self._tb),
                                       end_s=float(resume_pts * self._tb),
                                       packets_lost=len(lost), reason=d.reason))

    def _end(self) -> None:
        """Damage still open at the end: nothing decodable followed it, so the clip
        is cut short there (as a truncated download is), not holed."""
        d = self._damage
        if d is None:
            return
        self.truncated = True
        self.error = self.error or d.reason
        self.lost_at_end = sum(1 for q in d.lost if d.after_pts is None or q > d.after_pts)


def check_stride(stride) -> None:
    """A frame stride is a whole number >= 1 (shared by frames() and analyze's option checks)."""
    if not (isinstance(stride, int) and not isinstance(stride, bool) and stride >= 1):
        raise InputError(f"--stride must be a whole number >= 1, got {stride!r}")


class FrameReader:
    """Iterator of `Frame`s. After (or while) iterating: `decoded` (frames yielded so
    far), `truncated`, `error` (None or one line), `warnings`, `rotation`.

    Opening happens at construction, so a bad input raises InputError right away."""

    def __init__(self, path, *, start_s: Optional[float] = None,
                 end_s: Optional[float] = None, stride: int = 1, thread_type: str = "AUTO",
                 max_pixels: Optional[int] = None):
        if start_s is not None and end_s is not None and end_s < start_s:
            raise InputError(f"{path}: end_s={end_s} is before start_s={start_s}")
        check_stride(stride)
        self.start_s = start_s
        self.end_s = end_s
        self.stride = stride
        self.decoded = 0
        self.last_time_s: Optional[float] = None   # of the last frame in range, yielded or not
        self.warnings: List[str] = []
        self.rotation = 0
        self._thread_type = thread_type
        self._loop: Optional[_DecodeLoop] = None
        self._short_of_index = False
        self.path, self._container, self._stream = _open_input(path, max_pixels)
        self._stream.thread_type = thread_type     # frame threads: ~2x on 2 cores
        self._index_n = _index_len(self._stream)   # before demuxing (see _read_header)
        self.time_base = _fraction_str(self._stream.time_base)
        self._gen: Optional[Iterator[Frame]] = None

    @property
    def truncated(self) -> bool:
        return self._short_of_index or (self._loop is not None and self._loop.truncated)

    @property
    def error(self) -> Optional[str]:
        return self._loop.error if self._loop is not None else None

    @property
    def gaps(self) -> List["DecodeGap"]:
        """Stretches lost to damaged data, as far as decoding got, that overlap the
        requested range."""
        if self._loop is None:
            return []
        lo, hi = self.start_s, self.end_s
        return [g for g in self._loop.gaps
                if (lo is None or g.end_s > lo) and (hi is None or g.start_s <= hi)]

    # iterator protocol -------------------------------------------------------------
    def __iter__(self) -> "FrameReader":
        return self

    def __next__(self) -> Frame:
        if self._gen is None:
            self._gen = self._run()
        return next(self._gen)

    def close(self) -> None:
        if self._gen is not None:
            self._gen.close()
        if self._container is not None:
            self._container.close()
            self._container = None

    def __enter__(self) -> "FrameReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------------------
    def _warn(self, msg: str) -> None:
        if msg not in self.warnings:
            self.warnings.append(msg)

    def _reopen(self) -> None:
        import av
        self._container.close()
        self._container = av.open(str(self.path), mode="r", metadata_errors="ignore")
        self._stream = _pick_video_stream(self._container)
        self._stream.thread_type = self._thread_type

    def _seek(self, target_s: float) -> bool:
        import av
        target = math.floor(Fraction(target_s) / Fraction(self._stream.time_base))
        try:
            self._container.seek(target, stream=self._stream, backward=True, any_frame=False)
            return True
        except av.error.FFmpegError:
            # e.g. no keyframe before the target in the index
            self._reopen()
            return False

    # How far before start_s to retry when a seek lands after it. MPEG-TS (dashcams)
    # seeks by bitrate estimate and routinely lands a few hundred ms late.
    _SEEK_BACKOFF_S = (0.0, 1.0, 4.0, 15.0)

    def _positioned_loop(self):
        """A decode loop positioned so that no decodable frame >= start_s is missed,
        and its first (av_frame, time_s) pair (None if the clip has no frame)."""
        if self.start_s is not None:
            for back_s in self._SEEK_BACKOFF_S:
                target_s = self.start_s - back_s
                if target_s <= 0 or not self._seek(target_s):
                    break
                timed = self._start_loop()
                first = next(timed, None)
                if first is not None and first[1] <= self.start_s:
                    return timed, first
                timed.close()
                # landed late (or past the end): the frames between the target and
                # the landing point may exist; retry further back
            self._reopen()
        timed = self._start_loop()
        return timed, next(timed, None)

    def _start_loop(self) -> Iterator[tuple]:
        """(av_frame, time_s) pairs of a fresh decode loop on the current container."""
        self._loop = _DecodeLoop(self._container, self._stream)
        tb = Fraction(self._stream.time_base)
        num, den = tb.numerator, tb.denominator
        skipped = backwards = 0
        prev: Optional[float] = None
        for avf in self._loop:
            pts = avf.pts
            if pts is None:
                t = avf.time        # PyAV's own fallback; usually None as well
                if t is None:
                    skipped += 1
                    continue
                t = float(t)
            else:
                t = (pts * num) / den            # exact rational, one rounding
            if prev is not None and t <= prev:
                # time must move forward (the tracker works in seconds); a container
                # without real pts (AVI with B-frames) can hand them out of order
                backwards += 1
                continue
            prev = t
            yield avf, t
        if skipped:
            self._warn(f"{skipped} decoded frame(s) without a timestamp were skipped")
        if backwards:
            self._warn(f"{backwards} decoded frame(s) were skipped: their timestamp is not "
                       "after the previous frame's (unreliable container timestamps)")

    def _run(self) -> Iterator[Frame]:
        from av.video.reformatter import VideoReformatter

        try:
            timed, first = self._positioned_loop()
            if first is not None:
                self.rotation, note = _rotation_cw(first[0], self._stream)
                if note:
                    self._warn(note)
                # One reformatter for the whole clip reuses FFmpeg's scaler context;
                # `frame.to_ndarray(format=...)` builds a new one per frame (~40 % slower).
                reformatter = VideoReformatter()
                start_s, end_s, rotation = self.start_s, self.end_s, self.rotation
                position = 0          # decode-order position among frames in range
                for avf, t in itertools.chain((first,), timed):
                    if start_s is not None and t < start_s:
                        continue
                    if end_s is not None and t > end_s:
                        break
                    index, position = position, position + 1
                    self.last_time_s = t
                    # Every frame is decoded (H.264 needs them all); a skipped one
                    # costs no colour conversion, and the yielded ones keep their own
                    # pts and decode position, so nothing downstream is re-timed.
                    if index % self.stride:
                        continue
                    img = reformatter.reformat(avf, format="bgr24").to_ndarray()
                    img = np.ascontiguousarray(_rotate_image(img, rotation))
                    fr = Frame(index=index, time_s=t, image=img)
                    self.decoded += 1
                    yield fr
            self._finish()
        finally:
            if self._container is not None:
                self._container.close()
                self._container = None

    def _finish(self) -> None:
        loop = self._loop
        if loop.truncated and loop.error:
            self._warn(f"decoding stopped early: {loop.error}")
        for gap in self.gaps:
            self._warn(gap.describe())
        if loop.corrupt_packets and loop.truncated:
            self._warn(f"{loop.corrupt_packets} packet(s) were incomplete (file cut short?)")
        if self.start_s is None and loop.exhausted and loop.packets:
            # read from the start to the end: the packet count is the whole file's
            short, note = _count_check(loop.packets, self._stream.frames, self._index_n)
            self._short_of_index = short
            if note:
                self._warn(note)
        if self.decoded == 0 and self.start_s is None and self.end_s is None:
            reason = loop.error or "no packet produced a picture"
            raise InputError(f"{self.path}: zero decodable video frames "
                             f"({reason}{_size_hint(self._stream)})")


def frames(path, *, start_s: Optional[float] = None, end_s: Optional[float] = None,
           stride: int = 1, max_pixels: Optional[int] = None) -> FrameReader:
    """Decoded frames of `path` with exact times (pts * time_base), upright, BGR.

    `start_s`: seek to the keyframe before it and drop frames with time < start_s.
    `end_s`: stop at the first frame with time > end_s. Both are on the clip's own
    clock (pts seconds, so a clip starting at pts 1.86 s has no frame at 0).
    `stride` N: yield every Nth frame in range (the first, then N later, ...), each
    with its own timestamp and its decode position as `index`; never re-timed.
    `max_pixels`: refuse a header declaring larger pictures (`probe` is the gate that
    `analyze` goes through first; this also hands the limit to the decoder).
    Damaged data in the middle is skipped up to the next keyframe: `reader.gaps`."""
    return FrameReader(path, start_s=start_s, end_s=end_s, stride=stride,
                       max_pixels=max_pixels)


def _decode_into(reader: FrameReader, q, stop, end) -> None:
    """DecodeAhead's thread: every frame of `reader` into `q`, then `end` (or the exception
    that stopped it); gives up as soon as `stop` is set."""
    def put(item) -> bool:
        import queue
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False
    try:
        for frame in reader:
            if not put(frame):
                return
        put(end)
    except BaseException as exc:        # handed to the consumer, raised there
        put(exc)


DECODE_AHEAD_FRAMES = 4     # frames decoded ahead of the consumer (a few: memory stays ~4 frames)


class DecodeAhead:
    """A FrameReader decoded in a background thread, up to `depth` frames ahead of the
    consumer: while the detector runs on one frame (torch and FFmpeg release the GIL),
    the next ones are decoded on the other core instead of after it. Frames, order and
    times are the reader's own; its attributes (`truncated`, `error`, `gaps`,
    `last_time_s`, `warnings`, ...) are read through, and are final once iteration ended.
    An exception in the decode thread is raised in the consumer, at the frame it hit."""

    _END = object()

    def __init__(self, reader: FrameReader, depth: int = DECODE_AHEAD_FRAMES):
        import queue
        import threading
        if depth < 1:
            raise ValueError(f"decode-ahead depth must be >= 1, got {depth}")
        self.reader = reader
        self._queue: "queue.Queue" = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        # The thread holds the reader, the queue and the flag, never `self`: a consumer that
        # stops early (an error in the detector) drops this object, and __del__ stops it.
        self._thread = threading.Thread(target=_decode_into, name="convoycount-decode", daemon=True,
                                        args=(reader, self._queue, self._stop, self._END))
        self._thread.start()

    def __iter__(self) -> "DecodeAhead":
        return self

    def __next__(self) -> Frame:
        item = self._queue.get()
        if item is self._END:
            self._queue.put(self._END)           # later calls end too
            raise StopIteration
        if isinstance(item, BaseException):
            self._queue.put(self._END)
            raise item
        return item

    def __getattr__(self, name):
        if name.startswith("_") or name == "reader":      # not set yet: no reader to ask
            raise AttributeError(name)
        return getattr(self.reader, name)

    def close(self) -> None:
        """Stop the decode thread, then close the reader (never while it decodes)."""
        self._stop.set()
        self._thread.join()
        self.reader.close()

    def __del__(self):
        stop = getattr(self, "_stop", None)
        if stop is not None:
            stop.set()

    def __enter__(self) -> "DecodeAhead":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --------------------------------------------------------------------------- probe


@dataclass(frozen=True)
class _Header:
    """What the container and stream headers claim, before any packet is read."""
    container: str
    codec: str
    has_audio: bool
    declared: Optional[int]         # the stream's frame count, if the header has one
    index_n: Optional[int]          # entries in the container's sample index
    fps_nominal: Optional[float]


@dataclass
class _Scan:
    """What reading the stream found: the timestamps of the frames that count, the
    first picture, and what went wrong on the way (warnings in the order they are
    reported)."""
    pts: List[int]                  # in time-base ticks, decode order
    first_frame: object             # the first decoded av.VideoFrame
    packets: int
    truncated: bool
    corrupt_packets: int
    warnings: List[str]
    gaps: list = field(default_factory=list)     # DecodeGaps (full decode only)


@dataclass
class _Demuxed:
    """Every packet of the stream, demuxed without decoding except up to the first
    picture."""
    rows: list                      # (pts, keyframe, discard) per packet, decode order
    first_frame: object             # None if no picture came out
    demux_error: Optional[str]
    decode_error: Optional[str]
    corrupt_packets: int
    last_corrupt: bool = False      # the last packet is incomplete: the file is cut there


@dataclass(frozen=True)
class _Timing:
    """The clip's clock as measured from the counted timestamps."""
    frames: int
    start_s: float
    fps_measured: float
    duration_s: float
    vfr: bool


def _read_header(container, vs) -> _Header:
    """The header's claims. Read before demuxing: formats without a stored index
    (MPEG-TS) build one while packets are read, which would make `index_n` count our
    own reads instead of what the file declares."""
    return _Header(container=container.format.name, codec=vs.codec_context.name,
                   has_audio=len(container.streams.audio) > 0, declared=vs.frames or None,
                   index_n=_index_len(vs), fps_nominal=_nominal_fps(vs))


def _index_len(vs) -> Optional[int]:
    try:
        return len(vs.index_entries) or None
    except Exception:
        return None


def _count_check(packets: int, declared: Optional[int],
                 index_n: Optional[int]) -> Tuple[bool, Optional[str]]:
    """(cut short?, warning) from the packets read against what the header declares:
    a download cut exactly at a packet boundary shows only here. A header count
    above a complete index (every entry was read) is the header's error, not a cut:
    AVI writers put a length in ticks there, and a crafted header says anything."""
    declared, index_n = declared or 0, index_n or 0
    if index_n and packets >= index_n and declared > index_n:
        return False, (f"the header declares {declared} frames but the file holds {packets} "
                       f"(as its index lists); the real frames are counted")
    short_of = max(declared, index_n)
    if short_of and packets < short_of:
        return True, (f"only {packets} of {short_of} video packets declared by the "
                      "container index are present (file cut short?)")
    return False, None


class _SpanGuard:
    """Stops a scan as soon as the timestamps seen span more than the duration
    limit: a long (or crafted) clip is refused before it is read whole."""

    def __init__(self, p: Path, tb: Fraction, max_s: Optional[float]):
        self.p, self.max_s = p, max_s
        self.tick_s = float(tb)
        self.max_ticks = None if max_s is None else max_s / self.tick_s
        self.lo = self.hi = None

    def see(self, pts: Optional[int]) -> None:
        if pts is None or self.max_ticks is None:
            return
        self.lo = pts if self.lo is None else min(self.lo, pts)
        self.hi = pts if self.hi is None else max(self.hi, pts)
        if self.hi - self.lo > self.max_ticks:
            raise _too_long(self.p, (self.hi - self.lo) * self.tick_s, self.max_s, "at least ")


def _too_long(p: Path, duration_s: float, max_s: float, qualifier: str = "") -> InputError:
    return InputError(f"{p}: lasts {qualifier}{_hms(duration_s)} by its timestamps, above the "
                      f"limit of {_hms(max_s)}; --max-duration SECONDS raises it")


def _hms(s: float) -> str:
    if s < 60:
        return f"{s:.1f} s"
    h, rest = divmod(int(round(s)), 3600)
    return f"{h} h {rest // 60:02d} min" if h else f"{rest // 60} min {rest % 60:02d} s"


def _scan_decoded(p: Path, container, vs, guard: _SpanGuard) -> _Scan:
    """Full-decode probe: every frame is decoded, so the count and timestamps are
    exactly what `frames()` yields; packets that gave no picture are reported."""
    vs.thread_type = "AUTO"
    loop = _DecodeLoop(container, vs)
    pts_list: List[int] = []
    no_pts = 0
    first_frame = None
    for f in loop:
        if first_frame is None:
            first_frame = f
        if f.pts is None:
            no_pts += 1
        else:
            guard.see(f.pts)
            pts_list.append(f.pts)
    warnings: List[str] = []
    if no_pts:
        warnings.append(f"{no_pts} decoded frame(s) have no timestamp and were not counted")
    if loop.truncated and loop.error:
        warnings.append(f"decoding stopped early: {loop.error}")
    warnings.extend(g.describe() for g in loop.gaps)
    n_packets = loop.packets
    if n_packets == 0:
        raise InputError(f"{p}: the video stream has no packets")
    if not pts_list:
        raise InputError(f"{p}: zero decodable video frames "
                         f"({loop.error or 'no packet produced a picture'}{_size_hint(vs)})")
    unshown = (n_packets - len(pts_list) - no_pts - sum(g.packets_lost for g in loop.gaps)
               - loop.lost_at_end)
    if unshown > 0:
        warnings.append(f"{unshown} of {n_packets} packets produced no picture (before the "
                        "first keyframe, discarded by the edit list, or cut off)")
    return _Scan(pts=pts_list, first_frame=first_frame, packets=n_packets,
                 truncated=loop.truncated, corrupt_packets=loop.corrupt_packets,
                 warnings=warnings, gaps=list(loop.gaps))


def _demux_to_first_picture(container, vs, guard: _SpanGuard) -> _Demuxed:
    """Demux every packet, decoding only until the first picture comes out: that
    proves the codec works and gives rotation and size, at a fraction of a full
    decode's cost. A demux error ends the read cleanly; decode errors are kept for
    the messages. Both never raise."""
    import av

    rows = []
    first_frame = None
    demux_error = decode_error = None
    corrupt_packets = 0
    last_corrupt = False
    decoding = True
    try:
        for pkt in container.demux(vs):
            if pkt.size == 0:
                continue              # flush marker at the end
            if pkt.is_corrupt:
                corrupt_packets += 1
            guard.see(pkt.pts)
            last_corrupt = pkt.is_corrupt
            rows.append((pkt.pts, pkt.is_keyframe, pkt.is_discard))
            if decoding:
                try:
                    for f in pkt.decode():
                        first_frame = f
                        decoding = False
                        break
                except av.error.FFmpegError as e:
                    # damage at the start: a later keyframe may still decode
                    decode_error = decode_error or e.strerror
    except av.error.FFmpegError as e:
        demux_error = e.strerror
    if first_frame is None and decoding:
        # tiny clip: the picture may still be in the decoder's reorder buffer
        try:
            for f in vs.codec_context.decode(None):
                first_frame = f
                break
        except av.error.FFmpegError as e:
            decode_error = e.strerror
    return _Demuxed(rows=rows, first_frame=first_frame, demux_error=demux_error,
                    decode_error=decode_error, corrupt_packets=corrupt_packets,
                    last_corrupt=last_corrupt)


def _no_picture_reason(d: _Demuxed) -> str:
    """Why a fast probe got no picture: a decoder error, a stream without any
    keyframe (nothing can start decoding), or none of the above."""
    if d.decode_error:
        return f"decoder error: {d.decode_error}"
    if not any(r[1] for r in d.rows):
        return f"none of its {len(d.rows)} packets is a keyframe"
    return "no packet produced a picture"


def _showable_pts(rows, first_pts, tick_s: float, warnings: List[str]) -> List[int]:
    """Timestamps of the packets a player can show, from packet flags alone: not
    those before the first keyframe, not those the edit list discards, not those
    without a timestamp, not those presented before the first decoded picture.
    Each exclusion is reported, since the count is then an inference."""
    first_key = next((i for i, r in enumerate(rows) if r[1]), None)
    if first_key is None:
        warnings.append("no packet is flagged as a keyframe; counting all packets")
        first_key = 0
    lead = rows[:first_key]
    if lead:
        lp = [r[0] for r in lead if r[0] is not None]
        span = (f" (pts {min(lp) * tick_s:.3f}-{max(lp) * tick_s:.3f} s)" if lp else "")
        warnings.append(f"{len(lead)} packet(s) before the first keyframe{span} cannot be "
                        "decoded and are not counted")
    kept = rows[first_key:]
    discard = sum(1 for r in kept if r[2])
    if discard:
        warnings.append(f"{discard} packet(s) marked discard by the container (edit list) "
                        "are not shown and are not counted")
    no_pts = sum(1 for r in kept if r[0] is None and not r[2])
    if no_pts:
        warnings.append(f"{no_pts} packet(s) have no timestamp and were not counted")
    pts_list = [r[0] for r in kept if not r[2] and r[0] is not None]
    if first_pts is not None:
        early = [q for q in pts_list if q < first_pts]
        if early:
            warnings.append(f"{len(early)} packet(s) after the first keyframe present "
                            "before the first decodable picture and are not counted")
            pts_list = [q for q in pts_list if q >= first_pts]
    if lead or discard:
        warnings.append("frame count is from packets (fast probe); "
                        "full_decode=True confirms it by decoding")
    return pts_list


def _scan_packets(p: Path, container, vs, tick_s: float, guard: _SpanGuard) -> _Scan:
    """Fast probe: frames are counted from packets (see `_showable_pts`); a stream
    with no packet, or with no picture at all, is an InputError. Only an incomplete
    *last* packet means the file is cut short: one flagged in the middle is damage
    that decoding skips (a full decode reports what it loses)."""
    d = _demux_to_first_picture(container, vs, guard)
    n_packets = len(d.rows)
    if n_packets == 0:
        raise InputError(f"{p}: the video stream has no packets"
                         + (f" ({d.demux_error})" if d.demux_error else ""))
    if d.first_frame is None:
        raise InputError(f"{p}: zero decodable video frames ({_no_picture_reason(d)}"
                         f"{_size_hint(vs)})")
    warnings: List[str] = []
    if d.demux_error:
        warnings.append(f"reading packets failed after {n_packets} packets: {d.demux_error}")
    pts_list = _showable_pts(d.rows, d.first_frame.pts, tick_s, warnings)
    return _Scan(pts=pts_list, first_frame=d.first_frame, packets=n_packets,
                 truncated=d.demux_error is not None or d.last_corrupt,
                 corrupt_packets=d.corrupt_packets, warnings=warnings)


def _truncated(scan: _Scan, header: _Header, warnings: List[str]) -> bool:
    """A clip is truncated if reading broke, its last packet was incomplete, or fewer
    packets are present than the header or index declares (see `_count_check`)."""
    truncated = scan.truncated
    if scan.corrupt_packets:
        warnings.append(f"{scan.corrupt_packets} packet(s) are incomplete (file cut short?)"
                        if truncated else f"{scan.corrupt_packets} packet(s) in the middle "
                        "are flagged damaged (decoding skips past them)")
    short, note = _count_check(scan.packets, header.declared, header.index_n)
    truncated = truncated or short
    if note:
        warnings.append(note)
    if truncated and not any("cut short" in w or "stopped early" in w for w in warnings):
        warnings.append("clip is truncated")
    return truncated


def _measure_timing(pts_list: List[int], tb: Fraction, fps_nominal: Optional[float],
                    warnings: List[str]) -> _Timing:
    """Frame rate, start, duration and VFR from the timestamps alone. The duration
    adds one median frame to the span, since the last frame is shown for that long;
    with a single distinct timestamp only the header's rate is left to go on."""
    tick_s = float(tb)
    pts_sorted = sorted(pts_list)
    n = len(pts_sorted)
    dup = n - len(set(pts_sorted))
    if dup:
        warnings.append(f"{dup} frame(s) share a timestamp with another frame")
    first_s = (pts_sorted[0] * tb.numerator) / tb.denominator
    span_s = (pts_sorted[-1] - pts_sorted[0]) * tick_s
    if n >= 2 and span_s > 0:
        fps_measured = (n - 1) / span_s
        med_dur = float(statistics.median(np.diff(pts_sorted))) * tick_s
    else:
        fps_measured = fps_nominal or 0.0
        med_dur = 1.0 / fps_nominal if fps_nominal else 0.0
        warnings.append("only one distinct timestamp: fps_measured falls back to the header")
    vfr, vfr_note = _is_vfr(pts_sorted, tick_s)
    if vfr_note:
        warnings.append(f"variable frame rate: {vfr_note}")
    return _Timing(frames=n, start_s=first_s, fps_measured=fps_measured,
                   duration_s=span_s + med_dur, vfr=vfr)


def _display_size(first_frame, vs, warnings: List[str]) -> Tuple[int, int, int]:
    """(rotation, width, height) as a player shows the picture: a quarter turn
    swaps the stored width and height."""
    rotation, note = _rotation_cw(first_frame, vs)
    if note:
        warnings.append(note)
    w, h = first_frame.width, first_frame.height
    if rotation in (90, 270):
        w, h = h, w
    return rotation, w, h


def _warn_header_rate(fps_nominal: Optional[float], timing: _Timing,
                      warnings: List[str]) -> None:
    """Say so when a CFR clip's header rate is off by more than 2 % from its
    timestamps (ten frames at least, so rounding cannot trigger it): readers that
    trust the header would mistime the clip."""
    if (fps_nominal and not timing.vfr and timing.frames >= 10
            and abs(timing.fps_measured / fps_nominal - 1) > 0.02):
        warnings.append(f"header frame rate {fps_nominal:.3f} differs from measured "
                        f"{timing.fps_measured:.3f}; timestamps are used")


def _check_clip(p: Path, header: _Header, timing: _Timing, w: int, h: int,
                max_duration_s: Optional[float], warnings: List[str]) -> None:
    """What the scan found against what an analysis can use: a picture big enough
    to show a vehicle, a duration within the limit; and a word on GIF timing."""
    if min(w, h) < MIN_SIDE_PX:
        raise InputError(f"{p}: the picture is only {w}x{h} pixels; at least "
                         f"{MIN_SIDE_PX}x{MIN_SIDE_PX} are needed to tell a vehicle from noise")
    if max_duration_s is not None and timing.duration_s > max_duration_s:
        raise _too_long(p, timing.duration_s, max_duration_s)
    if header.container in ("gif", "apng"):
        warnings.append(f"an animated {header.container.upper()}: its clock is the frame "
                        "delays stored in the file (1/100 s steps for GIF); a GIF made from "
                        "a video has often been re-timed or had frames dropped")


def probe(path, *, full_decode: bool = False, max_pixels: Optional[int] = DEFAULT_MAX_PIXELS,
          max_duration_s: Optional[float] = DEFAULT_MAX_DURATION_S) -> ClipInfo:
    """What a clip really is, from its timestamps.

    Fast mode (default) demuxes every packet without decoding, decoding only up to the
    first picture (that proves the codec works and gives the display rotation).
    Packets before the first keyframe and packets the container marks as discard
    (edit list) cannot be shown, so they are not counted in `frames` (a warning says
    so); `packets` keeps the raw count. `full_decode=True` decodes every frame and
    reports exactly what `frames()` would yield, with the gaps damaged data left.

    Limits (None: unchecked): a header declaring more than `max_pixels` per frame is
    refused before anything is decoded; a clip whose timestamps span more than
    `max_duration_s` is refused as soon as the scan sees it."""
    p, container, vs = _open_input(path, max_pixels)
    try:
        tb = Fraction(vs.time_base)
        header = _read_header(container, vs)
        guard = _SpanGuard(p, tb, max_duration_s)
        scan = (_scan_decoded(p, container, vs, guard) if full_decode
                else _scan_packets(p, container, vs, float(tb), guard))
        warnings = scan.warnings
        truncated = _truncated(scan, header, warnings)
        timing = _measure_timing(scan.pts, tb, header.fps_nominal, warnings)
        rotation, w, h = _display_size(scan.first_frame, vs, warnings)
        _check_clip(p, header, timing, w, h, max_duration_s, warnings)
        _warn_header_rate(header.fps_nominal, timing, warnings)
        return ClipInfo(
            path=str(p), container=header.container, codec=header.codec, width=w, height=h,
            rotation=rotation, duration_s=timing.duration_s, frames=timing.frames,
            frames_declared=header.declared, fps_nominal=header.fps_nominal,
            fps_measured=timing.fps_measured, vfr=timing.vfr, has_audio=header.has_audio,
            truncated=truncated, start_time_s=timing.start_s, time_base=_fraction_str(tb),
            warnings=tuple(warnings), packets=scan.packets, full_decode=full_decode,
            gaps=tuple(scan.gaps),
        )
    finally:
        container.close()
