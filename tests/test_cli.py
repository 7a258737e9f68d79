"""The command line: bad input gives one clear line on stderr and a non-zero
exit, never a traceback; good input gives a report. Runs the real installed
entry point in a subprocess, as a user would."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import clipfactory as cf

CLI = [sys.executable, "-m", "convoycount.cli"]


def run(*args, timeout=120):
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def assert_one_line_error(res, *needles):
    assert res.returncode != 0, res.stdout
    err = res.stderr.strip()
    assert "Traceback" not in res.stderr
    assert len(err.splitlines()) == 1, err
    assert err.startswith("error: ")
    for n in needles:
        assert n.lower() in err.lower(), (n, err)


@pytest.fixture(scope="module")
def good_clip(tmp_path_factory):
    p = tmp_path_factory.mktemp("clips") / "tiny.mp4"
    cf.write_video(p, cf.cfr_pts(15, cf.Fraction(15)), width=64, height=48)
    return p


BAD_INPUTS = {
    "missing": (lambda d: d / "nope.mp4", "not found"),
    "directory": (lambda d: d, "directory"),
    "empty": (lambda d: (d / "empty.mp4").write_bytes(b"") or d / "empty.mp4", "empty"),
    "random_bytes": (lambda d: cf.write_random_bytes(d / "random.mp4"), "random.mp4"),
    "text": (lambda d: cf.write_text(d / "notes.mp4"), "notes.mp4"),
    "cut_before_index": (lambda d: cf.write_moov_missing(d / "cut.mp4"), "moov"),
    "audio_only": (lambda d: cf.write_audio_only(d / "audio.m4a"), "no video stream"),
    "unknown_codec": (lambda d: cf.write_unknown_codec(d / "odd.mkv"), "odd.mkv"),
}


@pytest.mark.parametrize("command", ["count", "probe"])
@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_and_nonzero(tmp_path, case, command):
    make, needle = BAD_INPUTS[case]
    path = make(tmp_path)
    assert_one_line_error(run(command, path), needle)


@pytest.mark.parametrize("args,needle", [
    (["--line", "0.5,0,0.5"], "--line"),
    (["--line", "a,b,c,d"], "--line"),
    (["--line", "0,0,2,1"], "0..1"),
    (["--claim", "the sky is blue"], "claim"),
    (["--claim", ""], "claim"),
    (["--speedup", "-2"], "--speedup"),
    (["--speedup", "fast"], "--speedup"),
    (["--speedup", "2", "--real-duration", "40"], "either"),
    (["--claim-basis", "wall"], "clip or real"),
    (["--start", "5", "--end", "1"], "--end"),
    (["--detector", "magic"], "detector"),
    (["--stride", "0"], "--stride"),
    (["--stride", "two"], "--stride"),
    (["--bogus"], "--bogus"),
])
def test_bad_options_are_one_line_and_nonzero(good_clip, args, needle):
    assert_one_line_error(run("count", good_clip, *args), needle)


def test_truncated_after_index_is_counted_with_a_warning(tmp_path):
    truth = cf.write_mdat_truncated(tmp_path / "cut.mp4", n=40, keep_fraction=0.6)
    res = run("count", truth.path, "--json", "-")
    assert res.returncode == 0, res.stderr
    rep = json.loads(res.stdout)
    assert rep["probe"]["truncated"] is True
    assert any("trunc" in w.lower() or "stopped early" in w.lower() or "cut" in w.lower()
               for w in rep["warnings"]), rep["warnings"]
    assert 0 < rep["analysis"]["frames_processed"] < 40


def test_help_and_probe_do_not_import_torch(good_clip):
    code = ("import sys, runpy; sys.argv=['convoycount','probe',%r,'--json'];\n"
            "from convoycount.cli import main\n"
            "try:\n    main()\nexcept SystemExit: pass\n"
            "assert 'torch' not in sys.modules and 'ultralytics' not in sys.modules, 'torch imported'\n"
            % str(good_clip))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["frames"] == 15


def test_outputs_never_overwrite_the_input_or_each_other(good_clip, tmp_path):
    before = good_clip.read_bytes()
    assert_one_line_error(run("count", good_clip, "--json", good_clip), "is the input clip")
    assert_one_line_error(run("count", good_clip, "--csv", good_clip), "is the input clip")
    same = tmp_path / "r.json"
    assert_one_line_error(run("count", good_clip, "--json", same, "--csv", tmp_path / ".." / tmp_path.name / "r.json"),
                          "same file")
    assert good_clip.read_bytes() == before and not same.exists()


@pytest.mark.parametrize("args,needle", [
    (["--conf", "0.5"], "--conf is not used by the motion detector"),
    (["--imgsz", "320"], "--imgsz is not used by the motion detector"),
    (["--classes", "car"], "--classes is not used by the motion detector"),
    (["--model", "models/convoy-yolo.pt"], "--model is not used by the motion detector"),
    (["--detector", "coco", "--device", "cpu"], "--device is not used by the coco detector"),
])
def test_an_option_the_detector_ignores_is_an_error(good_clip, args, needle):
    res = run("count", good_clip, *args)
    assert_one_line_error(res, needle)
    assert res.returncode == 2


BOOM = ("import sys\nfrom convoycount import cli\n"
        "def boom():\n    {}[1]\n"
        "cli.app.command('boom')(boom)\nsys.argv = ['convoycount', *sys.argv[1:]]\ncli.main()\n")


def test_our_bug_exits_1_with_a_saved_traceback(tmp_path):
    env = dict(os.environ, TMPDIR=str(tmp_path))
    res = subprocess.run([sys.executable, "-c", BOOM, "boom"], capture_output=True, text=True, env=env)
    assert res.returncode == 1
    assert_one_line_error(res, "internal error", "KeyError", "traceback saved to", "--debug")
    saved = Path(res.stderr.split("traceback saved to ")[1].split(";")[0])
    assert saved.parent == tmp_path and "Traceback" in saved.read_text()
    loud = subprocess.run([sys.executable, "-c", BOOM, "--debug", "boom"], capture_output=True,
                          text=True, env=env)
    assert loud.returncode == 1 and "Traceback (most recent call last)" in loud.stderr


def test_user_error_exits_2(good_clip):
    assert run("count", good_clip, "--line", "1,2").returncode == 2


def test_a_warning_is_said_once_and_never_raw(tmp_path):
    truth = cf.write_mdat_truncated(tmp_path / "cut.mp4", n=40, keep_fraction=0.6)
    res = run("count", truth.path)
    assert res.returncode == 0, res.stderr
    out = res.stdout + res.stderr
    assert "Warning" not in out and "cli.py" not in out          # no raw Python warning
    assert out.count("decoding stopped early") == 1, out
