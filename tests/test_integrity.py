"""Integrity (issue 17): each edit the generator makes is found where it is, clean
clips have no findings, and a looped clip's vehicles are counted once."""
import json
from pathlib import Path

import pytest

from convoycount.errors import ConvoyCountError
from convoycount.integrity import Finding, check, signatures_of
from convoycount.synth import generate, scenario

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
# reverse too: a span played backwards in place is found from the frames alone
EDITS = {"loop": "repeat", "cut": "cut", "dup": "duplicated_frames", "gap": "gap", "reverse": "reversed"}


def _cfg(seed=3, **kw):
    return scenario("two_way", seed=seed, n_vehicles=8, **kw)


@pytest.fixture(scope="module")
def edited(tmp_path_factory):
    """One generated clip per edit (module scope: each is rendered once)."""
    root = tmp_path_factory.mktemp("edits")
    out = {}
    for kind in ("loop", "cut", "dup", "gap", "reverse"):
        path = root / f"{kind}.mp4"
        out[kind] = (path, generate(path, _cfg(), edit=kind))
    return out


def _found(findings, kind, truth_start):
    return [f for f in findings if f.kind == kind and abs(f.start_s - truth_start) <= 0.5]


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_each_edit_is_found_where_it_is_and_nothing_else(edited, edit):
    path, truth = edited[edit]
    want = truth.edit["finding"]
    assert want["kind"] == EDITS[edit]
    report = check(signatures_of(path))
    assert _found(report.findings, want["kind"], want["start_s"]), (want, report.to_dict())
    assert {f.kind for f in report.findings} == {want["kind"]}, report.to_dict()


def test_a_loop_reports_its_source_span(edited):
    path, truth = edited["loop"]
    rep = check(signatures_of(path)).of_kind("repeat")[0]
    assert abs(rep.source_start_s - truth.edit["finding"]["source_start_s"]) <= 0.5


@pytest.mark.slow
def test_a_span_played_backwards_is_found_from_the_tracks(edited):
    import convoycount
    path, truth = edited["reverse"]
    want = truth.edit["finding"]
    report = convoycount.analyze(path)
    assert _found(report.integrity.findings, "reversed", want["start_s"]), report.integrity.to_dict()
    assert {f.kind for f in report.integrity.findings} == {"reversed"}


@pytest.fixture(scope="module")
def looped_analysis(edited):
    """(report, true distinct count) of the looped clip, analysed once with a claim its
    replays would make true: read by the distinct-vehicles and the evidence tests."""
    import convoycount
    path, truth = edited["loop"]
    n = truth.total_crossing
    return convoycount.analyze(path, claim=f"at least {n + 2} vehicles", claim_basis="clip"), n


@pytest.mark.slow
def test_a_looped_clip_is_judged_on_distinct_vehicles(looped_analysis):
    report, n = looped_analysis
    d = report.to_dict()
    assert d["count"]["total"] > d["count"]["distinct"] == n
    repeated = [e for e in d["events"] if "repeat_of" in e]
    assert len(repeated) == d["count"]["total"] - n
    ids = {e["track_id"] for e in d["events"]}
    assert all(e["repeat_of"] in ids and e["repeat_of"] != e["track_id"] for e in repeated)
    # As played the claim would hold; on distinct vehicles it does not.
    assert d["count"]["total"] >= n + 2
    assert d["claim"]["observed"] == n and d["claim"]["verdict"] in ("inconsistent", "unsupported")
    assert "distinct" in d["claim"]["reason"]
    assert [f["kind"] for f in d["integrity"]["findings"]] == ["repeat"]


@pytest.mark.slow
def test_a_looped_clip_s_evidence_shows_each_vehicle_once_and_the_edit_first(looped_analysis, tmp_path):
    from convoycount.evidence import write_evidence
    report, _ = looped_analysis
    write_evidence(report, tmp_path / "ev", annotate=False)
    layout = json.loads((tmp_path / "ev" / "contact_sheet.json").read_text())
    assert layout["total"] == report.distinct == len(layout["tiles"]) < layout["crossings"] == report.total
    listed = {r["track_id"] for tile in layout["tiles"] for r in tile["replays"]}
    assert listed == set(report.repeat_of) and not listed & {t["track_id"] for t in layout["tiles"]}
    page = (tmp_path / "ev" / "report.html").read_text()
    assert page.index("id=integrity") < page.index("id=count") < page.index("id=sheet")
    assert page.count("<figure>") == 2 and "replayed at" in page


def test_thumbnail_pairs_show_a_repeat_s_copy_and_source_alike_and_a_gap_s_sides_apart(edited):
    import types

    import cv2
    import numpy as np

    from convoycount.integrity.pairs import finding_pairs

    def pictures(kind):
        path, _ = edited[kind]
        report = types.SimpleNamespace(integrity=check(signatures_of(path)), input_path=path)
        (pair,) = finding_pairs(report).values()
        return [cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE).astype(float)
                for _, png in pair]

    def changed(a, b):      # share of the picture where something is there in one and not the other
        return float(np.mean(np.abs(a - b) > 40))

    copy_src, before_after = changed(*pictures("loop")), changed(*pictures("gap"))
    assert copy_src < 0.001 and before_after > 0.005, (copy_src, before_after)


def test_the_annotated_video_marks_findings_while_they_are_in_effect():
    from convoycount.integrity import IntegrityReport
    rep = IntegrityReport(findings=[Finding("repeat", 5.0, 8.0, "x", 0.9, 2.0, 5.0),
                                    Finding("cut", 12.0, 12.0, "y", 0.9)])
    assert rep.marks_at(1.0) == []
    assert rep.marks_at(6.0) == ["EDIT? repeat 5.00-8.00 s of 2.00 s"]
    assert rep.marks_at(11.7) == ["EDIT? cut 12.00-12.00 s"] == rep.marks_at(12.4)
    assert rep.marks_at(12.6) == []


@pytest.mark.parametrize("clip", sorted(p.name for p in SAMPLES.glob("*.mp4")))
def test_sample_clips_have_no_findings(clip):
    assert check(signatures_of(SAMPLES / clip)).findings == []


@pytest.mark.slow
@pytest.mark.parametrize("name,kw", [("shaky_noisy", {}), ("vfr_phone", {}), ("dense_overlap", {}),
                                     ("news_story", {"seed": 11})])
def test_generated_clean_clips_have_no_findings(tmp_path, name, kw):
    path = tmp_path / "clean.mp4"
    generate(path, scenario(name, **{"seed": 4, **kw}))
    assert check(signatures_of(path)).findings == []


@pytest.mark.slow
def test_a_clean_analysis_has_no_findings():
    # the whole pass, tracks included (reversed, speed_change), on 23 s of two-way traffic
    import convoycount
    report = convoycount.analyze(SAMPLES / "two_way.mp4")
    assert report.integrity.checked and report.integrity.findings == []
    assert report.distinct == report.total


def test_no_integrity_skips_the_pass_and_counts_the_same(news_story_readme_report):
    # the README's analysis (tests/conftest.py) against the same one without the pass
    import convoycount
    claim = (SAMPLES / "news_story.claim.txt").read_text().strip()
    assert news_story_readme_report.integrity.checked
    skipped = convoycount.analyze(SAMPLES / "news_story.mp4", speedup=4, claim=claim, integrity=False)
    assert skipped.to_dict()["integrity"]["checked"] is False
    assert skipped.to_dict()["count"] == news_story_readme_report.to_dict()["count"]


def test_an_unedited_truth_file_has_no_edit_key(tmp_path):
    truth = generate(tmp_path / "c.mp4", scenario("clock", seed=1, n_vehicles=2))
    assert truth.edit is None
    assert "edit" not in json.loads((tmp_path / "c.truth.json").read_text())


def test_edits_need_a_regular_frame_rate_and_a_known_kind(tmp_path):
    with pytest.raises(ConvoyCountError, match="cfr"):
        generate(tmp_path / "v.mp4", scenario("vfr_phone", seed=1, n_vehicles=2), edit="loop")
    with pytest.raises(ConvoyCountError, match="loop"):
        generate(tmp_path / "v.mp4", scenario("clock", seed=1, n_vehicles=2), edit="splice")


def test_a_finding_checks_its_kind_and_span():
    with pytest.raises(ValueError, match="kind"):
        Finding("loop", 1.0, 2.0, "x", 0.5)
    with pytest.raises(ValueError, match="before"):
        Finding("cut", 2.0, 1.0, "x", 0.5)
