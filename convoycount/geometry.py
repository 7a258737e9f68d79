"""Box geometry shared by the tracker and the COCO detector.

A box is (x1, y1, x2, y2) in pixels with x2 >= x1 and y2 >= y1. Functions named in
the singular take one box (a 4-sequence) and return a float; the others take boxes
as an (N, 4) array (or anything that reshapes to one) and return one value per box,
or an (N, M) matrix for every pair of boxes from two sets.
"""
from __future__ import annotations

from typing import Optional

import numpy as np


def as_boxes(boxes) -> np.ndarray:
    """Boxes as an (N, 4) float64 array (an empty input gives shape (0, 4))."""
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4)


def area(box) -> float:
    """Area in px², at least 1: it is divided by, and a degenerate box must not
    divide by zero."""
    return max(1.0, (box[2] - box[0]) * (box[3] - box[1]))


def areas(boxes, at_least: float = 1.0) -> np.ndarray:
    """Area of each box in px², at least `at_least` (see `area`)."""
    b = as_boxes(boxes)
    return np.maximum(at_least, (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))


def diagonal(box) -> float:
    """Length of the box's diagonal in px: the tracker's measure of a vehicle's size."""
    return float(np.hypot(box[2] - box[0], box[3] - box[1]))


def center(box) -> tuple:
    return ((box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0)


def intersection_areas(a, b) -> np.ndarray:
    """(len(a), len(b)) areas of the pairwise intersections in px²; 0 where two boxes
    do not overlap."""
    a, b = as_boxes(a), as_boxes(b)
    w = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    h = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    return np.clip(w, 0, None) * np.clip(h, 0, None)


def overlap_of_smaller(a, b) -> np.ndarray:
    """(len(a), len(b)): each intersection as a fraction of the smaller box's area;
    1 when one box lies wholly inside the other, however different their sizes (IoU
    would be small then)."""
    return intersection_areas(a, b) / np.minimum(areas(a)[:, None], areas(b)[None, :])


def mostly_inside(inner, outer, fraction: float) -> np.ndarray:
    """(len(inner), len(outer)) booleans: does at least `fraction` of each inner box's
    area lie inside each outer box?"""
    return intersection_areas(inner, outer) >= fraction * areas(inner)[:, None]


def nms(boxes, scores, iou_threshold: float, labels: Optional[np.ndarray] = None,
        containment: Optional[float] = None) -> np.ndarray:
    """Greedy non-maximum suppression; the indices kept, best score first (equal
    scores keep their input order).

    A box is dropped when a better box that was kept overlaps it with IoU above
    `iou_threshold`, or, with `containment`, when their intersection covers more than
    that fraction of the smaller of the two: a second box on part of the same vehicle
    (bonnet, cab, one half of a long bus) has a low IoU with the whole-vehicle box but
    lies almost inside it. With `labels`, boxes only suppress boxes of the same label.

    Why numpy and not cv2.dnn.NMSBoxes: both rules must act in one greedy pass (a box
    the containment rule drops must not suppress anything itself), and NMSBoxes has no
    place for a second rule. On the bundled NanoDet's raw candidates of 3479 frames of
    samples/ and the real clips, NMSBoxes alone gave exactly this function's result
    without the containment rule, but with it as a separate pass the kept boxes changed
    in 33 frames (containment after NMSBoxes) or 49 (before). tests/test_geometry.py
    checks the IoU rule against NMSBoxes."""
    b = as_boxes(boxes)
    if len(b) == 0:
        return np.zeros(0, dtype=np.int64)
    if labels is not None:
        # Shift each label into its own region so boxes of different labels never overlap.
        b = b + ((b.max() + 1.0) * np.asarray(labels, dtype=np.float64))[:, None]
    area_ = areas(b, at_least=0.0)
    order = np.argsort(-np.asarray(scores), kind="stable")
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(i)
        inter = intersection_areas(b[i], b[rest])[0]
        iou = inter / np.maximum(area_[i] + area_[rest] - inter, 1e-12)
        survives = iou <= iou_threshold
        if containment is not None:
            survives &= inter <= containment * np.maximum(np.minimum(area_[i], area_[rest]), 1e-12)
        order = rest[survives]
    return np.asarray(keep, dtype=np.int64)


def pair_boxes(prev, cur, reach_diag: float, max_area_ratio: float) -> list:
    """[(index in cur, index in prev, centre distance px)]: the boxes of two consecutive
    looks paired by least total centre distance (Hungarian), so a car passing a parked one
    is not paired with it. Two boxes farther apart than `reach_diag` diagonals (of the
    box in `cur`), or whose areas differ more than `max_area_ratio`, are never paired."""
    from scipy.optimize import linear_sum_assignment
    a, b = as_boxes(prev), as_boxes(cur)
    if not len(a) or not len(b):
        return []
    ca, cb = (a[:, :2] + a[:, 2:]) / 2, (b[:, :2] + b[:, 2:]) / 2
    dist = np.linalg.norm(cb[:, None, :] - ca[None, :, :], axis=2)
    diag = np.hypot(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])[:, None]
    ratio = areas(b, 1e-6)[:, None] / areas(a, 1e-6)[None, :]
    apart = (dist > reach_diag * diag) | (np.maximum(ratio, 1 / ratio) > max_area_ratio)
    rows, cols = linear_sum_assignment(np.where(apart, 1e9, dist))
    return [(int(i), int(j), float(dist[i, j])) for i, j in zip(rows, cols) if not apart[i, j]]


def ground_depth_map(boxes, min_fit: float = 0.9):
    """A map from image rows to a coordinate proportional to distance along a flat road,
    fitted on one vehicle's boxes (x1, y1, x2, y2) seen at different rows; None when the
    boxes do not show perspective.

    Why: a camera looking along a road sees a receding vehicle's near end move faster
    down the picture than its far end (image speed grows with the square of the
    distance below the horizon), so the two ends of one rigid vehicle can move by a
    factor of two or more apart in pixels. On the road they move alike. A vehicle's
    width in the picture is proportional to its row's distance below the horizon
    (pinhole camera, flat road, no roll): width = k (bottom - horizon). A line fitted
    through (bottom, width) gives the horizon; 1 / (row - horizon) is then proportional
    to the ground distance of any point of the road at that row. The map is scaled to
    move 1 unit per pixel at the boxes' median bottom row, so thresholds in pixels keep
    their meaning there. It is monotone, so what stood still still stands still.

    Only a clear fit is taken (correlation >= `min_fit`, width growing downwards, the
    horizon above every box): a turning vehicle, a camera looking straight down or
    boxes all at one row give none, and positions are then compared as they are."""
    b = as_boxes(boxes)
    if len(b) < 3:
        return None
    bottoms, widths = b[:, 3], b[:, 2] - b[:, 0]
    if np.ptp(bottoms) < 0.5 * float(np.median(widths)) or np.ptp(widths) <= 0:
        return None            # too little change of row to see the width follow it
    if float(np.corrcoef(bottoms, widths)[0, 1]) < min_fit:
        return None
    k, c = np.polyfit(bottoms, widths, 1)
    horizon = -c / k
    if not horizon < float(b[:, 1].min()):
        return None
    ref = float(np.median(bottoms)) - horizon
    return lambda row: -ref * ref / (np.asarray(row, float) - horizon)
