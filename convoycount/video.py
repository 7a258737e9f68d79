"""Reading clips: `probe()` says what a clip really is, `frames()` yields decoded
frames with their exact presentation time.

Time comes from each frame's pts * time_base (PyAV), never from index / fps:
phone footage is usually variable-frame-rate and many clips start at pts > 0.
"""
from __future__ import annotations

import itertools
import math
import statistics
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np

from convoycount.errors import InputError


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

    def to_dict(self) -> dict:
        d = asdict(self)
        d["warnings"] = list(self.warnings)
        return d


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
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: file not found")
    if p.is_dir():
        raise InputError(f"{p}: is a directory, expected a video file")
    if not p.is_file():
        raise InputError(f"{p}: not a regular file")
    if p.stat().st_size == 0:
        raise InputError(f"{p}: file is empty (0 bytes)")
    return p


def _unreadable_reason(p: Path) -> str:
    if _mp4_missing_index(p):
        return ("MP4 is cut short before its index (no 'moov' atom): the download "
                "or recording was probably interrupted")
    with open(p, "rb") as fh:
        head = fh.read(4096)
    if _looks_like_text(head):
        return "is a text file, not a video"
    return "not a recognised video container (unknown or corrupted data)"


def _pick_video_stream(container):
    for s in container.streams.video:
        # skip cover art / thumbnails stored as a one-picture "video" stream
        if s.disposition & 1024:       # AV_DISPOSITION_ATTACHED_PIC
            continue
        return s
    return None


def _open_input(path):
    """Open `path` and return (path, container, video_stream); raise InputError with
    one clean line for anything that is not a decodable video."""
    import av

    p = _check_path(path)
    try:
        container = av.open(str(p), mode="r", metadata_errors="ignore")
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
        if vs.codec_context is None:
            raise InputError(f"{p}: the video codec is unknown or not supported by this "
                             f"FFmpeg build (no decoder available)")
    except BaseException:
        container.close()
        raise
    return p, container, vs


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


class _DecodeLoop:
    """Demux + decode one video stream, turning demux/decode errors into a clean end
    (`truncated`, `error`) instead of an exception: a clip cut short still yields
    every frame up to the break."""

    def __init__(self, container, stream):
        self.container = container
        self.stream = stream
        self.truncated = False
        self.error: Optional[str] = None
        self.packets = 0
        self.corrupt_packets = 0
        self.corrupt_frames = 0
        self.exhausted = False          # demux reached the end (cleanly or not)

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
                return
            except av.error.FFmpegError as e:
                self.truncated = True
                self.exhausted = True
                self.error = f"reading packets failed after {self.packets} packets: {e.strerror}"
                yield from self._drain()
                return
            if packet.size:
                self.packets += 1
                if packet.is_corrupt:
                    self.corrupt_packets += 1
                    self.truncated = True
            try:
                out = packet.decode()
            except av.error.FFmpegError as e:
                self.truncated = True
                self.error = f"decoding failed at packet {self.packets}: {e.strerror}"
                yield from self._drain()
                return
            for f in out:
                if f.is_corrupt:
                    self.corrupt_frames += 1
                yield f


def check_stride(stride) -> None:
    """A frame stride is a whole number >= 1 (shared by frames() and analyze's option checks)."""
    if not (isinstance(stride, int) and not isinstance(stride, bool) and stride >= 1):
        raise InputError(f"--stride must be a whole number >= 1, got {stride!r}")


class FrameReader:
    """Iterator of `Frame`s. After (or while) iterating: `decoded` (frames yielded so
    far), `truncated`, `error` (None or one line), `warnings`, `rotation`.

    Opening happens at construction, so a bad input raises InputError right away."""

    def __init__(self, path, *, start_s: Optional[float] = None,
                 end_s: Optional[float] = None, stride: int = 1, thread_type: str = "AUTO"):
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
        self.path, self._container, self._stream = _open_input(path)
        self._stream.thread_type = thread_type     # frame threads: ~2x on 2 cores
        self.time_base = _fraction_str(self._stream.time_base)
        self._gen: Optional[Iterator[Frame]] = None

    @property
    def truncated(self) -> bool:
        return self._short_of_index or (self._loop is not None and self._loop.truncated)

    @property
    def error(self) -> Optional[str]:
        return self._loop.error if self._loop is not None else None

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
        skipped = 0
        for avf in self._loop:
            pts = avf.pts
            if pts is None:
                t = avf.time        # PyAV's own fallback; usually None as well
                if t is None:
                    skipped += 1
                    continue
                yield avf, float(t)
            else:
                yield avf, (pts * num) / den     # exact rational, one rounding
        if skipped:
            self._warn(f"{skipped} decoded frame(s) without a timestamp were skipped")

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
        if loop.error:
            self._warn(f"decoding stopped early: {loop.error}")
        if loop.corrupt_packets:
            self._warn(f"{loop.corrupt_packets} packet(s) were incomplete (file cut short?)")
        declared = self._stream.frames or 0
        if self.start_s is None and loop.exhausted and 0 < loop.packets < declared:
            # read from the start to the end: the packet count is the whole file's
            self._short_of_index = True
            self._warn(f"only {loop.packets} of {declared} video packets declared by the "
                       "container index are present (file cut short?)")
        if loop.corrupt_frames:
            self._warn(f"{loop.corrupt_frames} frame(s) decoded with errors (concealed)")
        if self.decoded == 0 and self.start_s is None and self.end_s is None:
            reason = loop.error or "no packet produced a picture"
            raise InputError(f"{self.path}: zero decodable video frames ({reason})")


def frames(path, *, start_s: Optional[float] = None,
           end_s: Optional[float] = None, stride: int = 1) -> FrameReader:
    """Decoded frames of `path` with exact times (pts * time_base), upright, BGR.

    `start_s`: seek to the keyframe before it and drop frames with time < start_s.
    `end_s`: stop at the first frame with time > end_s. Both are on the clip's own
    clock (pts seconds, so a clip starting at pts 1.86 s has no frame at 0).
    `stride` N: yield every Nth frame in range (the first, then N later, ...), each
    with its own timestamp and its decode position as `index`; never re-timed."""
    return FrameReader(path, start_s=start_s, end_s=end_s, stride=stride)


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


@dataclass
class _Demuxed:
    """Every packet of the stream, demuxed without decoding except up to the first
    picture."""
    rows: list                      # (pts, keyframe, discard) per packet, decode order
    first_frame: object             # None if no picture came out
    demux_error: Optional[str]
    decode_error: Optional[str]
    corrupt_packets: int


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
    try:
        index_n = len(vs.index_entries) or None
    except Exception:
        index_n = None
    return _Header(container=container.format.name, codec=vs.codec_context.name,
                   has_audio=len(container.streams.audio) > 0, declared=vs.frames or None,
                   index_n=index_n, fps_nominal=_nominal_fps(vs))


def _scan_decoded(p: Path, container, vs) -> _Scan:
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
            pts_list.append(f.pts)
    warnings: List[str] = []
    if no_pts:
        warnings.append(f"{no_pts} decoded frame(s) have no timestamp and were not counted")
    if loop.error:
        warnings.append(f"decoding stopped early: {loop.error}")
    if loop.corrupt_frames:
        warnings.append(f"{loop.corrupt_frames} frame(s) decoded with errors (concealed)")
    n_packets = loop.packets
    if n_packets == 0:
        raise InputError(f"{p}: the video stream has no packets")
    if not pts_list:
        raise InputError(f"{p}: zero decodable video frames "
                         f"({loop.error or 'no packet produced a picture'})")
    if n_packets > len(pts_list) + no_pts:
        warnings.append(f"{n_packets - len(pts_list) - no_pts} of {n_packets} packets "
                        "produced no picture (before the first keyframe, "
                        "discarded by the edit list, or cut off)")
    return _Scan(pts=pts_list, first_frame=first_frame, packets=n_packets,
                 truncated=loop.truncated, corrupt_packets=loop.corrupt_packets,
                 warnings=warnings)


def _demux_to_first_picture(container, vs) -> _Demuxed:
    """Demux every packet, decoding only until the first picture comes out: that
    proves the codec works and gives rotation and size, at a fraction of a full
    decode's cost. Errors end the read cleanly and are kept for the messages."""
    import av

    rows = []
    first_frame = None
    demux_error = decode_error = None
    corrupt_packets = 0
    decoding = True
    try:
        for pkt in container.demux(vs):
            if pkt.size == 0:
                continue              # flush marker at the end
            if pkt.is_corrupt:
                corrupt_packets += 1
            rows.append((pkt.pts, pkt.is_keyframe, pkt.is_discard))
            if decoding:
                try:
                    for f in pkt.decode():
                        first_frame = f
                        decoding = False
                        break
                except av.error.FFmpegError as e:
                    decode_error = e.strerror
                    decoding = False
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
                    decode_error=decode_error, corrupt_packets=corrupt_packets)


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


def _scan_packets(p: Path, container, vs, tick_s: float) -> _Scan:
    """Fast probe: frames are counted from packets (see `_showable_pts`); a stream
    with no packet, or with no picture at all, is an InputError."""
    d = _demux_to_first_picture(container, vs)
    n_packets = len(d.rows)
    if n_packets == 0:
        raise InputError(f"{p}: the video stream has no packets"
                         + (f" ({d.demux_error})" if d.demux_error else ""))
    if d.first_frame is None:
        raise InputError(f"{p}: zero decodable video frames ({_no_picture_reason(d)})")
    warnings: List[str] = []
    if d.demux_error:
        warnings.append(f"reading packets failed after {n_packets} packets: {d.demux_error}")
    pts_list = _showable_pts(d.rows, d.first_frame.pts, tick_s, warnings)
    return _Scan(pts=pts_list, first_frame=d.first_frame, packets=n_packets,
                 truncated=d.demux_error is not None or d.corrupt_packets > 0,
                 corrupt_packets=d.corrupt_packets, warnings=warnings)


def _truncated(scan: _Scan, header: _Header, warnings: List[str]) -> bool:
    """A clip is truncated if reading broke, a packet was incomplete, or fewer
    packets are present than the header or index declares (a download cut exactly
    at a packet boundary shows only in that last comparison)."""
    truncated = scan.truncated
    if scan.corrupt_packets:
        warnings.append(f"{scan.corrupt_packets} packet(s) are incomplete (file cut short?)")
    short_of = max(header.declared or 0, header.index_n or 0)
    if short_of and scan.packets < short_of:
        truncated = True
        warnings.append(f"only {scan.packets} of {short_of} video packets declared by the "
                        "container index are present (file cut short?)")
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


def probe(path, *, full_decode: bool = False) -> ClipInfo:
    """What a clip really is, from its timestamps.

    Fast mode (default) demuxes every packet without decoding, decoding only up to the
    first picture (that proves the codec works and gives the display rotation).
    Packets before the first keyframe and packets the container marks as discard
    (edit list) cannot be shown, so they are not counted in `frames` (a warning says
    so); `packets` keeps the raw count. `full_decode=True` decodes every frame and
    reports exactly what `frames()` would yield."""
    p, container, vs = _open_input(path)
    try:
        tb = Fraction(vs.time_base)
        header = _read_header(container, vs)
        scan = (_scan_decoded(p, container, vs) if full_decode
                else _scan_packets(p, container, vs, float(tb)))
        warnings = scan.warnings
        truncated = _truncated(scan, header, warnings)
        timing = _measure_timing(scan.pts, tb, header.fps_nominal, warnings)
        rotation, w, h = _display_size(scan.first_frame, vs, warnings)
        _warn_header_rate(header.fps_nominal, timing, warnings)
        return ClipInfo(
            path=str(p), container=header.container, codec=header.codec, width=w, height=h,
            rotation=rotation, duration_s=timing.duration_s, frames=timing.frames,
            frames_declared=header.declared, fps_nominal=header.fps_nominal,
            fps_measured=timing.fps_measured, vfr=timing.vfr, has_audio=header.has_audio,
            truncated=truncated, start_time_s=timing.start_s, time_base=_fraction_str(tb),
            warnings=tuple(warnings), packets=scan.packets, full_decode=full_decode,
        )
    finally:
        container.close()
