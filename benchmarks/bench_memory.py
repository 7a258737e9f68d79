"""Memory: RSS stays flat however long the clip is (no frame accumulation).

Two generated 1080p clips of the same scene, 1 minute and 10 minutes long, are
counted by `convoycount.analyze` in a fresh process each (motion detector, the
default integrity pass on). The process samples its own RSS (/proc/self/status)
as the clip goes by and reports its own peak (VmHWM; benchmarks/rss.py says why not
ru_maxrss). Flat means the 10-minute peak is within 20 % of the 1-minute peak:
decoded frames are dropped as soon as the detector, tracker and integrity pass have
seen them; what grows with the clip is what each frame leaves behind (its 2.4 kB
integrity signature, its detections and camera step: about 4 kB) and the tracks.

The capture rate is 15 fps (9,000 frames of 1920x1080 for 10 minutes) so that
rendering and counting both fit in about a quarter of an hour on 2 cores.
`--quick`: 20 s and 2 minutes.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

FPS = 15.0
SPACING_S = 6.0          # one vehicle every 6 s per lane, both ways

CHILD = r"""
import json, sys
sys.path.insert(0, "benchmarks")
import convoycount
from rss import peak_rss_mb, rss_mb
samples = []
def progress(fraction):
    if not samples or fraction - samples[-1][0] >= 0.1:
        samples.append((round(fraction, 2), round(rss_mb(), 1)))
r = convoycount.analyze(sys.argv[1], detector="motion", speedup=1, progress=progress)
print(json.dumps({"frames": r.frames_processed, "total": r.total, "elapsed_s": r.elapsed_s,
                  "peak_rss_mb": peak_rss_mb(),
                  "samples": samples}))
"""


def make_clip(folder: Path, minutes: float) -> tuple:
    from convoycount.synth import generate
    from convoycount.synth.config import SynthConfig
    seconds = minutes * 60.0
    cfg = SynthConfig(seed=72000, width=1920, height=1080, real_fps=FPS, duration_real_s=seconds,
                      n_vehicles=max(2, int(seconds / SPACING_S) * 2), two_way=True, lanes=2,
                      spacing_s=SPACING_S, pixels_per_m=40.0, x264_preset="ultrafast", class_mix="civilian")
    clip = folder / f"memory_{minutes:g}min.mp4"
    truth = generate(clip, cfg)
    return clip, truth.total_crossing


def count_in_child(clip: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(clip)], capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:      # the child's own last line says why, not a wrapper traceback
        lines = out.stderr.strip().splitlines() or ["no output"]
        raise SystemExit(f"counting {clip.name} failed: {lines[-1]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> str:
    lengths = (1 / 3, 2.0) if quick else (1.0, 10.0)
    rows, peaks = [], []
    with tempfile.TemporaryDirectory() as d:
        for minutes in lengths:
            clip, true_total = make_clip(Path(d), minutes)
            m = count_in_child(clip)
            clip.unlink()
            peaks.append(m["peak_rss_mb"])
            curve = " ".join(f"{mb:.0f}" for _, mb in m["samples"])
            rows.append(f"| {minutes:g} min | {m['frames']} | {true_total} | {m['total']} | "
                        f"{m['peak_rss_mb']:.0f} | {curve} | {m['frames'] / m['elapsed_s']:.1f} |")
    growth = peaks[1] / peaks[0] - 1.0
    return ("## Memory: a long 1080p clip\n\n"
            f"Peak RSS of `analyze` (motion detector, integrity on) on generated 1920x1080 clips at {FPS:g} fps; "
            f"the longer clip's peak is {growth:+.0%} of the shorter one's "
            f"({'flat: within 20 %' if abs(growth) <= 0.2 else 'NOT flat'}).\n\n"
            "| clip | frames | true crossings | counted | peak RSS (MB) | RSS every 10 % of the clip (MB) | fps |\n"
            "|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n")


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
