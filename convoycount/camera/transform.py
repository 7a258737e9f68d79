"""3x3 transforms of the image plane and what they do to boxes and points."""
from __future__ import annotations

from typing import Optional

import numpy as np

IDENTITY = np.eye(3)


def as3x3(m2x3: np.ndarray) -> np.ndarray:
    return np.vstack([np.asarray(m2x3, dtype=float), [0.0, 0.0, 1.0]])


def apply(m: Optional[np.ndarray], points) -> np.ndarray:
    """(N, 2) points through `m` (None: unchanged)."""
    p = np.asarray(points, dtype=float).reshape(-1, 2)
    if m is None:
        return p
    q = p @ m[:2, :2].T + m[:2, 2]
    if m[2, 0] or m[2, 1]:                      # projective part (never for similarities)
        q = q / (p @ m[2, :2] + m[2, 2])[:, None]
    return q


def box(m: Optional[np.ndarray], b) -> tuple:
    """A box through `m`: the box around its four transformed corners (a similarity
    with a small rotation keeps it a close fit)."""
    if m is None:
        return tuple(float(v) for v in b)
    x1, y1, x2, y2 = b
    c = apply(m, [(x1, y1), (x2, y1), (x1, y2), (x2, y2)])
    return (float(c[:, 0].min()), float(c[:, 1].min()), float(c[:, 0].max()), float(c[:, 1].max()))


def scale_of(m: np.ndarray) -> float:
    """The uniform scale of a similarity."""
    return float(np.sqrt(abs(np.linalg.det(m[:2, :2]))))


def rotation_deg(m: np.ndarray) -> float:
    return float(np.degrees(np.arctan2(m[1, 0], m[0, 0])))


def resized(m: np.ndarray, s: float) -> np.ndarray:
    """A transform measured on pictures scaled by `s`, expressed in full-size pixels."""
    if s == 1.0:
        return m
    S = np.diag([s, s, 1.0])
    return np.linalg.inv(S) @ m @ S


def max_displacement(m: np.ndarray, width: int, height: int) -> float:
    """How far (px) `m` moves any corner of a width x height picture."""
    c = np.array([(0, 0), (width, 0), (0, height), (width, height)], dtype=float)
    return float(np.max(np.linalg.norm(apply(m, c) - c, axis=1)))
