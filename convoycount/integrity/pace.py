"""The traffic's pace before and after a moment, compared at the same place in the picture.

A vehicle's pace in pixels per clip second depends on where it is in the picture
(perspective: near vehicles cross more pixels per metre) and on its lane and
direction, but two vehicles passing the same place in the same direction are in
the same lane at the same scale: their paces differ only by how fast each drives.
Footage sped up from a moment on multiplies the pace of every vehicle after it by
the same factor. So each vehicle after the moment is compared with the vehicles
before it at the places both passed (within a vehicle's size, heading the same
way); the factor is the median over the vehicles after of each one's median ratio.
No scale, no prior on speeds or lengths, and the count of vehicles on each side
says how much the comparison rests on.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PACE_WINDOW_S = 0.5      # pace fitted over this long (box jitter against the vehicle's own changes)
MIN_OBS = 4              # observations such a window needs
BORDER_PX = 2            # a box edge this close to the frame's edge is the frame's
SAME_WAY = 0.9           # cosine between two headings that go the same way (one lane)
CRUISE_SHARE = 0.3       # a window slower than this share of the vehicle's cruise (90th pct) is
                         # waiting or creeping in a queue, not the traffic's pace


@dataclass(frozen=True)
class PaceSamples:
    """Every vehicle's pace over short windows fully inside the frame: where (scene
    px), which way (unit heading), how fast (scene px per clip second), when."""
    track_id: np.ndarray
    t: np.ndarray
    xy: np.ndarray
    heading: np.ndarray
    pace: np.ndarray
    size: np.ndarray         # the box's larger side: "the same place" is within this

    @classmethod
    def of(cls, tracks, width: int, height: int) -> "PaceSamples":
        rows = [r for tr in tracks for r in _windows(tr, width, height)]
        a = np.array(rows, float).reshape(-1, 8)
        return cls(a[:, 0].astype(int), a[:, 1], a[:, 2:4], a[:, 4:6], a[:, 6], a[:, 7])

    def part(self, keep: np.ndarray) -> "PaceSamples":
        return PaceSamples(self.track_id[keep], self.t[keep], self.xy[keep], self.heading[keep],
                           self.pace[keep], self.size[keep])


@dataclass(frozen=True)
class PlaceRatio:
    """How much faster the traffic after a moment passes the places the traffic
    before it passed. `factor` None: no vehicle after passed where one before did."""
    factor: float | None
    vehicles_after: int      # vehicles after the moment compared (each a witness)
    vehicles_before: int     # distinct vehicles before that they were compared with
    faster_share: float      # share of the vehicles after that are faster than those before


def place_ratio(samples: PaceSamples, moment: float, exclude=(), shot: tuple = (-np.inf, np.inf)) -> PlaceRatio:
    """Traffic after `moment` against traffic before it, at the same places, inside
    `shot` (clip seconds: footage across a jump in the picture may be another time or
    place), leaving out the tracks in `exclude`."""
    free = ~np.isin(samples.track_id, list(exclude))
    before = samples.part(free & (samples.t < moment) & (samples.t > shot[0]))
    after = samples.part(free & (samples.t > moment) & (samples.t < shot[1]))
    per_vehicle, partners = [], set()
    for tid in np.unique(after.track_id):
        mine = after.part(after.track_id == tid)
        near = (np.linalg.norm(mine.xy[:, None, :] - before.xy[None, :, :], axis=2)
                < np.minimum(mine.size[:, None], before.size[None, :]))
        same_way = mine.heading @ before.heading.T >= SAME_WAY
        i, j = np.nonzero(near & same_way)
        if not len(i):
            continue
        logs = np.log(mine.pace[i] / before.pace[j])
        # each vehicle before counts once, however many windows matched
        by_partner = [np.median(logs[before.track_id[j] == p]) for p in np.unique(before.track_id[j])]
        partners.update(np.unique(before.track_id[j]).tolist())
        per_vehicle.append(float(np.median(by_partner)))
    if not per_vehicle:
        return PlaceRatio(None, 0, 0, 0.0)
    logs = np.array(per_vehicle)
    return PlaceRatio(float(np.exp(np.median(logs))), len(logs), len(partners), float(np.mean(logs > 0)))


def _windows(track, width: int, height: int) -> list:
    """[track id, t, x, y, heading x, heading y, pace, size] per window of PACE_WINDOW_S
    (half-overlapping) where the vehicle cruises. A box edge at the frame's border is
    the frame's, so each axis's pace comes from the edges that stay off the border
    through the window (a vehicle entering or leaving still shows its other edge)."""
    obs = track.observations
    t = np.array([o.time_s for o in obs], float)
    box = np.array([o.box for o in obs], float).reshape(-1, 4)
    scene = np.array([o.scene for o in obs], float).reshape(-1, 4)
    cut = np.column_stack([box[:, 0] <= BORDER_PX, box[:, 1] <= BORDER_PX,
                           box[:, 2] >= width - BORDER_PX, box[:, 3] >= height - BORDER_PX])
    rows = []
    for lo in np.arange(t[0], t[-1] - PACE_WINDOW_S / 2, PACE_WINDOW_S / 2):
        w = (t >= lo) & (t < lo + PACE_WINDOW_S)
        v = _edge_velocity(t[w], scene[w], cut[w]) if w.sum() >= MIN_OBS else None
        pace = float(np.hypot(*v)) if v is not None else 0.0
        if pace > 0:
            sides = scene[w, 2:] - scene[w, :2]
            centre = (scene[w, :2] + scene[w, 2:]).mean(axis=0) / 2
            rows.append([track.track_id, float(t[w].mean()), *centre, *(v / pace), pace,
                         float(np.median(sides.max(axis=1)))])
    if rows:
        cruise = np.percentile([r[6] for r in rows], 90)
        rows = [r for r in rows if r[6] >= CRUISE_SHARE * cruise]
    return rows


def _edge_velocity(t: np.ndarray, edges: np.ndarray, cut: np.ndarray):
    """(vx, vy) least-squares from the box edges off the border throughout (None: an
    axis with both edges on the border at some point)."""
    tw = t - t.mean()
    rates = (tw @ (edges - edges.mean(axis=0))) / max(float(tw @ tw), 1e-12)
    out = []
    for pair in ((0, 2), (1, 3)):
        good = [k for k in pair if not cut[:, k].any()]
        if not good:
            return None
        out.append(float(np.mean(rates[good])))
    return np.array(out)
