"""Counting each vehicle once: a crossing inside a repeated span repeats the
crossing at the same offset inside its source span (mirrored for a span played
backwards, where the vehicle also crosses the other way)."""
from __future__ import annotations

MATCH_TOL_S = 0.4        # crossing times in copy and source agree this well (frame jitter, tracking)
_OPPOSITE = {"left_to_right": "right_to_left", "right_to_left": "left_to_right",
             "top_to_bottom": "bottom_to_top", "bottom_to_top": "top_to_bottom"}


def repeat_map(events: list, findings: list) -> dict:
    """{track_id of a repeated crossing: track_id of the crossing it repeats}."""
    out = {}
    for f in findings:
        if f.source_start_s is None:
            continue
        backwards = f.kind == "reversed"
        for e in events:
            if not (f.start_s - MATCH_TOL_S / 2 <= e.clip_time_s <= f.end_s + MATCH_TOL_S / 2):
                continue
            offset = e.clip_time_s - f.start_s
            want_t = f.source_end_s - offset if backwards else f.source_start_s + offset
            want_dir = _OPPOSITE.get(e.direction) if backwards else e.direction
            best = _nearest(events, want_t, want_dir, exclude=set(out) | {e.track_id})
            if best is not None:
                out[e.track_id] = out.get(best.track_id, best.track_id)
    return out


def _nearest(events: list, t: float, direction: str, exclude: set):
    cands = [e for e in events if e.direction == direction and e.track_id not in exclude
             and abs(e.clip_time_s - t) <= MATCH_TOL_S]
    return min(cands, key=lambda e: abs(e.clip_time_s - t), default=None)
