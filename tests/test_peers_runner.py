"""The side-by-side runner (benchmarks/bench_peers.py) keeps results per (system, clip)
case: a full run is hours on two cores, and a stop in its middle must cost only the
case it was in. Run with the cheapest system (decode_only) on the sample clips."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_peers  # noqa: E402

SYSTEM = ("decode_only",)


def case(tmp_path, sample: str, name: str = None) -> dict:
    """A case on a copy of a sample clip (its own file, so a test can take it away)."""
    clip = tmp_path / "clips" / sample
    clip.parent.mkdir(exist_ok=True)
    if not clip.exists():
        shutil.copy(ROOT / "samples" / sample, clip)
    return {"name": name or Path(sample).stem, "look": "standard", "path": str(clip),
            "line": [0.5, 0.0, 0.5, 1.0], "speedup": 1, "truth_s": [], "model": "",
            "classes": None, "span_s": None}


def results(folder: Path) -> dict:
    return json.loads((folder / "decode_only.json").read_text())["results"]


def test_a_stopped_run_keeps_finished_cases_and_resumes_at_the_first_missing(tmp_path):
    folder = tmp_path / "work"
    folder.mkdir()
    first, second = case(tmp_path, "news_story.mp4"), case(tmp_path, "clock.mp4")
    Path(second["path"]).unlink()              # the run stops at the second case
    with pytest.raises(subprocess.CalledProcessError):
        bench_peers.run_systems([first, second], folder, SYSTEM)
    kept = results(folder)
    assert list(kept) == ["news_story"]        # the finished case was written at once
    case(tmp_path, "clock.mp4")                # the clip is back: resume
    raw = bench_peers.run_systems([first, second], folder, SYSTEM)
    after = results(folder)
    # The finished case was not run again (its timing is the first run's, to the bit)...
    assert after["news_story"] == kept["news_story"]
    # ...and the missing one was; the summary covers both, in the suite's order.
    assert list(raw["decode_only"]["results"]) == ["news_story", "clock"]
    assert after["clock"]["frames"] > 1
    assert raw["decode_only"]["peak_rss_mb"] == max(r["peak_rss_mb"] for r in after.values())
    # The summary is the same shape as ever.
    s = bench_peers.summarise([first, second], raw)["decode_only"]
    assert s["fps"] > 0 and s["peak_rss_mb"] > 0


def test_a_changed_case_is_measured_again_and_others_are_kept(tmp_path):
    folder = tmp_path / "work"
    folder.mkdir()
    a, b = case(tmp_path, "news_story.mp4"), case(tmp_path, "clock.mp4")
    bench_peers.run_systems([a, b], folder, SYSTEM)
    before = results(folder)
    moved = {**b, "line": [0.4, 0.0, 0.4, 1.0]}     # the same clip with another line
    bench_peers.run_systems([a, moved], folder, SYSTEM)
    after = results(folder)
    assert after["news_story"] == before["news_story"]
    assert after["clock"] != before["clock"]          # measured again, not reused
    assert json.loads((folder / "decode_only.json").read_text())["cases"]["clock"] == moved


def test_outputs_of_the_whole_system_runner_are_kept(tmp_path):
    # Before results were kept per case, a system's file held every case of the
    # manifest beside it and no cases of its own: a work folder from then resumes too.
    folder = tmp_path / "work"
    folder.mkdir()
    cases = [case(tmp_path, "news_story.mp4"), case(tmp_path, "clock.mp4")]
    bench_peers.run_systems(cases, folder, SYSTEM)
    out = folder / "decode_only.json"
    old = json.loads(out.read_text())
    peak = old["peak_rss_mb"]
    out.write_text(json.dumps({"results": {n: {k: v for k, v in r.items() if k != "peak_rss_mb"}
                                           for n, r in old["results"].items()},
                               "peak_rss_mb": peak}))
    before = results(folder)
    raw = bench_peers.run_systems(cases, folder, SYSTEM)
    after = {n: {k: v for k, v in r.items() if k != "peak_rss_mb"} for n, r in results(folder).items()}
    assert after == before
    assert raw["decode_only"]["peak_rss_mb"] == peak


def test_a_worker_reports_its_own_peak_memory_not_its_runners():
    # The runner renders the clips before it starts the workers; on Linux the kernel hands
    # a child its parent's high-water mark (ru_maxrss), which made a 10-minute clip's
    # analysis look 190 MB heavier than it was. A parent holding 300 MB starts a child
    # (with ru_maxrss the child reports over 300 MB: checked).
    import numpy as np
    held = np.ones(300 * 1024 * 1024 // 8)
    child = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, 'benchmarks'); "
                            "from rss import peak_rss_mb; print(peak_rss_mb())"],
                           cwd=ROOT, capture_output=True, text=True, check=True)
    assert held.sum() > 0
    assert float(child.stdout) < 150.0, child.stdout
