"""Edits applied to a rendered clip's frames, with the exact truth of the edit.

    generate("clip.mp4", scenario("two_way", seed=3), edit="loop")

The clip is rendered as usual, then its frames are re-arranged and written with
regular timestamps (one real-fps interval apart), as an editor exporting the
timeline would. Each edit is placed around a vehicle's crossing, so vehicles are
on screen where it happens (an edit of an empty road is invisible by nature):

- loop:    a 2.5-4 s span is played again right after itself (`repeat`, with its source span)
- reverse: a 2-3 s span is played backwards in place (`reversed`)
- dup:     from a point on, every 5th frame is shown twice (a 25 -> 30 fps style
           conversion; `duplicated_frames` from the first repeated frame)
- gap:     1.5-3 s are cut out of a continuous shot (`gap`)
- cut:     from a point on, a second, different shot follows (`cut`)
- speed:   from a point on, every other frame is dropped: the rest plays twice as fast
           (`speed_change`)

The vehicle truth stays that of the unedited render; `edit.frame_map` maps each
output frame to its source (`-1 - k`: frame k of the second shot).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

EDITS = ("loop", "reverse", "dup", "gap", "cut", "speed")
DUP_EVERY = 5            # every 5th source frame is shown twice


@dataclass(frozen=True)
class EditPlan:
    kind: str
    frame_map: list              # output frame -> source frame (negative: second shot)
    finding: dict                # the finding a checker should report, in output frame numbers

    def truth(self, fps: float, t0: float) -> dict:
        """The edit as recorded in the truth file: the finding in clip seconds."""
        found = {k if k == "kind" else k + "_s": (v if k == "kind" else round(t0 + v / fps, 6))
                 for k, v in self.finding.items()}
        return {"kind": self.kind, "finding": found, "frame_map": list(self.frame_map)}


def plan_edit(kind: str, n: int, fps: float, pivot: int, rng: np.random.Generator) -> EditPlan:
    """Where and how to edit a clip of n frames; `pivot` is a frame with a vehicle in view."""
    if kind not in EDITS:
        raise ValueError(f"edit must be one of {EDITS}, got {kind!r}")
    sec = lambda lo, hi: int(round(rng.uniform(lo, hi) * fps))   # noqa: E731
    a = int(np.clip(pivot - sec(0.3, 1.0), int(0.15 * n), int(0.6 * n)))
    if kind == "loop":
        b = min(a + sec(2.5, 4.0), n)
        fmap = list(range(b)) + list(range(a, b)) + list(range(b, n))
        return EditPlan(kind, fmap, {"kind": "repeat", "start": b, "end": 2 * b - a - 1,
                                     "source_start": a, "source_end": b - 1})
    if kind == "reverse":
        b = min(a + sec(2.0, 3.0), n)
        fmap = list(range(a)) + list(range(b - 1, a - 1, -1)) + list(range(b, n))
        return EditPlan(kind, fmap, {"kind": "reversed", "start": a, "end": b - 1})
    if kind == "dup":
        fmap = list(range(a))
        for k in range(a, n):
            fmap.append(k)
            if (k - a) % DUP_EVERY == DUP_EVERY - 1:
                fmap.append(k)
        return EditPlan(kind, fmap, {"kind": "duplicated_frames", "start": a + DUP_EVERY,
                                     "end": len(fmap) - 1})
    if kind == "gap":
        a = int(np.clip(pivot, int(0.2 * n), int(0.7 * n)))
        b = min(a + sec(1.5, 3.0), n - 1)
        return EditPlan(kind, list(range(a)) + list(range(b, n)),
                        {"kind": "gap", "start": a, "end": a})
    if kind == "speed":
        fmap = list(range(a)) + list(range(a, n, 2))
        return EditPlan(kind, fmap, {"kind": "speed_change", "start": a, "end": len(fmap) - 1})
    fmap = list(range(a)) + [-1 - k for k in range(n - a)]
    return EditPlan(kind, fmap, {"kind": "cut", "start": a, "end": a})


def second_shot(config):
    """A different shot for `cut`: another seed, the traffic turned by 90 degrees."""
    other = "vertical" if config.orientation == "horizontal" else "horizontal"
    return dataclasses.replace(config, seed=config.seed + 7919, orientation=other, view="auto",
                               line=None, clock=False)


def apply_edit(plan, kind: str, render_plan, build_plan):
    """Render `plan`, apply edit `kind`; returns (pictures, pts, truth) for the encoder."""
    from .plan import PTS_HZ
    cfg = plan.config
    if kind not in EDITS:
        raise ValueError(f"edit must be one of {EDITS}, got {kind!r}")
    if cfg.vfr:
        raise ValueError("an edit is written at a regular frame rate; give --cfr with --edit")
    pictures = [f.image for f in render_plan(plan)]
    truth = plan.truth
    crossings = [v.crossing_clip_time_s for v in truth.crossing_vehicles]
    t = plan.frame_clip_s
    pivot_s = crossings[len(crossings) // 2] if crossings else t[len(t) // 2]
    pivot = int(np.searchsorted(t, pivot_s))
    ep = plan_edit(kind, len(pictures), cfg.real_fps, pivot,
                   np.random.default_rng([cfg.seed, EDITS.index(kind), 17]))
    other = []
    if kind == "cut":
        other = [f.image for _, f in zip(range(len(pictures)), render_plan(build_plan(second_shot(cfg))))]
        ep = dataclasses.replace(ep, frame_map=[m for m in ep.frame_map if m >= 0 or -1 - m < len(other)])
    out = [pictures[m] if m >= 0 else other[-1 - m] for m in ep.frame_map]
    step = int(round(PTS_HZ / cfg.real_fps))
    pts = [int(plan.frame_pts[0]) + j * step for j in range(len(out))]
    real = [float(plan.frame_real_s[m]) if m >= 0 else None for m in ep.frame_map]
    truth = dataclasses.replace(
        truth, frames=len(out), frame_times_s=tuple(p / PTS_HZ for p in pts),
        frame_real_times_s=tuple(real), duration_s=(pts[-1] + step - pts[0]) / PTS_HZ,
        notes=truth.notes + (f"edited ({kind}): the vehicle truth is that of the unedited render; "
                             "edit.frame_map maps each output frame to its source frame",),
        edit=ep.truth(cfg.real_fps, pts[0] / PTS_HZ))
    return out, pts, truth
