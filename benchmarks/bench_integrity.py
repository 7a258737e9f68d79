"""Integrity benchmark: detection rate and false alarms per kind of edit.

Edited clips: generated (`synth --edit`, each kind on several scenarios and seeds)
and real (../shared/realclips, edited with ffmpeg and re-encoded with x264, as a
channel would; written to a temporary folder, never to the repository). Clean
clips: generated (incl. shaky, noisy, VFR) and real. An edit counts as found when
a finding of its kind starts within 0.5 s of the truth; a false alarm is any
finding of another kind, or any finding on a clean clip that is not one of that
real clip's known true findings (duplicated frames in three of the real clips,
the pts gap of residential_a, the cut of city_cut_a).

Held out: the generated edits use seed 200 and the generated clean clips seeds 200
and 201, which were not looked at while the methods and thresholds were chosen
(seed 1 was the development set, seed 100 the earlier benchmark whose misses were
diagnosed). The real clips and their edits were looked at: the real rows are not
held out. Clean clips and `reverse`/`speed` edits run the full analysis (the
tests that need tracks); the other edits use the frame signatures only.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

KIND_OF = {"loop": "repeat", "cut": "cut", "dup": "duplicated_frames", "gap": "gap", "reverse": "reversed",
           "speed": "speed_change"}
SCENARIOS = ("two_way", "stop_and_go", "vertical", "shaky_noisy", "convoy25")
CLEAN_SCENARIOS = ("shaky_noisy", "vfr_phone", "two_way", "news_story", "dense_overlap", "clock", "vertical")
EDIT_SEEDS = (200,)
CLEAN_SEEDS = (200, 201)
NEEDS_TRACKS = ("reverse", "speed")      # edits whose tests use the vehicles' tracks too
CLEAN_REAL = ("city_street_a", "highway_uk", "city_zoom_a")   # no known edit-like property
THRESHOLDS_SPEED = ("speed_change (issue 17, session 6): its rules were chosen on synth seeds 1 and 100 "
                    "and on the speed edits of seed 200 (stop_and_go, vertical, shaky_noisy, two_way, "
                    "convoy25) and the clean stop_and_go seed 1, and on the real clips "
                    "city_cut_a_reverse and city_street_a_speed, all looked at (residential_a_speed "
                    "was not); the generated rows of seed 400 (edits and clean clips) were not looked "
                    "at before this run.")
THRESHOLDS = ("Thresholds and methods were chosen on synth seeds 1 and 100 (the same scenarios "
              "and edits; for the issue-17 follow-up also seeds 1-3 re-streamed with held or stalled "
              "pictures); the generated rows here (seeds 200, 201) were not looked at while choosing. "
              "The real clips and their edits were looked at while choosing (highway_a's loop, gap and "
              "reverse edits in the follow-up): the real rows are not held out, except that the new "
              "speed_change method was not tried on the real speed edits before this run.")
KNOWN_REAL = {"intersection_clock": {"duplicated_frames"}, "dashcam_trucks": {"duplicated_frames"},
              "highway_a": {"duplicated_frames"}, "highway_b": {"duplicated_frames"},
              "residential_a": {"timestamp"}, "city_cut_a": {"cut"}}
REAL_EDITS = {  # clip: (edit, a, b) seconds; ffmpeg builds the edit, x264 re-encodes it
    "highway_a": [("loop", 4.0, 7.0), ("gap", 6.0, 8.0), ("cut", 7.0, None), ("reverse", 5.0, 7.5)],
    "city_street_a": [("loop", 10.0, 13.0), ("gap", 20.0, 22.0), ("dup", 15.0, None),
                      ("reverse", 30.0, 32.5), ("speed", 24.0, None)],
    "highway_uk": [("loop", 3.0, 6.0), ("gap", 5.0, 7.0), ("cut", 6.0, None), ("reverse", 4.0, 6.5),
                   ("dup", 5.0, None)],
    "city_cut_a": [("loop", 8.0, 11.0), ("gap", 12.0, 14.0), ("reverse", 16.0, 18.5)],
    "highway_b": [("gap", 3.0, 4.5)],
    "residential_a": [("speed", 40.0, None)],
}


def _ffmpeg():
    import imageio_ffmpeg
    return imageio_ffmpeg.get_ffmpeg_exe()


def _real_edit(src: Path, out: Path, edit: str, a: float, b, other: Path) -> dict:
    """Edit a real clip with ffmpeg; returns the finding's truth."""
    v = "[0:v]"
    if edit == "loop":
        fc = (f"{v}trim=0:{b},setpts=PTS-STARTPTS[p0];{v}trim={a}:{b},setpts=PTS-STARTPTS[p1];"
              f"{v}trim={b},setpts=PTS-STARTPTS[p2];[p0][p1][p2]concat=n=3:v=1[o]")
        truth = {"kind": "repeat", "start_s": b}
    elif edit == "gap":
        fc = (f"{v}trim=0:{a},setpts=PTS-STARTPTS[p0];{v}trim={b},setpts=PTS-STARTPTS[p1];"
              f"[p0][p1]concat=n=2:v=1[o]")
        truth = {"kind": "gap", "start_s": a}
    elif edit == "reverse":
        fc = (f"{v}trim=0:{a},setpts=PTS-STARTPTS[p0];{v}trim={a}:{b},setpts=PTS-STARTPTS,reverse[p1];"
              f"{v}trim={b},setpts=PTS-STARTPTS[p2];[p0][p1][p2]concat=n=3:v=1[o]")
        truth = {"kind": "reversed", "start_s": a}
    elif edit == "speed":   # from a on, every other frame dropped: that part plays twice as fast
        fc = (f"{v}trim=0:{a},setpts=PTS-STARTPTS[p0];{v}trim={a},setpts=(PTS-STARTPTS)/2[p1];"
              f"[p0][p1]concat=n=2:v=1[o]")
        truth = {"kind": "speed_change", "start_s": a}
    elif edit == "cut":
        fc = (f"{v}trim=0:{a},setpts=PTS-STARTPTS,scale=640:360,setsar=1[p0];"
              f"[1:v]trim=0:5,setpts=PTS-STARTPTS,scale=640:360,setsar=1,fps=30[p1];"
              f"[p0]fps=30[q0];[q0][p1]concat=n=2:v=1[o]")
        truth = {"kind": "cut", "start_s": a}
    else:  # dup: from a on, every 5th frame shown twice (that part slowed by 6/5 at the same rate)
        fc = (f"{v}trim=0:{a},setpts=PTS-STARTPTS[p0];{v}trim={a},setpts=(PTS-STARTPTS)*6/5[p1];"
              f"[p0][p1]concat=n=2:v=1[o]")
        truth = {"kind": "duplicated_frames", "start_s": a}
    cmd = [_ffmpeg(), "-v", "error", "-y", "-i", str(src)] + (["-i", str(other)] if edit == "cut" else [])
    cmd += ["-filter_complex", fc, "-map", "[o]", "-an", "-c:v", "libx264", "-preset", "veryfast",
            "-crf", "26", "-fps_mode", "cfr", "-r", "30" if edit == "cut" else _rate(src), str(out)]
    subprocess.run(cmd, check=True)
    return truth


def _rate(src: Path) -> str:
    """The clip's own frame rate, exactly (30000/1001, not 29.97003: a rounded rate makes
    the encoder drop a frame every few seconds, a real gap the edit did not intend);
    the measured one for a variable-rate clip."""
    import av
    from convoycount.video import probe
    measured = probe(src).fps_measured
    with av.open(str(src)) as c:
        rate = c.streams.video[0].guessed_rate
    return str(rate) if rate and abs(float(rate) / measured - 1) < 0.02 else f"{measured:.5f}"


def _score(findings, truth, known: set, tally, origin: str, name: str) -> bool:
    """Tally one clip: was its edit found (a finding of its kind starting within 0.5 s),
    and is any finding unexpected (a false alarm)?"""
    kinds = {f.kind for f in findings}
    hit = True
    if truth is not None:
        row = tally[(origin, truth["kind"])]
        hit = any(f.kind == truth["kind"] and abs(f.start_s - truth["start_s"]) <= 0.5 for f in findings)
        row["edited"] += 1
        row["found"] += hit
        if not hit:
            row["missed"].append(name)
    extra = kinds - known - ({truth["kind"]} if truth else set())
    for k in extra:
        tally[(origin, k)]["false_alarms"] += 1
        tally[(origin, k)]["false_on"].append(name)
    print(f"{origin} {name}: {'edit ' + truth['kind'] if truth else 'clean'}; findings "
          f"{sorted((f.kind, round(f.start_s, 2)) for f in findings) or '-'}; {'MISSED ' if truth is not None and not hit else ''}"
          f"{'FALSE ' + str(sorted(extra)) if extra else ''}", file=sys.stderr, flush=True)
    return not extra


FRAMES = [0]             # frames checked in this run (for CPU ms per frame)


def _findings(path, full: bool) -> list:
    """Signatures only, or (for the tests that need vehicle tracks) the full analysis."""
    import warnings

    from convoycount import analyze
    from convoycount.integrity import check, signatures_of
    if not full:
        report = check(signatures_of(path))
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = analyze(path).integrity
    FRAMES[0] += report.frames
    return report.findings


def _generated(tmp: Path, tally, clean: dict, quick: bool, parts: set, pick: "Pick") -> None:
    from convoycount.synth import generate, scenario
    for sc in (SCENARIOS[:2] if quick else SCENARIOS) if "edits" in parts else ():
        for seed in pick.edit_seeds:
            for edit in pick.edits:
                p = tmp / f"{sc}_{seed}_{edit}.mp4"
                truth = generate(p, scenario(sc, seed=seed), edit=edit).edit["finding"]
                _score(_findings(p, edit in NEEDS_TRACKS), truth, set(), tally, "generated", p.stem)
                p.unlink()
    for sc in (CLEAN_SCENARIOS[:2] if quick else CLEAN_SCENARIOS) if "clean" in parts else ():
        for seed in pick.clean_seeds:
            p = tmp / f"clean_{sc}_{seed}.mp4"
            generate(p, scenario(sc, seed=seed))
            clean["generated"][0] += 1
            clean["generated"][1] += _score(_findings(p, True), None, set(), tally, "generated", p.stem)
            p.unlink()


def _real(real: Path, tmp: Path, tally, clean: dict, known_found: list, quick: bool, pick: "Pick") -> None:
    for c in sorted(real.glob("*.mp4")):
        if ((quick and c.stem not in CLEAN_REAL[:1]) or pick.unedited == "none"
                or (pick.unedited == "clean" and c.stem not in CLEAN_REAL)):
            continue
        # the clean ones run the full analysis (every test); the known properties are in the frames
        found = _findings(c, c.stem in CLEAN_REAL)
        known = KNOWN_REAL.get(c.stem, set())
        if c.stem in CLEAN_REAL:
            clean["real"][0] += 1
            clean["real"][1] += _score(found, None, set(), tally, "real", c.stem)
        else:
            ok = _score(found, None, known, tally, "real", c.stem)
            known_found.append((c.stem, sorted(known), sorted(known & {f.kind for f in found}), ok))
    for stem, edits in (list(REAL_EDITS.items())[:1] if quick else REAL_EDITS.items()):
        for edit, a, b in edits:
            if edit not in pick.edits and f"{stem}_{edit}" not in pick.real_edits:
                continue
            p = tmp / f"{stem}_{edit}.mp4"
            truth = _real_edit(real / f"{stem}.mp4", p, edit, a, b, real / "city_zoom_a.mp4")
            known = KNOWN_REAL.get(stem, set()) - {"timestamp"}
            _score(_findings(p, edit in NEEDS_TRACKS), truth, known, tally, "real", p.stem)
            p.unlink()


@dataclass(frozen=True)
class Pick:
    """Which rows run (default: all). `edits`: the kinds of edit (generated and real);
    `real_edits`: real edited clips run besides those kinds (e.g. city_cut_a_reverse);
    `unedited`: which unedited real clips run: all, clean (not those with a known
    edit-like property, which test the signatures only) or none."""
    edits: tuple = tuple(KIND_OF)
    edit_seeds: tuple = EDIT_SEEDS
    clean_seeds: tuple = CLEAN_SEEDS
    real_edits: tuple = ()
    unedited: str = "all"

    @classmethod
    def of_args(cls, argv: list) -> tuple:
        """(Pick, parts) from the command line."""
        import argparse
        ap = argparse.ArgumentParser(prog="bench_integrity.py", description=__doc__.split("\n")[0])
        ap.add_argument("parts", nargs="*", help="any of edits, clean, real (default: all)")
        ap.add_argument("--quick", action="store_true")
        ap.add_argument("--kinds", help=f"edits to run, comma-separated, of {','.join(KIND_OF)} (none: no edit)")
        ap.add_argument("--seeds", help="generated edits' seeds, comma-separated")
        ap.add_argument("--clean-seeds", help="generated clean clips' seeds, comma-separated")
        ap.add_argument("--real-edits", default="", help="real edited clips to run too, e.g. city_cut_a_reverse")
        ap.add_argument("--unedited", choices=("all", "clean", "none"), default="all",
                        help="unedited real clips to run: all, the clean ones, none")
        a = ap.parse_args(argv)
        if set(a.parts) - {"edits", "clean", "real"}:
            ap.error(f"unknown part(s) {sorted(set(a.parts) - {'edits', 'clean', 'real'})}; have edits, clean, real")
        ints = lambda text, default: tuple(int(x) for x in text.split(",")) if text else default
        kinds = () if a.kinds == "none" else tuple(a.kinds.split(",")) if a.kinds else tuple(KIND_OF)
        if set(kinds) - set(KIND_OF):
            ap.error(f"unknown edit kind(s) {sorted(set(kinds) - set(KIND_OF))}; have {', '.join(KIND_OF)}")
        return cls(kinds, ints(a.seeds, EDIT_SEEDS), ints(a.clean_seeds, CLEAN_SEEDS),
                   tuple(x for x in a.real_edits.split(",") if x), a.unedited), tuple(a.parts)


def run(quick: bool = False, parts: tuple = ("edits", "clean", "real"), pick: Pick = Pick()) -> str:
    """The table; `parts` (any of edits, clean: the generated clips; real) lets the
    three run as parallel processes, each printing its part of the table; `pick`
    narrows the rows (a partial run says so in its table)."""
    import os
    import time

    from convoycount.realclips import realclips_dir
    t0, cpu0, load0 = time.time(), _cpu_s(), os.getloadavg()[0]
    tally = defaultdict(lambda: {"edited": 0, "found": 0, "false_alarms": 0, "missed": [], "false_on": []})
    clean = {"generated": [0, 0], "real": [0, 0]}
    known_found = []
    with tempfile.TemporaryDirectory() as tmp:
        _generated(Path(tmp), tally, clean, quick, set(parts), pick)
        real = realclips_dir()
        if real.is_dir() and "real" in parts:
            _real(real, Path(tmp), tally, clean, known_found, quick, pick)
    cpu_s = _cpu_s() - cpu0
    cost = (f"{time.time() - t0:.0f} s wall, {cpu_s:.0f} s CPU of this process and its ffmpeg children "
            f"(generating, encoding, decoding and analysing; {1000 * cpu_s / max(1, FRAMES[0]):.0f} CPU ms "
            f"per checked frame, {FRAMES[0]} frames), load average {load0:.1f} at the start and "
            f"{os.getloadavg()[0]:.1f} at the end on {os.cpu_count()} cores")
    return _table(tally, clean, known_found, cost, pick)


def _cpu_s() -> float:
    import os
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _table(tally, clean: dict, known_found: list, cost: str, pick: Pick = Pick()) -> str:
    lines = ["## Integrity (issue 17): edits found, false alarms",
             "",
             f"Generated edits: `synth --edit` on seed {', '.join(map(str, pick.edit_seeds))} of the scenarios "
             + ", ".join(SCENARIOS) + ". Real edits: clips of ../shared/realclips edited with ffmpeg and "
             "re-encoded with x264 (crf 26, the clip's own frame rate), as a channel would. Clean clips: "
             f"generated (seeds {', '.join(map(str, pick.clean_seeds))} of " + ", ".join(CLEAN_SCENARIOS)
             + ") and the real clips without an edit-like property (" + ", ".join(CLEAN_REAL) + "). "
             "Found = a finding of the edit's kind starting within 0.5 s of the truth; false alarm = a "
             "finding of any other kind (on a clean clip: any finding). Clean clips and reverse/speed "
             "edits run the full analysis (motion detector, the tests that need tracks); the other "
             "edits, and the real clips with known properties, the frame signatures only.",
             "",
             THRESHOLDS,
             "",
             THRESHOLDS_SPEED,
             "",
             "| footage | kind | edited clips | found | false alarms | missed | false alarm on |",
             "|---|---|---|---|---|---|---|"]
    for (origin, k) in sorted(tally):
        t = tally[(origin, k)]
        lines.append(f"| {origin} | {k} | {t['edited']} | {t['found']} | {t['false_alarms']} | "
                     f"{', '.join(t['missed']) or '-'} | {', '.join(t['false_on']) or '-'} |")
    n_ed = sum(t["edited"] for t in tally.values())
    n_found = sum(t["found"] for t in tally.values())
    lines += ["", f"Edits found: {n_found} of {n_ed}. Clean clips without a finding: generated "
              f"{clean['generated'][1]} of {clean['generated'][0]}, real {clean['real'][1]} of "
              f"{clean['real'][0]}.", "",
              "Real clips with a genuine edit-like property (found / expected; any other finding is "
              "counted as a false alarm above):", ""]
    lines += [f"- {stem}: expected {', '.join(want)}; found {', '.join(got) or 'none'}"
              f"{'' if ok else ' (and an unexpected finding)'}" for stem, want, got, ok in known_found]
    lines.append(f"\nOne run: {cost}.")
    return "\n".join(lines)


if __name__ == "__main__":
    # the checkout this file is in, not whichever convoycount the environment installed
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    pick, chosen = Pick.of_args(sys.argv[1:])
    print(run(quick="--quick" in sys.argv, parts=chosen or ("edits", "clean", "real"), pick=pick))
