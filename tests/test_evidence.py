"""Evidence a sceptical reader can check (convoycount.evidence.write_evidence).

Real clips (rendered by convoycount.synth), the real pipeline, real decoding of
what was written: the annotated video is decoded again and compared frame by
frame with the input, the contact sheet's PNG with its layout, tracks.txt with
the tracks, and report.html is rendered by headless Chromium."""
from __future__ import annotations

import csv
import dataclasses
import json
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from convoycount.errors import ConvoyCountError, InputError
from convoycount.evidence import MANIFEST, EVIDENCE_FILES, write_evidence
from convoycount.evidence.draw import LINE_BGR, line_pixels, track_colour
from convoycount.evidence.html import VERDICT_COLOURS
from convoycount.pipeline import analyze
from convoycount.video import frames, probe

ROOT = Path(__file__).resolve().parents[1]
TICK_S = 1 / 90000
TEMP_NAME = re.compile(r"^\.[a-z_]+\.[a-z0-9_]{8}\.[a-z0-9]+$")   # io.atomic_path's temp names


def _synth(path: Path, name: str, **overrides) -> Path:
    from convoycount.synth import generate, scenario
    generate(path, scenario(name, **overrides))
    return path


def _times(path) -> list:
    return [f.time_s for f in frames(path)]


def _frame(path, index: int) -> np.ndarray:
    for f in frames(path):
        if f.index == index:
            return f.image
    raise AssertionError(f"{path} has no frame {index}")


@pytest.fixture(scope="module")
def news(tmp_path_factory, news_story_readme_report):
    """The news-story sample analysed as in the README (the session's one analysis,
    tests/conftest.py), and its evidence."""
    sample = ROOT / "samples" / "news_story.mp4"
    report = news_story_readme_report
    out = tmp_path_factory.mktemp("evidence")
    seen = []
    written = write_evidence(report, out, command_line="convoycount count news_story.mp4 "
                             "--speedup 4 --claim 'nine vehicles in 10 seconds' --out ev",
                             progress=seen.append)
    return {"clip": sample, "report": report, "out": out, "written": written, "progress": seen}


@pytest.fixture(scope="module")
def vfr(tmp_path_factory):
    clip = _synth(tmp_path_factory.mktemp("vfr") / "vfr_phone.mp4", "vfr_phone", n_vehicles=2)
    report = analyze(clip)
    out = tmp_path_factory.mktemp("vfr_evidence")
    return {"clip": clip, "report": report, "out": out, "written": write_evidence(report, out)}


# ------------------------------------------------------------------------------ files


def test_every_file_is_written_complete_and_nothing_else(news):
    out, report, written = news["out"], news["report"], news["written"]
    assert report.total > 0, "the sample must show vehicles, or the evidence shows nothing"
    # no temp files; the manifest records what convoycount wrote
    assert sorted(p.name for p in out.iterdir()) == sorted(EVIDENCE_FILES + (MANIFEST,))
    assert {k: v.name for k, v in written.items()} == {n: n for n in EVIDENCE_FILES}
    assert (out / "report.json").read_text(encoding="utf-8") == report.to_json()
    assert (out / "events.csv").read_text(encoding="utf-8") == report.to_csv()
    # report.json last: nothing was modified after it
    last = max(os.stat(out / n).st_mtime_ns for n in EVIDENCE_FILES)
    assert os.stat(out / "report.json").st_mtime_ns == last
    p = news["progress"]
    assert p[0] == 0.0 and p[-1] == 1.0 and all(a <= b for a, b in zip(p, p[1:]))
    assert len(p) > 20          # the slow part reports as it goes


def test_contact_sheet_has_one_tile_per_counted_vehicle(news):
    import cv2
    out, report = news["out"], news["report"]
    layout = json.loads((out / "contact_sheet.json").read_text())
    img = cv2.imread(str(out / "contact_sheet.png"))
    assert (layout["width"], layout["height"]) == (img.shape[1], img.shape[0])
    tiles = layout["tiles"]
    assert len(tiles) == layout["total"] == report.total
    assert [t["track_id"] for t in tiles] == [e.track_id for e in report.events]
    assert [t["clip_time_s"] for t in tiles] == sorted(t["clip_time_s"] for t in tiles)
    rects = []
    for t in tiles:
        r = t["tile"]
        assert 0 <= r["x"] and r["x"] + r["w"] <= img.shape[1]
        assert 0 <= r["y"] and r["y"] + r["h"] <= img.shape[0]
        for (x, y, w, h) in rects:                       # tiles never overlap
            assert r["x"] >= x + w or x >= r["x"] + r["w"] or r["y"] >= y + h or y >= r["y"] + r["h"]
        rects.append((r["x"], r["y"], r["w"], r["h"]))
        assert not t["missing"]
        # the crop holds the whole box of the observation nearest the crossing
        x0, y0, x1, y1 = t["crop_px"]
        bx0, by0, bx1, by1 = t["box"]
        assert x0 <= bx0 and y0 <= by0 and bx1 <= x1 and by1 <= y1
        # the picture is a real crop (not blank) with the track's box drawn in its colour
        pic = img[t["picture"]["y"]:t["picture"]["y"] + t["picture"]["h"],
                  t["picture"]["x"]:t["picture"]["x"] + t["picture"]["w"]].astype(int)
        assert pic.std() > 8
        dist = np.abs(pic - np.array(track_colour(t["track_id"]))).sum(axis=2)
        assert (dist < 30).sum() > 40
    # and the tile area outside the tiles is background: counting tiles = counting vehicles
    mask = np.ones(img.shape[:2], bool)
    for (x, y, w, h) in rects:
        mask[y:y + h, x:x + w] = False
    mask[:50] = False                                    # title
    assert img[mask].std() < 1.0


@pytest.mark.parametrize("which", ["news", "vfr"])
def test_annotated_video_keeps_every_frame_and_its_timestamp(which, request):
    case = request.getfixturevalue(which)
    src, ann = case["clip"], case["out"] / "annotated.mp4"
    t_in, t_out = _times(src), _times(ann)
    assert len(t_out) == len(t_in) == case["report"].frames_processed
    assert max(abs(a - b) for a, b in zip(t_in, t_out)) <= TICK_S + 1e-9
    pin, pout = probe(src), probe(ann)
    assert (pout.width, pout.height) == (pin.width, pin.height)   # upright, no scaling
    assert pout.vfr == pin.vfr
    if which == "vfr":
        assert pin.vfr and pin.rotation == 90


def test_annotation_is_drawn_where_the_pipeline_saw_things(news):
    """The counting line and a confirmed box sit on the right pixels."""
    report, ann = news["report"], news["out"] / "annotated.mp4"
    tr = max(report.tracks, key=lambda t: len(t.observations))
    obs = tr.observations[len(tr.observations) // 2]
    before, after = _frame(news["clip"], obs.frame_index).astype(int), \
        _frame(ann, obs.frame_index).astype(int)
    h, w = before.shape[:2]

    def colour_dist(img, pts, bgr):
        return float(np.mean([np.abs(img[y, x] - np.array(bgr)).sum() for x, y in pts]))

    (x1, y1), (x2, y2) = line_pixels(report.line, report.probe.width, report.probe.height)
    line_pts = [(int(round(x1 + (x2 - x1) * s)), int(round(y1 + (y2 - y1) * s)))
                for s in np.linspace(0.4, 0.95, 40)]                 # below the text panel
    line_pts = [(min(x, w - 1), min(y, h - 1)) for x, y in line_pts]
    assert colour_dist(after, line_pts, LINE_BGR) < colour_dist(before, line_pts, LINE_BGR) - 100
    bx1, by1, bx2, by2 = (int(round(v)) for v in obs.box)
    edge = [(bx1, y) for y in range(by1 + 3, by2 - 2)] + [(bx2, y) for y in range(by1 + 3, by2 - 2)]
    c = track_colour(tr.track_id)
    assert colour_dist(after, edge, c) < colour_dist(before, edge, c) - 100


def test_odd_sized_input_is_padded_not_scaled(tmp_path):
    import av
    from fractions import Fraction
    clip = tmp_path / "odd.mkv"
    with av.open(str(clip), "w") as out:
        s = out.add_stream("ffv1")          # lossless and fine with odd sizes
        s.width, s.height, s.pix_fmt = 161, 91, "yuv420p"
        s.time_base = s.codec_context.time_base = Fraction(1, 1000)
        for i in range(12):
            img = np.full((91, 161, 3), 90, np.uint8)
            img[40:60, 10 + 10 * i:40 + 10 * i] = (30, 200, 230)
            f = av.VideoFrame.from_ndarray(img, format="bgr24")
            f.pts = 40 * i + (15 if i == 7 else 0)          # uneven: a VFR clip
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    report = analyze(clip, line="0.5,0,0.5,1")
    write_evidence(report, tmp_path / "ev")
    ann = tmp_path / "ev" / "annotated.mp4"
    assert (probe(ann).width, probe(ann).height) == (162, 92)
    t_in, t_out = _times(clip), _times(ann)
    assert len(t_in) == len(t_out) == 12
    assert max(abs(a - b) for a, b in zip(t_in, t_out)) <= TICK_S + 1e-9
    # the picture is not moved: the static background row is where it was
    a, b = _frame(clip, 0).astype(int), _frame(ann, 0).astype(int)
    assert np.abs(a[85, 100] - b[85, 100]).max() < 12


def test_tracks_txt_is_motchallenge_and_matches_the_tracks(news):
    report = news["report"]
    with open(news["out"] / "tracks.txt", newline="") as f:
        rows = list(csv.reader(f))
    assert rows and all(len(r) == 10 for r in rows)
    vals = np.array(rows, dtype=float)
    assert set(vals[:, 1].astype(int)) == {t.track_id for t in report.tracks}
    assert len(rows) == sum(len(t.observations) for t in report.tracks)
    assert (vals[:, 7:] == -1).all() and (vals[:, 4:6] > 0).all()
    assert vals[:, 0].min() >= 1 and vals[:, 0].max() <= report.frames_processed
    assert (np.diff(vals[:, 0]) >= 0).all()               # frame order, as MOT files are
    by_key = {(int(r[0]), int(r[1])): r[2:6] for r in vals}
    for t in report.tracks:
        for o in t.observations:
            x, y, w, h = by_key[(o.frame_index + 1, t.track_id)]
            assert np.allclose((x, y, x + w, y + h), o.box, atol=0.01)


# ------------------------------------------------------------------------------ html


def test_report_html_is_one_offline_file(news):
    page = (news["out"] / "report.html").read_text(encoding="utf-8")
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page.lower() and "<link" not in page.lower()
    assert "url(" not in page and "@import" not in page
    srcs = re.findall(r"""\bsrc\s*=\s*["']?([^"' >]+)""", page)
    assert len(srcs) == 2 and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert not re.findall(r"""\bhref\s*=""", page)
    # user text is escaped: a claim with markup stays text
    report = dataclasses.replace(news["report"], input_path="<img src=x onerror=alert(1)>.mp4")
    from convoycount.evidence.html import render_html
    page2 = render_html(report, contact_sheet_png=None, timeline_png=None,
                        command_line="convoycount count '<b>'", files=[], render={},
                        annotated=None)
    assert "<img src=x" not in page2 and "&lt;img src=x onerror=alert(1)&gt;" in page2
    assert "convoycount count &#x27;&lt;b&gt;&#x27;" in page2



def test_a_crossing_counted_across_an_id_switch_names_both_tracks(news):
    # what the counter decided (LineCounter._handoffs, _same_vehicle: tests/test_camera_count.py)
    # reaches every place a verifier reads events: report.json, events.csv, report.html
    from convoycount.evidence.html import render_html
    e0 = news["report"].events[0]
    ev = dataclasses.replace(e0, continues_track=e0.track_id + 100, also_tracks=(e0.track_id + 200,))
    report = dataclasses.replace(news["report"], events=[ev] + list(news["report"].events[1:]))
    assert report.to_dict()["events"][0]["continues_track"] == e0.track_id + 100
    row = report.to_csv().splitlines()[1].split(",")
    assert row[-2:] == [str(e0.track_id + 100), str(e0.track_id + 200)]
    page = render_html(report, contact_sheet_png=None, timeline_png=None, command_line=None,
                       files=[], render={}, annotated=None)
    assert f"{e0.track_id} (after #{e0.track_id + 100}) (also #{e0.track_id + 200})" in page
    assert news["report"].to_csv().splitlines()[1].endswith(",,")    # an ordinary crossing: empty

def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None,
                    reason="headless Chromium not installed (apt-get install chromium; CI does)")
def test_report_html_renders_in_headless_chromium(news, tmp_path):
    import cv2
    report = news["report"]
    uri = (news["out"] / "report.html").resolve().as_uri()
    base = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}"]
    shot = tmp_path / "shot.png"
    subprocess.run(base + [f"--screenshot={shot}", "--window-size=1200,2000", uri],
                   capture_output=True, timeout=90, check=True)
    img = cv2.imread(str(shot))
    assert img is not None and img.shape[:2] == (2000, 1200)
    assert img.astype(float).std() > 20                        # not a blank page
    # the verdict comes first, in its colour
    verdict = report.claim.verdict
    hexc = VERDICT_COLOURS[verdict].lstrip("#")
    bgr = np.array([int(hexc[4:6], 16), int(hexc[2:4], 16), int(hexc[0:2], 16)])
    top = img[:250].astype(int)
    assert (np.abs(top - bgr).sum(axis=2) < 20).mean() > 0.1
    dom = subprocess.run(base + ["--dump-dom", uri], capture_output=True, text=True,
                         timeout=90, check=True).stdout
    text = " ".join(re.sub(r"<[^>]+>", " ", dom).split())
    assert f"{report.total} vehicles crossed the counting line" in text
    assert verdict.upper() in text
    assert report.input_sha256 in text
    assert report.claim.text in text


# ------------------------------------------------------------------------------ robustness

CHILD = r"""
import pickle, sys, time
from convoycount.evidence import write_evidence
report = pickle.load(open(sys.argv[1], "rb"))
def progress(f):
    print(f"{f:.4f}", flush=True)
    if f > 0.05:
        time.sleep(0.01)     # slow the child down so the parent can kill it mid-video
write_evidence(report, sys.argv[2], progress=progress)
print("done", flush=True)
"""


def test_killed_run_leaves_no_report_json_and_no_partial_file(news, tmp_path):
    out = tmp_path / "ev"
    shutil.copytree(news["out"], out)            # a complete earlier run in the same place
    pkl = tmp_path / "report.pkl"
    pkl.write_bytes(pickle.dumps(news["report"]))
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(pkl), str(out)],
                             stdout=subprocess.PIPE, text=True)
    try:
        for line in child.stdout:
            assert line.strip() != "done", "the child finished before it could be killed"
            if float(line) >= 0.3:               # deep inside annotated.mp4
                break
        temps = list(out.glob(".annotated.*.mp4"))
        assert temps, "annotated.mp4 is not being written at 30 % progress"
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
    left = sorted(p.name for p in out.iterdir())
    visible = [n for n in left if not n.startswith(".")]
    assert "report.json" not in left and "annotated.mp4" not in left
    # only files this run finished, each one complete
    assert set(visible) <= {"events.csv", "tracks.txt"}
    for n in visible:
        assert (out / n).read_bytes() == (news["out"] / n).read_bytes()
    assert all(TEMP_NAME.match(n) for n in left if n.startswith(".") and n != MANIFEST)
    # the next run clears the leftovers (they are recorded as its own) and completes
    write_evidence(news["report"], out, annotate=False)
    names = sorted(p.name for p in out.iterdir())
    assert [n for n in names if n.startswith(".")] == [MANIFEST]
    assert "report.json" in names and "annotated.mp4" not in names


def test_no_claim_no_video(news, tmp_path):
    report = dataclasses.replace(news["report"], claim=None)
    written = write_evidence(report, tmp_path, annotate=False)
    assert "annotated.mp4" not in written and not (tmp_path / "annotated.mp4").exists()
    layout = json.loads((tmp_path / "contact_sheet.json").read_text())
    assert len(layout["tiles"]) == report.total and not any(t["missing"] for t in layout["tiles"])
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    noun = "VEHICLE" if report.total == 1 else "VEHICLES"
    assert "no claim was given" in page and f"{report.total} {noun} COUNTED" in page


def test_changed_input_is_refused_and_old_evidence_kept(news, tmp_path):
    out = tmp_path / "ev"
    shutil.copytree(news["out"], out)
    report = dataclasses.replace(news["report"], input_sha256="0" * 64)
    with pytest.raises(InputError, match="changed since it was analysed"):
        write_evidence(report, out)
    assert sorted(p.name for p in out.iterdir()) == sorted(EVIDENCE_FILES + (MANIFEST,))


def test_evidence_never_overwrites_the_input(news, tmp_path):
    clip = tmp_path / "annotated.mp4"            # a clip that happens to have an evidence name
    shutil.copyfile(news["clip"], clip)
    report = dataclasses.replace(news["report"], input_path=str(clip))
    with pytest.raises(ConvoyCountError, match="overwrite the input"):
        write_evidence(report, tmp_path)
    assert clip.read_bytes() == Path(news["clip"]).read_bytes()
