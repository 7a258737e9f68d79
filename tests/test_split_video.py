"""Steps of `video.probe` that no clip in test_video.py reaches on its own."""
from fractions import Fraction

from convoycount import video

TB = Fraction(1, 90000)


def test_shared_timestamps_are_reported_and_make_the_clip_vfr():
    warnings = []
    timing = video._measure_timing([0, 3600, 3600, 7200], TB, 25.0, warnings)
    assert warnings[0] == "1 frame(s) share a timestamp with another frame"
    # a zero-length frame is a squeeze far below the median duration
    assert timing.vfr is True and warnings[1].startswith("variable frame rate: ")
    assert timing.frames == 4
    assert timing.fps_measured == 3 / 0.08


def test_a_single_timestamp_falls_back_to_the_header_rate():
    warnings = []
    timing = video._measure_timing([9000], TB, 25.0, warnings)
    assert timing.fps_measured == 25.0
    assert timing.duration_s == 1 / 25.0
    assert timing.start_s == 0.1
    assert warnings == ["only one distinct timestamp: fps_measured falls back to the header"]


def test_packets_presented_before_the_first_picture_are_not_counted():
    # (pts, keyframe, discard) in decode order: the keyframe at 3600 is the first
    # picture, the packet at 0 comes after it in decode order but is shown earlier
    rows = [(3600, True, False), (0, False, False), (7200, False, False), (None, False, False)]
    warnings = []
    assert video._showable_pts(rows, 3600, float(TB), warnings) == [3600, 7200]
    assert warnings == [
        "1 packet(s) have no timestamp and were not counted",
        "1 packet(s) after the first keyframe present before the first decodable picture "
        "and are not counted",
    ]


def test_without_keyframe_flags_every_packet_counts():
    rows = [(0, False, False), (3600, False, False)]
    warnings = []
    assert video._showable_pts(rows, 0, float(TB), warnings) == [0, 3600]
    assert warnings == ["no packet is flagged as a keyframe; counting all packets"]
