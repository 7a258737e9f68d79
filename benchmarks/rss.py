"""The peak resident memory of this process alone.

`getrusage(RUSAGE_SELF).ru_maxrss` is not that in a child process: Linux carries the
parent's high-water mark across fork and exec, so a worker started by a runner that had
just rendered a 10-minute 1080p clip reported the runner's ~500 MB for its own 300 MB
(measured: a 13 MB child of a 426 MB parent reports 426 MB). VmHWM in /proc/self/status
is the high-water mark of this process's own address space, which exec starts afresh."""
from __future__ import annotations

import resource
import sys


def peak_rss_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:             # no procfs (macOS): the portable figure, caveat above
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0 if sys.platform == "darwin" else 1024.0)   # bytes there, kB here
