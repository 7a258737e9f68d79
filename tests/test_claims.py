"""Claims: parsing plain English and judging it against crossing events.

Events are real CrossingEvent values placed at known clip times, so every
expected count follows from the construction (or from a brute-force oracle).
"""
import json
import random

import pytest

from convoycount.claims import (BasisVerdict, Claim, ClaimResult, default_tolerance, judge,
                                parse)
from convoycount.count import CrossingEvent
from convoycount.errors import ConvoyCountError
from convoycount.timing import TimeMap


def make_events(times, classes=None):
    classes = classes or ["car"] * len(times)
    return [CrossingEvent(track_id=i + 1, clip_time_s=float(t), direction="left_to_right",
                          class_name=c, confidence=0.9, frame_index=int(t * 30),
                          point=(100.0, 200.0), box=(80.0, 180.0, 120.0, 220.0))
            for i, (t, c) in enumerate(zip(times, classes))]


def brute_max(times, window_s):
    """Most times in any closed window [a, a + W]: a window can always slide to start at an event."""
    return max((sum(1 for u in times if t <= u <= t + window_s + 1e-9) for t in times), default=0)


# ------------------------------------------------------------------ parsing

EXAMPLES = [
    # text, count, qualifier, class, window_s
    ("nine vehicles in 10 seconds", 9, "exactly", None, 10.0),
    ("9 vehicles in 10 s", 9, "exactly", None, 10.0),
    ("in 10 seconds nine vehicles drive by", 9, "exactly", None, 10.0),
    ("a convoy of 25 vehicles", 25, "exactly", None, None),
    ("a convoy of 25 cars", 25, "exactly", "car", None),
    ("more than 20 trucks in a minute", 20, "more_than", "truck", 60.0),
    ("about 30 military vehicles", 30, "about", "military", None),
    ("at least 12 tanks", 12, "at_least", "military", None),
    ("up to 40 buses per hour", 40, "at_most", "bus", 3600.0),
    ("over a hundred vehicles", 100, "more_than", None, None),
    ("twenty-five trucks within 30 sec", 25, "exactly", "truck", 30.0),
    ("fewer than 5 cars in 2 minutes", 5, "fewer_than", "car", 120.0),
    ("a dozen armoured vehicles", 12, "exactly", "military", None),
    ("30 vehicles per minute", 30, "exactly", None, 60.0),
    ("10 vehicles in half a minute", 10, "exactly", None, 30.0),
    ("one hundred and twenty vehicles over 10 minutes", 120, "exactly", None, 600.0),
    ("a 25-vehicle convoy", 25, "exactly", None, None),
    ("one convoy of 25 trucks", 25, "exactly", "truck", None),
    ("9 vehicles/10s", 9, "exactly", None, 10.0),
    ("no more than 3 vans in a 10-second window", 3, "at_most", "van", 10.0),
    ("half a dozen jeeps in a minute and a half", 6, "exactly", "car", 90.0),
    ("20 cars in under a minute", 20, "exactly", "car", 60.0),
    ("25+ trucks", 25, "at_least", "truck", None),
    ("25 vehicles or more", 25, "at_least", None, None),
    ("a vehicle every 2 seconds", 1, "exactly", None, 2.0),
    ("30 cars a minute", 30, "exactly", "car", 60.0),
]


@pytest.mark.parametrize("text,count,qualifier,cls,window", EXAMPLES)
def test_parse_examples(text, count, qualifier, cls, window):
    c = parse(text)
    assert (c.count, c.qualifier, c.vehicle_class, c.window_s) == (count, qualifier, cls, window)
    assert c.kind == ("rate" if window else "total")
    assert c.text == text
    assert c.to_dict() == {"text": text, "count": count, "qualifier": qualifier,
                           "vehicle_class": cls, "window_s": window, "kind": c.kind}


_ONES = "zero one two three four five six seven eight nine".split()
_TEENS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()


def _english(n):
    if n < 10:
        return _ONES[n]
    if n < 20:
        return _TEENS[n - 10]
    t, u = divmod(n, 10)
    return _TENS[t - 2] + ("" if u == 0 else "-" + _ONES[u])


def test_every_word_number_below_a_hundred():
    for n in range(100):
        assert parse(f"{_english(n)} trucks in 10 seconds").count == n, _english(n)
        assert parse(f"a convoy of {_english(n)} vehicles").count == n


@pytest.mark.parametrize("words,n", [
    ("a hundred", 100), ("one hundred", 100), ("one hundred and twenty", 120),
    ("two hundred and five", 205), ("a dozen", 12), ("two dozen", 24), ("half a dozen", 6),
    ("1,000", 1000), ("a thousand", 1000), ("forty two", 42), ("Forty-Two", 42)])
def test_larger_word_numbers(words, n):
    assert parse(f"{words} vehicles").count == n


def test_vague_plurals_read_as_lower_bounds():
    assert (parse("hundreds of vehicles").count, parse("hundreds of vehicles").qualifier) == (200, "at_least")
    assert parse("dozens of trucks in a minute").qualifier == "at_least"


@pytest.mark.parametrize("phrase,qualifier", [
    ("", "exactly"), ("exactly", "exactly"), ("about", "about"), ("around", "about"),
    ("roughly", "about"), ("approximately", "about"), ("some", "about"), ("nearly", "about"),
    ("almost", "about"), ("at least", "at_least"), ("no fewer than", "at_least"),
    ("more than", "more_than"), ("over", "more_than"), ("upwards of", "more_than"),
    ("up to", "at_most"), ("at most", "at_most"), ("no more than", "at_most"),
    ("fewer than", "fewer_than"), ("less than", "fewer_than"), ("under", "fewer_than")])
def test_qualifiers(phrase, qualifier):
    for text in (f"{phrase} 15 vehicles in 10 seconds", f"a convoy of {phrase} 15 trucks"):
        c = parse(text)
        assert (c.qualifier, c.count) == (qualifier, 15), text


@pytest.mark.parametrize("noun,cls", [
    ("vehicles", None), ("car", "car"), ("cars", "car"), ("sedans", "car"), ("SUVs", "car"),
    ("jeeps", "car"), ("truck", "truck"), ("trucks", "truck"), ("lorries", "truck"),
    ("trailers", "truck"), ("bus", "bus"), ("buses", "bus"), ("coaches", "bus"),
    ("motorcycles", "motorcycle"), ("motorbikes", "motorcycle"), ("bikes", "motorcycle"),
    ("vans", "van"), ("tanks", "military"), ("armoured vehicles", "military"),
    ("armored vehicles", "military"), ("military vehicles", "military"), ("APCs", "military"),
    ("military trucks", "military"), ("cars and trucks", None)])
def test_vehicle_nouns(noun, cls):
    assert parse(f"7 {noun} in 20 seconds").vehicle_class == cls


@pytest.mark.parametrize("window,seconds", [
    ("in 10 seconds", 10), ("within 10 s", 10), ("over 10 sec", 10), ("during 10 secs", 10),
    ("in 2 minutes", 120), ("in 2 min", 120), ("in 2 mins", 120), ("in 1 hour", 3600),
    ("in 2 h", 7200), ("per second", 1), ("per minute", 60), ("per hour", 3600),
    ("in a minute", 60), ("in half a minute", 30), ("in an hour", 3600),
    ("in 1.5 minutes", 90), ("in the span of 45 seconds", 45)])
def test_time_windows(window, seconds):
    c = parse(f"12 vehicles {window}")
    assert c.window_s == pytest.approx(seconds) and c.kind == "rate"


@pytest.mark.parametrize("text,what", [
    ("", "empty"), ("   ", "empty"),
    ("vehicles in 10 seconds", "no number"),
    ("a convoy of trucks", "no number"),
    ("nine things in 10 seconds", "no vehicle word"),
    ("9 vehicles in 0 seconds", "longer than zero"),
    ("9 vehicles in -5 seconds", "longer than zero"),
    ("2.5 cars", "whole number"),
    ("9 vehicles in 10 seconds and 20 vehicles in a minute", "more than one time window")])
def test_parse_errors_are_one_clear_line(text, what):
    with pytest.raises(ConvoyCountError) as exc:
        parse(text)
    msg = str(exc.value)
    assert what in msg and "\n" not in msg
    assert "nine vehicles in 10 seconds" in msg          # an example of what works


# ------------------------------------------------------------------ the seed case

SEED_TIMES = [1.0 + i for i in range(9)]                   # 9 crossings within 8 s of clip time
SEED_SPAN = (0.0, 12.0)


def test_seed_rate_claim_on_a_4x_clip():
    events = make_events(SEED_TIMES)
    r = judge(parse("nine vehicles in 10 seconds"), events, TimeMap.given(4.0), clip_span_s=SEED_SPAN)
    assert isinstance(r, ClaimResult)
    assert r.basis == "real"                                # default when the time map is known
    clip, real = r.by_basis["clip"], r.by_basis["real"]
    assert clip.verdict == "consistent" and clip.observed == 9
    assert clip.window[1] - clip.window[0] == pytest.approx(10.0)
    assert all(clip.window[0] <= t <= clip.window[1] for t in SEED_TIMES)
    # in real time the crossings are 4 s apart: 10 real seconds hold 3 of them
    assert real.verdict == "inconsistent"
    assert real.observed == brute_max([4 * t for t in SEED_TIMES], 10.0) == 3
    assert real.span_s == pytest.approx(48.0)
    assert (r.verdict, r.observed, r.tolerance) == ("inconsistent", 3, 1)
    assert "3 vehicles" in r.reason and "10 s of real time" in r.reason and "\u00d74.0" in r.reason
    assert "9" in r.reason and "\n" not in r.reason
    # asking for the clip basis gives the clip verdict
    r_clip = judge(parse("nine vehicles in 10 seconds"), events, TimeMap.given(4.0),
                   clip_span_s=SEED_SPAN, basis="clip")
    assert (r_clip.basis, r_clip.verdict, r_clip.observed) == ("clip", "consistent", 9)


def test_seed_convoy_claim_is_unsupported():
    r = judge(parse("a convoy of 25 cars"), make_events(SEED_TIMES), TimeMap.given(4.0),
              clip_span_s=SEED_SPAN, count_total=9)
    assert (r.verdict, r.observed) == ("unsupported", 9)
    assert r.by_basis["clip"].verdict == r.by_basis["real"].verdict == "unsupported"
    assert r.by_basis["real"].span_s == pytest.approx(48.0)
    assert "only part" in r.reason


def test_seed_without_time_map():
    events = make_events(SEED_TIMES)
    claim = parse("nine vehicles in 10 seconds")
    r = judge(claim, events, TimeMap.unknown(), clip_span_s=SEED_SPAN)
    assert (r.basis, r.verdict, r.observed) == ("clip", "consistent", 9)
    assert r.by_basis["real"] is None
    asked = judge(claim, events, TimeMap.unknown(), clip_span_s=SEED_SPAN, basis="real")
    assert (asked.basis, asked.verdict, asked.observed) == ("real", "undetermined", None)
    assert "unknown" in asked.reason.lower() and "--speedup" in asked.reason


def test_to_dict_is_json_and_has_report_keys():
    r = judge(parse("nine vehicles in 10 seconds"), make_events(SEED_TIMES), TimeMap.given(4.0),
              clip_span_s=SEED_SPAN)
    d = json.loads(json.dumps(r.to_dict()))
    assert set(d) == {"text", "parsed", "basis", "observed", "verdict", "tolerance", "reason",
                      "by_basis", "parts"}
    assert d["parts"]["class"]["status"] == "not_claimed"
    assert d["parts"]["count"] == {"verdict": d["verdict"], "observed": 3, "basis": "real"}
    assert d["parsed"]["count"] == 9 and d["by_basis"]["real"]["observed"] == 3
    assert d["by_basis"]["clip"]["verdict"] == "consistent"
    r2 = judge(parse("nine vehicles in 10 seconds"), make_events(SEED_TIMES), TimeMap.unknown(),
               clip_span_s=SEED_SPAN)
    assert json.loads(json.dumps(r2.to_dict()))["by_basis"]["real"] is None


# ------------------------------------------------------------------ the sliding window

def test_sliding_window_matches_brute_force():
    rng = random.Random(7)
    for trial in range(60):
        times = sorted(rng.uniform(0, 60) for _ in range(rng.randint(0, 40)))
        w = rng.choice([0.5, 2.0, 5.0, 10.0, 30.0])
        k = rng.choice([1.0, 2.5, 4.0])
        claim = Claim(text="t", count=5, window_s=w)
        r = judge(claim, make_events(times), TimeMap.given(k), clip_span_s=(0.0, 60.0))
        assert r.by_basis["clip"].observed == brute_max(times, w)
        assert r.by_basis["real"].observed == brute_max([k * t for t in times], w)
        win = r.by_basis["real"].window
        if times:
            inside = [t for t in times if win[0] - 1e-9 <= k * t <= win[1] + 1e-9]
            assert len(inside) == r.by_basis["real"].observed


def test_closed_window_counts_both_ends():
    # crossings exactly 10 s apart both sit in one closed 10 s window
    r = judge(parse("2 vehicles in 10 seconds"), make_events([0.0, 10.0]), TimeMap.unknown(),
              clip_span_s=(0.0, 20.0))
    assert (r.observed, r.verdict) == (2, "consistent")


# ------------------------------------------------------------------ qualifiers

@pytest.mark.parametrize("text,observed,verdict", [
    ("a convoy of 10 vehicles", 8, "unsupported"), ("a convoy of 10 vehicles", 9, "consistent"),
    ("a convoy of 10 vehicles", 11, "consistent"), ("a convoy of 10 vehicles", 12, "inconsistent"),
    ("at least 10 vehicles", 8, "unsupported"), ("at least 10 vehicles", 9, "consistent"),
    ("at least 10 vehicles", 30, "consistent"),
    ("more than 10 vehicles", 9, "unsupported"), ("more than 10 vehicles", 10, "consistent"),
    ("at most 10 vehicles", 11, "consistent"), ("at most 10 vehicles", 12, "inconsistent"),
    ("at most 10 vehicles", 2, "consistent"),
    ("fewer than 10 vehicles", 10, "consistent"), ("fewer than 10 vehicles", 11, "inconsistent"),
    ("about 30 vehicles", 27, "consistent"), ("about 30 vehicles", 26, "unsupported"),
    ("about 30 vehicles", 33, "consistent"), ("about 30 vehicles", 34, "inconsistent")])
def test_total_qualifiers(text, observed, verdict):
    events = make_events([0.5 * i for i in range(observed)])
    r = judge(parse(text), events, TimeMap.given(2.0), clip_span_s=(0.0, 0.5 * observed + 1))
    assert (r.observed, r.verdict) == (observed, verdict)
    assert r.by_basis["clip"].verdict == r.by_basis["real"].verdict == verdict


# 12 crossings 1 s apart over a 30 s clip: any 5 s window holds at most 6
RATE_TIMES = [10.0 + i for i in range(12)]


@pytest.mark.parametrize("text,verdict", [
    ("6 vehicles in 5 seconds", "consistent"), ("7 vehicles in 5 seconds", "consistent"),
    ("8 vehicles in 5 seconds", "inconsistent"),
    ("3 vehicles in 5 seconds", "consistent"),        # a busier window holds a span with exactly 3
    ("at least 8 vehicles in 5 seconds", "inconsistent"),
    ("more than 6 vehicles in 5 seconds", "consistent"),
    ("more than 7 vehicles in 5 seconds", "inconsistent"),
    ("at most 5 vehicles in 5 seconds", "consistent"),
    ("at most 4 vehicles in 5 seconds", "inconsistent"),
    ("fewer than 6 vehicles in 5 seconds", "consistent"),
    ("fewer than 5 vehicles in 5 seconds", "inconsistent")])
def test_rate_qualifiers(text, verdict):
    r = judge(parse(text), make_events(RATE_TIMES), TimeMap.unknown(), clip_span_s=(0.0, 30.0))
    assert r.observed == brute_max(RATE_TIMES, 5.0) == 6
    assert r.verdict == verdict


def test_tolerance_rules():
    assert default_tolerance(parse("9 vehicles"), 0) == 1
    assert default_tolerance(parse("9 vehicles"), 3) == 3
    assert default_tolerance(parse("about 30 vehicles"), 0) == 3
    assert default_tolerance(parse("about 45 vehicles"), 0) == 5       # 4.5 rounds up
    assert default_tolerance(parse("about 30 vehicles"), 4) == 4
    # uncertainty widens what "exactly" accepts
    events = make_events(RATE_TIMES)
    strict = judge(parse("9 vehicles in 5 seconds"), events, TimeMap.unknown(), clip_span_s=(0, 30))
    loose = judge(parse("9 vehicles in 5 seconds"), events, TimeMap.unknown(), clip_span_s=(0, 30),
                  count_uncertainty=3)
    assert (strict.verdict, loose.verdict, loose.tolerance) == ("inconsistent", "consistent", 3)
    assert "\u00b13" in loose.reason


# ------------------------------------------------------------------ short footage

def test_window_longer_than_footage_is_unsupported():
    events = make_events([1.0, 2.0, 3.0])
    r = judge(parse("10 vehicles in a minute"), events, TimeMap.given(4.0), clip_span_s=(0.0, 5.0))
    assert r.by_basis["clip"].verdict == "unsupported" and r.by_basis["clip"].span_s == 5.0
    assert r.by_basis["real"].verdict == "unsupported" and r.by_basis["real"].span_s == 20.0
    assert "shorter than the claimed 1 min window" in r.reason
    # a long enough clip with the same sparse traffic contradicts it
    long = judge(parse("10 vehicles in a minute"), events, TimeMap.given(4.0), clip_span_s=(0.0, 20.0))
    assert long.verdict == "inconsistent"


def test_short_footage_can_still_confirm_or_contradict():
    events = make_events([1.0 + 0.2 * i for i in range(10)])    # 10 crossings in 1.8 s
    span = (0.0, 3.0)
    assert judge(parse("9 vehicles in a minute"), events, TimeMap.unknown(),
                 clip_span_s=span).verdict == "consistent"
    assert judge(parse("at most 5 vehicles per minute"), events, TimeMap.unknown(),
                 clip_span_s=span).verdict == "inconsistent"
    assert judge(parse("at most 20 vehicles per minute"), events, TimeMap.unknown(),
                 clip_span_s=span).verdict == "unsupported"


# ------------------------------------------------------------------ uncertain speed-up

def test_interval_straddling_the_flip_is_undetermined():
    # crossings 1 clip-s apart; 8 of them (9 - tolerance) span 7 clip-s, which
    # fit in 10 real seconds exactly when K <= 10/7
    events = make_events(SEED_TIMES)
    tm = TimeMap(speedup=1.5, source="kinematics", interval=(1.2, 2.0))
    r = judge(parse("nine vehicles in 10 seconds"), events, tm, clip_span_s=SEED_SPAN)
    real = r.by_basis["real"]
    assert r.verdict == real.verdict == "undetermined" and real.depends_on_speedup
    assert (real.verdict_at_low, real.verdict_at_high) == ("consistent", "inconsistent")
    assert real.observed_at_low == brute_max([1.2 * t for t in SEED_TIMES], 10.0)
    assert real.observed_at_high == brute_max([2.0 * t for t in SEED_TIMES], 10.0)
    assert len(real.flip_speedups) == 1
    assert real.flip_speedups[0] == pytest.approx(10 / 7, rel=2e-3)
    assert "\u00d71.43" in r.reason and "depends on the speed-up" in r.reason
    assert r.by_basis["clip"].verdict == "consistent"


def test_interval_on_one_side_of_the_flip_is_decided():
    events = make_events(SEED_TIMES)
    tm = TimeMap(speedup=4.0, source="kinematics", interval=(3.5, 4.5))
    real = judge(parse("nine vehicles in 10 seconds"), events, tm, clip_span_s=SEED_SPAN).by_basis["real"]
    assert real.verdict == "inconsistent" and not real.depends_on_speedup
    assert real.verdict_at_low == real.verdict_at_high == "inconsistent"
    assert real.flip_speedups == ()


# ------------------------------------------------------------------ classes

MIXED = make_events([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
                    ["truck", "car", "truck", "car", "car", "bus", "car"])


def test_class_filter_counts_only_the_claimed_class():
    r = judge(parse("at least 4 trucks in 10 seconds"), MIXED, TimeMap.unknown(),
              clip_span_s=(0.0, 10.0))
    assert (r.observed, r.verdict) == (2, "inconsistent")
    total = judge(parse("a convoy of 4 cars"), MIXED, TimeMap.unknown(), clip_span_s=(0.0, 10.0),
                  count_total=7)
    assert (total.observed, total.verdict) == (4, "consistent")     # count_total is all classes


COCO = ("car", "motorcycle", "bus", "truck")
BLIND = ("vehicle",)
MOTION5 = make_events([1.0, 2.0, 3.0, 4.0, 5.0], ["vehicle"] * 5)
CARS5 = make_events([1.0, 2.0, 3.0, 4.0, 5.0], ["car"] * 5)


def test_a_class_blind_detector_never_confirms_a_class():
    # Five vehicles, class unknown: "at least 5 trucks" holds if all are trucks and
    # fails if none is, so it is undetermined, with both parts said.
    r = judge(parse("at least 5 trucks in 10 seconds"), MOTION5, TimeMap.unknown(),
              clip_span_s=(0.0, 10.0), detector_classes=BLIND)
    assert r.verdict == "undetermined"
    assert r.parts["count"]["verdict"] == "consistent" and r.parts["count"]["observed"] == 5
    assert r.parts["class"]["status"] == "unverified"
    assert "does not tell trucks from other vehicles" in r.reason
    assert "If all 5 vehicles that could be trucks were" in r.reason


def test_a_bound_that_holds_for_every_split_stands():
    # At most 9 tanks among 5 vehicles of unknown class: true however many are tanks.
    r = judge(parse("at most 9 tanks"), MOTION5, TimeMap.unknown(), clip_span_s=(0.0, 10.0),
              detector_classes=BLIND)
    assert r.verdict == "consistent" and r.parts["class"]["status"] == "unverified"
    # At least 50: not even all five vehicles would do.
    r = judge(parse("at least 50 tanks"), MOTION5, TimeMap.unknown(), clip_span_s=(0.0, 10.0),
              detector_classes=BLIND)
    assert r.verdict == "unsupported"


def test_cars_contradict_tanks():
    r = judge(parse("a convoy of 5 tanks"), CARS5, TimeMap.given(2.0), clip_span_s=(0.0, 10.0),
              count_total=5, detector_classes=COCO)
    assert r.verdict == "inconsistent" and r.parts["class"]["status"] == "contradicted"
    assert all(v.verdict == "inconsistent" for v in r.by_basis.values())
    assert "all cars" in r.reason
    # ...but cars do not contradict "military vehicles": a military jeep is seen as a car.
    m = judge(parse("a convoy of 5 military vehicles"), CARS5, TimeMap.unknown(),
              clip_span_s=(0.0, 10.0), detector_classes=COCO)
    assert m.verdict == "undetermined" and m.parts["class"]["status"] == "unverified"


def test_military_claims_are_never_consistent_on_civilian_looking_counts():
    # 2 trucks, 4 cars, 1 bus: three could be tanks, so "at least 3" is undetermined
    # and "at least 7" unsupported even if all three were.
    r = judge(parse("at least 3 tanks"), MIXED, TimeMap.unknown(), clip_span_s=(0.0, 10.0),
              detector_classes=COCO)
    assert r.verdict == "undetermined"
    assert judge(parse("at least 7 tanks"), MIXED, TimeMap.unknown(), clip_span_s=(0.0, 10.0),
                 detector_classes=COCO).verdict == "unsupported"
    assert "no detector here tells military from civilian vehicles" in r.reason
    assert r.parts["class"]["candidate_classes"] == ["truck", "bus"]


# Every class word the parser knows, with a class-blind detector and a COCO one:
# the class part's status, and the overall verdict on twelve vehicles (three of each
# COCO label) for "at least 3 <word>": consistent only where the class was counted.
CLASS_WORDS = [
    # word, class-blind status, COCO status
    ("cars", "unverified", "checked"), ("sedans", "unverified", "checked"),
    ("SUVs", "unverified", "checked"), ("jeeps", "unverified", "checked"),
    ("trucks", "unverified", "checked"), ("lorries", "unverified", "checked"),
    ("trailers", "unverified", "checked"), ("pickups", "unverified", "checked"),
    ("buses", "unverified", "checked"), ("coaches", "unverified", "checked"),
    ("motorcycles", "unverified", "checked"), ("scooters", "unverified", "checked"),
    ("vans", "unverified", "unverified"), ("tanks", "unverified", "unverified"),
    ("APCs", "unverified", "unverified"), ("armoured vehicles", "unverified", "unverified"),
    ("military vehicles", "unverified", "unverified"), ("humvees", "unverified", "unverified"),
    ("vehicles", "not_claimed", "not_claimed"),
]
TWELVE = [float(t) for t in range(1, 13)]


@pytest.mark.parametrize("word,blind,coco", CLASS_WORDS)
def test_every_class_word(word, blind, coco):
    labelled = make_events(TWELVE, ["truck", "car", "bus", "motorcycle"] * 3)
    unlabelled = make_events(TWELVE, ["vehicle"] * 12)
    for events, classes, status in ((unlabelled, BLIND, blind), (labelled, COCO, coco)):
        r = judge(parse(f"at least 3 {word}"), events, TimeMap.unknown(),
                  clip_span_s=(0.0, 13.0), detector_classes=classes)
        assert r.parts["class"]["status"] == status, (word, classes)
        expected = "undetermined" if status == "unverified" else "consistent"
        assert r.verdict == expected, (word, classes, r.reason)


def test_stable_tracks_raise_a_total_and_the_reason_says_so():
    events = make_events(SEED_TIMES)
    r = judge(parse("a convoy of 12 vehicles"), events, TimeMap.unknown(), clip_span_s=SEED_SPAN,
              count_total=9, stable_tracks=12)
    assert (r.observed, r.verdict) == (12, "consistent")
    assert "tracked" in r.reason and "9 crossed" in r.reason
    by_class = judge(parse("a convoy of 12 cars"), events, TimeMap.unknown(), clip_span_s=SEED_SPAN,
                     stable_tracks={"car": 11, "truck": 5})
    assert by_class.observed == 11
    fewer = judge(parse("a convoy of 12 vehicles"), events, TimeMap.unknown(),
                  clip_span_s=SEED_SPAN, count_total=9, stable_tracks=4)
    assert fewer.observed == 9 and "counted crossing the line" in fewer.reason


# ------------------------------------------------------------------ bad arguments

def test_bad_arguments_raise():
    events = make_events(SEED_TIMES)
    with pytest.raises(ConvoyCountError, match="basis"):
        judge(parse("9 vehicles"), events, TimeMap.unknown(), clip_span_s=SEED_SPAN, basis="wall")
    with pytest.raises(ConvoyCountError, match="start <= end"):
        judge(parse("9 vehicles"), events, TimeMap.unknown(), clip_span_s=(5.0, 1.0))
    assert isinstance(judge(parse("9 vehicles"), [], TimeMap.unknown(),
                            clip_span_s=(0, 1)).by_basis["clip"], BasisVerdict)
