"""convoycount.video: probe() and frames() against clips written with known pts
(tests/clipfactory.py) and, when present, the real clips in ../shared/realclips."""
from __future__ import annotations

import json
import statistics
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import clipfactory as cf
import hostile_corpus as hc
from convoycount.errors import InputError
from convoycount.realclips import realclips_dir, why_missing
from convoycount.video import ClipInfo, Frame, frames, probe

TICK = 1 / 90000


def _times(path, **kw):
    return [f.time_s for f in frames(path, **kw)]


# ----------------------------------------------------------------------------- VFR


@pytest.fixture(scope="module")
def vfr_clip(tmp_path_factory):
    # irregular durations incl. NTSC-ish 3003 and 2970 ticks, a 100 ms gap, and a
    # first pts that is not a whole millisecond
    rng = np.random.default_rng(7)
    dur = rng.choice([2000, 3000, 3003, 4500, 9000, 2970], size=45)
    pts = (12345 + np.concatenate([[0], np.cumsum(dur)[:-1]])).astype(int).tolist()
    return cf.write_video(tmp_path_factory.mktemp("vfr") / "vfr.mp4", pts, bframes=2)


def test_vfr_frame_times_are_the_written_pts(vfr_clip):
    got = _times(vfr_clip.path)
    assert len(got) == len(vfr_clip.times_s)
    assert np.max(np.abs(np.array(got) - np.array(vfr_clip.times_s))) <= TICK
    assert got == sorted(got)


def test_stride_yields_every_nth_frame_with_its_own_time(vfr_clip):
    every = list(frames(vfr_clip.path))
    third = list(frames(vfr_clip.path, stride=3))
    assert [f.index for f in third] == list(range(0, len(every), 3))
    # the very same timestamps as a full decode: a stride never re-times (VFR clip)
    assert [f.time_s for f in third] == [every[i].time_s for i in range(0, len(every), 3)]
    assert all(np.array_equal(f.image, every[f.index].image) for f in third)


@pytest.mark.parametrize("bad", [0, -1, 1.5])
def test_bad_stride_is_an_input_error(vfr_clip, bad):
    with pytest.raises(InputError, match="stride"):
        frames(vfr_clip.path, stride=bad)


@pytest.mark.parametrize("full_decode", [False, True])
def test_vfr_probe_measures_from_timestamps(vfr_clip, full_decode):
    info = probe(vfr_clip.path, full_decode=full_decode)
    pts = vfr_clip.pts_decodable
    span_s = (pts[-1] - pts[0]) * TICK
    med_s = statistics.median(np.diff(pts)) * TICK
    assert info.vfr is True
    assert info.frames == len(pts) == info.frames_declared
    assert info.start_time_s == pytest.approx(pts[0] * TICK, abs=TICK)
    assert info.fps_measured == pytest.approx((len(pts) - 1) / span_s, rel=1e-9)
    assert info.duration_s == pytest.approx(span_s + med_s, abs=TICK)
    assert info.time_base == "1/90000"
    assert info.truncated is False
    assert info.full_decode is full_decode
    assert any("variable frame rate" in w for w in info.warnings)


# ----------------------------------------------------------------------------- CFR


def test_2997_stays_2997_mp4(tmp_path):
    tb = Fraction(1, 30000)
    fps = Fraction(30000, 1001)
    truth = cf.write_video(tmp_path / "ntsc.mp4", cf.cfr_pts(30, fps, tb), time_base=tb, rate=fps)
    info = probe(truth.path)
    assert isinstance(info.fps_nominal, float)
    assert info.fps_nominal == pytest.approx(30000 / 1001, rel=1e-9)
    assert info.fps_measured == pytest.approx(30000 / 1001, rel=1e-9)
    assert info.vfr is False
    assert info.duration_s == pytest.approx(30 * 1001 / 30000, rel=1e-9)
    assert info.warnings == ()


def test_2997_in_millisecond_timebase_is_not_vfr(tmp_path):
    # Matroska stores ms: durations alternate 33/34 ms. That is rounding, not VFR.
    fps = Fraction(30000, 1001)
    tb = Fraction(1, 30000)
    truth = cf.write_video(tmp_path / "ntsc.mkv", cf.cfr_pts(40, fps, tb), time_base=tb, rate=fps)
    info = probe(truth.path)
    assert info.time_base == "1/1000"
    assert info.vfr is False
    assert info.fps_nominal == pytest.approx(30000 / 1001, rel=1e-6)
    assert info.fps_measured == pytest.approx(30000 / 1001, rel=2e-3)
    got = _times(truth.path)
    assert np.max(np.abs(np.array(got) - np.array(truth.times_s))) <= 0.0005 + 1e-9


def test_first_pts_after_zero(tmp_path):
    truth = cf.write_video(tmp_path / "late.mp4", cf.cfr_pts(20, Fraction(25), start_s=1.5))
    info = probe(truth.path)
    assert info.start_time_s == pytest.approx(1.5, abs=TICK)
    assert info.fps_measured == pytest.approx(25.0, rel=1e-9)
    assert info.vfr is False
    assert info.duration_s == pytest.approx(20 / 25, abs=TICK)
    fr = list(frames(truth.path))
    assert fr[0].index == 0 and fr[0].time_s == pytest.approx(1.5, abs=TICK)
    assert [f.index for f in fr] == list(range(20))
    assert [f.time_s for f in fr] == pytest.approx(truth.times_s, abs=TICK)


def test_one_dropped_frame_makes_cfr_clip_vfr(tmp_path):
    pts = cf.cfr_pts(50, Fraction(25))
    del pts[20]                                   # one 80 ms gap in a 40 ms clip
    truth = cf.write_video(tmp_path / "drop.mp4", pts)
    info = probe(truth.path)
    assert info.vfr is True
    assert info.fps_measured == pytest.approx(48 / (49 * 0.04), rel=1e-9)
    assert any("0.760-0.840" in w for w in info.warnings)


def test_frame_image_format_is_bgr_uint8_contiguous(tmp_path):
    def blue_left_red_right(i, w, h):
        img = np.zeros((h, w, 3), np.uint8)
        img[:, : w // 2] = (255, 0, 0)      # BGR blue
        img[:, w // 2:] = (0, 0, 255)       # BGR red
        return img

    truth = cf.write_video(tmp_path / "col.mp4", cf.cfr_pts(3, Fraction(25)),
                           width=96, height=64, images=blue_left_red_right)
    f = next(iter(frames(truth.path)))
    assert isinstance(f, Frame)
    assert f.image.dtype == np.uint8 and f.image.shape == (64, 96, 3)
    assert f.image.flags["C_CONTIGUOUS"]
    left, right = f.image[:, 8:40].mean(axis=(0, 1)), f.image[:, 56:88].mean(axis=(0, 1))
    assert left[0] > 200 and left[2] < 60      # blue stays in channel 0
    assert right[2] > 200 and right[0] < 60


# ----------------------------------------------------------------------------- rotation


def _ffmpeg_autorotated_first_frame(path, w, h):
    """Independent reference: the ffmpeg CLI applies the display matrix itself."""
    raw = subprocess.run([cf.ffmpeg_exe(), "-v", "error", "-i", str(path), "-frames:v", "1",
                          "-f", "rawvideo", "-pix_fmt", "bgr24", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(h, w, 3)


@pytest.mark.parametrize("rotation_cw", [90, 180, 270])
def test_rotation_gives_display_size_and_upright_pixels(tmp_path, rotation_cw):
    truth = cf.write_rotated(tmp_path / f"rot{rotation_cw}.mp4", rotation_cw, width=96, height=160)
    info = probe(truth.path)
    assert info.rotation == rotation_cw
    assert (info.width, info.height) == (96, 160)
    reader = frames(truth.path)
    fr = list(reader)
    assert reader.rotation == rotation_cw
    assert len(fr) == len(truth.pts_decodable)
    img = fr[0].image
    assert img.shape == (160, 96, 3) and img.flags["C_CONTIGUOUS"]
    # known truth: white block top-left, dark bottom-right
    assert img[:40, :24].mean() > 200 and img[-40:, -24:].mean() < 120
    assert np.abs(img.astype(int) - cf.upright_reference(0, truth)).mean() < 8
    ref = _ffmpeg_autorotated_first_frame(truth.path, 96, 160)
    assert np.abs(img.astype(int) - ref).mean() < 3


def test_unrotated_clip_reports_zero(tmp_path):
    truth = cf.write_video(tmp_path / "plain.mp4", cf.cfr_pts(3, Fraction(25)), width=160, height=96)
    info = probe(truth.path)
    assert (info.rotation, info.width, info.height) == (0, 160, 96)


# ----------------------------------------------------------------------------- audio


def test_has_audio(tmp_path):
    with_audio = cf.write_video(tmp_path / "av.mp4", cf.cfr_pts(25, Fraction(25)), audio=True)
    without = cf.write_video(tmp_path / "v.mp4", cf.cfr_pts(25, Fraction(25)))
    assert probe(with_audio.path).has_audio is True
    assert probe(without.path).has_audio is False
    # the audio stream does not disturb the video timeline
    assert _times(with_audio.path) == pytest.approx(with_audio.times_s, abs=TICK)


# ----------------------------------------------------------------------------- bad inputs


def _bad_inputs(tmp: Path):
    (tmp / "empty.mp4").write_bytes(b"")
    (tmp / "adir").mkdir()
    return {
        "missing": (tmp / "does_not_exist.mp4", "not found"),
        "directory": (tmp / "adir", "directory"),
        "empty": (tmp / "empty.mp4", "empty"),
        "random": (cf.write_random_bytes(tmp / "random.mp4"), "not a recognised video"),
        "text": (cf.write_text(tmp / "notes.mp4"), "text file"),
        "audio_only": (cf.write_audio_only(tmp / "sound.m4a"), "no video stream"),
        "moov_missing": (cf.write_moov_missing(tmp / "cut.mp4"), "moov"),
        "unknown_codec": (cf.write_unknown_codec(tmp / "zzzz.mp4"), "codec"),
        "no_keyframe": (cf.write_no_keyframe(tmp / "nokey.mp4").path, "zero decodable"),
    }


BAD = ["missing", "directory", "empty", "random", "text", "audio_only", "moov_missing",
       "unknown_codec", "no_keyframe"]


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory):
    return _bad_inputs(tmp_path_factory.mktemp("bad"))


@pytest.mark.parametrize("kind", BAD)
@pytest.mark.parametrize("api", ["probe", "probe_full", "frames"])
def test_bad_input_raises_one_line_input_error(bad_inputs, kind, api):
    path, reason = bad_inputs[kind]
    with pytest.raises(InputError) as ei:
        if api == "probe":
            probe(path)
        elif api == "probe_full":
            probe(path, full_decode=True)
        else:
            list(frames(path))
    msg = str(ei.value)
    assert "\n" not in msg
    assert str(path) in msg
    assert reason in msg
    assert "Errno" not in msg and "av.error" not in msg


# ----------------------------------------------------------------------------- truncation


@pytest.fixture(scope="module")
def mdat_cut(tmp_path_factory):
    return cf.write_mdat_truncated(tmp_path_factory.mktemp("cut") / "cut.mp4", n=40, keep_fraction=0.6)


def test_mdat_truncated_probes_as_truncated(mdat_cut):
    info = probe(mdat_cut.path)
    assert info.truncated is True
    assert info.frames_declared == 40
    assert 0 < info.packets < 40
    assert any("cut short" in w for w in info.warnings)


def test_mdat_truncated_decodes_up_to_the_break(mdat_cut):
    reader = frames(mdat_cut.path)
    got = [f.time_s for f in reader]
    assert reader.truncated is True
    assert 0 < reader.decoded == len(got) < 40
    # every decoded time is a written pts, in order, and the clip is a prefix of the
    # written one up to the break (the last few B-frames may be lost with it)
    truth = mdat_cut.times_s
    assert got == sorted(got)
    assert all(min(abs(t - x) for x in truth) <= TICK for t in got)
    assert got[: len(got) - 3] == pytest.approx(truth[: len(got) - 3], abs=TICK)
    full = probe(mdat_cut.path, full_decode=True)
    assert full.truncated is True and full.frames == len(got)


def test_cut_at_packet_boundary_is_truncated_by_the_index(tmp_path):
    truth = cf.write_cut_at_packet_boundary(tmp_path / "cut.mp4", n=40, keep_packets=20)
    info = probe(truth.path)
    assert info.packets == 20 and info.frames_declared == 40
    assert info.truncated is True
    assert any("only 20 of 40" in w for w in info.warnings)
    reader = frames(truth.path)
    got = [f.time_s for f in reader]
    # 20 whole packets in decode order: all decode (references come first), but with
    # B-frames they are not the first 20 in presentation order
    assert len(got) == 20 and got == sorted(got)
    written = np.array(truth.times_s)
    assert all(np.min(np.abs(written - t)) <= TICK for t in got)
    assert reader.truncated is True       # from the index, the decoder saw nothing wrong
    assert reader.error is None


def test_a_cut_file_has_no_gaps(mdat_cut):
    # cut at the end: "truncated", as before, never a hole in the middle
    reader = frames(mdat_cut.path)
    list(reader)
    assert reader.truncated is True and reader.gaps == []
    assert probe(mdat_cut.path, full_decode=True).gaps == ()


# ----------------------------------------------------------------------------- damaged packets


@pytest.fixture(scope="module")
def damaged(tmp_path_factory):
    # issue 16: 3000 bytes overwritten in the middle; decoding used to stop there
    return hc.write_damaged_middle(tmp_path_factory.mktemp("damaged") / "damaged.mp4")


def test_damage_in_the_middle_is_a_gap_and_decoding_goes_on(damaged):
    reader = frames(damaged.path)
    got = [f.time_s for f in reader]
    truth = damaged.times_s
    assert reader.truncated is False and reader.error is None
    [gap] = reader.gaps
    # every frame outside the gap is decoded at its written time, up to the very end;
    # exactly the frames inside it are the ones lost
    outside = [t for t in truth if not gap.start_s - TICK <= t < gap.end_s - TICK]
    assert got == pytest.approx(outside, abs=TICK)
    assert gap.packets_lost == len(truth) - len(got) > 0
    assert got[-1] == pytest.approx(truth[-1], abs=TICK)
    assert len(got) > 0.8 * len(truth)
    assert "Invalid data" in gap.reason
    assert reader.warnings.count(gap.describe()) == 1


def test_full_probe_reports_the_same_gap_and_the_fast_probe_no_truncation(damaged):
    reader = frames(damaged.path)
    got = [f.time_s for f in reader]
    full = probe(damaged.path, full_decode=True)
    assert full.frames == len(got) and list(full.gaps) == reader.gaps
    assert full.truncated is False
    assert full.to_dict()["gaps"] == [g.to_dict() for g in reader.gaps]
    assert gap_warning_once(full.warnings, reader.gaps[0])
    fast = probe(damaged.path)
    assert fast.truncated is False and fast.frames == len(damaged.times_s)


def gap_warning_once(warnings, gap) -> bool:
    return list(warnings).count(gap.describe()) == 1


def test_damage_after_the_last_keyframe_is_a_truncation(tmp_path):
    truth = hc.write_moving_block(tmp_path / "block.mp4")      # keyframes at 0 and 3 s
    hit = hc.damage_packets(truth.path, tmp_path / "hit.mp4", [120])   # 4.8 s
    reader = frames(hit)
    got = [f.time_s for f in reader]
    assert reader.truncated is True and reader.gaps == []
    assert "decoding failed" in reader.error
    assert got == pytest.approx(truth.times_s[: len(got)], abs=TICK)
    assert 4.5 <= got[-1] < 4.8


def test_frames_of_a_range_report_only_the_gaps_in_it(tmp_path):
    truth = hc.write_moving_block(tmp_path / "block.mp4", gop=25)       # keyframe each 1 s
    hit = hc.damage_packets(truth.path, tmp_path / "hit.mp4", [10, 110])  # 0.4 s, 4.4 s
    whole = frames(hit)
    list(whole)
    assert [(g.start_s, g.end_s) for g in whole.gaps] == [(0.4, 1.0), (4.4, 5.0)]
    later = frames(hit, start_s=3.0)
    list(later)
    assert [(g.start_s, g.end_s) for g in later.gaps] == [(4.4, 5.0)]


@pytest.mark.slow
def test_no_crossing_is_made_up_inside_a_long_gap(tmp_path):
    """The tracker sees the real timestamps on both sides of a gap: a block last seen
    left of the line and seen again right of it 2 s later (more than lost_track_s)
    is two tracks, neither of which crossed; the gap is in the report instead."""
    import convoycount
    from convoycount.evidence.timeline import render_timeline
    from convoycount.track import TrackerSettings

    truth = hc.write_moving_block(tmp_path / "block.mp4")      # crosses x=0.5 at ~1.69 s
    intact = convoycount.analyze(truth.path, line="0.5,0,0.5,1")
    assert intact.total == 1 and intact.gaps == []
    hit = hc.damage_packets(truth.path, tmp_path / "hit.mp4", [25])    # 1.0 s; key at 3.0 s
    r = convoycount.analyze(hit, line="0.5,0,0.5,1")
    [gap] = r.gaps
    assert (gap.start_s, gap.end_s, gap.packets_lost) == (1.0, 3.0, 50)
    assert gap.end_s - gap.start_s > TrackerSettings().lost_track_s
    assert r.total == 0 and r.frames_processed == 100
    assert r.to_dict()["decode_gaps"] == [gap.to_dict()]
    assert r.warnings.count(gap.describe()) == 1
    assert r.probe.truncated is False
    # the timeline shows the band (and differs from the same report without it)
    import dataclasses
    assert render_timeline(r) != render_timeline(dataclasses.replace(r, gaps=[]))


@pytest.mark.slow
def test_a_short_gap_is_bridged_like_a_missed_detection(tmp_path):
    import convoycount
    truth = hc.write_moving_block(tmp_path / "block.mp4", gop=50)      # keys at 0, 2, 4 s
    hit = hc.damage_packets(truth.path, tmp_path / "hit.mp4", [40])    # 1.6-2.0 s lost
    r = convoycount.analyze(hit, line="0.5,0,0.5,1")
    [gap] = r.gaps
    assert (gap.start_s, gap.end_s) == (1.6, 2.0)
    # 0.4 s unseen is within lost_track_s: the same track on both sides, counted once
    assert r.total == 1 and gap.start_s <= r.events[0].clip_time_s <= gap.end_s


# ----------------------------------------------------------------------------- leading non-key packets


@pytest.mark.parametrize("full_decode", [False, True])
def test_packets_before_first_keyframe_are_not_frames(tmp_path, full_decode):
    truth = cf.write_video(tmp_path / "nk.mp4", cf.cfr_pts(40, Fraction(25)), gop=10, bframes=0,
                           drop_first_packets=4)
    assert len(truth.pts_decodable) == 30            # 6 P-frames then a keyframe at #10
    info = probe(truth.path, full_decode=full_decode)
    assert info.packets == 36
    assert info.frames == 30
    assert info.start_time_s == pytest.approx(truth.times_s[0], abs=TICK)
    assert info.truncated is False
    assert _times(truth.path) == pytest.approx(truth.times_s, abs=TICK)


# ----------------------------------------------------------------------------- start_s / end_s


@pytest.fixture(scope="module")
def gop_clip(tmp_path_factory):
    # 60 frames at 25 fps starting at 0.3 s, a keyframe every 12 frames
    return cf.write_video(tmp_path_factory.mktemp("gop") / "gop.mp4",
                          cf.cfr_pts(60, Fraction(25), start_s=0.3), gop=12, bframes=2)


@pytest.mark.parametrize("start_s,end_s", [(1.0, 1.9), (0.3, None), (None, 0.5), (0.0, 5.0),
                                           (1.01, None), (2.22, 2.22), (5.0, None)])
def test_start_end_select_by_time(gop_clip, start_s, end_s):
    truth = gop_clip.times_s
    want = [t for t in truth
            if (start_s is None or t >= start_s - 1e-9) and (end_s is None or t <= end_s + 1e-9)]
    reader = frames(gop_clip.path, start_s=start_s, end_s=end_s)
    fr = list(reader)
    assert [f.time_s for f in fr] == pytest.approx(want, abs=TICK)
    assert [f.index for f in fr] == list(range(len(want)))
    assert reader.decoded == len(want)
    assert reader.truncated is False and reader.error is None


def test_start_s_in_mpegts_where_seeks_land_late(tmp_path):
    # MPEG-TS seeks by bitrate estimate and lands after the target: no frame at or
    # after start_s may be lost.
    truth = cf.write_video(tmp_path / "cam.ts", cf.cfr_pts(100, Fraction(25), start_s=0.3), gop=12)
    full = _times(truth.path)
    assert full == pytest.approx(truth.times_s, abs=TICK)
    for start_s in (1.0, 2.5, 3.3):
        got = _times(truth.path, start_s=start_s, end_s=start_s + 0.5)
        assert got == pytest.approx([t for t in full if start_s <= t <= start_s + 0.5], abs=TICK)


def test_end_before_start_is_an_input_error(gop_clip):
    with pytest.raises(InputError):
        frames(gop_clip.path, start_s=2.0, end_s=1.0)


def test_to_dict_is_json_ready(vfr_clip):
    info = probe(vfr_clip.path)
    assert isinstance(info, ClipInfo)
    d = info.to_dict()
    assert set(d) >= {"path", "fps_measured", "vfr", "warnings", "rotation", "time_base"}
    assert json.loads(json.dumps(d)) == d


# ----------------------------------------------------------------------------- real clips


@pytest.fixture(scope="module")
def realclips():
    reason = why_missing(("residential_a.mp4", "highway_a.mp4", "city_street_a.mp4"))
    if reason:
        pytest.skip(reason)
    return realclips_dir()


@pytest.mark.realclips
@pytest.mark.parametrize("full_decode", [False, True])
def test_real_residential_a_vfr_leading_nonkey(realclips, full_decode):
    info = probe(realclips / "residential_a.mp4", full_decode=full_decode)
    assert info.frames == 734
    assert info.frames_declared == 754 and info.packets == 754
    assert info.start_time_s == pytest.approx(1.86, abs=TICK)
    assert info.vfr is True
    assert info.truncated is False
    assert (info.width, info.height, info.rotation) == (640, 360, 0)


@pytest.mark.realclips
def test_real_residential_a_frames_and_gap(realclips):
    reader = frames(realclips / "residential_a.mp4")
    t = np.array([f.time_s for f in reader])
    assert reader.decoded == len(t) == 734 and not reader.truncated
    assert t[0] == pytest.approx(1.86, abs=TICK)
    i = int(np.argmax(np.diff(t)))
    assert (t[i], t[i + 1]) == (pytest.approx(11.76, abs=0.01), pytest.approx(12.54, abs=0.01))
    # a seek lands on exactly the frames a full decode gives after start_s
    later = _times(realclips / "residential_a.mp4", start_s=30.0, end_s=40.0)
    assert later == pytest.approx([x for x in t if 30.0 <= x <= 40.0], abs=TICK)
    # before the first decodable frame: the clip starts at 1.86 s, no frame is lost
    early = _times(realclips / "residential_a.mp4", start_s=0.5, end_s=3.0)
    assert early == pytest.approx([x for x in t if x <= 3.0], abs=TICK)


@pytest.mark.realclips
def test_real_highway_a_ntsc_rate(realclips):
    info = probe(realclips / "highway_a.mp4")
    assert info.fps_measured == pytest.approx(30000 / 1001, rel=1e-6)
    assert info.fps_nominal == pytest.approx(30000 / 1001, rel=1e-9)
    assert info.frames == 450 and info.vfr is False and info.truncated is False
    assert (info.width, info.height) == (1280, 720)


@pytest.mark.realclips
def test_real_city_street_a_starts_at_40ms(realclips):
    info = probe(realclips / "city_street_a.mp4")
    assert info.start_time_s == pytest.approx(0.040, abs=TICK)
    assert info.frames_declared is None and info.frames == 1190
    assert info.fps_measured == pytest.approx(25.0, rel=1e-9)
