"""`convoycount batch`: wall time of --jobs 1 vs --jobs 2 over one folder of generated
clips (motion detector), the cost of a rerun with nothing changed, and the cost of
starting a worker process (why the local executor keeps long-lived workers).
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCENARIOS = ("two_way", "vertical", "news_story", "stop_and_go", "non_crossing", "shaky_noisy")


def _make_clips(folder: Path, n: int, real_s: float) -> None:
    from convoycount.synth import generate, scenario
    for i in range(n):
        name = SCENARIOS[i % len(SCENARIOS)]
        generate(folder / f"{i:02d}_{name}.mp4",
                 scenario(name, seed=200 + i, width=480, height=270, duration_real_s=real_s,
                          n_vehicles=3))


def _timed_batch(src: Path, out: Path, **kw):
    """(wall s, summary, CPU s of the finished worker processes)."""
    import resource
    from convoycount.batch import run_batch
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    summary = run_batch(src, out, **kw)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return wall, summary, cpu


# (label, jobs, threads per worker: 1 = capped; None and 0 leave the libraries their defaults)
CONFIGS = [("--jobs 1, library threads", 1, None),
           ("--jobs 1, 1 thread per worker", 1, 1),
           ("--jobs 2, 1 thread per worker (default for jobs > 1)", 2, 1),
           ("--jobs 2, library threads", 2, 0)]


def run(quick: bool) -> str:
    n_clips, real_s = (6, 4.0) if quick else (12, 6.0)
    load = os.getloadavg()
    m = _measure(n_clips, real_s)
    return "\n".join(_table(n_clips, real_s, m) + _notes(m, load))


def _measure(n_clips: int, real_s: float) -> dict:
    """Every configuration once over the same clips, then two reruns that find nothing to do."""
    with tempfile.TemporaryDirectory(prefix="bench_batch_") as tmp:
        tmp = Path(tmp)
        src = tmp / "clips"
        src.mkdir()
        _make_clips(src, n_clips, real_s)
        wall = {}
        cpu = {}
        starts = []
        clip_s = []
        counts = {}
        for i, (label, jobs, threads) in enumerate(CONFIGS):
            secs, summary, cpu[label] = _timed_batch(src, tmp / f"out{i}", jobs=jobs,
                                                     threads_per_worker=threads, detector="motion")
            assert summary.failed == 0, summary.line()
            wall[label] = secs
            starts.extend(summary.stats.worker_start_s)
            clip_s.extend(r.elapsed_s for r in summary.rows)
            counts[label] = [r.count_total for r in summary.rows]
        same_counts = len({tuple(c) for c in counts.values()}) == 1

        rerun_api, again, _ = _timed_batch(src, tmp / "out2", jobs=2, detector="motion")
        assert again.analysed == 0
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "convoycount.cli", "batch",
                        str(src), "-o", str(tmp / "out2"), "--jobs", "2", "-q"], check=True)
        rerun_cli = time.perf_counter() - t0
    return {"wall": wall, "cpu": cpu, "starts": starts, "clip_s": clip_s, "same_counts": same_counts,
            "rerun_api": rerun_api, "rerun_cli": rerun_cli}


def _table(n_clips: int, real_s: float, m: dict) -> list:
    wall, cpu = m["wall"], m["cpu"]
    base = wall[CONFIGS[0][0]]
    lines = [f"### batch: {n_clips} clips of {real_s:g} s (480x270, 30 fps), motion detector",
             "", "| run | wall s | speed-up vs --jobs 1 | workers' CPU s | cores used (CPU / wall) |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for label, _, _ in CONFIGS:
        lines.append(f"| {label} | {wall[label]:.2f} | {base / wall[label]:.2f}x | "
                     f"{cpu[label]:.1f} | {cpu[label] / wall[label]:.2f} |")
    first2 = wall[CONFIGS[2][0]]
    return lines + [f"| rerun, nothing changed (API) | {m['rerun_api']:.2f} | {m['rerun_api'] / first2:.1%} "
                    "of the first --jobs 2 run | | |",
                    f"| rerun, nothing changed (CLI, incl. interpreter start) | {m['rerun_cli']:.2f} | "
                    f"{m['rerun_cli'] / first2:.1%} of the first --jobs 2 run | | |", ""]


def _notes(m: dict, load: tuple) -> list:
    wall, starts, clip_s = m["wall"], m["starts"], m["clip_s"]
    base, par = wall[CONFIGS[0][0]], wall[CONFIGS[2][0]]
    return [f"- **--jobs 2 speed-up: {base / par:.2f}x** over --jobs 1 with library threads, "
            f"{wall[CONFIGS[1][0]] / par:.2f}x over --jobs 1 at 1 thread (target 1.7x on 2 cores).",
            f"- Worker start (spawn + imports until ready): median {statistics.median(starts):.2f} s "
            f"over {len(starts)} starts; median analysis per clip {statistics.median(clip_s):.2f} s. "
            "A process per clip would add that start to every clip, so workers are long-lived "
            "(one start per worker per run).",
            f"- Counts identical across all runs: {m['same_counts']}.",
            "- 'cores used' below 2 with --jobs 2 means the CPU was not ours to take (other "
            "processes on the machine), not that the workers waited on each other: the CPU "
            "seconds of the runs stay close.",
            "- Workers with --jobs > 1 cap OpenCV (cv2.setNumThreads) and OpenMP/BLAS pools to 1 "
            "thread; PyAV's decoder threads are FFmpeg's default.",
            f"- One run per row, {os.cpu_count()} CPUs, load average {load[0]:.1f} before / "
            f"{os.getloadavg()[0]:.1f} after (other work on the machine skews every ratio); "
            "wall time includes discovery, hashing, worker start and summary writing."]


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
