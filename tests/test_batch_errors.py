"""Batch rows keep a failure's one-line error; an internal error also keeps its
traceback in the clip's folder, so a bug report can attach it."""
from pathlib import Path

from convoycount.batch.worker import TRACEBACK_NAME, ClipTask, run_clip
from convoycount.options import AnalysisOptions

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def test_an_internal_error_keeps_its_traceback(tmp_path):
    job = tmp_path / "clip1"
    # A caller's programming error (options of the wrong type) is a genuine internal
    # error inside analyze(), not a user-fixable one.
    task = ClipTask(key="clip1", path=str(SAMPLES / "news_story.mp4"), sha256="0" * 64,
                    options="speedup=4", job_dir=str(job))
    out = run_clip(task)
    assert out.status == "failed" and out.failure == "error"
    assert out.error.startswith("internal error: AttributeError")
    assert f"traceback in clip1/{TRACEBACK_NAME}" in out.error and "\n" not in out.error
    assert "Traceback (most recent call last)" in (job / TRACEBACK_NAME).read_text()


def test_a_user_error_is_one_line_without_traceback(tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video\n")
    task = ClipTask(key="clip2", path=str(bad), sha256="0" * 64, options=AnalysisOptions(),
                    job_dir=str(tmp_path / "clip2"))
    out = run_clip(task)
    assert out.status == "failed" and out.failure == "input"
    assert "notes.mp4" in out.error and "\n" not in out.error
    assert not (tmp_path / "clip2" / TRACEBACK_NAME).exists()


def test_resume_notices_new_weights_however_they_were_found(tmp_path, monkeypatch):
    """The weights come from $CONVOYCOUNT_MODEL (no --model given): when that file's
    content changes, a resumed batch counts again instead of reusing old results."""
    import shutil

    import torch

    from convoycount.batch.run import run_batch
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(SAMPLES / "news_story.mp4", src / "a.mp4")
    weights = tmp_path / "w" / "convoy-yolo.pt"
    weights.parent.mkdir()
    shutil.copy(Path(__file__).resolve().parents[1] / "models" / "convoy-yolo.pt", weights)
    monkeypatch.setenv("CONVOYCOUNT_MODEL", str(weights))
    out = tmp_path / "out"
    kw = dict(jobs=1, detector="yolo", end_s=2.0, trust_model=True)   # a .pt outside models/
    assert run_batch(src, out, **kw).analysed == 1
    assert run_batch(src, out, **kw).analysed == 0            # same weights: reused
    # The same network saved again: other bytes, so other weights as far as
    # provenance can tell.
    ckpt = torch.load(weights, map_location="cpu", weights_only=False)
    ckpt["convoycount_note"] = "re-saved"
    torch.save(ckpt, weights)
    assert run_batch(src, out, **kw).analysed == 1
