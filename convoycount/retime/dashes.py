"""The camera's focal length from dashed lane lines (issue 15).

Traffic boxes cannot tell a telephoto far away from a wide lens close by (see the
focal-length notes in ground.py); a length *along* the road can, and dashed lane lines
are one with a legal size. On flat ground seen by a pinhole camera (focal f px, no
roll, tilt t, height h) a ground point at depth Z along the optical axis sits at
row y with

    y - y_h = f h / (Z cos t)        (y_h: the horizon row)
    s(y)    = f / Z                   (px per metre across the view at that row)

so 1 / (y - y_h) is linear in the distance along a road heading away from the
camera, with slope cos^2 t / (f h) per metre, and s(y) / (y - y_h) = cos t / h =: k.
For the dashes of one lane line (marks every P metres), 1 / (y_i - y_h) against the
dash index i has slope m = P cos^2 t / (f h), hence

    f = P k cos t / m,       cos t = f / sqrt(f^2 + (c_y - y_h)^2)

(solved by a few fixed-point steps). The height h cancels. k comes from the lane
width between two neighbouring dashed lines (3.5-3.75 m: the usual motorway and
trunk-road lane widths, e.g. DMRB CD 127 in the UK, 12 ft in the US Green Book, RAA
in Germany) or from vehicle widths at known rows; the horizon from where the lane
lines meet (or from the caller's horizon, or the dashes of one line alone).

P is not known, only the set of legal periods (`STANDARDS`): each gives one focal
length. The range spans the periods whose focal length is a lens traffic is filmed
with (2-80 deg across, see the focal-length notes in ground.py); the point is the
middle of those whose mark share (mark / period) also matches the measured one.

Limits: a road at a yaw to the view is corrected from where its lines meet
(`focal_for`), but it must be flat and straight where the dashes are (a curving road
gives no straight row of dashes); dashes must be visible in the median of a few
frames (light traffic), which many clips do not have: then the
reading is unknown with the reason, never a guess.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np


@dataclass(frozen=True)
class DashStandard:
    name: str
    mark_m: float
    gap_m: float

    @property
    def period_m(self) -> float:
        return self.mark_m + self.gap_m


# Legal broken-line patterns (physical knowledge, not fitted): UK lane line on roads
# over 40 mph, TSRGD 2016 Sch. 9 diagram 1005 (2 m mark, 7 m gap); US MUTCD 2009
# section 3A.06 (10 ft segments, 30 ft gaps); Germany RMS (Richtlinien fuer die
# Markierung von Strassen) Leitlinie: Autobahn 6 m + 12 m, other roads 3 m + 6 m,
# built-up areas 3 m + 3 m; France IISR part 7 (article 115), modulation T1: 3 m + 10 m;
# China GB 5768.3-2009 lane dividing lines: expressways 6 m + 9 m, other roads 2 m + 4 m.
STANDARDS = (
    DashStandard("UK lane line 2+7 m", 2.0, 7.0),
    DashStandard("US 10+30 ft", 3.05, 9.15),
    DashStandard("France T1 3+10 m", 3.0, 10.0),
    DashStandard("Germany Autobahn 6+12 m", 6.0, 12.0),
    DashStandard("rural 3+6 m", 3.0, 6.0),
    DashStandard("urban 3+3 m", 3.0, 3.0),
    DashStandard("China expressway 6+9 m", 6.0, 9.0),
    DashStandard("China other roads 2+4 m", 2.0, 4.0),
)


@dataclass(frozen=True)
class DashSettings:
    frames: int = 9                   # frames sampled across the clip for the median
    tophat_frac: float = 1 / 50       # top-hat kernel / frame width: marks narrower stand out
    min_contrast: float = 25.0        # grey levels above the surrounding road
    min_area_px: int = 3
    max_clutter: float = 0.12         # share of faintly bright pixels around a mark (foliage: more)
    shape_min_px: int = 12            # marks this big must look like a steep dash...
    min_elongation: float = 1.8       # ...long / wide (sd ratio) at least this
    max_marks: int = 200              # brightest-area components kept for the line search
    line_tol_frac: float = 1 / 400    # a mark centre this close to a line (x frame width) is on it
    min_dashes: int = 4
    max_lines: int = 10
    min_steep_deg: float = 15.0       # flatter lines (side-on roads) are not measured
    max_misfit: float = 0.15          # RMS of 1/(y-y_h) about its fit, in dash steps
    duty_tol: float = 0.08            # measured vs legal mark share
    duty_min_px: float = 6.0          # marks shorter than this blur too much to measure
    lane_width_m: tuple = (3.5, 3.75)
    fov_range_deg: tuple = (2.0, 80.0)   # ground.py's lens range, down to the 2 deg of a
                                         # broadcast zoom at full telephoto


@dataclass(frozen=True)
class DashLine:
    """One dashed line: its image line and its dashes in projective units."""
    point: tuple                 # a point on the line (x, y)
    direction: tuple             # unit vector, pointing down the picture
    rows: tuple                  # dash centre rows, near to far
    step: float                  # m: slope of 1/(y - y_h) per dash
    misfit: float                # RMS about the fit, in steps
    duty: Optional[float]        # measured mark share of the period



@dataclass(frozen=True)
class DashReading:
    """What the dashes say about the focal length (None range: unknown, see `why`)."""
    focal_range_px: Optional[tuple]   # (wide, telephoto) over every legal period
    focal_px: Optional[float] = None  # the middle of those whose mark share matches
    periods_m: tuple = ()             # legal periods whose mark share matches
    dashes: int = 0
    lines: int = 0
    horizon_y: Optional[float] = None
    scale_k: Optional[tuple] = None   # (lo, hi) of k = px per metre across / (y - y_h)
    duty: Optional[float] = None
    why: str = ""
    candidates: dict = field(default_factory=dict)   # standard name -> focal px
    step: Optional[float] = None      # m: median slope of 1/(y - y_h) per dash

    def fov_deg(self, width: int) -> Optional[tuple]:
        if self.focal_range_px is None:
            return None
        return tuple(2 * math.degrees(math.atan(width / 2 / f)) for f in self.focal_range_px)

    def to_dict(self) -> dict:
        r = self.focal_range_px
        return {"focal_px_range": None if r is None else [round(f, 1) for f in r],
                "focal_px": None if self.focal_px is None else round(self.focal_px, 1),
                "periods_m": [round(p, 2) for p in self.periods_m], "dashes": self.dashes,
                "lines": self.lines, "mark_share": None if self.duty is None else round(self.duty, 3),
                "horizon_y_px": None if self.horizon_y is None else round(self.horizon_y, 1),
                "candidates_focal_px": {k: round(v, 1) for k, v in self.candidates.items()},
                "scale_k_range": None if self.scale_k is None else [float(f"{v:.4g}") for v in self.scale_k],
                "step_per_dash": None if self.step is None else float(f"{self.step:.4g}"),
                "rule": "f = sqrt((P k / m)^2 - (c_y - y_h)^2) per legal period P (k: px per "
                        "metre across / (y - y_h); m: step_per_dash; road yaw corrected, "
                        "dashes.focal_for)",
                "why": self.why}


def median_gray(images: Sequence[np.ndarray]) -> np.ndarray:
    """The per-pixel median of a few frames, grey: vehicles that move between them go."""
    import cv2
    grays = [cv2.cvtColor(im, cv2.COLOR_BGR2GRAY) if im.ndim == 3 else im for im in images]
    return np.median(np.stack(grays), axis=0).astype(np.uint8)


def find_marks(gray: np.ndarray, s: DashSettings = DashSettings()) -> np.ndarray:
    """Bright narrow marks on a smooth surface: rows of (cx, cy, top row, bottom row, area)."""
    import cv2
    k = max(7, int(round(gray.shape[1] * s.tophat_frac)) | 1)
    th = cv2.morphologyEx(gray, cv2.MORPH_TOPHAT, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    bright = th > s.min_contrast
    n, lab, stats, cent = cv2.connectedComponentsWithStats(bright.astype(np.uint8), 8)
    top, hgt, area = stats[1:, cv2.CC_STAT_TOP], stats[1:, cv2.CC_STAT_HEIGHT], stats[1:, cv2.CC_STAT_AREA]
    left, right = stats[1:, cv2.CC_STAT_LEFT], stats[1:, cv2.CC_STAT_LEFT] + stats[1:, cv2.CC_STAT_WIDTH]
    marks = np.column_stack((cent[1:], top, top + hgt - 1, area)).astype(np.float64)
    # a mark cut by the frame edge has its centre off the dash's
    keep = (top > 0) & (top + hgt < gray.shape[0]) & (left > 0) & (right < gray.shape[1])
    keep &= (area >= s.min_area_px) & _on_smooth_ground(th, marks, k, s) & _steep_shape(lab, n, s)
    marks = marks[keep]
    return marks[np.argsort(-marks[:, 4])][: s.max_marks]


def _on_smooth_ground(th: np.ndarray, marks: np.ndarray, k: int, s: DashSettings) -> np.ndarray:
    """Per mark: is the ground around it plain (road surface, not foliage or clutter)?
    The share of faintly bright pixels in a 3k window, less the mark's own."""
    import cv2
    faint = cv2.boxFilter((th > s.min_contrast / 2).astype(np.float32), -1, (3 * k, 3 * k))
    x = np.clip(np.round(marks[:, 0]).astype(int), 0, th.shape[1] - 1)
    y = np.clip(np.round(marks[:, 1]).astype(int), 0, th.shape[0] - 1)
    return faint[y, x] - 2 * marks[:, 4] / (9 * k * k) < s.max_clutter


def _steep_shape(lab: np.ndarray, n: int, s: DashSettings) -> np.ndarray:
    """Per component (label 1..n-1): not clearly a flat or round blob. A dash of a lane
    line heading away is elongated along a steep image direction; marks too small to
    have a shape pass."""
    ys, xs = np.nonzero(lab)
    lb = lab[ys, xs]
    cnt = np.bincount(lb, minlength=n).astype(np.float64)[1:]
    mom = [np.bincount(lb, weights=w, minlength=n)[1:] / np.maximum(cnt, 1)
           for w in (xs, ys, xs * xs, ys * ys, xs * ys)]
    sxx = mom[2] - mom[0] ** 2
    syy = mom[3] - mom[1] ** 2
    sxy = mom[4] - mom[0] * mom[1]
    half = np.sqrt(((sxx - syy) / 2) ** 2 + sxy ** 2)
    big, small = (sxx + syy) / 2 + half, (sxx + syy) / 2 - half
    steep = np.degrees(np.abs(np.arctan2(2 * sxy, sxx - syy) / 2))   # major axis from horizontal
    shaped = cnt >= s.shape_min_px
    return ~shaped | ((big >= s.min_elongation ** 2 * np.maximum(small, 1 / 12))
                      & (steep >= s.min_steep_deg))


def _best_line(pts: np.ndarray, tol: float, s: DashSettings) -> Optional[np.ndarray]:
    """Indices of the mark centres on the steep line through the most of them."""
    i, j = np.triu_indices(len(pts), 1)
    d = pts[j] - pts[i]
    norm = np.hypot(d[:, 0], d[:, 1])
    ok = (norm > 0) & (np.abs(d[:, 1]) >= norm * math.sin(math.radians(s.min_steep_deg)))
    i, j, d, norm = i[ok], j[ok], d[ok], norm[ok]
    if len(i) == 0:
        return None
    nrm = np.column_stack((-d[:, 1], d[:, 0])) / norm[:, None]
    best, best_n = None, 0
    for a in range(0, len(i), 4000):      # in chunks: pairs x marks distances at once
        dist = np.abs((pts[None, :, 0] - pts[i[a:a + 4000], None, 0]) * nrm[a:a + 4000, None, 0]
                      + (pts[None, :, 1] - pts[i[a:a + 4000], None, 1]) * nrm[a:a + 4000, None, 1])
        counts = (dist < tol).sum(axis=1)
        k = int(np.argmax(counts))
        if counts[k] > best_n:
            best_n, best = int(counts[k]), np.flatnonzero(dist[k] < tol)
    return best


def _merge_broken(marks: np.ndarray) -> np.ndarray:
    """Marks of one line whose rows overlap are one dash split in two: joined."""
    m = marks[np.argsort(-marks[:, 1])]
    out = [m[0].copy()]
    for r in m[1:]:
        if r[3] >= out[-1][2] - 1:     # its bottom reaches the previous top
            o = out[-1]
            w = o[4] + r[4]
            o[0], o[1] = (o[0] * o[4] + r[0] * r[4]) / w, (o[1] * o[4] + r[1] * r[4]) / w
            o[2], o[4] = min(o[2], r[2]), w
        else:
            out.append(r.copy())
    return np.array(out)


def _fit_line(marks: np.ndarray) -> tuple:
    c = marks[:, :2]
    mean = c.mean(axis=0)
    _, _, vt = np.linalg.svd(c - mean, full_matrices=False)
    d = vt[0] if vt[0][1] > 0 else -vt[0]
    return tuple(mean), tuple(d)


def dash_lines(marks: np.ndarray, width: int, s: DashSettings = DashSettings()) -> list:
    """Groups of marks on steep straight lines: [(point, direction, marks near to far)]."""
    left, out = marks, []
    tol = max(1.5, width * s.line_tol_frac)
    while len(left) >= s.min_dashes and len(out) < s.max_lines:
        idx = _best_line(left[:, :2], tol, s)
        if idx is None or len(idx) < s.min_dashes:
            break
        group = _merge_broken(left[idx])
        left = np.delete(left, idx, axis=0)
        if len(group) >= s.min_dashes:
            out.append((*_fit_line(group), group))
    return out


def _meeting_row(a: tuple, b: tuple) -> Optional[float]:
    """The row where two image lines (point, direction) cross, None if near parallel."""
    ga, gb = a[1][0] / a[1][1], b[1][0] / b[1][1]
    if abs(ga - gb) < 1e-3:
        return None
    return (b[0][0] - a[0][0] + a[0][1] * ga - b[0][1] * gb) / (ga - gb)


def _steps(rows: np.ndarray, y_h: float) -> Optional[tuple]:
    """(m, misfit): the slope of 1 / (y - y_h) per dash along one line (near to far rows),
    counting a missing dash (a gap of ~2 steps) as one, and the RMS misfit in steps."""
    if (rows - y_h).min() <= 1:
        return None
    z = 1 / (rows - y_h)
    dz = np.diff(z)
    unit = float(np.median(dz))
    if unit <= 0:
        return None
    for _ in range(2):
        idx = np.concatenate(([0.0], np.cumsum(np.maximum(1, np.round(dz / unit)))))
        unit, icpt = np.polyfit(idx, z, 1)
        if unit <= 0:
            return None
    return float(unit), float(np.sqrt(np.mean((z - unit * idx - icpt) ** 2)) / unit)


def _own_horizon(rows: np.ndarray) -> Optional[float]:
    """One line alone: the horizon row that makes 1 / (y - y_h) straightest in the dash index."""
    span = float(np.ptp(rows))
    best = None
    for y_h in np.linspace(rows.min() - 40 * span, rows.min() - 1, 400):
        r = _steps(rows, y_h)
        if r is not None and (best is None or r[1] < best[1]):
            best = (float(y_h), r[1])
    return None if best is None else best[0]


def _x_at(line: tuple, y: float) -> float:
    return line[0][0] + (y - line[0][1]) * line[1][0] / line[1][1]


def _horizon(lines: list, given: Optional[float]) -> tuple:
    """(row, vanishing point column, how): where the dashed lines meet; else the
    caller's horizon; else one line's own (the column: where the first line reaches it)."""
    meet = [(r, _x_at(a, r)) for i, a in enumerate(lines) for b in lines[i + 1:]
            for r in [_meeting_row(a, b)] if r is not None and r < min(a[2][:, 1].min(), b[2][:, 1].min())]
    if meet:
        y_h, x_v = np.median(np.array(meet), axis=0)
        return float(y_h), float(x_v), f"where {len(lines)} dashed lines meet"
    y_h, how = given, "the camera model's horizon"
    if y_h is None:
        y_h, how = _own_horizon(lines[0][2][:, 1]), "the dash spacing of one line"
    return y_h, (None if y_h is None else _x_at(lines[0], y_h)), how


def _single_dashes(g: np.ndarray) -> np.ndarray:
    """The marks (near to far) that are one dash each: far away, where dashes are a few
    pixels apart, blur merges runs of them into one long mark, taller than the
    spacing to its neighbour."""
    gap = np.abs(np.diff(g[:, 1]))
    near_gap = np.concatenate((gap, [np.inf]))
    far_gap = np.concatenate(([np.inf], gap))
    return g[(g[:, 3] - g[:, 2]) < np.minimum(near_gap, far_gap)]


def _duty(marks: np.ndarray, y_h: float, m: float, s: DashSettings) -> Optional[float]:
    """Median mark share of the period, from marks tall enough not to be all blur."""
    tall = marks[(marks[:, 3] - marks[:, 2] + 1 >= s.duty_min_px) & (marks[:, 2] > y_h)]
    if len(tall) == 0:
        return None
    # between the centres of the end pixels: the blurred ends add about a pixel, the
    # pixels' own extent would add another
    share = (1 / (tall[:, 2] - y_h) - 1 / (tall[:, 3] - y_h)) / m
    share = share[share < 1]          # a mark longer than the period is not one dash
    return float(np.median(share)) if len(share) else None


def _lane_scale(lines: list, s: DashSettings) -> Optional[tuple]:
    """(lo, hi) of k from the narrowest gap between neighbouring lines: their x
    separation grows by k x lane width per row below the horizon."""
    if len(lines) < 2:
        return None
    y = float(np.median(np.concatenate([g[:, 1] for *_, g in lines])))
    order = sorted(lines, key=lambda ln: _x_at(ln, y))
    rates = [abs(a[1][0] / a[1][1] - b[1][0] / b[1][1]) for a, b in zip(order, order[1:])]
    rate = min(rates)
    return rate / s.lane_width_m[1], rate / s.lane_width_m[0]


def _vehicle_scale(samples: Sequence, y_h: float) -> Optional[tuple]:
    """(lo, hi) of k from (row, px per metre across) samples of vehicles (their box
    widths over their widths in metres): the quartiles."""
    k = [px / (row - y_h) for row, px in samples if row - y_h > 1]
    if len(k) < 3:
        return None
    return float(np.percentile(k, 25)), float(np.percentile(k, 75))


def focal_for(period_m: float, k: float, m: float, y_h: float, cy: float,
              dx_vp: float = 0.0, lane: bool = True) -> Optional[float]:
    """f from a = P k / m = sqrt(f^2 + (c_y - y_h)^2) (f = P k cos t / m, with
    cos t = f / sqrt(f^2 + (c_y - y_h)^2)) for a road along the view. A road at yaw phi
    (its vanishing point dx_vp px from the centre column, tan phi = dx_vp / sqrt(f^2 +
    (c_y - y_h)^2)) steps cos phi less in depth per dash, and its lane width reads
    1 / cos phi wider across: a = sqrt(...) / cos^2 phi with a lane-width k
    (sin 2 phi = 2 dx_vp / a), / cos phi with vehicle widths (sin phi = dx_vp / a).
    None when no camera fits."""
    a = period_m * k / m
    d = cy - y_h
    ratio = (2 if lane else 1) * abs(dx_vp) / a
    if ratio >= 1:
        return None
    phi = math.asin(ratio) / (2 if lane else 1)
    r = a * math.cos(phi) ** (2 if lane else 1)
    return math.sqrt(r * r - d * d) if r > abs(d) else None


def _measured_lines(lines: list, y_h: float, s: DashSettings) -> tuple:
    """(DashLine list, why none): the lines whose dashes are evenly spaced on the ground."""
    out, whys = [], []
    for point, direction, g in lines:
        g = _single_dashes(g)
        r = _steps(g[:, 1], y_h) if len(g) >= s.min_dashes else None
        if r is None:
            whys.append("dashes not below the horizon")
        elif r[1] > s.max_misfit:
            whys.append(f"spacing misfit {r[1]:.2f} steps (> {s.max_misfit})")
        else:
            out.append(DashLine(point, direction, tuple(g[:, 1]), r[0], r[1], _duty(g, y_h, r[0], s)))
    # (a line with "dashes not below the horizon" is clutter that crosses it)
    return out, "; ".join(whys)


def _judge(m: float, k: tuple, duty: Optional[float], vp: tuple, shape: tuple, lane: bool,
           s: DashSettings) -> tuple:
    """(focal range or None, point, periods of the mark share, candidates {name: f px}).
    The range spans every legal period that gives a lens of `fov_range_deg`; the point
    is the middle of those whose mark share matches too (of all when none does): the
    measured share reads a few hundredths high from blur and cannot be trusted to
    bound the interval."""
    h, w = shape
    lens = [w / 2 / math.tan(math.radians(a) / 2) for a in sorted(s.fov_range_deg, reverse=True)]
    every, shared, cand = [], [], {}
    for st in STANDARDS:
        fs = [focal_for(st.period_m, kk, m, vp[0], h / 2, vp[1] - w / 2, lane) for kk in k]
        if None in fs:
            continue
        cand[st.name] = float(np.mean(fs))
        if not lens[0] <= cand[st.name] <= lens[1]:
            continue
        every += fs
        if duty is None or abs(duty - st.mark_m / st.period_m) <= s.duty_tol:
            shared.append((st.period_m, fs))
    if not every:
        return None, None, (), cand
    pf = [f for _, fs in shared for f in fs] or every
    return ((min(every), max(every)), math.sqrt(min(pf) * max(pf)),
            tuple(sorted({p for p, _ in shared})), cand)


def read_dashes(images: Sequence[np.ndarray], *, horizon_y: Optional[float] = None,
                vehicle_scale: Sequence = (), settings: DashSettings = DashSettings()) -> DashReading:
    """The focal-length range the dashed lane lines in these frames allow (see the
    module docstring). `horizon_y`: the camera model's horizon, used when fewer than
    two dashed lines meet; `vehicle_scale`: (row, px per metre across) of vehicles,
    the scale when there is no second line for a lane width."""
    s = settings
    gray = median_gray(images)
    lines = dash_lines(find_marks(gray, s), gray.shape[1], s)
    if not lines:
        return DashReading(None, why=f"no dashed line (>= {s.min_dashes} marks in a row) found")
    y_h, x_v, how = _horizon(lines, horizon_y)
    if y_h is None:
        return DashReading(None, lines=len(lines), why="no horizon: the dashes do not place it")
    good, why = _measured_lines(lines, y_h, s)
    if not good:
        return DashReading(None, lines=len(lines), horizon_y=y_h, why=f"no evenly spaced dashes: {why}")
    k_lane = _lane_scale(lines, s)
    k = k_lane or _vehicle_scale(vehicle_scale, y_h)
    n = sum(len(ln.rows) for ln in good)
    if k is None:
        return DashReading(None, dashes=n, lines=len(good), horizon_y=y_h,
                           why="no scale across the road: one dashed line and < 3 vehicle widths")
    m = float(np.median([ln.step for ln in good]))
    duties = [ln.duty for ln in good if ln.duty is not None]
    duty = float(np.median(duties)) if duties else None
    rng, point, kept, cand = _judge(m, k, duty, (y_h, x_v), gray.shape, k_lane is not None, s)
    why = (f"horizon from {how}" if rng else
           f"no legal dash period gives a lens of {s.fov_range_deg[0]:g}-{s.fov_range_deg[1]:g} deg")
    return DashReading(rng, point, kept, n, len(good), y_h, k, duty, why, cand, m)


def read_clip_dashes(path, settings: DashSettings = DashSettings()) -> DashReading:
    """The dash reading of a clip file, from `settings.frames` frames spread over it; a
    file that cannot be sampled gives an unknown reading with the reason."""
    from ..errors import ConvoyCountError
    try:
        images = sample_images(path, settings.frames)
    except (ConvoyCountError, OSError, ValueError) as e:
        return DashReading(None, why=f"frames could not be sampled: {e}")
    if not images:
        return DashReading(None, why="no frame could be decoded for the dash reading")
    return read_dashes(images, settings=settings)


def sample_images(path, count: int) -> list:
    """`count` frames spread evenly over the clip (BGR)."""
    from ..video import frames, probe
    info = probe(path)
    out = []
    for t in info.start_time_s + np.linspace(0, (info.duration_s or 0.0) * 0.95, count):
        with frames(path, start_s=float(t)) as reader:
            fr = next(iter(reader), None)
        if fr is not None:
            out.append(fr.image)
    return out
