"""Regenerate the sample clips in this folder (deterministic: fixed scenarios and seeds).

    python samples/make_samples.py

Each clip gets `<stem>.truth.json` beside it (exact ground truth, see convoycount.synth).
news_story.claim.txt is the claim the news_story clip is meant to be checked against.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from convoycount.synth import generate, scenario

HERE = Path(__file__).resolve().parent

SAMPLES = {
    # 9 vehicles whose crossings span < 10 s of clip but ~33 s of real time (sped up x4)
    "news_story": scenario("news_story", seed=0),
    # traffic both ways, civilian mix
    "two_way": scenario("two_way", seed=0, crf=30),
    # portrait phone: rotation tag 90, variable frame rate with dropped frames, audio, shake, noise
    "vfr_phone": scenario("vfr_phone", seed=0, crf=30),
    # burned-in real-time clock, sped up x8: the speed-up can be read off the clock
    "clock": scenario("clock", seed=0, crf=30),
}
CLAIMS = {"news_story": "nine vehicles in 10 seconds\n"}


def _write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def main(out_dir: Path = HERE) -> int:
    for name, cfg in SAMPLES.items():
        truth = generate(out_dir / f"{name}.mp4", cfg)
        print(f"{name}.mp4: {truth.frames} frames, {truth.duration_s:.2f} s clip, x{truth.speedup}, "
              f"{truth.total_crossing} crossing of {len(truth.vehicles)} vehicles")
    for name, text in CLAIMS.items():
        _write_text(out_dir / f"{name}.claim.txt", text)
    total = sum(p.stat().st_size for p in out_dir.iterdir() if p.is_file())
    print(f"samples folder: {total / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE))
