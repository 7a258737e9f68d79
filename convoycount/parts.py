"""Parts of a vehicle are not vehicles: find tracks that are a piece of another track.

Detectors box pieces of vehicles: a wheel, a cab, the trailer or one half of a
long truck, a box that flickers between the whole vehicle and a part of it. The
tracker follows such a piece like anything else, and if it crosses the line it
would be counted a second time (a truck seen as two halves becomes two trucks).

A piece has a physical signature that a second vehicle cannot have for long:
it travels *with* its vehicle (its place within the vehicle stays put), and the
two together take up no more room than the vehicle does on its own in the rest
of its track. A second vehicle next to or behind the first adds its own length
or height to their union, and it moves relative to the first unless it shares
its speed and lane exactly, for all of its life.

So two tracks are one vehicle when, over the frames both were seen in:
* the union of their two boxes is, on most of those frames, no bigger than the
  larger track's usual box (one inside the other, or two halves making up the
  whole), and
* each keeps its place within that union (they move together).
Pieces seen only briefly, and a vehicle whose track broke in two while it was
boxed as halves (one track left with the front half, a new one took the rear),
both fall under this. A second vehicle cannot pass for long: it adds its own
length or height to the union, or slides past.

A family (tracks joined by this relation) counts at most one crossing: the one
whose box at the crossing is the largest (the whole vehicle, not a piece),
the earliest on a tie.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PartSettings:
    union_tol: float = 1.15       # union width and height within this of the larger usual box
    union_share: float = 0.8      # share of shared frames on which the union fits
    drift_max: float = 0.12       # std of each centre within the union, in union sizes: they move together
    usual_quantile: float = 0.75  # a track's usual size: boxes of pieces and halves are the small ones
    min_shared: int = 2           # fewer shared frames tell nothing

    def __post_init__(self):
        for name in ("union_share", "drift_max", "usual_quantile"):
            v = getattr(self, name)
            if not 0.0 < v <= 1.0:
                raise ValueError(f"PartSettings.{name} must be in (0, 1], got {v!r}")
        if self.union_tol < 1.0:
            raise ValueError(f"PartSettings.union_tol must be >= 1, got {self.union_tol!r}")
        if self.min_shared < 1:
            raise ValueError(f"PartSettings.min_shared must be >= 1, got {self.min_shared!r}")


def usual_size(track, quantile: float) -> np.ndarray:
    """(w, h): the track's box size at `quantile` (whole-vehicle frames outnumber split ones)."""
    b = np.array([o.box for o in track.observations], dtype=float)
    return np.quantile(b[:, 2:] - b[:, :2], quantile, axis=0)


def same_vehicle(a, b, settings: PartSettings = PartSettings()) -> bool:
    """True when tracks `a` and `b` are one vehicle (see the module docstring)."""
    s = settings
    seen_b = {o.frame_index: o.box for o in b.observations}
    pairs = [(np.array(o.box, float), np.array(seen_b[o.frame_index], float))
             for o in a.observations if o.frame_index in seen_b]
    if len(pairs) < s.min_shared:
        return False
    usual = np.maximum(usual_size(a, s.usual_quantile), usual_size(b, s.usual_quantile))
    places = []
    for box_a, box_b in pairs:
        lo, hi = np.minimum(box_a[:2], box_b[:2]), np.maximum(box_a[2:], box_b[2:])
        extent = hi - lo
        if np.all(extent <= s.union_tol * usual):
            places.append(np.r_[(box_a[:2] + box_a[2:]) / 2 - lo, (box_b[:2] + box_b[2:]) / 2 - lo]
                          / np.r_[extent, extent].clip(1e-6))
    if len(places) < max(s.min_shared, s.union_share * len(pairs)):
        return False
    return float(np.max(np.std(np.array(places), axis=0))) <= s.drift_max


def families(tracks, settings: PartSettings = PartSettings()) -> dict:
    """{track id: family id} for every track that shares its vehicle with another
    (tracks alone are left out). A family is one whole track (the largest) and the
    tracks that are one vehicle with *it*: the relation is not chained, so a small
    box that touched two neighbouring cars cannot make them one vehicle."""
    size = {t.track_id: float(np.prod(usual_size(t, settings.usual_quantile))) for t in tracks}
    partners = {t.track_id: [] for t in tracks}
    spans = sorted(tracks, key=lambda t: t.observations[0].time_s)
    for i, a in enumerate(spans):
        for b in spans[i + 1:]:
            if b.observations[0].time_s > a.observations[-1].time_s:
                break            # sorted by start: no later track overlaps a in time
            if same_vehicle(a, b, settings):
                partners[a.track_id].append(b.track_id)
                partners[b.track_id].append(a.track_id)
    out = {}
    for tid in sorted(partners, key=lambda k: (-size[k], k)):    # largest first: wholes before pieces
        if tid in out or not partners[tid]:
            continue
        pieces = [p for p in partners[tid] if p not in out and (size[p], -p) < (size[tid], -tid)]
        if pieces:
            out[tid] = tid
            out.update({p: tid for p in pieces})
    return out


def one_per_vehicle(events: list, family: dict) -> list:
    """Events with at most one per family: the crossing with the largest box (the
    whole vehicle rather than a piece of it), the earliest on a tie; in time order."""
    best = {}
    for e in events:
        key = family.get(e.track_id, ("alone", e.track_id))
        score = (-(e.box[2] - e.box[0]) * (e.box[3] - e.box[1]), e.clip_time_s)
        if key not in best or score < best[key][0]:
            best[key] = (score, e)
    return sorted((e for _, e in best.values()), key=lambda e: (e.clip_time_s, e.track_id))
