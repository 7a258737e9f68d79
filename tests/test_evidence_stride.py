"""--stride and the evidence: the annotated video holds exactly the frames the
detector saw (every Nth, each at its own timestamp), with their boxes, and no
spurious "may not line up" note."""
from pathlib import Path

from convoycount import analyze
from convoycount.evidence import write_evidence
from convoycount.video import frames

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "news_story.mp4"


def test_stride_evidence_shows_the_frames_that_were_used(tmp_path):
    report = analyze(SAMPLE, speedup=4, stride=3)
    write_evidence(report, tmp_path)
    used = [f.time_s for f in frames(SAMPLE, stride=3)]
    shown = [f.time_s for f in frames(tmp_path / "annotated.mp4")]
    assert len(shown) == len(used) == report.frames_processed
    assert max(abs(a - b) for a, b in zip(used, shown)) <= 1 / 90000 + 1e-9
    html = (tmp_path / "report.html").read_text()
    assert "may not line up" not in html
    # every observation's frame is one of the frames shown
    used_index = {f.index for f in frames(SAMPLE, stride=3)}
    assert all(o.frame_index in used_index for t in report.tracks for o in t.observations)
