"""Integrity (issue 17), the harder cases: edits in shaky, noisy footage, a loop in
stopped traffic, a speed-up from a point on, and the real clips' own properties."""
import numpy as np
import pytest

from convoycount.integrity import check, signatures_of
from convoycount.realclips import realclips_dir, why_missing
from convoycount.synth import generate, scenario
from convoycount.synth.edit import plan_edit

REAL = realclips_dir()
REAL_NAMES = [f"{n}.mp4" for n in ("intersection_clock", "dashcam_trucks", "city_cut_a", "residential_a",
                                   "city_street_a")]
needs_clips = pytest.mark.skipif(why_missing(REAL_NAMES) is not None, reason=why_missing(REAL_NAMES) or "")


def _found(findings, kind, start_s):
    return [f for f in findings if f.kind == kind and abs(f.start_s - start_s) <= 0.5]


@pytest.fixture(scope="module")
def shaky(tmp_path_factory):
    """A shaky (6 px), noisy (sigma 8), crf 32 clip with a gap, and one with duplicated frames.
    (With fewer vehicles, seed 5 puts its gap where one small vehicle jumps: the mean
    change beyond shake is 3x its neighbours', under the 4.5x a jump needs, and it is
    missed: the limit of the method, see benchmarks/RESULTS.md.)"""
    root = tmp_path_factory.mktemp("shaky")
    out = {}
    for edit in ("gap", "dup"):
        path = root / f"{edit}.mp4"
        out[edit] = (path, generate(path, scenario("shaky_noisy", seed=1), edit=edit))
    return out


@pytest.mark.parametrize("edit", ["gap", "dup"])
def test_an_edit_in_shaky_noisy_footage_is_found_and_nothing_else(shaky, edit):
    path, truth = shaky[edit]
    want = truth.edit["finding"]
    findings = check(signatures_of(path)).findings
    assert _found(findings, want["kind"], want["start_s"]), [f.to_dict() for f in findings]
    assert {f.kind for f in findings} == {want["kind"]}, [f.to_dict() for f in findings]


def test_a_jump_is_a_solid_change_not_the_trembling_of_a_shaking_camera(shaky):
    path, truth = shaky["gap"]
    log = signatures_of(path)
    i = int(np.searchsorted(log.t, truth.edit["finding"]["start_s"] - 1e-6))   # first frame after the gap
    others = np.delete(log.solid_change, [i])
    assert log.solid_change[i] > 10 * np.percentile(others, 99)


def test_the_speed_edit_drops_every_other_frame_from_its_point_on():
    plan = plan_edit("speed", 300, 30.0, 150, np.random.default_rng(1))
    a = plan.finding["start"]
    assert plan.frame_map[:a] == list(range(a)) and plan.frame_map[a:] == list(range(a, 300, 2))
    assert plan.finding == {"kind": "speed_change", "start": a, "end": len(plan.frame_map) - 1}


@pytest.mark.slow
def test_a_speed_up_from_a_point_on_is_found_from_the_vehicles(tmp_path):
    import convoycount
    path = tmp_path / "speed.mp4"
    truth = generate(path, scenario("two_way", seed=1), edit="speed").edit["finding"]
    report = convoycount.analyze(path)
    found = _found(report.integrity.findings, "speed_change", truth["start_s"])
    assert found and "plays" in found[0].detail, report.integrity.to_dict()
    assert {f.kind for f in report.integrity.findings} == {"speed_change"}


@pytest.mark.slow
def test_a_loop_of_stopped_traffic_is_found_from_its_seam(tmp_path):
    # seed 100: the loop's seam falls while the queue stands, so the footage barely moves
    path = tmp_path / "loop.mp4"
    truth = generate(path, scenario("stop_and_go", seed=100), edit="loop").edit["finding"]
    findings = check(signatures_of(path)).findings
    rep = _found(findings, "repeat", truth["start_s"])
    assert rep and abs(rep[0].source_start_s - truth["source_start_s"]) <= 0.5, [f.to_dict() for f in findings]
    assert {f.kind for f in findings} == {"repeat"}


@pytest.mark.slow
@needs_clips
@pytest.mark.parametrize("clip,kind,start_s", [("intersection_clock", "duplicated_frames", None),
                                               ("dashcam_trucks", "duplicated_frames", None),
                                               ("city_cut_a", "cut", 28.06),
                                               ("residential_a", "timestamp", 11.76),
                                               ("city_street_a", None, None)])
def test_the_real_clips_own_properties_are_found_and_nothing_else(clip, kind, start_s):
    findings = check(signatures_of(REAL / f"{clip}.mp4")).findings
    assert {f.kind for f in findings} == ({kind} if kind else set()), [f.to_dict() for f in findings]
    if start_s is not None:
        assert _found(findings, kind, start_s)


def _restream(src, dst, show):
    """Re-encode `src` at its own rate with output frame j showing source frame
    show(j): how a stream that holds or repeats pictures reaches a channel."""
    import av
    with av.open(str(src)) as c:
        stream = c.streams.video[0]
        rate = stream.average_rate
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(stream)]
    with av.open(str(dst), "w") as out:
        vs = out.add_stream("libx264", rate=rate)
        vs.height, vs.width = frames[0].shape[:2]
        vs.pix_fmt = "yuv420p"
        for j in range(len(frames)):
            for pkt in vs.encode(av.VideoFrame.from_ndarray(frames[show(j)], format="rgb24")):
                out.mux(pkt)
        for pkt in vs.encode():
            out.mux(pkt)


def test_a_stream_that_stalls_and_resumes_is_not_a_gap(tmp_path):
    # every 45 frames the picture freezes for 3 frames, then resumes at the current time:
    # the step after the stall shows 4 frames of motion in 4 frames of time, nothing is
    # missing (seed 3: before leaps counted the time a step carries, two such steps were gaps)
    src, dst = tmp_path / "src.mp4", tmp_path / "stalls.mp4"
    generate(src, _short("two_way", 3))
    _restream(src, dst, lambda j: j - j % 45 if j % 45 <= 3 else j)
    findings = check(signatures_of(dst)).findings
    assert {f.kind for f in findings} == {"duplicated_frames"}, [f.to_dict() for f in findings]


def test_a_span_reversed_in_a_stream_of_held_pictures_is_one_reversal_not_two_gaps(tmp_path):
    # each picture held for two frames (a 15 fps camera's stream at 30 fps): across the
    # reversed span the pictures are 2-3 frames of motion apart, not one (seed 1: two gaps before)
    src, dst = tmp_path / "src.mp4", tmp_path / "held.mp4"
    want = generate(src, _short("two_way", 1, n_vehicles=12), edit="reverse").edit["finding"]
    _restream(src, dst, lambda j: j - j % 2)
    findings = check(signatures_of(dst)).findings
    assert _found(findings, "reversed", want["start_s"]), [f.to_dict() for f in findings]
    assert {f.kind for f in findings} == {"reversed", "duplicated_frames"}, [f.to_dict() for f in findings]


def _short(name, seed, **kw):
    """A shorter clip of the scenario (fewer vehicles), for the fast tests."""
    return scenario(name, seed=seed, **{"n_vehicles": 8, **kw})


# The speed-change rules on vertical seeds 1 and 200 and stop_and_go seeds 1, 200 and 400
# are tested on those clips' recorded tracks (tests/test_speed_recorded.py).


@needs_clips
@pytest.mark.slow
def test_one_driver_pulling_away_on_a_real_street_is_not_a_speed_change(tmp_path):
    # city_cut_a with 16-18.5 s reversed (the benchmark's edit): around 23.8 s one car
    # steps up 1.5x while pulling away, another, cut by the frame's left border all along,
    # creeps on, and the traffic after passes the same places ~1.6x faster. One vehicle
    # stepping alone is a driver, not the clip (with one allowed: a false speed_change at
    # 23.8 s); the creeping one's cruise comes from its free box edges (with none, its
    # jitter passed as the second step: a false speed_change at 23.8 s)
    # The whole clip is analysed: from 8, 10, 12 or 14 s on (--start) the motion
    # background and so the tracks differ, and with the old cruise (centres of whole
    # boxes only) the test then passed: the span would lose what this test guards.
    import subprocess

    import imageio_ffmpeg

    import convoycount
    path = tmp_path / "city_cut_a_reverse.mp4"
    v = "[0:v]"
    fc = (f"{v}trim=0:16,setpts=PTS-STARTPTS[p0];{v}trim=16:18.5,setpts=PTS-STARTPTS,reverse[p1];"
          f"{v}trim=18.5,setpts=PTS-STARTPTS[p2];[p0][p1][p2]concat=n=3:v=1[o]")
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(REAL / "city_cut_a.mp4"),
                    "-filter_complex", fc, "-map", "[o]", "-an", "-c:v", "libx264", "-preset", "veryfast",
                    "-crf", "26", "-fps_mode", "cfr", "-r", _rate(REAL / "city_cut_a.mp4"), str(path)], check=True)
    findings = convoycount.analyze(path).integrity.findings
    assert not [f for f in findings if f.kind == "speed_change"], [f.to_dict() for f in findings]
    assert _found(findings, "reversed", 16.0), [f.to_dict() for f in findings]


def _rate(src) -> str:
    import av
    with av.open(str(src)) as c:
        return str(c.streams.video[0].guessed_rate)
