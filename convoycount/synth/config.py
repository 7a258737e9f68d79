"""`SynthConfig`: every knob of the synthetic convoy generator, and `scenario()` presets.

All lengths are metres (`_m`), pixel sizes `_px`, times seconds (`_s`), speeds
metres per second (`_mps`). "Real" time is the time at the scene; "clip" time
is the presentation time in the file: clip = real / speedup.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Optional

from ..errors import ConvoyCountError

# Vehicle classes the generator can draw (a subset of detect.base.VEHICLE_CLASSES).
SYNTH_CLASSES = ("car", "van", "truck", "bus", "motorcycle", "military")

# Named class mixes: relative weights, normalised when drawn.
CLASS_MIXES = {
    "civilian": (("car", 0.55), ("van", 0.14), ("truck", 0.13), ("bus", 0.06), ("motorcycle", 0.12)),
    "mixed": (("car", 0.42), ("van", 0.12), ("truck", 0.13), ("bus", 0.06), ("motorcycle", 0.09),
              ("military", 0.18)),
    "military": (("military", 0.8), ("truck", 0.1), ("car", 0.1)),
}

ORIENTATIONS = ("horizontal", "vertical")
VIEWS = ("auto", "side", "top")
NON_CROSSING_KINDS = ("park", "reverse_out")
CLOCK_CORNERS = ("top_left", "top_right", "bottom_left", "bottom_right")
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


@dataclass(frozen=True)
class SynthConfig:
    seed: int = 0
    name: str = "custom"                   # scenario name, recorded in the truth
    # --- picture and time -------------------------------------------------------------
    width: int = 640                       # display (upright) size, pixels; even numbers
    height: int = 360
    real_fps: float = 30.0                 # capture rate at the scene
    speedup: int = 1                       # K: keep every K-th captured frame; clip pts = real / K
    duration_real_s: Optional[float] = None   # None: until the last vehicle has left + tail_s
    lead_in_s: float = 0.5                 # real time before the first front bumper enters
    tail_s: float = 1.0                    # real time kept after the last vehicle left
    vfr: bool = False                      # jittered capture intervals + dropped-frame gaps
    vfr_jitter: float = 0.2                # each interval is (1 +- jitter) / real_fps
    vfr_gaps: int = 2                      # dropped-frame gaps of 3-8 intervals each
    # --- traffic ----------------------------------------------------------------------
    n_vehicles: int = 8                    # vehicles that are meant to cross the line
    lanes: Optional[int] = None            # None: 1, or 2 when two_way
    two_way: bool = False                  # near half of the lanes one way, far half the other
    reverse_direction: bool = False        # flip every lane's direction
    spacing_s: float = 3.0                 # mean time gap between entries in one lane (real)
    spacing_jitter: float = 0.3            # each gap is spacing_s * U(1 - j, 1 + j)
    speed_mps: tuple = (9.0, 14.0)         # cruise speed range (real), uniform per vehicle
    min_gap_m: float = 2.0                 # bumper gap kept behind the vehicle ahead
    class_mix: object = "mixed"            # name in CLASS_MIXES, or {class: weight} / pairs
    colours: tuple = ()                    # civilian colour names allowed; () = whole palette
    low_contrast_fraction: float = 0.1     # share of civilian vehicles painted road-grey
    stop_and_go: float = 0.0               # share of crossing vehicles that stop once in view
    stop_on_line_fraction: float = 0.4     # of those, share that stop straddling the line
    stop_duration_s: tuple = (2.0, 5.0)
    non_crossing: int = 0                  # extra vehicles that show up but never cross
    non_crossing_kinds: tuple = NON_CROSSING_KINDS
    park_hold_s: float = 3.0               # real time a parked vehicle stays on screen at the end
    # --- scene --------------------------------------------------------------------------
    orientation: str = "horizontal"        # traffic moves left/right or up/down on screen
    view: str = "auto"                     # "side" (horizontal only) | "top"; auto picks by orientation
    pixels_per_m: float = 16.0             # scale of the nearest lane (all lanes in top view)
    lane_depth_scale: float = 0.88         # side view: each farther lane is drawn this much smaller
    overlap: bool = False                  # side view: lanes packed so far vehicles are partly hidden
    line: Optional[tuple] = None           # (x1, y1, x2, y2) normalised display coords; None: across
                                           # the road through the centre
    shadow_strength: Optional[float] = None    # 0..0.8; None: per seed
    lighting_drift: float = 0.0            # relative brightness swing over time (passing clouds)
    look: str = "standard"                 # drawing style (synth/looks.py); held-out looks never train
    # --- camera and file ----------------------------------------------------------------
    shake_px: float = 0.0                  # camera shake amplitude (whole picture translation)
    noise_sigma: float = 0.0               # sensor noise, 8-bit grey levels
    crf: int = 23
    x264_preset: str = "veryfast"
    rotation: int = 0                      # degrees clockwise a player applies: 0/90/180/270
    clock: bool = False                    # burn the REAL capture time into a corner
    clock_start: str = "12:00:00"          # clock reading at real time 0
    clock_decimals: int = 1                # 0: HH:MM:SS, 1: HH:MM:SS.d (truncated, like a camera)
    clock_corner: str = "top_left"
    audio: bool = False                    # add an AAC tone track
    audio_tone_hz: float = 440.0

    def __post_init__(self):
        # Checked in field order, so the first bad setting is the one reported.
        self._check_picture_and_time()
        self._check_traffic()
        self._check_scene()
        self._check_camera_and_file()

    def _fix(self, name: str, value) -> None:
        """Store a normalised value on the frozen instance (e.g. a list as a tuple)."""
        object.__setattr__(self, name, value)

    def _check_picture_and_time(self) -> None:
        """Seed, picture size (even: H.264 yuv420p), capture rate, speed-up, duration
        and the VFR knobs."""
        _check(isinstance(self.seed, int) and not isinstance(self.seed, bool), "seed", "an integer", self.seed)
        for name in ("width", "height"):
            v = getattr(self, name)
            _check(isinstance(v, int) and v >= 64 and v % 2 == 0, name,
                   "an even integer >= 64 (H.264 yuv420p)", v)
        _check(_pos(self.real_fps) and self.real_fps <= 1000, "real_fps", "a number in (0, 1000]", self.real_fps)
        _check(isinstance(self.speedup, int) and not isinstance(self.speedup, bool) and self.speedup >= 1,
               "speedup", "an integer >= 1", self.speedup)
        _check(self.duration_real_s is None or _pos(self.duration_real_s), "duration_real_s",
               "None or a positive number of seconds", self.duration_real_s)
        _check(_nonneg(self.lead_in_s), "lead_in_s", ">= 0", self.lead_in_s)
        _check(_nonneg(self.tail_s), "tail_s", ">= 0", self.tail_s)
        _check(_nonneg(self.vfr_jitter) and self.vfr_jitter < 0.9, "vfr_jitter", "in [0, 0.9)", self.vfr_jitter)
        _check(isinstance(self.vfr_gaps, int) and self.vfr_gaps >= 0, "vfr_gaps", "an integer >= 0", self.vfr_gaps)

    def _check_traffic(self) -> None:
        """Vehicles, lanes (two-way needs two), spacing, speeds, class mix, colours,
        stop-and-go and non-crossing vehicles; pairs and mixes are normalised."""
        _check(isinstance(self.n_vehicles, int) and 0 <= self.n_vehicles <= 500, "n_vehicles",
               "an integer in [0, 500]", self.n_vehicles)
        lanes = self.lanes if self.lanes is not None else (2 if self.two_way else 1)
        _check(isinstance(lanes, int) and 1 <= lanes <= 8, "lanes", "an integer in [1, 8]", self.lanes)
        _check(not self.two_way or lanes >= 2, "lanes", ">= 2 when two_way is set", lanes)
        self._fix("lanes", lanes)
        _check(_pos(self.spacing_s), "spacing_s", "a positive number of seconds", self.spacing_s)
        _check(_nonneg(self.spacing_jitter) and self.spacing_jitter < 1, "spacing_jitter", "in [0, 1)",
               self.spacing_jitter)
        self._fix("speed_mps", _range("speed_mps", self.speed_mps, positive=True))
        self._fix("stop_duration_s", _range("stop_duration_s", self.stop_duration_s, positive=True))
        _check(_nonneg(self.min_gap_m), "min_gap_m", ">= 0", self.min_gap_m)
        self._fix("class_mix", _class_mix(self.class_mix))
        self._fix("colours", tuple(self.colours))
        from .sprites import CIVILIAN_COLOURS   # local: sprites imports cv2, config stays light
        bad = [c for c in self.colours if c not in CIVILIAN_COLOURS]
        _check(not bad, "colours", f"names from {sorted(CIVILIAN_COLOURS)}", bad)
        for name in ("low_contrast_fraction", "stop_and_go", "stop_on_line_fraction"):
            v = getattr(self, name)
            _check(_nonneg(v) and v <= 1, name, "a fraction in [0, 1]", v)
        _check(isinstance(self.non_crossing, int) and 0 <= self.non_crossing <= 100, "non_crossing",
               "an integer in [0, 100]", self.non_crossing)
        kinds = tuple(self.non_crossing_kinds)
        _check(kinds and all(k in NON_CROSSING_KINDS for k in kinds), "non_crossing_kinds",
               f"a non-empty subset of {NON_CROSSING_KINDS}", kinds)
        self._fix("non_crossing_kinds", kinds)
        _check(_nonneg(self.park_hold_s), "park_hold_s", ">= 0", self.park_hold_s)

    def _check_scene(self) -> None:
        """Orientation and view (a side view only exists for horizontal traffic),
        scale, counting line (normalised, two distinct points), shadows, lighting."""
        _check(self.orientation in ORIENTATIONS, "orientation", f"one of {ORIENTATIONS}", self.orientation)
        _check(self.view in VIEWS, "view", f"one of {VIEWS}", self.view)
        _check(not (self.view == "side" and self.orientation == "vertical"), "view",
               "'top' or 'auto' for vertical traffic (a side view only exists for horizontal traffic)",
               self.view)
        _check(_pos(self.pixels_per_m) and self.pixels_per_m <= 200, "pixels_per_m", "in (0, 200]",
               self.pixels_per_m)
        _check(_pos(self.lane_depth_scale) and self.lane_depth_scale <= 1, "lane_depth_scale", "in (0, 1]",
               self.lane_depth_scale)
        if self.line is not None:
            try:
                line = tuple(float(v) for v in self.line)
            except (TypeError, ValueError):
                line = None
            _check(line is not None and len(line) == 4 and all(math.isfinite(v) for v in line), "line",
                   "four numbers x1 y1 x2 y2 (normalised)", self.line)
            _check(all(-0.5 <= v <= 1.5 for v in line) and (line[0], line[1]) != (line[2], line[3]),
                   "line", "two distinct points with coordinates near [0, 1]", self.line)
            self._fix("line", line)
        _check(self.shadow_strength is None or (_nonneg(self.shadow_strength) and self.shadow_strength <= 0.8),
               "shadow_strength", "None or in [0, 0.8]", self.shadow_strength)
        _check(_nonneg(self.lighting_drift) and self.lighting_drift <= 0.5, "lighting_drift", "in [0, 0.5]",
               self.lighting_drift)
        from .looks import LOOKS   # local: looks imports cv2, config stays light
        _check(self.look in LOOKS, "look", f"one of {LOOKS}", self.look)

    def _check_camera_and_file(self) -> None:
        """Shake, noise, encoder settings, rotation, clock and audio."""
        _check(_nonneg(self.shake_px) and self.shake_px <= 50, "shake_px", "in [0, 50]", self.shake_px)
        _check(_nonneg(self.noise_sigma) and self.noise_sigma <= 60, "noise_sigma", "in [0, 60]",
               self.noise_sigma)
        _check(isinstance(self.crf, int) and 0 <= self.crf <= 51, "crf", "an integer in [0, 51]", self.crf)
        _check(self.x264_preset in X264_PRESETS, "x264_preset", f"one of {X264_PRESETS}", self.x264_preset)
        _check(self.rotation in (0, 90, 180, 270), "rotation", "0, 90, 180 or 270", self.rotation)
        _check(_parse_hms(self.clock_start) is not None, "clock_start", "HH:MM:SS", self.clock_start)
        _check(self.clock_decimals in (0, 1, 2), "clock_decimals", "0, 1 or 2", self.clock_decimals)
        _check(self.clock_corner in CLOCK_CORNERS, "clock_corner", f"one of {CLOCK_CORNERS}", self.clock_corner)
        _check(_pos(self.audio_tone_hz) and self.audio_tone_hz < 20000, "audio_tone_hz", "in (0, 20000)",
               self.audio_tone_hz)

    # ------------------------------------------------------------------------------------
    @property
    def resolved_view(self) -> str:
        if self.view != "auto":
            return self.view
        return "side" if self.orientation == "horizontal" else "top"

    @property
    def resolved_line(self) -> tuple:
        """The counting line, normalised display coordinates."""
        if self.line is not None:
            return self.line
        return (0.5, 0.0, 0.5, 1.0) if self.orientation == "horizontal" else (0.0, 0.5, 1.0, 0.5)

    @property
    def clock_start_s(self) -> float:
        return float(_parse_hms(self.clock_start))

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["class_mix"] = {k: w for k, w in self.class_mix}
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = list(v)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "SynthConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConvoyCountError(f"unknown synth settings {unknown}; known: {sorted(known)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def _check(ok: bool, name: str, expected: str, actual) -> None:
    if not ok:
        raise ConvoyCountError(f"synth setting {name} must be {expected}, got {actual!r}")


def _pos(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0


def _nonneg(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0


def _range(name: str, value, positive: bool) -> tuple:
    try:
        lo, hi = (float(v) for v in (value if isinstance(value, (tuple, list)) else (value, value)))
    except (TypeError, ValueError):
        lo = hi = float("nan")
    _check(math.isfinite(lo) and math.isfinite(hi) and lo <= hi and (lo > 0 or not positive), name,
           "a (low, high) pair of positive numbers with low <= high", value)
    return (lo, hi)


def _class_mix(value) -> tuple:
    if isinstance(value, str):
        _check(value in CLASS_MIXES or value in SYNTH_CLASSES, "class_mix",
               f"one of {sorted(CLASS_MIXES)} or a class from {SYNTH_CLASSES}", value)
        return CLASS_MIXES[value] if value in CLASS_MIXES else ((value, 1.0),)
    pairs = tuple(value.items()) if isinstance(value, dict) else tuple(tuple(p) for p in value)
    ok = bool(pairs) and all(len(p) == 2 and p[0] in SYNTH_CLASSES and _nonneg(p[1]) for p in pairs) \
        and sum(p[1] for p in pairs) > 0
    _check(ok, "class_mix", f"weights >= 0 (not all zero) for classes in {SYNTH_CLASSES}", value)
    return tuple((str(k), float(w)) for k, w in pairs)


def _parse_hms(text) -> Optional[float]:
    try:
        h, m, s = str(text).split(":")
        h, m, s = int(h), int(m), float(s)
    except ValueError:
        return None
    if not (0 <= h < 24 and 0 <= m < 60 and 0 <= s < 60):
        return None
    return h * 3600 + m * 60 + s


# ----------------------------------------------------------------------------------------
# Presets. Each is a set of overrides on SynthConfig defaults.
SCENARIOS = {
    # A column of 9 vehicles, one direction, sped up x4: all 9 centres cross the line within
    # < 10 s of clip time while the crossings are spread over ~34 s of real time.
    "news_story": dict(n_vehicles=9, lanes=1, speedup=4, spacing_s=4.2, spacing_jitter=0.1,
                       speed_mps=(10.5, 11.5), class_mix="military", pixels_per_m=14.0, crf=28),
    "convoy25": dict(n_vehicles=25, lanes=1, speedup=2, spacing_s=3.5, spacing_jitter=0.25,
                     speed_mps=(8.0, 10.0), class_mix="military", pixels_per_m=14.0),
    "two_way": dict(n_vehicles=12, two_way=True, lanes=2, spacing_s=3.0, class_mix="civilian"),
    "dense_overlap": dict(n_vehicles=18, two_way=True, lanes=3, overlap=True, spacing_s=2.2,
                          spacing_jitter=0.4, pixels_per_m=13.0, class_mix="mixed"),
    "stop_and_go": dict(n_vehicles=10, lanes=1, stop_and_go=0.6, non_crossing=2, spacing_s=2.5,
                        speed_mps=(7.0, 10.0), stop_on_line_fraction=0.5),
    "vfr_phone": dict(width=360, height=640, rotation=90, vfr=True, audio=True, noise_sigma=3.0,
                      shake_px=1.5, pixels_per_m=14.0, n_vehicles=6, spacing_s=2.5, crf=28),
    "shaky_noisy": dict(n_vehicles=10, two_way=True, lanes=2, shake_px=6.0, noise_sigma=8.0, crf=32,
                        lighting_drift=0.15),
    "clock": dict(n_vehicles=12, clock=True, speedup=8, spacing_s=4.0, lanes=1),
    "vertical": dict(orientation="vertical", two_way=True, lanes=2, n_vehicles=10, spacing_s=2.5),
    "non_crossing": dict(n_vehicles=6, non_crossing=4, lanes=2, two_way=True, spacing_s=3.0),
}


def scenario(name: str, seed: int = 0, **overrides) -> SynthConfig:
    """A named preset (see SCENARIOS) with any SynthConfig field overridden."""
    if name not in SCENARIOS:
        raise ConvoyCountError(f"unknown synth scenario {name!r}; choose one of {sorted(SCENARIOS)}")
    known = {f.name for f in dataclasses.fields(SynthConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConvoyCountError(f"unknown synth settings {unknown}; known: {sorted(known)}")
    return SynthConfig(**{**SCENARIOS[name], "name": name, "seed": seed, **overrides})
