"""--out never replaces or deletes a file convoycount did not write there."""
import subprocess
import sys
from pathlib import Path

import pytest

from convoycount import analyze
from convoycount.errors import ConvoyCountError
from convoycount.evidence import MANIFEST, write_evidence

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "news_story.mp4"


@pytest.fixture(scope="module")
def report():
    return analyze(SAMPLE, speedup=4, end_s=4.0)


def test_a_users_file_with_an_evidence_name_is_never_touched(tmp_path):
    mine = tmp_path / "report.html"
    mine.write_text("my own notes")
    res = subprocess.run([sys.executable, "-m", "convoycount.cli", "count", str(SAMPLE),
                          "--out", str(tmp_path), "-q"], capture_output=True, text=True)
    assert res.returncode == 2
    assert "already holds report.html, which convoycount did not write" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert mine.read_text() == "my own notes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_its_own_files_are_replaced_but_not_once_edited(report, tmp_path):
    write_evidence(report, tmp_path, annotate=False)
    first = (tmp_path / "report.json").read_text()
    write_evidence(report, tmp_path, annotate=False)          # ours: replaced
    assert (tmp_path / "report.json").read_text() == first
    assert (tmp_path / MANIFEST).exists()
    (tmp_path / "events.csv").write_text("edited by hand\n")   # now it is the user's
    with pytest.raises(ConvoyCountError, match="already holds events.csv"):
        write_evidence(report, tmp_path, annotate=False)
    assert (tmp_path / "events.csv").read_text() == "edited by hand\n"
    assert (tmp_path / "report.json").read_text() == first


def test_other_files_in_the_folder_are_left_alone(report, tmp_path):
    other = tmp_path / "clip_notes.txt"
    other.write_text("keep")
    write_evidence(report, tmp_path, annotate=False)
    assert other.read_text() == "keep"
