"""Fixtures that several test modules share, so an expensive clip or analysis is made
once per session instead of once per test.

Under xdist a session fixture is still built once per worker; every test that uses
one of SHARED_ANALYSES is therefore put in that fixture's `xdist_group` (below), and
pytest runs with `--dist loadgroup` (pyproject.toml), which keeps a group on one worker."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT_MODEL = ROOT / "models" / "convoy-yolo.pt"
README_CLAIM = "nine vehicles in 10 seconds"

# Fixtures (session-, or module-scoped in one module) holding an analysis that several
# tests read: the tests using one run on one xdist worker, so it is made once.
# A module fixture counts too: xdist builds it once on each worker that runs one of its
# tests (measured: the batch module's big folder was rendered and counted on both workers,
# 30 s each; the integrity modules' edited clips, 18 s each). `edited` also holds the
# tests of `looped_analysis`, which is made from it.
SHARED_ANALYSES = ("yolo_two_way_every_frame", "news_story_readme_report", "small_local",
                   "big_local", "edited", "shaky")


@pytest.fixture(scope="session")
def news_story_readme_report():
    """samples/news_story.mp4 analysed as the README's first command does (--speedup 4
    --claim "nine vehicles in 10 seconds"). Read it, never change it: test_pipeline,
    test_report and test_evidence share this one analysis (each made its own before)."""
    import convoycount
    return convoycount.analyze(ROOT / "samples" / "news_story.mp4", speedup=4, claim=README_CLAIM)


@pytest.fixture(scope="session")
def yolo_two_way(tmp_path_factory):
    """A small two-way clip (4 vehicles, 480x270, ~8.5 s) with its truth: few frames,
    so the learned detectors can count it end to end in a test."""
    from convoycount.synth import generate, scenario
    path = tmp_path_factory.mktemp("yolo_two_way") / "two_way.mp4"
    truth = generate(path, scenario("two_way", seed=424242, width=480, height=270, n_vehicles=4))
    return path, truth


@pytest.fixture(scope="session")
def yolo_two_way_every_frame(yolo_two_way, tmp_path_factory):
    """The CLI's count of `yolo_two_way` with the project model at the true line, every
    frame detected (--every-frame), as a user runs it (the completed process).

    One run is the every-frame reference of three tests: the CLI's own (stdout is
    the JSON report), the fixed stride and the adaptive stride (test_schedule.py)."""
    from convoycount.detect.models import ENV_VAR
    clip, truth = yolo_two_way
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    cwd = tmp_path_factory.mktemp("yolo_cli")
    line = ",".join(str(v) for v in truth.line)
    return subprocess.run([sys.executable, "-m", "convoycount.cli", "count", str(clip), "--detector", "yolo",
                           "--model", str(PROJECT_MODEL), "--line", line, "--every-frame",
                           "--json", "-", "--quiet"], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="session")
def yolo_every_frame_report(yolo_two_way_every_frame) -> dict:
    """The JSON report of `yolo_two_way_every_frame` (the run must have succeeded)."""
    p = yolo_two_way_every_frame
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config, items):
    """Before the other hooks: tests using a shared analysis join its xdist group, and
    modules with slow tests go first. After them (xdist's hook has run): make sure the
    groups reach xdist's scheduler (pytest-xdist#1386)."""
    _join_shared_analysis_groups(items)
    _slow_modules_first(items)
    result = yield
    _restore_xdist_group_suffix(config, items)
    return result


def _join_shared_analysis_groups(items) -> None:
    for item in items:
        for name in SHARED_ANALYSES:
            if name in item.fixturenames:
                item.add_marker(pytest.mark.xdist_group(name))


def _slow_modules_first(items) -> None:
    """Modules with end-to-end (`slow`) tests first. xdist hands tests to whichever worker
    is free, so the long runs start early and the many short tests even out the end of
    the run (alphabetically, test_yolo*'s exports came last and one worker waited for
    them). Each module's tests stay together and in order: its module-scoped fixtures
    are still built once per worker."""
    slow_modules = {item.module for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.module not in slow_modules)     # stable: keeps the rest


def _restore_xdist_group_suffix(config, items) -> None:
    """`--dist loadgroup` groups tests by an "@group" suffix xdist appends to each node
    id, by writing `item._nodeid`; pytest >= 9.2 keeps the id in `item._id`, so the suffix
    is lost and every group silently spreads over all workers (pytest-xdist#1386, fix
    pending in #1388; measured here: two tests of one group ran on gw0 and gw1). Until
    xdist writes it itself, write it the way xdist would. Nothing to do without xdist's
    loadgroup, on an older pytest, or once xdist has done it."""
    if not getattr(config.option, "loadgroup", False):
        return
    try:
        from _pytest.nodeid import NodeId
    except ImportError:            # pytest < 9.2: xdist's own suffix works
        return
    for item in items:
        groups = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                         for m in item.iter_markers("xdist_group")})
        suffix = "@" + "_".join(groups)
        if groups and hasattr(item, "_id") and not item.nodeid.endswith(suffix):
            item._id = NodeId.parse(item.nodeid + suffix)


def pytest_configure(config):
    """On an xdist worker: each library's thread pool gets the worker's share of the
    cores. torch, OpenCV and OpenBLAS each size their pools to every core, so with one
    worker per core every worker's pools fought the other's (the batch runner caps them
    the same way, convoycount/batch/worker.py). CONVOYCOUNT_TEST_THREADS=0 keeps the
    libraries' defaults."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0") or 0)
    wanted = os.environ.get("CONVOYCOUNT_TEST_THREADS")
    if workers < 2 or wanted == "0":
        return
    from convoycount.batch.worker import limit_threads
    limit_threads(int(wanted) if wanted else max(1, (os.cpu_count() or 1) // workers))
