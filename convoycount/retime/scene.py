"""Which kind of road is this? Speed priors that fit the scene, chosen from evidence.

A speed measured on the ground in metres per *clip* second gives K only against how
fast the traffic really drives, and that depends on the road. Priors (real km/h; the
range holds ~90 % of free-flowing traffic):
  * motorway 90-130: motorway limits are 110-130 km/h across most of the EU and
    70 mph (113 km/h) in the UK, US interstates 55-75 mph (89-121 km/h);
  * road 50-90: rural and suburban roads (EU rural default 80-90 km/h, US 45-55 mph
    highways), urban arterials at 50-70 km/h;
  * street 20-50: urban limits of 30-50 km/h (the EU's 50 km/h default and its 30 km/h
    zones, 25-35 mph US city and residential streets), slower through junctions;
  * convoy 30-60: military columns keep one march speed for the whole column, typically
    40-60 km/h on open roads and less in towns (the convoy figure the kinematic prior
    used before issue 15).
Evidence read from the clip (every item reported, with what it saw): military
vehicles -> convoy; parked (or queued) vehicles or a junction (a fifth of the vehicles
turning) -> street; only people on foot, motorcycles or a few turning vehicles ->
street or urban road; nothing of that -> road or motorway; a detector without classes
and nothing else -> any of the four. When more than one candidate is left the
interval spans them all and the report says the scene is ambiguous.
None of these cues changes with K (they are counts and shapes, not speeds).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

KMH = 1 / 3.6
Z90 = 1.645


@dataclass(frozen=True)
class SpeedPrior:
    name: str
    low_kmh: float
    high_kmh: float

    @property
    def median_mps(self) -> float:
        return math.sqrt(self.low_kmh * self.high_kmh) * KMH

    @property
    def log_sd(self) -> float:
        return math.log(self.high_kmh / self.low_kmh) / (2 * Z90)

    def to_dict(self) -> dict:
        return {"scene": self.name, "km_per_h": [self.low_kmh, self.high_kmh]}


KNOWN_CLASSES = ("car", "truck", "bus", "motorcycle", "van", "military")
PRIORS = {p.name: p for p in (SpeedPrior("motorway", 90, 130), SpeedPrior("road", 50, 90),
                              SpeedPrior("street", 20, 50), SpeedPrior("convoy", 30, 60))}


@dataclass(frozen=True)
class SceneSettings:
    convoy_share: float = 0.3        # military vehicles among the classed tracks
    motorcycle_share: float = 0.15   # motorcycles among the tracks: mixed urban traffic
    parked_min_obs: int = 20         # a vehicle seen this often that moved < parked_move
    parked_move: float = 0.3         # box sizes is parked (or queued at a signal)
    turn_deg: float = 45.0           # heading change between a track's halves...
    min_turning: int = 2             # ...in this many vehicles and this share of them (one
    turning_share: float = 0.1       # odd track, or two mislinked ones, is not a junction);
    junction_share: float = 0.2      # this share turning is a junction
    min_pedestrians: int = 2         # person tracks on foot (not riding a vehicle)


@dataclass(frozen=True)
class Scene:
    candidates: tuple              # SpeedPrior names
    evidence: dict                 # what was seen, cue by cue

    def to_dict(self) -> dict:
        return {"candidates": [PRIORS[c].to_dict() for c in self.candidates],
                "ambiguous": len(self.candidates) > 1, "evidence": self.evidence}


def _heading_change(obs) -> Optional[float]:
    c = np.array([o.center for o in obs], dtype=np.float64)
    if len(c) < 6:
        return None
    h = len(c) // 2
    a, b = c[h] - c[0], c[-1] - c[h]
    if min(np.linalg.norm(a), np.linalg.norm(b)) < 1e-6:
        return None
    cos = float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


def _parked(obs, s: SceneSettings) -> bool:
    if len(obs) < s.parked_min_obs:
        return False
    c = np.array([o.center for o in obs], dtype=np.float64)
    size = float(np.median([max(o.box[2] - o.box[0], o.box[3] - o.box[1]) for o in obs]))
    return float(np.linalg.norm(c.max(axis=0) - c.min(axis=0))) < s.parked_move * size


def _street_evidence(ev: dict, n: int, pedestrians: Optional[int], s: SceneSettings) -> tuple:
    """(strong, weak) reasons for a street: parked vehicles or a junction (many vehicles
    turning) only happen on streets; people on foot, motorcycles and a few turning
    vehicles are also seen beside urban arterials (a road)."""
    strong, weak = [], []
    if ev["parked_or_queued"]:
        strong.append(f"{ev['parked_or_queued']} parked or queued vehicles")
    if n and ev["turning"] >= max(s.min_turning, s.junction_share * n):
        strong.append(f"{ev['turning']} of {n} vehicles turn: a junction")
    elif ev["turning"] >= max(s.min_turning, s.turning_share * n):
        weak.append(f"{ev['turning']} vehicles turning")
    if n and ev["motorcycles"] / n >= s.motorcycle_share:
        weak.append(f"motorcycles are {ev['motorcycles'] / n:.0%} of the vehicles")
    if pedestrians is not None and pedestrians >= s.min_pedestrians:
        weak.append(f"{pedestrians} people on foot")
    return strong, weak


def read_scene(tracks: Sequence, pedestrians: Optional[int] = None,
               s: SceneSettings = SceneSettings()) -> Scene:
    """The candidate scenes and the evidence for them (see the module docstring).
    `pedestrians`: people on foot seen in the clip, None when no detector looked."""
    n = len(tracks)
    classes = [str(t.class_name) for t in tracks]
    turns = [_heading_change(t.observations) for t in tracks]
    ev = {"vehicles": n,
          "military": sum(c == "military" for c in classes),
          "motorcycles": sum(c == "motorcycle" for c in classes),
          "parked_or_queued": sum(_parked(t.observations, s) for t in tracks),
          "turning": sum(1 for a in turns if a is not None and a > s.turn_deg),
          "pedestrians": "not looked for" if pedestrians is None else pedestrians}
    strong, weak = _street_evidence(ev, n, pedestrians, s)
    if n and ev["military"] / n >= s.convoy_share:
        ev["because"] = [f"military vehicles are {ev['military'] / n:.0%} of the vehicles"]
        return Scene(("convoy",), ev)
    if strong:
        ev["because"] = strong + weak
        return Scene(("street",), ev)
    if weak:
        ev["because"] = weak + ["but nothing only a street has (parked vehicles, a junction): "
                                "a street or an urban road, not told apart"]
        return Scene(("street", "road"), ev)
    if not any(c in KNOWN_CLASSES for c in classes):
        ev["because"] = ["the detector gives no vehicle classes (no military, no motorcycles) "
                         "and nothing marks a street: any kind of road"]
        return Scene(("street", "convoy", "road", "motorway"), ev)
    ev["because"] = ["no parked vehicles, junction, people on foot or motorcycles: "
                     "a motorway or an open road, not told apart"]
    return Scene(("road", "motorway"), ev)
