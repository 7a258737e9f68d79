"""check(): every integrity test on one clip's signatures (and tracks, when given)."""
from __future__ import annotations

from typing import Optional

import numpy as np

from .cuts import find_cuts
from .duplicated import duplicate_mask, find_duplicates
from .findings import Finding, IntegrityReport
from .leaps import find_leaps, frames_carried
from .repeats import find_repeats, find_seam_repeats, merge_repeats
from .reversed import find_reversed, find_reversed_splices
from .signatures import SignatureLog
from .speed import find_speed_change
from .timestamps import find_timestamp_issues

SEAM_FRAMES = 2          # a leap this close to a repeat's or reversal's edge is its seam
SEAM_TOL_S = 0.5         # a repeat found from motion starts this close to a jump in the picture


def check(log: SignatureLog, tracks: Optional[list] = None, size: Optional[tuple] = None) -> IntegrityReport:
    """All findings for the frames in `log`. `tracks` (with `size` = (width, height))
    add the reversed-in-place test, which needs vehicle motion."""
    report = IntegrityReport(frames=len(log))
    if len(log) < 3:
        report.notes.append(f"only {len(log)} frames: too few to check")
        return report
    t, step = log.t, log.step
    dup = duplicate_mask(step)
    every_leap = find_leaps(log, dup)
    leaps = [lp for lp in every_leap if lp.steady]
    findings = find_timestamp_issues(t) + find_duplicates(t, step) + find_cuts(t, leaps)
    x = log.normalised()
    jumps = [lp.index for lp in leaps if not lp.is_cut]
    # a reversal's seams confirm each other (each continues the picture at the other
    # end), so a leap of the solid change alone may be one of them
    rev, paired = find_reversed_splices(x, t, [lp.index for lp in every_leap if not lp.is_cut],
                                        frames_carried(t, dup))
    near = int(round(SEAM_TOL_S / float(np.median(np.diff(t)))))
    reps = merge_repeats(find_seam_repeats(x, t, [i for i in jumps if i not in paired]), find_repeats(x, t),
                         [lp.index for lp in leaps], near)
    findings += rev + [_repeat_finding(r, t) for r in reps]
    seams = set(paired) | {e for r in reps for e in (r.copy[0], r.copy[1] + 1, r.source[0], r.source[1] + 1)}
    if tracks is not None and size is not None:
        clip = (float(t[0]), float(t[-1]))
        more = find_reversed(tracks, size[0], size[1], [float(t[lp.index]) for lp in leaps], clip)
        more = [f for f in more if not any(f.start_s <= r.end_s and r.start_s <= f.end_s for r in rev)]
        speed, notes = find_speed_change(tracks, size[0], size[1], clip, [float(t[lp.index]) for lp in every_leap])
        findings += more + speed
        report.notes += notes
        seams |= {int(np.searchsorted(t, e - 1e-6)) + k for f in more for e in (f.start_s, f.end_s)
                  for k in (0, 1)}
    findings += _gaps(t, leaps, seams)
    report.findings = sorted(findings, key=lambda f: (f.start_s, f.kind))
    return report


def _repeat_finding(r, t: np.ndarray) -> Finding:
    (c0, c1), (s0, s1) = r.copy, r.source
    dur = t[c1] - t[c0]
    how = "backwards (a reversed replay)" if r.backwards else "again"
    return Finding("reversed" if r.backwards else "repeat", float(t[c0]), float(t[c1]),
                   f"the footage of {t[s0]:.2f}-{t[s1]:.2f} s plays {how} at {t[c0]:.2f}-{t[c1]:.2f} s "
                   f"({c1 - c0 + 1} frames)", confidence=min(1.0, 0.5 + dur / 4),
                   source_start_s=float(t[s0]), source_end_s=float(t[s1]))


def _gaps(t: np.ndarray, leaps: list, seams: set) -> list:
    out = []
    for lp in leaps:
        i = lp.index
        if lp.is_cut or any(abs(i - s) <= SEAM_FRAMES for s in seams):
            continue
        out.append(Finding("gap", float(t[i - 1]), float(t[i]),
                           f"the picture jumps between {t[i - 1]:.3f} and {t[i]:.3f} s while the "
                           f"background stays ({lp.ratio:.0f}x the change between neighbouring "
                           f"frames): footage was cut out of a continuous shot",
                           confidence=min(1.0, lp.ratio / 10)))
    return out
