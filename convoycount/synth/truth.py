"""`Truth`: what a synthetic clip contains, exactly, written as `<stem>.truth.json`."""
from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..errors import InputError

SCHEMA = "convoycount.synth.truth/1"


@dataclass(frozen=True)
class VehicleTruth:
    id: int
    class_name: str                 # JSON key "class"
    model: str                      # sprite model, e.g. "sedan", "apc"
    colour: str
    length_m: float                 # nominal size in metres (the drawn box is rounded to pixels)
    width_m: float
    height_m: float
    speed_mps: float                # cruise speed (real); stops and queues come on top
    direction: str                  # left_to_right | right_to_left | top_to_bottom | bottom_to_top
    lane: int
    behaviour: str                  # cruise | stop | stop_on_line | park | reverse_out
    crosses_line: bool              # its box centre crosses the counting line between two frames
    crossing_real_time_s: Optional[float]
    crossing_clip_time_s: Optional[float]
    crossing_point_px: Optional[tuple]     # (x, y) display pixels where the centre meets the line
    first_seen_clip_s: Optional[float]     # first frame whose (unshaken) box overlaps the picture
    last_seen_clip_s: Optional[float]
    fully_visible_real_s: float            # real time with the whole box inside the picture
    box_size_px: tuple                     # (w, h) of the drawn box in display pixels
    pixels_per_m: float                    # its lane's scale
    entry_real_s: float                    # when its front reaches the picture edge (free flow)
    stops: tuple = ()                      # ({start_real_s, end_real_s, start_clip_s, end_clip_s,
                                           #   centre_px}, ...) stationary spells inside the clip

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["class"] = d.pop("class_name")
        d["crossing_point_px"] = None if self.crossing_point_px is None else list(self.crossing_point_px)
        d["box_size_px"] = list(self.box_size_px)
        d["stops"] = [dict(s) for s in self.stops]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "VehicleTruth":
        d = dict(d)
        d["class_name"] = d.pop("class")
        if d.get("crossing_point_px") is not None:
            d["crossing_point_px"] = tuple(d["crossing_point_px"])
        d["box_size_px"] = tuple(d["box_size_px"])
        d["stops"] = tuple(d.get("stops", ()))
        return cls(**d)


@dataclass(frozen=True)
class Truth:
    config: dict                    # every SynthConfig setting, seed included
    speedup: int
    real_fps: float
    pixels_per_m: float             # nearest lane (see lanes for each lane's own scale)
    line: tuple                     # (x1, y1, x2, y2) normalised display coordinates
    line_px: tuple                  # the same in display pixels
    width: int                      # display (upright) size
    height: int
    rotation: int                   # degrees clockwise a player applies (container display matrix)
    orientation: str
    view: str
    duration_s: float               # clip: last pts + 1/real_fps - first pts
    real_duration_s: float          # real time covered: last capture - first capture
    frames: int
    frame_times_s: tuple            # every frame's clip pts, exactly as written (n / 90000)
    frame_real_times_s: tuple       # capture time of each kept frame (= clip time * speedup)
    lanes: tuple                    # ({index, direction, pixels_per_m, centre_line_px}, ...)
    vehicles: tuple                 # VehicleTruth, ordered by id
    total_crossing: int
    by_direction: dict
    by_class: dict
    visible_vehicles: int           # distinct vehicles wholly inside the picture for >= 0.5 s real
    clock: Optional[dict] = None    # {start, decimals, region_px, format}
    audio: bool = False
    notes: tuple = ()
    schema: str = SCHEMA
    edit: Optional[dict] = None     # synth --edit: {kind, finding {kind, start_s, ...}, frame_map}
    camera: Optional[dict] = None   # moving camera (synth/camera.py): the path, the line in the
                                    # scene, when it was in view, the parked vehicles

    @property
    def crossing_vehicles(self) -> list:
        """Vehicles that cross, in crossing order."""
        return sorted((v for v in self.vehicles if v.crosses_line), key=lambda v: v.crossing_clip_time_s)

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["vehicles"] = [v.to_dict() for v in self.vehicles]
        for k in ("line", "line_px", "frame_times_s", "frame_real_times_s", "lanes", "notes"):
            d[k] = list(d[k])
        for k in ("edit", "camera"):
            if d[k] is None:       # truth files without them stay exactly as they were
                del d[k]
        return d

    def write_json(self, path) -> Path:
        """Atomically write this truth to `path`."""
        path = Path(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(self.to_dict(), f, indent=1)
                f.write("\n")
            os.chmod(tmp, 0o644)   # mkstemp makes 0600; truth files are meant to be shared
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return path

    @classmethod
    def from_dict(cls, d: dict) -> "Truth":
        d = dict(d)
        if d.get("schema") != SCHEMA:
            raise InputError(f"not a synth truth file: schema {d.get('schema')!r}, expected {SCHEMA!r}")
        d["vehicles"] = tuple(VehicleTruth.from_dict(v) for v in d["vehicles"])
        for k in ("line", "line_px", "frame_times_s", "frame_real_times_s", "lanes", "notes"):
            d[k] = tuple(d[k])
        return cls(**d)

    @classmethod
    def from_json(cls, path) -> "Truth":
        path = Path(path)
        try:
            d = json.loads(path.read_text())
        except FileNotFoundError:
            raise InputError(f"truth file not found: {path}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise InputError(f"truth file {path} is not valid JSON: {e}") from None
        return cls.from_dict(d)


def truth_path(video_path) -> Path:
    """`<dir>/<stem>.truth.json` beside a clip."""
    p = Path(video_path)
    return p.with_name(p.stem + ".truth.json")
