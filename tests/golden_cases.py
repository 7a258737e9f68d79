"""Reference analyses whose results must not change when the code is reorganised.

`tests/golden/reports.json` holds, for each case, what a verifier reads off the
report (counts, every event's times, the time map, the claim's verdicts, the span
and the warnings); `tests/test_golden.py` re-runs the cases and compares. After a
change that is *meant* to alter results, rewrite the file on purpose and say why
in the commit:

    python tests/golden_cases.py            # rewrites tests/golden/reports.json
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
GOLDEN = Path(__file__).resolve().parent / "golden" / "reports.json"

# name -> (clip, analyze keyword arguments). Every detector, a given and an
# estimated speed-up, a range, a stride, a given line and a claim on each basis.
CASES = {
    "news_motion_x4_claim": ("news_story.mp4", dict(
        speedup=4, claim="nine vehicles in 10 seconds")),
    "two_way_motion_auto": ("two_way.mp4", dict(
        speedup="auto", claim="at least 10 vehicles", claim_basis="clip")),
    "vfr_motion_range_line": ("vfr_phone.mp4", dict(
        line="0.5,0,0.5,1", start_s=0.5, end_s=6.0, real_duration_s=20.0,
        claim="5 vehicles in 5 seconds")),
    "two_way_coco": ("two_way.mp4", dict(detector="coco", speedup=2, end_s=12.0)),
    "news_yolo_stride2": ("news_story.mp4", dict(
        detector="yolo", model=str(ROOT / "models" / "convoy-yolo.pt"), stride=2,
        claim="a convoy of 9 trucks")),
}


def _rounded(x, nd=6):
    if isinstance(x, float):
        return round(x, nd)
    if isinstance(x, list):
        return [_rounded(v, nd) for v in x]
    if isinstance(x, dict):
        return {k: _rounded(v, nd) for k, v in x.items()}
    return x


def observable(report) -> dict:
    """What must stay the same: everything but the parameters' shape, the
    provenance (versions, timings) and the probe (checked by its own tests)."""
    d = report.to_dict()
    keep = {k: d[k] for k in ("line", "time_map", "count", "events", "claim", "warnings")}
    keep["detector"] = {k: d["detector"][k] for k in ("name", "classes", "fallback_reason")}
    keep["span_s"] = d["analysis"]["span_s"]
    keep["frames_processed"] = d["analysis"]["frames_processed"]
    return _rounded(keep)


def run_case(name: str) -> dict:
    import warnings

    import convoycount
    clip, kw = CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return observable(convoycount.analyze(SAMPLES / clip, **kw))


def main() -> None:
    out = {name: run_case(name) for name in (sys.argv[1:] or CASES)}
    if sys.argv[1:] and GOLDEN.exists():
        out = {**json.loads(GOLDEN.read_text()), **out}
    from convoycount.io import write_text
    write_text(GOLDEN, json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN} ({len(out)} cases)")


if __name__ == "__main__":
    main()
