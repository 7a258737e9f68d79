"""`convoycount batch`: discovery by content, per-clip fault isolation, resumability,
identical results across executors.

Every clip is generated here (convoycount.synth) or cut from one; broken inputs are
real broken files. The fast tests use a handful of tiny clips; the ones over a
folder of 20+ clips are marked slow.
"""
from __future__ import annotations

import csv
import fnmatch
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from convoycount.batch import STABLE_COLUMNS, run_batch
from convoycount.batch.discover import discover, sniff_container
from convoycount.batch.store import read_summary_csv, stable_view
from convoycount.errors import ConvoyCountError

SIZE = dict(width=320, height=180)
# The real command in a fresh interpreter (`-m` rather than the installed script, so a
# worktree's code runs under PYTHONPATH and no PATH lookup is needed).
CLI_BATCH = [sys.executable, "-m", "convoycount.cli", "batch"]


# --------------------------------------------------------------------------- helpers


def _synth(path: Path, name: str, seed: int, real_s: float, n: int) -> Path:
    from convoycount.synth import generate, scenario
    size = dict(width=180, height=320) if name == "vfr_phone" else SIZE
    generate(path, scenario(name, seed=seed, duration_real_s=real_s, n_vehicles=n, **size))
    return path


def _add_broken(folder: Path, real_clip: Path) -> dict:
    """The broken inputs every folder gets, with the words their error must contain."""
    (folder / "empty.mp4").write_bytes(b"")
    data = real_clip.read_bytes()
    (folder / "half.mp4").write_bytes(data[: len(data) // 2])
    (folder / "random.mp4").write_bytes(np.random.default_rng(7).integers(0, 256, 40_000, np.uint8).tobytes())
    (folder / "text.mp4").write_text("These are my notes about the convoy.\nNine vehicles?\n" * 20)
    return {"empty.mp4": "empty", "half.mp4": "cut short", "random.mp4": "not a recognised video",
            "text.mp4": "text file"}


def _add_ignored(folder: Path) -> list:
    (folder / "notes.txt").write_text("not a video")
    (folder / "thumb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    (folder / ".hidden.mp4").write_bytes(b"")
    return ["notes.txt", "thumb.png", ".hidden.mp4"]


def _rows_by_path(summary) -> dict:
    return {r.path: r for r in summary.rows}


def _report(out: Path, row) -> dict:
    return json.loads((out / row.report).read_text())


def _events(report: dict) -> list:
    return [(e["direction"], round(e["clip_time_s"], 6)) for e in report["events"]]


def _stable(out: Path, glob: str = "*") -> list:
    """The summary's stable columns, of the rows whose path matches `glob`."""
    return stable_view([r for r in read_summary_csv(out / "summary.csv") if fnmatch.fnmatch(r["path"], glob)])


# --------------------------------------------------------------------------- fast: discovery


def test_sniff_recognises_real_containers_and_rejects_the_rest(tmp_path):
    import av
    found = {}
    for ext, fmt in ((".mp4", "mp4"), (".mkv", "matroska"), (".avi", "avi"), (".ts", "mpegts"),
                     (".flv", "flv"), (".mpg", "mpeg")):
        path = tmp_path / f"clip{ext}"
        codec = "mpeg1video" if fmt == "mpeg" else ("flv" if fmt == "flv" else "mpeg4")
        with av.open(str(path), "w", format=fmt) as out:
            s = out.add_stream(codec, rate=25)
            s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
            for i in range(10):
                frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 20 * i, np.uint8), format="bgr24")
                for pkt in s.encode(frame):
                    out.mux(pkt)
            for pkt in s.encode(None):
                out.mux(pkt)
        found[ext] = sniff_container(path.read_bytes()[:4096])
    assert all(found.values()), found
    assert sniff_container(b"") is None
    assert sniff_container(np.random.default_rng(1).integers(0, 256, 4096, np.uint8).tobytes()) is None
    assert sniff_container(b"Nine vehicles in ten seconds\n" * 100) is None
    assert sniff_container(b"\x89PNG\r\n\x1a\n" + bytes(100)) is None
    # an HEIF still image is an ISO-BMFF file too, but not a video
    assert sniff_container(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic") is None


def test_discover_by_content_and_extension(tmp_path):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    clip = _synth(src / "a.mp4", "two_way", 1, 1.0, 1)
    shutil.copy(clip, src / "no_extension")          # found by its magic bytes
    shutil.copy(clip, src / "sub" / "deep.mp4")      # only with recursive
    broken = _add_broken(src, clip)
    ignored = _add_ignored(src)
    out = src / "out"                                # OUT inside the input folder
    out.mkdir()
    shutil.copy(clip, out / "x.mp4")
    os.mkfifo(src / "pipe.mp4")                      # opening it would block forever

    flat = [d.rel for d in discover(src, out)]
    assert flat == sorted(["a.mp4", "no_extension", *broken])
    assert not set(ignored) & set(flat)
    deep = [d.rel for d in discover(src, out, recursive=True)]
    assert deep == sorted(flat + ["sub/deep.mp4"])
    assert [d.rel for d in discover(src, out, recursive=True, glob="**/*.mp4")] == \
        sorted(["a.mp4", "sub/deep.mp4", *broken])
    assert [d.rel for d in discover(src, out, glob="a.*")] == ["a.mp4"]
    assert {d.rel: d.container for d in discover(src, out)}["no_extension"] == "mp4/mov"


# --------------------------------------------------------------------------- fast: a small batch


@pytest.fixture(scope="module")
def small_dir(tmp_path_factory):
    """Three tiny clips, an identical copy, a renamed copy, four broken files, noise."""
    src = tmp_path_factory.mktemp("small")
    for i, (name, seed) in enumerate((("two_way", 3), ("vertical", 4), ("news_story", 5))):
        _synth(src / f"clip{i}.mp4", name, seed, 2.5, 2)
    shutil.copy(src / "clip0.mp4", src / "copy_of_clip0.mp4")
    shutil.copy(src / "clip1.mp4", src / "renamed_clip1")
    broken = _add_broken(src, src / "clip2.mp4")
    _add_ignored(src)
    return src, broken


@pytest.fixture(scope="module")
def small_local(small_dir, tmp_path_factory):
    """One local run over the whole small folder, default options: the reference summary
    of the CLI, claims and ray tests (read only: a test that reruns writes its own OUT).
    A run over `clip*.mp4` alone gives these rows for those clips: each row is its clip's."""
    src, _ = small_dir
    out = tmp_path_factory.mktemp("small_local") / "out"
    return out, run_batch(src, out, jobs=2)


def test_small_batch_rows_match_direct_analysis_and_rerun_reuses(small_dir, tmp_path):
    from convoycount.pipeline import analyze
    src, broken = small_dir
    out = tmp_path / "out"
    first = run_batch(src, out, jobs=2)
    rows = _rows_by_path(first)
    assert sorted(rows) == sorted(["clip0.mp4", "clip1.mp4", "clip2.mp4", "copy_of_clip0.mp4",
                                   "renamed_clip1", *broken])
    assert [r.path for r in first.rows] == sorted(rows)
    for i in range(3):
        row = rows[f"clip{i}.mp4"]
        direct = analyze(src / row.path)
        assert row.status == "ok" and row.error == ""
        assert row.count_total == direct.total
        assert _events(_report(out, row)) == _events(json.loads(direct.to_json()))
    # identical bytes: one analysis, both rows point at it
    assert rows["copy_of_clip0.mp4"].duplicate_of == "clip0.mp4"
    assert rows["copy_of_clip0.mp4"].report == rows["clip0.mp4"].report
    assert rows["renamed_clip1"].clip_id == rows["clip1.mp4"].clip_id
    assert first.analysed == 3 + len(broken)
    for name, words in broken.items():
        assert rows[name].status == "failed" and words in rows[name].error, rows[name]
        assert "\n" not in rows[name].error
    # every per-clip folder has its completion record; the summary is on disk too
    for r in first.rows:
        rec = json.loads((out / r.clip_id / "done.json").read_text())
        assert rec["input_sha256"] == r.sha256
    csv_rows = read_summary_csv(out / "summary.csv")
    assert [r["path"] for r in csv_rows] == [r.path for r in first.rows]
    assert json.loads((out / "summary.json").read_text())["totals"]["failed"] == len(broken)

    again = run_batch(src, out, jobs=2)
    assert again.analysed == 0
    assert {r.status for r in again.rows} == {"skipped"}
    assert _stable(out) == stable_view(csv_rows)

    # changed parameters recount everything (the broken files fail again, the same way)
    changed = run_batch(src, out, jobs=2, line="0.5,0,0.5,1")
    assert changed.analysed == 3 + len(broken)
    assert all(r.status != "skipped" for r in changed.rows)
    assert json.loads((out / rows["clip0.mp4"].report).read_text())["line"]["x1"] == 0.5


def test_claims_csv_gives_each_clip_its_own_claim(small_dir, small_local, tmp_path):
    src, _ = small_dir
    rows = {r.path: r for r in small_local[1].rows if fnmatch.fnmatch(r.path, "clip*.mp4")}
    claims = tmp_path / "claims.csv"
    with open(claims, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "sha256", "claim"])
        w.writerow(["clip0.mp4", "", "at least 1 vehicle"])
        w.writerow(["", rows["clip1.mp4"].sha256[:16], "more than 50 vehicles"])
    out = tmp_path / "out"
    got = _rows_by_path(run_batch(src, out, jobs=2, glob="clip*.mp4", claims=claims))
    assert got["clip0.mp4"].claim == "at least 1 vehicle"
    assert got["clip1.mp4"].claim == "more than 50 vehicles"
    assert got["clip2.mp4"].claim == "" and got["clip2.mp4"].verdict == ""
    for name in ("clip0.mp4", "clip1.mp4"):
        report = _report(out, got[name])
        assert report["claim"]["text"] == got[name].claim
        assert got[name].verdict == report["claim"]["verdict"]
    # counts do not depend on the claim
    assert all(got[p].count_total == rows[p].count_total for p in rows)
    if rows["clip1.mp4"].count_total <= 50:
        assert got["clip1.mp4"].verdict != "consistent"


@pytest.mark.parametrize("content, words", [
    ("name,claim\nclip0.mp4,nine vehicles\n", "'file' or 'sha256'"),
    ("file,claim\nnope.mp4,nine vehicles\n", "line 2: file 'nope.mp4' is not among"),
    ("file,claim\nclip0.mp4,the weather was nice\n", "could not understand the claim"),
    ("sha256,claim\nxyz,nine vehicles\n", "at least 16 hex digits"),
    ("file,claim\nclip0.mp4,nine vehicles\nclip0.mp4,ten vehicles\n", "already has the claim"),
    ("", "empty"),
])
def test_bad_claims_csv_is_one_clean_error_before_any_work(small_dir, tmp_path, content, words):
    src, _ = small_dir
    claims = tmp_path / "claims.csv"
    claims.write_text(content)
    out = tmp_path / "out"
    with pytest.raises(ConvoyCountError) as e:
        run_batch(src, out, jobs=1, claims=claims)
    assert words in str(e.value) and "\n" not in str(e.value)
    assert not list(out.glob("*/done.json"))


def test_bad_options_fail_before_any_clip_runs(small_dir, tmp_path):
    src, _ = small_dir
    for kwargs, words in ((dict(line="1,2"), "four numbers"), (dict(claim="blue sky"), "claim"),
                          (dict(speedup=2, real_duration_s=10), "not both"),
                          (dict(colour="red"), "unknown analyze option"),
                          (dict(jobs=0), "at least 1")):
        with pytest.raises(ConvoyCountError, match=words):
            run_batch(src, tmp_path / "out", **kwargs)
    with pytest.raises(ConvoyCountError, match="is a file"):
        run_batch(src / "clip0.mp4", tmp_path / "out")
    assert not list((tmp_path / "out").glob("*/done.json"))


def test_evidence_is_written_per_clip_and_asking_for_it_later_recounts(small_dir, tmp_path):
    src, _ = small_dir
    out = tmp_path / "out"
    plain = run_batch(src, out, jobs=1, glob="clip0.mp4")
    key = plain.rows[0].clip_id
    assert not (out / key / "report.html").exists()
    with_ev = run_batch(src, out, jobs=1, glob="clip0.mp4", evidence=True)
    assert with_ev.analysed == 1                     # the first run had no evidence
    for name in ("report.json", "report.html", "events.csv", "timeline.png"):
        assert (out / key / name).is_file(), name
    assert json.loads((out / key / "done.json").read_text())["evidence"] is True
    # evidence on disk also serves a run that does not ask for it
    assert run_batch(src, out, jobs=1, glob="clip0.mp4").rows[0].status == "skipped"
    assert with_ev.rows[0].count_total == plain.rows[0].count_total


def test_the_cli_command_writes_the_api_summary_and_fails_in_one_line(small_dir, small_local, tmp_path):
    src, _ = small_dir
    out = tmp_path / "cli"
    done = subprocess.run(CLI_BATCH + [str(src), "-o", str(out), "--jobs", "1", "--glob", "clip*.mp4"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "batch: 3 files: 3 counted, 0 failed" in done.stderr
    assert _stable(out) == _stable(small_local[0], "clip*.mp4")
    # a user error: exit code 2, one line on stderr, no clip started
    bad = subprocess.run(CLI_BATCH + [str(src), "-o", str(tmp_path / "bad"), "--line", "1,2"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2, bad.stderr
    assert bad.stderr.startswith("error: ") and "four numbers" in bad.stderr
    assert bad.stderr.count("\n") == 1
    assert not list((tmp_path / "bad").glob("*/done.json"))


def test_a_crashing_or_hanging_analysis_fails_only_its_own_row(small_dir, tmp_path):
    """A worker killed by SIGSEGV mid-clip (what a decoder crash looks like), and a clip
    that outlives the timeout: each gets a failed row; every other clip is counted."""
    src, _ = small_dir
    victim = "clip1.mp4"

    def crash_on_victim(event):
        if event.kind == "start" and event.path == victim:
            os.kill(event.pid, signal.SIGSEGV)

    out = tmp_path / "out"
    summary = run_batch(src, out, jobs=2, glob="clip*.mp4", progress=crash_on_victim)
    rows = _rows_by_path(summary)
    assert rows[victim].status == "failed" and "crashed (SIGSEGV)" in rows[victim].error
    assert rows["clip0.mp4"].status == rows["clip2.mp4"].status == "ok"
    assert not (out / rows[victim].clip_id / "report.json").exists()
    # a crash may be the machine's fault: the next run tries again, and succeeds
    retry = _rows_by_path(run_batch(src, out, jobs=2, glob="clip*.mp4"))
    assert retry[victim].status == "ok" and retry["clip0.mp4"].status == "skipped"

    timed = _rows_by_path(run_batch(src, tmp_path / "timed", jobs=2, glob="clip*.mp4",
                                    timeout_s=0.02))
    assert all(r.status == "failed" and "timed out after 0.02 s" in r.error for r in timed.values())


# --------------------------------------------------------------------------- slow: a real folder

SCENARIOS = ("two_way", "vertical", "news_story", "stop_and_go", "non_crossing", "vfr_phone",
             "shaky_noisy")
N_CLIPS = 21


@pytest.fixture(scope="module")
def big_dir(tmp_path_factory):
    src = tmp_path_factory.mktemp("big")
    for i in range(N_CLIPS):
        name = SCENARIOS[i % len(SCENARIOS)]
        _synth(src / f"{i:02d}_{name}.mp4", name, seed=100 + i, real_s=3.0 + (i % 3), n=2 + i % 3)
    shutil.copy(src / "00_two_way.mp4", src / "dup_of_00.mp4")
    broken = _add_broken(src, src / "01_vertical.mp4")
    _add_ignored(src)
    return src, broken


@pytest.fixture(scope="module")
def big_local(big_dir, tmp_path_factory):
    """One uninterrupted local run over the big folder: the reference for the others."""
    src, _ = big_dir
    out = tmp_path_factory.mktemp("big_local") / "out"
    t0 = time.perf_counter()
    summary = run_batch(src, out, jobs=2)
    return out, summary, time.perf_counter() - t0


@pytest.mark.slow
def test_big_folder_every_clip_counted_broken_files_failed(big_dir, big_local):
    from convoycount.pipeline import analyze
    src, broken = big_dir
    out, summary, _ = big_local
    rows = _rows_by_path(summary)
    assert len(rows) == N_CLIPS + 1 + len(broken)
    good = [r for r in summary.rows if r.path not in broken]
    assert all(r.status in ("ok", "truncated") and r.count_total is not None for r in good)
    for name, words in broken.items():
        assert rows[name].status == "failed" and words in rows[name].error
    for row in (rows["00_two_way.mp4"], rows["05_vfr_phone.mp4"], rows["06_shaky_noisy.mp4"]):
        direct = analyze(src / row.path)
        assert row.count_total == direct.total
        assert _events(_report(out, row)) == _events(json.loads(direct.to_json()))
    assert rows["dup_of_00.mp4"].duplicate_of == "00_two_way.mp4"


@pytest.mark.slow
def test_rerun_with_nothing_changed_is_fast(big_dir, big_local):
    src, _ = big_dir
    out, first, first_s = big_local
    before = _stable(out)
    t0 = time.perf_counter()
    again = run_batch(src, out, jobs=2)
    rerun_s = time.perf_counter() - t0
    assert again.analysed == 0 and {r.status for r in again.rows} == {"skipped"}
    assert _stable(out) == before
    assert rerun_s < 0.25 * first_s, (rerun_s, first_s)


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_equals_uninterrupted(big_dir, big_local, tmp_path):
    src, _ = big_dir
    ref_out, ref, _ = big_local
    out = tmp_path / "out"
    cmd = CLI_BATCH + [str(src), "-o", str(out), "--jobs", "2"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    n_jobs = len({r.clip_id for r in ref.rows})
    deadline = time.monotonic() + 300
    try:
        while len(list(out.glob("*/done.json"))) < 4:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    time.sleep(0.2)
    finished = {p.parent.name: json.loads(p.read_text())["finished_at"]
                for p in out.glob("*/done.json")}
    assert 4 <= len(finished) < n_jobs, "the kill must land mid-way"
    # nothing half-written: every JSON file parses, the CSV too
    for p in out.rglob("*.json"):
        if not p.name.startswith("."):
            json.loads(p.read_text())
    read_summary_csv(out / "summary.csv")

    resumed = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 1, resumed.stderr     # 1: the broken files failed
    assert "skipped" in resumed.stderr or "counted" in resumed.stderr
    assert _stable(out) == _stable(ref_out)
    rows = read_summary_csv(out / "summary.csv")
    for r in rows:
        assert (r["status"] == "skipped") == (r["clip_id"] in finished), r
    for key, t in finished.items():            # complete clips were not counted again
        assert json.loads((out / key / "done.json").read_text())["finished_at"] == t
    assert any(r["status"] != "skipped" for r in rows)


@pytest.mark.slow
def test_ray_executor_gives_the_local_summary(small_dir, small_local, tmp_path):
    # the small folder has every kind of row (counted, duplicate, renamed copy, broken,
    # ignored); the executor only decides where each clip runs, so the summaries must match
    pytest.importorskip("ray", reason="ray is not installed (pip install 'convoycount[ray]')")
    src, _ = small_dir
    ref_out, _ = small_local
    out = tmp_path / "out"
    summary = run_batch(src, out, jobs=2, executor="ray")
    assert summary.executor == "ray"
    assert _stable(out) == _stable(ref_out)
    assert set(STABLE_COLUMNS) <= set(read_summary_csv(out / "summary.csv")[0])
