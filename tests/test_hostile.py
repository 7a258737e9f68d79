"""Input that cannot hurt (issue 16.10, 16.11): every hostile file of the corpus
(tests/hostile_corpus.py) goes through the real command line in a subprocess, as a
user would run it, and gets its defined outcome:

* exit 2 and exactly one `error:` line on stderr saying what is wrong, or
* exit 0 and a report whose warnings say what was odd about the file;

never a traceback, never a hang, and never a file written outside the output
folder (the input folder is listed before and after, and the temporary folder
points into the output folder). A property test then mutates valid clips' bytes
for a fixed, deterministic budget and holds every result to the same rules.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import clipfactory as cf
import hostile_corpus as hc

CLI = [sys.executable, "-m", "convoycount.cli"]
TIMEOUT_S = 60


# --------------------------------------------------------------------------- harness


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    report: Optional[dict]           # report.json, when one was written


def _listing(folder: Path) -> dict:
    """Every entry under `folder` (symlinks not followed): name -> (kind, size, mtime)."""
    out = {}
    for root, dirs, files in os.walk(folder, followlinks=False):
        for name in dirs + files:
            p = os.path.join(root, name)
            st = os.lstat(p)
            out[os.path.relpath(p, folder)] = (st.st_mode >> 12, st.st_size, st.st_mtime_ns)
    return out


def run_cli(args: list, in_dir: Path, out_dir: Path, *, cwd: Optional[Path] = None) -> Run:
    """Run the CLI; fail the test if it hangs, prints a traceback, or writes
    anything into the input folder. Temporary files go to out_dir/tmp."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "tmp").mkdir(exist_ok=True)
    before = _listing(in_dir)
    env = {**os.environ, "TMPDIR": str(out_dir / "tmp")}
    res = subprocess.run([*CLI, *args], capture_output=True, timeout=TIMEOUT_S, env=env,
                         cwd=cwd or out_dir)
    assert _listing(in_dir) == before, "the input folder changed"
    stderr = res.stderr.decode("utf-8", "backslashreplace")
    assert "Traceback" not in stderr, stderr
    assert res.returncode in (0, 2), (res.returncode, stderr)
    report_path = out_dir / "report.json"
    report = json.loads(report_path.read_text(encoding="utf-8")) if report_path.exists() else None
    return Run(res.returncode, res.stdout.decode("utf-8", "backslashreplace"), stderr, report)


def count(path_arg, in_dir: Path, out_dir: Path, *extra, cwd=None) -> Run:
    return run_cli(["count", path_arg, "-q", "--json", str(out_dir / "report.json"), *extra],
                   in_dir, out_dir, cwd=cwd)


def assert_one_error_line(run: Run, *words) -> str:
    assert run.code == 2, run
    line = run.stderr.strip()
    assert len(line.splitlines()) == 1 and line.startswith("error: "), line
    for w in words:
        assert w.lower() in line.lower(), (w, line)
    assert run.report is None
    return line


def assert_report(run: Run, *words) -> dict:
    assert run.code == 0, run.stderr
    assert run.report is not None
    said = " ".join(run.report["warnings"]).lower()
    for w in words:
        assert w.lower() in said, (w, run.report["warnings"])
    return run.report


# --------------------------------------------------------------------------- the corpus


@dataclass(frozen=True)
class Case:
    build: Callable[[Path], Path]    # writes the input into the (input) folder
    code: int                        # 2: one error line; 0: a report
    words: tuple = ()                # in the error line, or in the report's warnings
    args: tuple = ()                 # more `count` options
    check: Optional[Callable[[dict], None]] = None   # more about the report


def _bytes(name: str, data: bytes) -> Callable[[Path], Path]:
    def build(d: Path) -> Path:
        (d / name).write_bytes(data)
        return d / name
    return build


def _mkdir(d: Path) -> Path:
    (d / "clips.mp4").mkdir()
    return d / "clips.mp4"


def _is_truncated(r: dict) -> None:
    assert r["probe"]["truncated"] is True and r["decode_gaps"] == []


def _one_gap(r: dict) -> None:
    [gap] = r["decode_gaps"]
    assert gap["packets_lost"] > 0 and gap["end_s"] > gap["start_s"]
    assert r["probe"]["truncated"] is False
    # decoding went on to the end of the clip, past the gap
    assert r["analysis"]["span_s"][1] > gap["end_s"]


def _size_33x17(r: dict) -> None:
    assert (r["probe"]["width"], r["probe"]["height"]) == (33, 17)
    assert r["analysis"]["frames_processed"] == 20


def _real_frames(r: dict) -> None:
    assert r["probe"]["frames_declared"] == 2_000_000_000
    assert r["probe"]["frames"] == 25 and r["analysis"]["frames_processed"] == 25
    assert r["probe"]["truncated"] is False


def _gif(r: dict) -> None:
    assert r["probe"]["container"] == "gif" and r["probe"]["frames"] == 20
    assert r["probe"]["duration_s"] == pytest.approx(2.0)


def _times_forward(r: dict) -> None:
    assert r["analysis"]["frames_processed"] == 23         # 25 frames, 2 out of order


CASES = {
    "empty": Case(_bytes("empty.mp4", b""), 2, ("empty",)),
    "random_bytes": Case(lambda d: cf.write_random_bytes(d / "random.mp4"), 2,
                         ("not a recognised video container",)),
    "text": Case(lambda d: cf.write_text(d / "notes.mp4"), 2, ("text file, not a video",)),
    "html": Case(lambda d: hc.write_html(d / "watch.mp4"), 2, ("HTML page", "save the video")),
    "zip": Case(lambda d: hc.write_zip(d / "download.mp4"), 2, ("zip archive",)),
    "cut_header_only": Case(lambda d: hc.write_header_only(d / "head.mp4"), 2, ("no 'moov'",)),
    "cut_before_index": Case(lambda d: cf.write_moov_missing(d / "cut.mp4"), 2,
                             ("no 'moov'", "interrupted")),
    "cut_after_index": Case(lambda d: cf.write_mdat_truncated(d / "cut.mp4").path, 0,
                            ("decoding stopped early", "cut short"), check=_is_truncated),
    "cut_at_packet_boundary": Case(
        lambda d: cf.write_cut_at_packet_boundary(d / "cut.mp4").path, 0,
        ("only 20 of 40 video packets",), check=_is_truncated),
    "damaged_middle": Case(lambda d: hc.write_damaged_middle(d / "damaged.mp4").path, 0,
                           ("damaged data", "resumed at the next keyframe"), check=_one_gap),
    "damaged_mpegts": Case(lambda d: hc.write_mpegts_damaged(d / "dashcam.ts"), 0,
                           ("damaged data",), check=_one_gap),
    "still_png": Case(lambda d: hc.write_still(d / "photo.mp4", "png"), 2,
                      ("a still image (png), not a video",)),
    "still_jpeg": Case(lambda d: hc.write_still(d / "photo.mp4", "jpg"), 2,
                       ("a still image (jpeg), not a video",)),
    "animated_gif": Case(lambda d: hc.write_gif(d / "meme.gif"), 0, ("animated GIF",), check=_gif),
    "audio_only": Case(lambda d: cf.write_audio_only(d / "sound.m4a"), 2,
                       ("no video stream", "audio")),
    "one_frame": Case(lambda d: hc.write_one_frame(d / "one.mp4"), 2,
                      ("only one frame", "nothing can move across a line")),
    "2x2_pixels": Case(lambda d: hc.write_sized(d / "dot.mkv", 2, 2), 2,
                       ("only 2x2 pixels", "at least 16x16")),
    "odd_size_33x17": Case(lambda d: hc.write_sized(d / "odd.mkv", 33, 17), 0, check=_size_33x17),
    "declared_30000x30000": Case(lambda d: hc.write_declared_size(d / "huge.avi", 30000, 30000), 2,
                                 ("no usable picture size", "268 megapixels")),
    "declared_12000x12000": Case(lambda d: hc.write_declared_size(d / "big.avi", 12000, 12000), 2,
                                 ("12000x12000", "144 MP", "limit of 67 MP", "--max-pixels")),
    "absurd_frame_count": Case(lambda d: hc.write_absurd_frame_count(d / "count.avi"), 0,
                               ("declares 2000000000 frames", "real frames are counted"),
                               check=_real_frames),
    "times_going_backwards": Case(lambda d: hc.write_avi_bframes(d / "bframes.avi"), 0,
                                  ("2 decoded frame(s) were skipped", "not after the previous"),
                                  check=_times_forward),
    "no_keyframe": Case(lambda d: cf.write_no_keyframe(d / "nokey.mp4").path, 2,
                        ("zero decodable", "keyframe")),
    "unknown_codec": Case(lambda d: cf.write_unknown_codec(d / "odd.mp4"), 2, ("codec",)),
    "missing": Case(lambda d: d / "not_there.mp4", 2, ("file not found",)),
    "directory": Case(_mkdir, 2, ("is a directory",)),
    "fifo": Case(lambda d: hc.make_fifo(d / "pipe.mp4"), 2, ("not a regular file", "FIFO")),
    "symlink_loop": Case(lambda d: hc.make_symlink_loop(d / "loop.mp4"), 2,
                         ("symbolic link loop",)),
    "broken_symlink": Case(lambda d: hc.make_broken_symlink(d / "gone.mp4"), 2,
                           ("broken symbolic link",)),
    "max_duration_exceeded": Case(lambda d: hc.small_clip(d / "long.mp4", n=30, fps=15), 2,
                                  ("lasts at least", "limit of 1.0 s", "--max-duration"),
                                  args=("--max-duration", "1")),
    "max_pixels_lowered": Case(lambda d: hc.small_clip(d / "clip.mp4"), 2,
                               ("64x48", "--max-pixels"), args=("--max-pixels", "1000")),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_input_has_its_defined_outcome(tmp_path, name):
    case = CASES[name]
    in_dir, out_dir = tmp_path / "in", tmp_path / "out"
    in_dir.mkdir()
    path = case.build(in_dir)
    run = count(str(path), in_dir, out_dir, *case.args)
    if case.code == 2:
        line = assert_one_error_line(run, *case.words)
        # the file it is about is named (the limit cases name it too)
        assert path.name in line
    else:
        report = assert_report(run, *case.words)
        if case.check:
            case.check(report)


def test_the_corpus_has_at_least_25_cases():
    assert len(CASES) >= 25


def test_a_name_starting_with_a_dash_works_after_double_dash(tmp_path):
    in_dir, out_dir = tmp_path / "in", tmp_path / "out"
    in_dir.mkdir()
    hc.small_clip(in_dir / "-x.mp4")
    # without `--` it is an option: one error line, no analysis
    assert_one_error_line(count("-x.mp4", in_dir, out_dir, cwd=in_dir), "-x")
    run = run_cli(["count", "-q", "--json", str(out_dir / "report.json"), "--", "-x.mp4"],
                  in_dir, out_dir, cwd=in_dir)
    assert assert_report(run)["input"]["path"] == "-x.mp4"


def test_a_non_utf8_file_name_works_and_prints(tmp_path):
    in_dir, out_dir = tmp_path / "in", tmp_path / "out"
    in_dir.mkdir()
    raw = hc.non_utf8_name(in_dir)                 # .../caf\xe9.mp4 as bytes
    run = run_cli([b"count", raw, b"-q", b"--json", os.fsencode(out_dir / "report.json")],
                  in_dir, out_dir)
    report = assert_report(run)
    assert report["input"]["path"].endswith("caf\\xe9.mp4")
    assert report["probe"]["path"] == report["input"]["path"]
    # an error about such a file is one printable line as well
    (in_dir / os.fsdecode(b"notes-\xe9.mp4")).write_text("not a video\n")
    line = assert_one_error_line(count(os.fsencode(in_dir) + b"/notes-\xe9.mp4",
                                       in_dir, tmp_path / "out2"), "text file")
    assert line.isprintable()


def test_batch_refuses_a_claims_row_outside_the_input_folder(tmp_path):
    in_dir, out_dir, other = tmp_path / "in", tmp_path / "out", tmp_path / "elsewhere"
    in_dir.mkdir()
    other.mkdir()
    hc.small_clip(in_dir / "a.mp4")
    secret = hc.small_clip(other / "secret.mp4")
    claims = hc.claims_outside(in_dir, secret)
    run = run_cli(["batch", str(in_dir), "-o", str(out_dir), "--claims", str(claims)],
                  in_dir, out_dir)
    assert_one_error_line(run, "--claims", "../elsewhere/secret.mp4", "not among")
    assert _listing(other) == {"secret.mp4": _listing(other)["secret.mp4"]}


@pytest.mark.parametrize("option, value", [("--max-pixels", "0"), ("--max-duration", "0"),
                                           ("--max-duration", "-5"), ("--max-duration", "inf")])
def test_a_limit_must_be_positive(tmp_path, option, value):
    in_dir = tmp_path / "in"
    in_dir.mkdir()
    clip = hc.small_clip(in_dir / "clip.mp4")
    assert_one_error_line(count(str(clip), in_dir, tmp_path / "out", option, value), option)


def test_raised_limits_let_the_same_clip_through(tmp_path):
    in_dir = tmp_path / "in"
    in_dir.mkdir()
    clip = hc.small_clip(in_dir / "clip.mp4", n=30, fps=15)           # 64x48, 2 s
    run = count(str(clip), in_dir, tmp_path / "out", "--max-pixels", str(64 * 48),
                "--max-duration", "2.0")
    assert assert_report(run)["analysis"]["frames_processed"] == 30


RSS_LAUNCHER = ("import os, subprocess, sys\n"
                "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
                "err = p.stderr.read()\n"
                "_, status, usage = os.wait4(p.pid, 0)\n"
                "sys.stderr.write(err.decode())\n"
                "print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)\n")


@pytest.mark.slow
def test_a_crafted_size_is_refused_fast_and_small(tmp_path):
    """Declared 30000x30000 (FFmpeg's own check zeroes it) and 12000x12000 (ours
    refuses it from the header): one line, in seconds, and the process never holds
    more than a few hundred MB (one 12000x12000 BGR frame alone is 432 MB)."""
    for w in (30000, 12000):
        in_dir, out_dir = tmp_path / f"in{w}", tmp_path / f"out{w}"
        in_dir.mkdir()
        out_dir.mkdir()
        path = hc.write_declared_size(in_dir / "huge.avi", w, w)
        t0 = time.monotonic()
        # Measured from a small launcher: a child forked straight from this test process
        # would start out counting this process's memory (torch, other tests) as its own.
        res = subprocess.run([sys.executable, "-c", RSS_LAUNCHER, *CLI, "count", str(path), "-q"],
                             capture_output=True, text=True, cwd=out_dir)
        elapsed = time.monotonic() - t0
        code, maxrss_kib = map(int, res.stdout.split())
        stderr = res.stderr
        assert code == 2, stderr
        assert stderr.count("\n") == 1 and stderr.startswith("error: ")
        assert elapsed < 60, elapsed          # a hang guard: seconds when idle, more under load
        assert maxrss_kib < 400 * 1024, maxrss_kib       # KiB on Linux


# --------------------------------------------------------------------------- property test


@pytest.fixture(scope="module")
def valid_clips(tmp_path_factory):
    """Tiny valid clips to mutate: an MP4 with its index in front (mutations hit the
    index as often as the pictures), and a Matroska one."""
    d = tmp_path_factory.mktemp("valid")
    return {"mp4": hc.small_clip(d / "v.mp4", n=20, movflags="faststart").read_bytes(),
            "mkv": hc.small_clip(d / "v.mkv", n=20).read_bytes()}


def _mutation_ops():
    op = st.tuples(st.sampled_from(["flip", "flip", "insert", "delete", "truncate"]),
                   st.floats(0.0, 1.0, allow_nan=False), st.integers(1, 255))
    return st.lists(op, min_size=1, max_size=8)


@pytest.mark.slow
@settings(max_examples=15, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(kind=st.sampled_from(["mp4", "mkv"]), ops=_mutation_ops())
def test_mutated_clips_end_in_a_report_or_one_clean_error(valid_clips, tmp_path_factory, kind, ops):
    """Flipped, inserted, deleted bytes and truncation, wherever they land: exit 0
    with a report or exit 2 with one error line; no traceback, no hang past the
    timeout, nothing written outside the output folder."""
    base = tmp_path_factory.mktemp("mutant")
    in_dir, out_dir = base / "in", base / "out"
    in_dir.mkdir()
    path = in_dir / f"mutant.{kind}"
    path.write_bytes(hc.mutate(valid_clips[kind], ops))
    run = count(str(path), in_dir, out_dir)
    if run.code == 2:
        assert_one_error_line(run)
    else:
        assert_report(run)
    assert sorted(p.name for p in out_dir.iterdir()) in (["report.json", "tmp"], ["tmp"])
    assert not any((out_dir / "tmp").iterdir())
