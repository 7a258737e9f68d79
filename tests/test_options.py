"""AnalysisOptions: one options object, checked once, the same from the API, the
CLI and batch, and recorded as the report's params."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

import convoycount
from convoycount.count import Line
from convoycount.detect import DetectorOptions
from convoycount.errors import ConvoyCountError
from convoycount.options import AnalysisOptions
from convoycount.track import TrackerSettings

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def test_flat_keywords_fill_the_detector_and_normalise_text():
    o = AnalysisOptions.from_keywords(detector="coco", conf=0.3, classes="car, truck",
                                      line="0.5,0,0.5,1", speedup="4", stride=2)
    assert o.detector == DetectorOptions("coco", conf=0.3, classes=("car", "truck"))
    assert o.line == Line(0.5, 0.0, 0.5, 1.0)
    assert o.speedup == 4.0 and o.stride == 2
    assert AnalysisOptions.from_keywords(speedup="auto").speedup == "auto"
    # replace keeps what it is not told to change
    p = o.replace(claim="nine vehicles in 10 seconds")
    assert p.detector == o.detector and p.line == o.line and p.parsed_claim.count == 9
    assert o.claim is None                         # frozen: o itself is unchanged


@pytest.mark.parametrize("kw, words", [
    (dict(line="1,2"), "four numbers"),
    (dict(line="0,0,2,1"), "0..1"),
    (dict(claim="blue sky"), "claim"),
    (dict(speedup=2, real_duration_s=10), "not both"),
    (dict(speedup=-1), "positive number or 'auto'"),
    (dict(speedup="fast"), "positive number or 'auto'"),
    (dict(real_duration_s=0), "real-duration"),
    (dict(start_s=5, end_s=2), "after --start"),
    (dict(claim_basis="wall"), "clip or real"),
    (dict(stride=0), "stride"),
    (dict(stable_min_frames=0), "stable_min_frames"),
    (dict(detector="radar"), "unknown detector 'radar'"),
    (dict(colour="red"), "unknown analyze option"),
    # an option the chosen detector would silently ignore
    (dict(conf=0.5), "--conf is not used by the motion detector; it applies to --detector coco"),
    (dict(imgsz=320), "--imgsz is not used by the motion detector"),
    (dict(model="models/convoy-yolo.pt"), "--model is not used by the motion detector"),
    (dict(classes="car"), "--classes is not used by the motion detector"),
    (dict(detector="coco", device="cpu"), "--device is not used by the coco detector; "
                                          "it applies to --detector yolo / auto"),
])
def test_every_bad_option_is_one_clear_error(kw, words):
    with pytest.raises(ConvoyCountError, match=words) as e:
        AnalysisOptions.from_keywords(**kw)
    assert "\n" not in str(e.value)


def test_bad_settings_are_refused_by_their_own_dataclass():
    with pytest.raises(ValueError, match="min_hits"):
        AnalysisOptions.from_keywords(tracker=TrackerSettings(min_hits=0))


def test_params_record_every_setting_and_are_json():
    o = AnalysisOptions.from_keywords(detector="yolo", model="m.pt", imgsz=480, classes=["car"],
                                      line="0,0.5,1,0.5", speedup=3, claim="at least 2 cars")
    params = json.loads(json.dumps(o.params()))
    assert params["detector"] == "yolo" and params["model"] == "m.pt" and params["imgsz"] == 480
    assert params["classes"] == ["car"] and params["speedup"] == 3.0
    assert params["line"]["y1"] == 0.5 and params["claim"] == "at least 2 cars"
    # Every tracker and counter constant is in params, so a result can cite them.
    assert set(params["tracker"]) == set(TrackerSettings.__dataclass_fields__)
    assert params["tracker"]["lost_track_s"] == TrackerSettings().lost_track_s


def test_api_options_object_and_keywords_give_the_same_report(news_story_readme_report):
    o = AnalysisOptions.from_keywords(speedup=4, claim="nine vehicles in 10 seconds")
    a = convoycount.analyze(SAMPLES / "news_story.mp4", o)
    b = news_story_readme_report        # analyze(news_story.mp4, speedup=4, claim=...): conftest.py
    for r in (a, b):
        assert r.total == 9 and r.claim.verdict == "inconsistent"
    assert a.params == b.params
    assert [e.to_dict() for e in a.events] == [e.to_dict() for e in b.events]


def test_cli_records_the_same_params_as_the_api(tmp_path):
    args = ["--speedup", "4", "--claim", "nine vehicles in 10 seconds", "--stride", "2",
            "--line", "0.5,0,0.5,1"]
    r = subprocess.run([sys.executable, "-m", "convoycount.cli", "count",
                        str(SAMPLES / "news_story.mp4"), "-q", "--json", "-", *args],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    cli_params = json.loads(r.stdout)["params"]
    api = convoycount.analyze(SAMPLES / "news_story.mp4", speedup=4, stride=2, line="0.5,0,0.5,1",
                              claim="nine vehicles in 10 seconds")
    assert cli_params == json.loads(json.dumps(api.params))


def test_background_is_seeded_from_the_requested_range():
    from convoycount.pipeline import PREPARE_SAMPLES, prepare_frames
    from convoycount.video import probe
    clip = SAMPLES / "two_way.mp4"
    info = probe(clip)
    whole = list(prepare_frames(clip, info, None, None))
    part = list(prepare_frames(clip, info, 2.0, 4.0))
    for got in (whole, part):
        assert PREPARE_SAMPLES * 0.8 <= len(got) <= 2 * PREPARE_SAMPLES, len(got)
    assert all(2.0 <= f.time_s <= 4.0 for f in part)
