"""The scene-fixed frame of a clip: which frames share it, where the counting line
lies in it, and when that line was in view.

* `settle(steps)`: a segment whose frames all stay within `still_frac` of the
  diagonal of its first frame is a fixed camera, and its transforms become exactly identity
  (a tripod clip then counts exactly as it did before camera motion was measured).
* `place_line(...)`: the user's line is placed in the scene at the reference frame
  (the first analysed frame, or the one at `--line-at S`). It can only be counted
  in the stretch of footage that shares that frame's scene: the *shot* that holds
  it (cuts from integrity/) and the registration *segment* that holds it (the
  camera's motion was followed without a break). Inside that stretch the line is
  *watched* while at least half of it lies inside the picture; crossings at other
  times are not counted, because nobody could see them.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .estimate import CameraSettings, CameraStep
from .transform import IDENTITY, apply, max_displacement, rotation_deg, scale_of

LINE_VIEW_SHARE = 0.5        # the line is watched while this share of it is in the picture
LINE_EDGE_FRAC = 0.02        # ...not counting a strip this wide (share of the size) at the edges,
                             # where a vehicle is only half in view


def settle(steps: list, width: int, height: int,
           settings: CameraSettings = CameraSettings()) -> list:
    """The steps with every still segment's transforms set to identity."""
    limit = max(settings.still_min_px, settings.still_frac * float(np.hypot(width, height)))
    moved = {}
    for st in steps:
        d = max_displacement(st.to_scene, width, height)
        moved[st.segment] = max(moved.get(st.segment, 0.0), d)
    return [st if moved[st.segment] > limit else dataclasses.replace(st, to_scene=IDENTITY)
            for st in steps]


@dataclass
class LinePlacement:
    """Where the line lies in the scene and when it could be counted."""
    line_px: tuple               # (x1, y1, x2, y2) in the scene pixels of its segment
    reference_s: float           # the frame the line was placed on
    segment: int                 # the registration segment that holds it
    counted_s: tuple             # (start, end): the shot and segment that hold the line
    watched_s: list              # [(start, end)] inside counted_s where the line was in view
    shots: list                  # [(start, end)] between cuts
    breaks_s: list               # times the camera's motion was lost (not at a cut)

    def counts_at(self, t: float) -> bool:
        """Is a crossing at clip time t one the footage shows?"""
        return any(a <= t <= b for a, b in self.watched_s)


def place_line(steps: list, line_px: tuple, reference_s: Optional[float], cuts_s: list,
               end_s: float, width: int, height: int) -> LinePlacement:
    """Place `line_px` (pixels of the reference frame) in the scene; `cuts_s` are the
    first times of new shots, `end_s` is the end of the analysed footage."""
    ref = _reference(steps, reference_s)
    scene_line = tuple(apply(ref.to_scene, np.reshape(line_px, (2, 2))).reshape(-1))
    shots = _spans([steps[0].time_s] + sorted(c for c in cuts_s if c > steps[0].time_s), end_s)
    shot = next(s for s in reversed(shots) if s[0] <= ref.time_s)
    seg = [st for st in steps if st.segment == ref.segment]
    after = [st.time_s for st in steps if st.segment > ref.segment]
    seg_end = after[0] if after else end_s
    lo, hi = max(shot[0], seg[0].time_s), min(shot[1], seg_end)
    inside = [st for st in seg if lo <= st.time_s < hi]
    # A camera that did not move shows the line where the user drew it, all the time
    # (even a line drawn along the picture's edge).
    still = all(st.to_scene is IDENTITY for st in inside)
    watched = [(lo, hi)] if still else _watched(inside, scene_line, width, height, hi)
    breaks = _breaks(steps, cuts_s)
    return LinePlacement(scene_line, ref.time_s, ref.segment, (lo, hi), watched, shots, breaks)


def _breaks(steps: list, cuts_s: list) -> list:
    """When registration was lost for good (the first of the unregistered frames before
    each new segment), leaving out breaks at a cut: a cut is reported as a shot."""
    out, lost = [], None
    for i, st in enumerate(steps):
        if i and st.segment != steps[i - 1].segment:
            t = steps[i - 1].time_s if lost is None else lost
            if not any(t - 1e-6 <= c <= st.time_s + 1e-6 for c in cuts_s):
                out.append(t)
        lost = None if st.registered else (st.time_s if lost is None else lost)
    return out


def _reference(steps: list, reference_s: Optional[float]) -> CameraStep:
    if reference_s is None:
        return steps[0]
    return min(steps, key=lambda st: abs(st.time_s - reference_s))


def _spans(starts: list, end_s: float) -> list:
    return [(a, b) for a, b in zip(starts, starts[1:] + [end_s])]


def line_share_in_view(to_scene: np.ndarray, scene_line: tuple, width: int, height: int) -> float:
    """The share of the scene line that lies inside a frame with this transform."""
    a, b = apply(np.linalg.inv(to_scene), np.reshape(scene_line, (2, 2)))
    mx, my = LINE_EDGE_FRAC * width, LINE_EDGE_FRAC * height
    t = np.linspace(0.0, 1.0, 41)
    p = a + t[:, None] * (b - a)
    ok = (p[:, 0] >= mx) & (p[:, 0] <= width - mx) & (p[:, 1] >= my) & (p[:, 1] <= height - my)
    return float(ok.mean())


def _watched(steps: list, scene_line: tuple, width: int, height: int, end_s: float) -> list:
    """Spans of consecutive frames that show the line; each runs to the next frame,
    so a crossing between the last frame that shows it and the first that does not
    still counts."""
    spans, start = [], None
    for i, st in enumerate(steps):
        seen = line_share_in_view(st.to_scene, scene_line, width, height) >= LINE_VIEW_SHARE
        if seen and start is None:
            start = st.time_s
        if not seen and start is not None:
            spans.append((start, st.time_s))
            start = None
    if start is not None:
        spans.append((start, end_s))
    return spans


@dataclass
class CameraReport:
    """What the camera did and what that left countable; `report.json` key `camera`."""
    compensated: bool                       # False: --no-camera, pixels are the scene
    width: int
    height: int
    steps: list = field(default_factory=list, repr=False)    # [CameraStep]
    placement: Optional[LinePlacement] = None

    @property
    def moved(self) -> bool:
        return any(st.to_scene is not IDENTITY and not np.allclose(st.to_scene, IDENTITY)
                   for st in self.steps)

    def to_frame(self, frame_index: int) -> Optional[np.ndarray]:
        """scene -> frame transform of an analysed frame in the counted segment, else None."""
        seg = None if self.placement is None else self.placement.segment
        for st in self._by_index().get(frame_index, ()):
            if st.segment == seg:
                return np.linalg.inv(st.to_scene)
        return None

    @property
    def follows_scene(self) -> bool:
        """True when the line lives in the scene and moves in the picture (the camera
        moved and the line was placed): evidence must draw it frame by frame."""
        return self.placement is not None and self.moved

    def line_in_frame(self, frame_index: int) -> Optional[tuple]:
        """((x1, y1), (x2, y2)) integer pixels of the scene line in an analysed frame of
        the counted segment, or None (another segment or shot: it was not there)."""
        m = self.to_frame(frame_index)
        if m is None:
            return None
        a, b = np.round(apply(m, np.reshape(self.placement.line_px, (2, 2)))).astype(int)
        return (int(a[0]), int(a[1])), (int(b[0]), int(b[1]))

    def _by_index(self) -> dict:
        if not hasattr(self, "_index"):
            self._index = {}
            for st in self.steps:
                self._index.setdefault(st.frame_index, []).append(st)
        return self._index

    def motion(self) -> dict:
        """Max shift (px and share of the width), pan range, zoom range, rotation."""
        if not self.steps:
            return {}
        inv = [np.linalg.inv(st.to_scene) for st in self.steps]       # scene -> frame
        centre = np.array([self.width / 2, self.height / 2])
        moves = np.array([apply(st.to_scene, centre)[0] - centre for st in self.steps])
        zoom = [scale_of(m) for m in inv]
        shift = float(max(np.linalg.norm(moves, axis=1)))
        return {"max_shift_px": round(shift, 1), "max_shift_frac": round(shift / self.width, 4),
                "pan_x_px": [round(float(moves[:, 0].min()), 1), round(float(moves[:, 0].max()), 1)],
                "pan_y_px": [round(float(moves[:, 1].min()), 1), round(float(moves[:, 1].max()), 1)],
                "zoom": [round(min(zoom), 3), round(max(zoom), 3)],
                "max_rotation_deg": round(max(abs(rotation_deg(m)) for m in inv), 2),
                "segments": 1 + max(st.segment for st in self.steps)}

    def to_dict(self) -> dict:
        d = {"compensated": self.compensated, "moved": self.moved, "motion": self.motion()}
        p = self.placement
        if p is not None:
            r = lambda x: round(float(x), 4)        # noqa: E731
            d.update({"reference_s": r(p.reference_s),
                      "line_scene_px": [round(float(v), 1) for v in p.line_px],
                      "shots": [[r(a), r(b)] for a, b in p.shots],
                      "counted_s": [r(v) for v in p.counted_s],
                      "watched_s": [[r(a), r(b)] for a, b in p.watched_s],
                      "breaks_s": [r(t) for t in p.breaks_s]})
        return d

    def summary_lines(self) -> list:
        if not self.moved and (self.placement is None or len(self.placement.shots) < 2):
            return []
        m = self.motion()
        out = [f"camera: moved up to {m['max_shift_px']:.0f} px ({m['max_shift_frac']:.1%} of the "
               f"width), zoom x{m['zoom'][0]:.2f}..x{m['zoom'][1]:.2f}; counted in scene coordinates"]
        p = self.placement
        if p is not None:
            spans = ", ".join(f"{a:.2f}-{b:.2f} s" for a, b in p.watched_s) or "never"
            out.append(f"line watched {spans} (of {p.counted_s[0]:.2f}-{p.counted_s[1]:.2f} s counted, "
                       f"{len(p.shots)} shot(s))")
        return out


def warnings_for(p: LinePlacement, span_s: tuple) -> list:
    """One line for each reason part of the footage was not counted."""
    out = []
    if len(p.shots) > 1:
        cuts = ", ".join(f"{a:.2f} s" for a, _ in p.shots[1:])
        out.append(f"the clip has {len(p.shots)} shots (cuts at {cuts}); a line cannot be carried "
                   f"across a cut, so only {p.counted_s[0]:.2f}-{p.counted_s[1]:.2f} s, the shot that "
                   "holds the line, was counted")
    if p.breaks_s:
        more = f" and {len(p.breaks_s) - 3} more times" if len(p.breaks_s) > 3 else ""
        out.append(f"the camera's motion could not be followed from "
                   f"{', '.join(f'{t:.2f} s' for t in p.breaks_s[:3])}{more}; only "
                   f"{p.counted_s[0]:.2f}-{p.counted_s[1]:.2f} s was counted")
    watched = sum(b - a for a, b in p.watched_s)
    if watched < (p.counted_s[1] - p.counted_s[0]) - 1e-6:
        spans = ", ".join(f"{a:.2f}-{b:.2f} s" for a, b in p.watched_s) or "never"
        out.append(f"the counting line left the view as the camera moved: crossings were counted "
                   f"only while it was watched ({spans})")
    return out
