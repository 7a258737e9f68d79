"""Re-record tests/data/speed_inputs.json.gz: what the integrity pass hands to
`find_speed_change` (the vehicles' tracks in scene pixels, the picture's size, the
clip's span and the times of the picture's leaps) when it analyses generated clips.

The speed-change rules are then tested on these recordings (tests/test_speed_recorded.py)
instead of rendering and analysing a 30-50 s clip per test (~30 s each): the rules see
exactly what the whole pipeline gave them. One test (test_integrity_edits.py) still runs
a speed edit end to end. Re-record after a change to the detector, tracker or camera
stage (the tracks change), and look at what changed:

    python tests/data/record_speed_inputs.py
"""
from __future__ import annotations

import gzip
import json
import subprocess
import sys
import tempfile
from pathlib import Path

OUT = Path(__file__).with_name("speed_inputs.json.gz")

# name: (scenario, seed, edit): the clips the speed-change tests were written on
CASES = {
    "vertical_1_speed": ("vertical", 1, "speed"),
    "vertical_200_speed": ("vertical", 200, "speed"),
    "stop_and_go_1_clean": ("stop_and_go", 1, None),
    "stop_and_go_200_speed": ("stop_and_go", 200, "speed"),
    "stop_and_go_400_speed": ("stop_and_go", 400, "speed"),
}


def record(scen: str, seed: int, edit, folder: Path) -> dict:
    import importlib

    import convoycount
    check_module = importlib.import_module("convoycount.integrity.check")  # the module, not check()
    from convoycount.synth import generate, scenario
    path = folder / f"{scen}_{seed}.mp4"
    truth = generate(path, scenario(scen, seed=seed), edit=edit)
    seen = {}
    real = check_module.find_speed_change

    def capture(tracks, width, height, clip, leap_times=()):
        seen.update(tracks=[_track(t) for t in tracks], width=width, height=height, clip=list(clip),
                    leap_times=list(leap_times))
        return real(tracks, width, height, clip, leap_times)

    check_module.find_speed_change = capture
    try:
        report = convoycount.analyze(path)
    finally:
        check_module.find_speed_change = real
    seen["edit"] = truth.edit["finding"] if truth.edit else None
    seen["findings_when_recorded"] = [f.to_dict() for f in report.integrity.findings]
    return seen


def _track(tr) -> list:
    """[id, [[time_s, frame, x1, y1, x2, y2, confidence, class], ...]]. Boxes keep every
    digit: rounded to 0.01 px, stop_and_go seed 200's place ratio read 2.15x, not 2.08x."""
    return [tr.track_id, [[o.time_s, o.frame_index, *(float(v) for v in o.box),
                           float(o.confidence), o.class_name] for o in tr.observations]]


def main() -> None:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).parent).stdout.strip()
    out = {"recorded_at_commit": commit, "cases": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (scen, seed, edit) in CASES.items():
            out["cases"][name] = record(scen, seed, edit, Path(tmp))
            print(name, [f["kind"] for f in out["cases"][name]["findings_when_recorded"]], file=sys.stderr)
    tmp_out = OUT.with_suffix(".tmp")
    with gzip.open(tmp_out, "wt") as f:
        json.dump(out, f, separators=(",", ":"))
    tmp_out.replace(OUT)


if __name__ == "__main__":
    main()
