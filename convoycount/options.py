"""AnalysisOptions: everything one analysis is asked to do, in one frozen value.

The CLI (`count`, `batch`), the batch runner and the Python API all build one of
these, and it is checked here, once, before any frame is decoded: a bad `--line`
fails a batch before its first clip, not on every row. The report's `params` is
`options.params()`, so what was asked is recorded in exactly the words it was
checked in. To add an option: add a field (with units in its name and a good
default), check it in `_check()`, use it in the stage that needs it.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Optional, Union

from .count import CounterSettings, Line
from .detect import DetectorOptions
from .errors import ConvoyCountError
from .track import TrackerSettings
from .limits import DEFAULT_MAX_DURATION_S, DEFAULT_MAX_PIXELS
from .video import check_stride

CLAIM_BASES = ("clip", "real")

# Flat keyword names (the API's and the CLI's) that belong to the detector.
_DETECTOR_KEYS = {"detector": "name", "model": "model", "conf": "conf", "imgsz": "imgsz",
                  "device": "device", "classes": "classes", "trust_model": "trust_model"}
# Earlier spellings of the settings keywords, still accepted by analyze().
_ALIASES = {"tracker_settings": "tracker", "counter_settings": "counter"}


@dataclass(frozen=True)
class AnalysisOptions:
    detector: DetectorOptions = field(default_factory=DetectorOptions)
    line: Optional[Line] = None                      # None: chosen across the main flow
    line_at_s: Optional[float] = None                # the line is placed in the scene as it
                                                     # lies in the frame at this clip time
                                                     # (None: the first analysed frame)
    camera: bool = True                              # measure camera motion and count in
                                                     # scene coordinates (camera/)
    stride: int = 1                                  # detect on every Nth decoded frame
    adaptive_stride: bool = True                     # with a given line and stride 1, a learned
                                                     # detector skips frames where every vehicle
                                                     # is predictable (schedule.py)
    start_s: Optional[float] = None                  # analyse from this clip time
    end_s: Optional[float] = None                    # ...up to this clip time
    speedup: Union[None, float, str] = None          # K, "auto" (estimate), or None
    real_duration_s: Optional[float] = None          # the filmed event really lasted this long
    claim: Optional[str] = None                      # a claim to judge, as typed
    claim_basis: Optional[str] = None                # clip | real | None (real when K is known)
    tracker: TrackerSettings = field(default_factory=TrackerSettings)
    counter: CounterSettings = field(default_factory=CounterSettings)
    stable_min_frames: int = 5                       # frames a track needs to be a "stable" vehicle
    integrity: bool = True                           # look for edits (loops, cuts, ...) while decoding
    # Resource limits (see limits.py for the defaults' reasons). Not in params(): they
    # never change a result, only whether a clip is analysed at all.
    max_pixels: int = DEFAULT_MAX_PIXELS             # refuse larger frames, from the header
    max_duration_s: float = DEFAULT_MAX_DURATION_S   # refuse longer clips, from the timestamps

    def __post_init__(self):
        # Normalise what a user may type as text, so every caller gets the same value.
        if isinstance(self.line, str):
            try:
                object.__setattr__(self, "line", Line.parse(self.line))
            except ValueError as e:          # Line checks its numbers with plain ValueErrors
                raise ConvoyCountError(str(e)) from None
        object.__setattr__(self, "speedup", _parse_speedup(self.speedup))
        self._check()

    def _check(self) -> None:
        if not isinstance(self.detector, DetectorOptions):
            raise ConvoyCountError(f"detector must be DetectorOptions, got {type(self.detector).__name__}")
        if self.claim_basis not in (None, *CLAIM_BASES):
            raise ConvoyCountError(f"--claim-basis must be clip or real, got {self.claim_basis!r}")
        if self.start_s is not None and self.end_s is not None and self.end_s <= self.start_s:
            raise ConvoyCountError(f"--end ({self.end_s}) must be after --start ({self.start_s})")
        if self.speedup is not None and self.real_duration_s is not None:
            raise ConvoyCountError("give either --speedup or --real-duration, not both")
        check_stride(self.stride)
        if self.real_duration_s is not None and not float(self.real_duration_s) > 0:
            raise ConvoyCountError("--real-duration must be a positive number of seconds, "
                                   f"got {self.real_duration_s}")
        if not (isinstance(self.stable_min_frames, int) and self.stable_min_frames >= 1):
            raise ConvoyCountError(f"stable_min_frames must be a whole number >= 1, "
                                   f"got {self.stable_min_frames!r}")
        if not isinstance(self.adaptive_stride, bool):
            raise ConvoyCountError(f"adaptive_stride must be True or False, got {self.adaptive_stride!r}")
        if not isinstance(self.integrity, bool):
            raise ConvoyCountError(f"integrity must be True or False, got {self.integrity!r}")
        self._check_camera()
        _check_limits(self.max_pixels, self.max_duration_s)
        self.parsed_claim      # a claim that cannot be parsed fails here, with an example

    def _check_camera(self) -> None:
        if not isinstance(self.camera, bool):
            raise ConvoyCountError(f"camera must be True or False, got {self.camera!r}")
        t = self.line_at_s
        if t is None:
            return
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 <= t < math.inf:
            raise ConvoyCountError(f"--line-at must be a clip time in seconds >= 0, got {t!r}")
        if self.line is None:
            raise ConvoyCountError("--line-at places a given line: give --line x1,y1,x2,y2 too")
        if not self.camera:
            raise ConvoyCountError("--line-at needs camera motion measured: drop --no-camera")
        if (self.start_s is not None and t < self.start_s) or (self.end_s is not None and t > self.end_s):
            raise ConvoyCountError(f"--line-at {t} is outside the analysed range "
                                   f"{self.start_s or 0}-{self.end_s if self.end_s is not None else 'end'} s")

    @cached_property
    def parsed_claim(self):
        """The claim as `claims.Claim`, or None."""
        if self.claim is None:
            return None
        from .claims import parse
        return parse(self.claim)

    @classmethod
    def from_keywords(cls, **kw) -> "AnalysisOptions":
        """From the flat keywords of `analyze()` and the CLI: detector="coco",
        model=..., conf=..., imgsz=..., device=..., classes=... go into the
        DetectorOptions; the rest are fields of their own."""
        return cls().replace(**kw)

    def replace(self, **kw) -> "AnalysisOptions":
        """A copy with some options changed, given as flat keywords."""
        kw = {_ALIASES.get(k, k): v for k, v in kw.items()}
        fields = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(kw) - fields - set(_DETECTOR_KEYS))
        if unknown:
            known = sorted((fields - {"detector"}) | set(_DETECTOR_KEYS))
            raise ConvoyCountError(f"unknown analyze option(s) {', '.join(unknown)}; "
                                   f"known: {', '.join(known)}")
        det = {_DETECTOR_KEYS[k]: kw.pop(k) for k in list(kw)
               if k in _DETECTOR_KEYS and not isinstance(kw[k], DetectorOptions)}
        new = dataclasses.replace(self, **kw)
        if det:
            new = dataclasses.replace(new, detector=dataclasses.replace(new.detector, **det))
        return new

    def params(self) -> dict:
        """The JSON form recorded in the report (and hashed by batch resume)."""
        d = self.detector
        return {"detector": d.name, "model": d.model, "conf": d.conf, "imgsz": d.imgsz,
                "device": d.device, "classes": list(d.classes) if d.classes else None,
                "trust_model": d.trust_model,
                "stride": self.stride, "adaptive_stride": self.adaptive_stride, "line": None if self.line is None else self.line.to_dict(),
                "speedup": self.speedup, "real_duration_s": self.real_duration_s,
                "claim": self.claim, "claim_basis": self.claim_basis,
                "start_s": self.start_s, "end_s": self.end_s,
                "tracker": dataclasses.asdict(self.tracker),
                "counter": dataclasses.asdict(self.counter),
                "stable_min_frames": self.stable_min_frames, "integrity": self.integrity,
                "line_at_s": self.line_at_s, "camera": self.camera}


def _check_limits(max_pixels, max_duration_s) -> None:
    if not (isinstance(max_pixels, int) and not isinstance(max_pixels, bool) and max_pixels >= 1):
        raise ConvoyCountError(f"--max-pixels must be a whole number of pixels >= 1, got {max_pixels!r}")
    if not (isinstance(max_duration_s, (int, float)) and not isinstance(max_duration_s, bool)
            and 0 < max_duration_s < math.inf):
        raise ConvoyCountError(f"--max-duration must be a positive number of seconds, "
                               f"got {max_duration_s!r}")


def _parse_speedup(speedup) -> Union[None, float, str]:
    """A positive number, "auto" (estimate it), or None."""
    if speedup is None or speedup == "auto":
        return speedup
    try:
        k = float(speedup)
    except (TypeError, ValueError):
        k = float("nan")
    if not (0 < k < math.inf):
        raise ConvoyCountError(f"--speedup must be a positive number or 'auto', got {speedup!r}")
    return k
