"""The peak resident memory of this process alone.

`getrusage(RUSAGE_SELF).ru_maxrss` is not that in a child process: Linux carries the
parent's high-water mark across fork and exec, so a worker started by a runner that had
just rendered a 10-minute 1080p clip reported the runner's ~500 MB for its own 300 MB
(measured: a 13 MB child of a 426 MB parent reports 426 MB). VmHWM in /proc/self/status
is the high-water mark of this process's own address space, which exec starts afresh."""
from __future__ import annotations

import resource
import sys


def _status_mb(key: str):
    """A memory line of /proc/self/status in MB; None without procfs (macOS)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def rss_mb():
    """This process's resident memory now (MB); None without procfs."""
    return _status_mb("VmRSS")


def peak_rss_mb() -> float:
    peak = _status_mb("VmHWM")
    if peak is not None:
        return peak
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss     # the portable figure, caveat above
    return peak / (1024.0 * 1024.0 if sys.platform == "darwin" else 1024.0)   # bytes there, kB here
