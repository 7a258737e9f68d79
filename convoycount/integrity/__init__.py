"""Integrity: was this clip edited? Loops, cuts, reversed spans, duplicated frames,
spliced gaps and timestamp irregularities, found from per-frame signatures that the
pipeline computes in its own decode loop (no second decode).

    log = SignatureLog(); [log.add(f) for f in frames(path)]
    report = check(log, tracks, (width, height))      # IntegrityReport(findings=[Finding])

signatures.py (thumbnails), duplicated.py, leaps.py (jumps in the picture),
cuts.py, repeats.py, reversed.py, timestamps.py, check.py (all of them, and the
gaps: jumps no cut, loop or reversal explains), distinct.py (events counted once).
"""
from .check import check
from .findings import KINDS, Finding, IntegrityReport
from .signatures import SignatureLog, signatures_of

__all__ = ["check", "Finding", "IntegrityReport", "KINDS", "SignatureLog", "signatures_of"]
