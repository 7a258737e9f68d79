"""Tracks in MOTChallenge format, so TrackEval (or any MOT tool) can score them
against a hand-made ground truth of the same clip.

One line per box: frame,id,bb_left,bb_top,bb_width,bb_height,conf,-1,-1,-1
`frame` is 1-based over the analysed frames (Observation.frame_index + 1), so
frame 1 is the first frame of annotated.mp4 (and of the clip when no --start
was given). Only confirmed tracks are written: the same ones the counter saw.
"""
from __future__ import annotations


def mot_lines(tracks) -> list:
    rows = []
    for tr in tracks:
        for o in tr.observations:
            x1, y1, x2, y2 = o.box
            rows.append((o.frame_index + 1, tr.track_id, x1, y1, x2 - x1, y2 - y1, o.confidence))
    rows.sort(key=lambda r: (r[0], r[1]))
    return [f"{f},{i},{x:.2f},{y:.2f},{w:.2f},{h:.2f},{c:.4f},-1,-1,-1"
            for f, i, x, y, w, h, c in rows]


def mot_text(tracks) -> str:
    lines = mot_lines(tracks)
    return "\n".join(lines) + ("\n" if lines else "")
