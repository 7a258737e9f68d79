"""Thumbnail pairs for the report page: for each repeat the frame and its source,
for each cut and gap the frames before and after, so a reader sees the edit
instead of taking the finding's word for it.

    finding_pairs(report) -> {finding position: ((caption, png), (caption, png))}

The frames are decoded again by seeking to their times (a few frames per finding),
which keeps this independent of the evidence's own decode pass."""
from __future__ import annotations

THUMB_W = 320            # px: two side by side fit the report page


def pair_times(f) -> tuple:
    """((caption, time), (caption, time)) of the two frames that show finding `f`, or ()."""
    if f.kind == "repeat":
        return ((f"source: {f.source_start_s:.2f} s", f.source_start_s),
                (f"replayed at {f.start_s:.2f} s", f.start_s))
    if f.kind == "gap":
        return ((f"before: {f.start_s:.3f} s", f.start_s), (f"after: {f.end_s:.3f} s", f.end_s))
    if f.kind == "cut":
        return ((f"before the cut: just before {f.start_s:.3f} s", f.start_s - 1e-3),
                (f"after the cut: {f.start_s:.3f} s", f.start_s))
    return ()


def finding_pairs(report) -> dict:
    """PNG thumbnails for each repeat, cut and gap of `report.integrity` (a frame that
    cannot be decoded leaves its finding without a pair)."""
    integ = getattr(report, "integrity", None)
    if integ is None or not integ.findings:
        return {}
    out = {}
    for k, f in enumerate(integ.findings):
        times = pair_times(f)
        pics = [(cap, _thumb(report.input_path, t)) for cap, t in times]
        if pics and all(png for _, png in pics):
            out[k] = tuple(pics)
    return out


def _thumb(path, time_s: float):
    """PNG bytes of the last frame at or before `time_s` (None if none decodes)."""
    import cv2

    from ..video import frames
    last = None
    for fr in frames(path, start_s=max(0.0, time_s - 0.5), end_s=time_s + 1e-6):
        last = fr.image
    if last is None:
        return None
    h, w = last.shape[:2]
    small = cv2.resize(last, (THUMB_W, max(1, round(h * THUMB_W / w))), interpolation=cv2.INTER_AREA)
    ok, png = cv2.imencode(".png", small)
    return png.tobytes() if ok else None
