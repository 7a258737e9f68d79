"""Timestamp irregularities: pts that go backwards or repeat, and gaps in the pts
far longer than the clip's own frame interval (a variable-frame-rate phone clip
drops a few frames now and then; a hole of many intervals is something else)."""
from __future__ import annotations

import numpy as np

from .findings import Finding

GAP_INTERVALS = 6        # a pts gap longer than this many median intervals...
GAP_MIN_S = 0.4          # ...and than this many seconds (VFR phones drop up to ~8 frames at 30 fps)


def find_timestamp_issues(t: np.ndarray) -> list:
    if len(t) < 3:
        return []
    dt = np.diff(t)
    median = float(np.median(dt[dt > 0])) if np.any(dt > 0) else 0.0
    findings = []
    for i in np.flatnonzero(dt <= 0):
        findings.append(Finding("timestamp", float(t[i]), float(t[i + 1]) if dt[i] == 0 else float(t[i]),
                                f"pts {'repeat' if dt[i] == 0 else 'go backwards'}: frame at "
                                f"{t[i + 1]:.3f} s follows {t[i]:.3f} s", confidence=1.0))
    limit = max(GAP_INTERVALS * median, GAP_MIN_S)
    for i in np.flatnonzero(dt > limit):
        findings.append(Finding("timestamp", float(t[i]), float(t[i + 1]),
                                f"gap in the pts: {dt[i]:.3f} s without a frame (the clip's interval "
                                f"is {median:.3f} s); footage may have been removed there",
                                confidence=min(1.0, dt[i] / (2 * limit))))
    return sorted(findings, key=lambda f: f.start_s)
