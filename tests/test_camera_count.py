"""The counter's rigid-motion rule on box sequences (no video): a crossing counts only
if both ends of the box, across the line, moved forward over it.

The failures it stops were all seen on generated moving-camera clips (benchmarks/
bench_camera.py, seeds 202, 204, 213, 214): a parked car stands across the line and
its box changes as traffic passes in front of it or as the panning picture cuts it,
so its centre slides over the line while the car stands still. The vehicles it must
keep are the classic misses (../shared/peers.md): entering next to the line, a line
near the picture's edge, stopping on the line, a few frames at high speed-up."""
import pytest

from convoycount.count import CounterSettings, Line, LineCounter
from convoycount.track import Observation, Track

W, H = 640, 360
LINE = Line.parse("0.5,0,0.5,1")            # x = 320


def track(boxes, fps=15.0, scene=None):
    """A confirmed track through these image boxes; `scene`: the same boxes in scene
    pixels when the camera moved (default: the camera was fixed)."""
    scene = scene or [None] * len(boxes)
    obs = tuple(Observation(i / fps, i, tuple(float(v) for v in b), 0.9, "car",
                            None if sb is None else tuple(float(v) for v in sb))
                for i, (b, sb) in enumerate(zip(boxes, scene)))
    return Track(1, obs)


def count(tr, line=LINE, **settings):
    return LineCounter(line, W, H, CounterSettings(**settings)).count([tr])


def revealed(x1=300.0, x2=362.0, start=310.0, n=40):
    """A parked car across the line, first seen as its left part (a vehicle passing in
    front hides the rest), then whole: the right end moves, the left one stands."""
    return [(x1, 210.0, min(x2, start + 4.0 * i), 232.0) for i in range(n)]


def test_a_parked_car_revealed_by_passing_traffic_is_not_a_crossing():
    boxes = revealed()                      # centre 305 -> 331: over the line at 320
    assert len(count(track(boxes), rigid_travel_frac=0.0, min_travel_diag=0.0)) == 1
    assert count(track(boxes)) == []


def test_a_parked_car_hidden_then_seen_again_is_not_a_crossing():
    """Hidden from the left, then revealed from the left: the centre goes right, jumps
    back over the line and returns; one end stands while the other moves."""
    whole = (300.0, 210.0, 362.0, 232.0)
    hide = [(300.0 + 5.0 * i, 210.0, 362.0, 232.0) for i in range(10)]       # left end eaten
    back = [(300.0, 210.0, 312.0 + 5.0 * i, 232.0) for i in range(10)]       # right end grows
    boxes = [whole] * 10 + hide + back + [whole] * 10
    assert len(count(track(boxes), rigid_travel_frac=0.0, min_travel_diag=0.0)) == 1
    assert count(track(boxes)) == []


def test_a_parked_truck_cut_by_the_edge_of_a_panning_picture_is_not_a_crossing():
    """The camera pans right by p px: the truck (scene x 150..400) is seen up to the
    picture's left edge, so its left end in the scene is the edge, which moves with
    the pan, and its centre passes 320; its right end stands."""
    pans = [10.0 * i for i in range(40)]
    image = [(max(0.0, 150.0 - p), 200.0, 400.0 - p, 240.0) for p in pans]
    scene = [(max(p, 150.0), 200.0, 400.0, 240.0) for p in pans]
    assert count(track(image, scene=scene)) == []
    # With the rules of motion off, the edge alone refuses it: a box cut by the edge does
    # not place the truck's centre past the line (_places). The same boxes clear of the
    # edge (so seen whole) would count.
    off = dict(rigid_travel_frac=0.0, min_travel_diag=0.0)
    assert count(track(image, scene=scene), **off) == []
    clear = [(x1 + 30.0, y1, x2 + 30.0, y2) for x1, y1, x2, y2 in image]
    assert len(count(track(clear, scene=scene), **off)) == 1


def test_a_standing_track_that_takes_a_passing_car_later_does_not_count_its_slide():
    """A parked car's centre slides over the line (traffic in front), and two seconds
    later its track takes a passing car's box and drives off with it (an id switch):
    what counts is whether it moved *at* the crossing."""
    slide = revealed(n=20)
    stand = [(300.0, 210.0, 362.0, 232.0)] * 30
    away = [(300.0 + 15.0 * i, 215.0, 362.0 + 15.0 * i, 237.0) for i in range(1, 20)]
    assert len(count(track(slide + stand + away), rigid_travel_frac=0.0)) == 1
    assert count(track(slide + stand + away)) == []


@pytest.mark.parametrize("fps,speed", [(15.0, 150.0), (5.0, 600.0), (30.0, 60.0)])
def test_a_vehicle_driving_across_counts(fps, speed):
    """Ordinary traffic, a few frames at high speed-up, and a slow one."""
    dt = 1.0 / fps
    n = int(round(640 / (speed * dt))) + 1
    boxes = [(max(0.0, -40.0 + speed * dt * i), 210.0, min(640.0, 20.0 + speed * dt * i), 232.0)
             for i in range(n)]
    boxes = [b for b in boxes if b[0] < 630]
    (ev,) = count(track(boxes, fps))
    assert ev.direction == "left_to_right"


def test_a_vehicle_entering_just_before_the_line_counts():
    """It enters at the right edge 80 px from the line (x = 560): its back end is the
    picture's edge until it is whole, so until then only its front end tells."""
    line = Line.parse("0.875,0,0.875,1")
    boxes = [(630.0 - 10.0 * i, 210.0, min(640.0, 690.0 - 10.0 * i), 232.0) for i in range(60)]
    (ev,) = count(track(boxes), line=line)
    assert ev.direction == "right_to_left"


def test_a_line_near_the_picture_edge_counts_vehicles_leaving():
    """peers.md 5: a line near the edge must still count: the front end is cut after
    the crossing, the back end moves."""
    line = Line.parse("0.95,0,0.95,1")        # x = 608
    boxes = [(400.0 + 12.0 * i, 210.0, min(640.0, 460.0 + 12.0 * i), 232.0) for i in range(22)]
    boxes = [b for b in boxes if b[0] < 640]
    (ev,) = count(track(boxes), line=line)
    assert ev.direction == "left_to_right"


def test_a_vehicle_that_stops_on_the_line_counts():
    """It drives up, its centre just past the line, and stands there to the end."""
    drive = [(200.0 + 8.0 * i, 210.0, 260.0 + 8.0 * i, 232.0) for i in range(11)]   # centre 230..310
    creep = [(290.0 + 1.0 * i, 210.0, 350.0 + 1.0 * i, 232.0) for i in range(10)]    # ..329
    stand = [(300.0, 210.0, 360.0, 232.0)] * 60
    (ev,) = count(track(drive + creep + stand))
    assert ev.direction == "left_to_right"


def test_a_box_that_jumps_over_the_line_once_and_is_lost_is_not_a_crossing():
    """A track on a parked car, seen poorly, takes one box on another parked car past
    the line and is lost (seed 219): one sighting past the line shows no vehicle
    crossing."""
    stand = [(215.0 + (i % 3), 200.0, 268.0 - (i % 2), 221.0) for i in range(9)]
    boxes = stand + [(383.0, 202.0, 434.0, 219.0)]
    assert len(count(track(boxes), rigid_travel_frac=0.0)) == 1
    assert count(track(boxes)) == []


def test_a_vehicle_lost_right_after_it_crossed_counts():
    """Seen once past the line, then hidden for good by a vehicle coming the other way
    (the motion detector's shaky_noisy clip): it is judged on how it moved on the way in."""
    boxes = [(max(0.0, -40.0 + 9.0 * i), 210.0, min(640.0, 30.0 + 9.0 * i), 232.0) for i in range(36)]
    boxes.append((300.0, 210.0, 370.0, 232.0))        # centre 335: past the line, then lost
    (ev,) = count(track(boxes, fps=30.0))
    assert ev.direction == "left_to_right"


def test_a_long_slow_bus_counts():
    """A 240 px bus in a city queue at 30 px/s advances less than half its length in
    the 3 s either side of its crossing (city_street_a, 14.3 s and 34.9 s): both ends
    move alike, so it is a vehicle moving, however slowly."""
    boxes = [(100.0 + 2.0 * i, 190.0, 340.0 + 2.0 * i, 240.0) for i in range(120)]   # 15 fps
    assert count(track(boxes), rigid_travel_frac=0.5, rigid_jitter_frac=0.5) == []   # the old rule
    (ev,) = count(track(boxes))
    assert ev.direction == "left_to_right"


def test_a_truck_coming_in_at_the_edge_next_to_the_line_is_timed_by_its_whole_boxes():
    """A line near the picture's edge (x = 64) and a 200 px truck coming in at that edge
    at 10 px a frame. While its back is cut by the edge, its box centre runs ahead of
    the truck's (at i = 12.8 frames it is on the line; the truck's centre is at i = 16.4).
    Lost while still cut, it never counts: its centre was never seen past the line.
    Seen whole after, it counts once, at its centre's crossing, carried back from the
    whole boxes at their velocity."""
    line = Line.parse("0.1,0,0.1,1")
    truck = [(-200.0 + 10.0 * i, 210.0, 10.0 * i, 240.0) for i in range(1, 40)]
    image = [(max(0.0, x1), y1, x2, y2) for x1, y1, x2, y2 in truck]
    assert count(track(image[:17]), line=line) == []            # gone at i = 17, still cut
    (ev,) = count(track(image), line=line)
    assert ev.direction == "left_to_right"
    assert abs(ev.clip_time_s - 15.4 / 15.0) < 0.5 / 15.0       # i = 16.4, first box at i = 1


# ------------------------------------------------------------------ issue 14, seeds 300, 312, 218
def edge_cut_van(first=0):
    """Seed 300: the camera pans right; a parked van standing across the line (scene
    275..345) is cut by the picture's left edge, so its box's back end follows the edge
    and its centre slides over the line while its front end stands. Four frames later
    its track takes a military truck coming in at the same edge and drives off with it.
    `first`: the frame the track starts on. (image boxes, scene boxes)"""
    pans = [200.0 + 3.0 * i for i in range(44)]                 # left edge of the view, scene x
    scene = [(max(p, 275.0), 200.0, 345.0, 231.0) for p in pans]
    for k in range(45):                                         # the truck, 10 px a frame
        p = pans[-1] + 3.0 * (k + 1)
        scene.append((max(p, 250.0 + 10.0 * k), 202.0, 350.0 + 10.0 * k, 251.0))
        pans.append(p)
    image = [(b[0] - p, b[1], b[2] - p, b[3]) for b, p in zip(scene, pans)]
    return image[first:], scene[first:]


def test_a_parked_van_cut_by_a_panning_edge_then_taken_over_by_a_passing_truck_is_not_a_crossing():
    """Over the 3 s window both ends moved (the truck's), but at the crossing only the
    edge did."""
    image, scene = edge_cut_van()
    tr = track(image, scene=scene)
    assert count(tr) == []
    # the 3 s window alone would pass it (both ends moved, the truck's), and the local
    # check of the ends refuses it; before either is asked, the van's box cut by the
    # edge does not put its centre past the line (_places)
    assert count(tr, rigid_local_n=0) == []


def test_the_same_van_first_seen_two_frames_before_the_line_is_not_a_crossing():
    """Seed 332: a track born on the van just before its centre slides over the line
    (another track had it before) has two sightings clearly on the near side: enough
    to see its front end stand."""
    image, scene = edge_cut_van(first=28)
    tr = track(image, scene=scene)
    assert count(tr) == []
    assert count(tr, rigid_local_n=0) == []        # (_places refuses it first, as above)


def passing_car(n=60, speed=12.0):
    """A car in the near lane driving right across x = 320 at `speed` px a frame."""
    return [(-60.0 + speed * i, 226.0, 0.0 + speed * i, 251.0) for i in range(n)]


def test_a_car_passing_a_parked_one_on_the_line_is_counted_once_when_two_tracks_follow_it():
    """Seeds 218 and 312: where the passing car's box merges with a parked car standing
    across the line, a second track is born on the merged box (or the parked car's track
    swaps onto the car) and crosses with it; then it stays on a parked car further on.
    Both tracks moved with the car through the line: one vehicle, one count."""
    car = passing_car()
    parked, further = (296.0, 210.0, 362.0, 231.0), (470.0, 198.0, 550.0, 230.0)
    born = 24                                                   # the car's front reaches the parked one
    second = [(parked[0], parked[1], car[born][2], car[born][3]),
              (parked[0], parked[1], car[born + 1][2], car[born + 1][3])]
    second += [(x1 - 2.0, y1 - 8.0, x2 + 2.0, y2) for x1, y1, x2, y2 in car[born + 2:born + 16]]
    second += [further] * 30
    a = track(car)
    b = Track(2, tuple(Observation((born + i) / 15.0, born + i, box, 0.9, "car") for i, box in enumerate(second)))
    assert len(LineCounter(LINE, W, H, CounterSettings(same_vehicle_overlap=1.0)).count([a, b])) == 2
    (ev,) = LineCounter(LINE, W, H).count([a, b])
    assert ev.track_id == a.track_id
    assert ev.also_tracks == (b.track_id,) and ev.to_dict()["also_tracks"] == [b.track_id]   # the report says so


def test_two_cars_side_by_side_in_two_lanes_are_two_crossings():
    """Two lanes the same way, crossing together: their boxes overlap little."""
    near = passing_car()
    far = [(x1 + 6.0, 196.0, x2 + 6.0, 218.0) for x1, _, x2, _ in near]
    b = Track(2, tuple(Observation(i / 15.0, i, box, 0.9, "car") for i, box in enumerate(far)))
    assert len(LineCounter(LINE, W, H).count([track(near), b])) == 2


# --------------------------------------------------------------------------- perspective

def along_the_road(z_back, occluded_below=None, cam_h=5.0, f=400.0, horizon=20.0,
                   length=4.5, width=1.8, roof=1.5, x_mid=320.0):
    """The box a pinhole camera at height `cam_h` (m) looking along a flat road gives of
    a car whose back is `z_back` m away: bottom row at its near end on the road, top row
    at its far end's roof, width at its near end; cut by the picture's bottom edge, and
    (`occluded_below`) hidden below that row by something in front."""
    bottom = horizon + f * cam_h / z_back
    top = horizon + f * (cam_h - roof) / (z_back + length)
    half = f * width / 2 / z_back
    bottom = min(bottom, H, occluded_below if occluded_below is not None else H)
    return (x_mid - half, top, x_mid + half, bottom)


ACROSS_THE_VIEW = Line.parse("0,0.45,1,0.45")            # y = 162


def test_a_car_driving_away_from_the_camera_counts_though_its_near_end_outruns_its_far_end():
    """Near the camera a receding car's back moves three times as far down the picture as
    its front (city_street_a, the silver SUV at 7.6 s with --detector coco): in pixels the
    ends do not move alike, on the road they do (geometry.ground_depth_map)."""
    boxes = [along_the_road(6.0 + 0.4 * i) for i in range(26)]     # 6 -> 16 m at 10 m/s
    assert count(track(boxes, fps=25.0), ACROSS_THE_VIEW)
    # The road measure is what counts it: the pixels alone see the front end lag.
    counter = LineCounter(ACROSS_THE_VIEW, W, H)
    pool = track(boxes, fps=25.0).observations
    assert not counter._rigid_in(pool, pool[12].time_s, -1, 2, on_road=False)
    assert counter._rigid_in(pool, pool[12].time_s, -1, 2, on_road=True)


def test_a_parked_car_uncovered_from_below_is_still_not_a_crossing_on_the_road():
    """The same view, a car parked 9 m away that a vehicle in front uncovers from its top
    down: its bottom end moves, its top stands, in pixels and on the road alike. (The
    travel rule, which would also stop it, is off: the rigid rule alone decides.)"""
    parked = along_the_road(9.0)
    boxes = [along_the_road(9.0, occluded_below=min(parked[3], parked[1] + 20 + 8 * i)) for i in range(26)]
    centres = [(b[1] + b[3]) / 2 for b in boxes]
    assert centres[0] < 162 < centres[-1]                     # its centre slides over the line
    assert not count(track(boxes, fps=25.0), ACROSS_THE_VIEW, min_travel_diag=0.0)


# ------------------------------------------------------------ recorded tracker inputs
def _recorded(seed: str):
    import json
    from pathlib import Path
    return json.loads((Path(__file__).parent / "data" / "camera_tracker_inputs.json").read_text())[seed]


def _events_on_recorded(rec):
    """Track and count the recorded detections and transforms of a generated clip (our
    own generator and project YOLO: bench_camera's clip of that seed, a window of it)."""
    import numpy as np
    from convoycount.detect.base import Detections
    from convoycount.track import Tracker
    tracker = Tracker()
    for f in rec["frames"]:
        tracker.update(Detections(np.array(f["xyxy"], float).reshape(-1, 4), np.array(f["conf"], float),
                                  np.array(f["cls"], dtype=object), f["t"], f["i"]), np.array(f["to_scene"]))
    counter = LineCounter(LINE, rec["width"], rec["height"], CounterSettings(),
                          scene_px=tuple(rec["scene_line_px"]))
    lo, hi = rec["frames"][0]["t"] + 0.5, rec["frames"][-1]["t"] - 0.3     # clear of the cut-out's ends
    # ...and, as the pipeline counts, only while the line was in view (camera/scene.py)
    watched = [e for e in counter.count(tracker.tracks())
               if any(a <= e.clip_time_s <= b for a, b in rec["watched_s"])]
    return [e for e in watched if lo <= e.clip_time_s <= hi]


def _counts_the_recorded_crossings(seed: str, within_s: float) -> list:
    """The events on the recorded inputs of `seed`, checked against the generator's
    crossings in that window: as many, each within `within_s`."""
    rec = _recorded(seed)
    got = _events_on_recorded(rec)
    want = rec["truth_crossings_s"]
    assert len(got) == len(want), (got, want)
    assert all(abs(e.clip_time_s - w) <= within_s for e, w in zip(got, want)), (got, want)
    return got


def _counts_the_one_recorded_crossing(seed: str, within_s: float):
    got = _counts_the_recorded_crossings(seed, within_s)
    assert len(got) == 1, got
    return got[0]


def test_a_truck_boxed_just_short_of_the_picture_edge_counts_as_cut_by_it():
    """bench_camera seed 426 (held out once, one vehicle short): a truck enters at the
    picture's edge as the panning camera takes the line out of view. Its box stops 2.3 px
    short of the edge, beyond edge_cut_px, so its "back end" (the edge, moving with the
    picture) was judged as the truck's and refused the crossing. Recorded detections and
    transforms of the clip (our generator, project YOLO), 7.7-10.9 s."""
    _counts_the_one_recorded_crossing("426", within_s=0.6)


def test_a_car_whose_track_stays_with_a_parked_one_short_of_the_line_counts_once():
    """bench_camera seed 473 (a tuning seed): a car passes in front of a parked car just
    short of the line. Their boxes merge; the car's track stays with the parked car, and
    the car, past the line, starts a new track. A track first seen past the line never
    counts alone (it may be a parked car uncovered there), so the crossing was lost. The
    new track starts where the old one, carried on at its own pace, lands, at about its
    velocity: one vehicle, counted once. Recorded detections and transforms of the clip
    (our generator, project YOLO), 2.0-3.6 s."""
    ev = _counts_the_one_recorded_crossing("473", within_s=0.1)
    # the event names both tracks, so a reader can follow the vehicle across the switch
    assert ev.continues_track not in (None, ev.track_id)
    assert ev.to_dict()["continues_track"] == ev.continues_track


def test_a_car_passing_a_parked_one_on_the_line_counts_though_the_tracks_swap():
    """bench_camera seed 422 (a tuning seed): the same swap with the parked car standing
    on the line, the car's box given to the parked car's track for a frame and the blob of
    both to the car's. Recorded detections and transforms of the clip, 2.6-6.6 s."""
    got = _counts_the_recorded_crossings("422", within_s=0.1)       # 3.72 s and 4.81 s
    ev = got[0]
    assert ev.continues_track not in (None, ev.track_id)
    # The car's first track went on with the parked car and, as the pan's edge ate that
    # car, with a car coming in at the edge past the line: its crossing there (6.1 s,
    # after the line left the view) is another vehicle's and must not stop the handoff
    # at 3.72 s (it did: only tracks that never crossed could hand over). Window 2.6-6.6 s.


def test_a_truck_coming_in_at_the_edge_as_the_line_leaves_the_view_is_not_counted_early():
    """bench_camera seed 532 (held out once, then diagnosed): the camera pans with a truck
    coming in at the picture's left edge while the line nears that edge. Its box, cut by
    the edge, has its centre ahead of the truck's by half the hidden length, so the box
    centre crossed at 8.9 s, inside the span the line was watched (to 9.0 s), while the
    truck's own centre crossed after it (the generator's truth: no crossing in view). A
    cut box proves one side only; timed from the truck's whole boxes, carried back at
    their velocity, the crossing falls after 9.0 s. Recorded inputs, 7.6-10.2 s."""
    assert _counts_the_recorded_crossings("532", within_s=0.1) == []


def test_a_parked_car_eaten_by_the_edge_does_not_lend_its_track_to_a_car_coming_in():
    """bench_camera seed 533 (held out once, then diagnosed): a parked car standing on
    the line is cut by the picture's right edge as the camera pans, its box centre
    sliding with the edge. Its track took that slide for motion and, carried on at it
    for 0.9 s unseen, took a car coming in at the same edge past the line: a parked car
    counted as a crossing. (Taking a cut box's step velocity from its end away from the
    edge fixed this clip but broke seed 426: a box growing in at the edge moves its centre
    at half the vehicle's speed, and the tracker matches box centres.) The counter refuses
    it: across the gap the track changed its pace, and the car it took, carried back at
    its own, did not meet the line while the track was unseen (count.py, _across_gap).
    Recorded inputs, 6.4-10.0 s."""
    assert _counts_the_recorded_crossings("533", within_s=0.1) == []


def test_a_track_that_crossed_before_the_new_one_began_does_not_hand_its_vehicle_on():
    """bench_camera seed 425 (a tuning seed): a car crosses on its own track at 1.66 s;
    a frame later a second track starts on it, past the line, where the first one,
    carried on, lands. The first track's vehicle was counted already: a track hands
    over only before it crossed (after, its crossing is another vehicle's: seed 422,
    above). Recorded inputs, 0.9-2.5 s."""
    (ev,) = _counts_the_recorded_crossings("425", within_s=0.1)
    assert ev.continues_track is None


# ------------------------------------------------------------ pace across an unseen crossing
def _seen(spans, fps=15.0):
    """A confirmed track from (first frame, centres) runs of a 60 x 22 px box at 15 fps:
    frames between the runs are frames it went unseen."""
    obs = tuple(Observation(i / fps, i, (c - 30.0, 210.0, c + 30.0, 232.0), 0.9, "car")
                for first, centres in spans for i, c in zip(range(first, first + len(centres)), centres))
    return Track(1, obs)


def test_a_track_that_comes_back_standing_past_the_line_is_not_a_crossing():
    """bench_camera seed 566: a passing car's track, unseen for 0.4 s as it met a truck
    parked just past the line, came back on the parked truck. No vehicle goes from
    450 px/s to standing while unseen for 0.4 s, and the thing seen after never moves
    toward the line: nothing crossed. Switched off, it counts."""
    car = [110.0 + 30.0 * i for i in range(7)]                      # 110 -> 290 px, 450 px/s
    parked = [345.0 + (1.0 if i % 2 else -1.0) for i in range(15)]  # jitter about 345
    tr = _seen([(0, car), (13, parked)])
    assert count(tr) == []
    assert len(count(tr, rigid_travel_frac=0.0, min_travel_diag=0.0)) == 1


def test_a_track_that_takes_a_vehicle_while_unseen_counts_it_at_its_own_time():
    """bench_camera seeds 583 and 401: a track on a parked car whose box slid toward the
    line at 75 px/s (a passing car uncovering it) went unseen for 0.9 s and came back on
    a truck moving at 450 px/s past the line. Not one vehicle: the truck crossed when its
    own boxes, carried back, meet the line (frame 23.7), not where the slide was lost
    (frame 11) -- on seed 583 the line was out of view by then, so nothing counted."""
    slide = [230.0 + 5.0 * i for i in range(12)]                    # 230 -> 285 px
    truck = [360.0 + 30.0 * i for i in range(10)]                   # 360 -> 630 px from frame 25
    (ev,) = count(_seen([(0, slide), (25, truck)]))
    assert ev.clip_time_s == pytest.approx((25 - 40.0 / 30.0) / 15.0)


@pytest.mark.parametrize("slower", [1.0, 0.7])
def test_a_vehicle_hidden_as_it_crosses_is_counted_at_its_time(slower):
    """A car at 300 px/s hidden for 0.8 s (a truck passing in front) comes out past the
    line at the same pace, or braking to 0.7 of it: counted, at the time its path meets
    the line."""
    before = [150.0 + 20.0 * i for i in range(6)]                   # 150 -> 250 px at frame 5
    after = [250.0 + 20.0 * 12 + 20.0 * slower * i for i in range(8)]   # frame 17 on: 490 px...
    events = count(_seen([(0, before), (17, after)]))
    assert len(events) == 1
    assert events[0].clip_time_s == pytest.approx((5 + 70.0 / 240.0 * 12) / 15.0)


def test_a_standing_box_over_the_line_for_one_look_is_not_a_crossing():
    """bench_camera seed 577: a tipper truck parked across the line (centre 7 px short of
    it), whose track had come in on a truck driving up to it. A van passing in front ate
    the parked truck's back end for one frame, putting its box centre 11 px over the
    line; at the next look it stood where it had. A vehicle that crossed is, when next
    seen clearly, on the side it crossed to. Switched off, it counts."""
    def box(x1, x2):
        return (x1, 200.0, x2, 238.0)
    drive = [box(540.0 - 20.0 * i, 664.0 - 20.0 * i) for i in range(14)]       # to 280..404
    stand = [box(265.0 + (i % 2), 389.0 + (i % 2)) for i in range(10)]         # centre 327
    boxes = drive + stand + [box(261.0, 357.0)] + stand + stand
    tr = track(boxes)
    assert count(tr) == []
    off = LineCounter(LINE, W, H, CounterSettings())
    off._stays_over = lambda *args: True
    assert len(off.count([tr])) == 1


def test_a_car_coming_toward_the_camera_counts_across_a_short_gap():
    """highway_a (a real clip, 15 pictures a second stored at 30 fps): a car driving toward
    the camera, its box and its speed in pixels growing together (2.4x a second here),
    unseen for three frames as it crossed. In pixels its pace more than doubled across
    the gap, as if the track had taken another vehicle, and the crossing was re-timed from
    the boxes after it (on highway_a, two by two the same picture, carried back at their
    slow steps they met the line before the car was lost, and it was refused). In its own
    sizes per second it kept its pace (perspective scales both alike): one vehicle,
    counted where its path meets the line between the two sightings."""
    fps, boxes, x, size = 30.0, [], 100.0, 40.0
    for i in range(60):
        boxes.append((i, (x - size / 2, 300.0 - size / 4, x + size / 2, 300.0 + size / 4)))
        if i % 2:                                       # every picture twice
            x, size = x + 0.2 * size, size * 1.06
    k = next(i for i, b in boxes if (b[0] + b[2]) / 2 > 320.0)
    kept = [(i, b) for i, b in boxes if not k - 2 <= i <= k]             # 3 frames unseen
    tr = Track(1, tuple(Observation(i / fps, i, b, 0.9, "car") for i, b in kept))
    (ev,) = count(tr)
    (a, p), (b, q) = kept[k - 3], kept[k - 2]                  # the sightings either side of the gap
    pc, qc = (p[0] + p[2]) / 2, (q[0] + q[2]) / 2
    assert ev.clip_time_s == pytest.approx((a + (320.0 - pc) / (qc - pc) * (b - a)) / fps, abs=0.02 / fps)
