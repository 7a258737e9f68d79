"""Claims: parse a plain-English claim about vehicle footage and judge it
against counted crossing events.

Two kinds of claim:

* rate  -- "nine vehicles in 10 seconds", "30 vehicles per minute": N vehicles
  within a time window W. Observed = the most events in any closed window of
  length W on a time basis (clip time, or real time = clip time x K).
* total -- "a convoy of 25 trucks": N distinct vehicles. Observed = distinct
  vehicles counted at the line (or tracked long enough, if that is larger).

Verdicts: "consistent", "inconsistent" (the footage contradicts the claim),
"unsupported" (the footage shows less but may show only part of the event),
"undetermined" (no real time known, or the verdict depends on where the
speed-up K lies within its interval).
"""
from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence, Union

from .count import CrossingEvent
from .errors import ConvoyCountError
from .timing import TimeMap

QUALIFIERS = ("exactly", "about", "at_least", "more_than", "at_most", "fewer_than")
VERDICTS = ("consistent", "inconsistent", "unsupported", "undetermined")
BASES = ("clip", "real")

# Qualifiers that a busier stretch satisfies ("N in W" = N passed within some
# span of W) versus qualifiers that a busier stretch contradicts.
_LOWER_BOUND = ("exactly", "about", "at_least", "more_than")
_UPPER_BOUND = ("at_most", "fewer_than")

_EXAMPLE = 'try e.g. "nine vehicles in 10 seconds" or "a convoy of 25 trucks"'

# ---------------------------------------------------------------- vocabulary

_SMALL = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * (i + 2) for i, w in enumerate(
    "twenty thirty forty fifty sixty seventy eighty ninety".split())}

_UNIT_S = {}
for _names, _sec in ((("s", "sec", "secs", "second", "seconds"), 1.0),
                     (("min", "mins", "minute", "minutes"), 60.0),
                     (("h", "hr", "hrs", "hour", "hours"), 3600.0)):
    for _n in _names:
        _UNIT_S[_n] = _sec

# None = any vehicle. Collective nouns ("convoy") name no class and are not
# what a number in front of them counts ("one convoy of 25 trucks").
_VEHICLE_WORDS = {
    **dict.fromkeys(("vehicle", "vehicles", "convoy", "convoys", "column", "columns"), None),
    **dict.fromkeys(("car", "cars", "sedan", "sedans", "suv", "suvs", "jeep", "jeeps",
                     "automobile", "automobiles"), "car"),
    **dict.fromkeys(("truck", "trucks", "lorry", "lorries", "trailer", "trailers",
                     "pickup", "pickups"), "truck"),
    **dict.fromkeys(("bus", "buses", "busses", "coach", "coaches", "minibus", "minibuses"), "bus"),
    **dict.fromkeys(("motorcycle", "motorcycles", "motorbike", "motorbikes", "bike", "bikes",
                     "scooter", "scooters", "moped", "mopeds"), "motorcycle"),
    **dict.fromkeys(("van", "vans", "minivan", "minivans"), "van"),
    **dict.fromkeys(("tank", "tanks", "apc", "apcs", "armoured", "armored", "military",
                     "army", "humvee", "humvees"), "military"),
}
_COLLECTIVE = {"convoy", "convoys", "column", "columns"}
_SINGULAR_WORDS = {"vehicle", "car", "sedan", "suv", "jeep", "automobile", "truck", "lorry",
                   "trailer", "pickup", "bus", "coach", "minibus", "motorcycle", "motorbike",
                   "bike", "scooter", "moped", "van", "minivan", "tank", "apc", "humvee",
                   "military", "armoured", "armored", "army"}

# Longest phrases first so "no more than" wins over "more than".
_QUALIFIER_PHRASES = sorted([
    (("exactly",), "exactly"), (("precisely",), "exactly"),
    (("about",), "about"), (("around",), "about"), (("roughly",), "about"),
    (("approximately",), "about"), (("approx",), "about"), (("some",), "about"),
    (("nearly",), "about"), (("almost",), "about"), (("circa",), "about"),
    (("close", "to"), "about"),
    (("at", "least"), "at_least"), (("no", "fewer", "than"), "at_least"),
    (("no", "less", "than"), "at_least"), (("not", "less", "than"), "at_least"),
    (("not", "fewer", "than"), "at_least"), (("a", "minimum", "of"), "at_least"),
    (("more", "than"), "more_than"), (("over",), "more_than"),
    (("upwards", "of"), "more_than"), (("in", "excess", "of"), "more_than"),
    (("above",), "more_than"),
    (("up", "to"), "at_most"), (("at", "most"), "at_most"), (("no", "more", "than"), "at_most"),
    (("not", "more", "than"), "at_most"), (("a", "maximum", "of"), "at_most"),
    (("fewer", "than"), "fewer_than"), (("less", "than"), "fewer_than"),
    (("under",), "fewer_than"), (("below",), "fewer_than"),
], key=lambda p: -len(p[0]))

# Words that introduce a time window ("in 10 s") and words that may sit
# between it and the duration ("in under a minute", "in the span of 10 s").
# "in under W" is read as "in W": a stretch shorter than W is also within W.
_WINDOW_PREPS = {"in", "within", "over", "during", "for", "across", "inside", "every",
                 "per", "each"}
_PER_PREPS = {"per", "every", "each"}        # may take a bare unit: "per minute"
_WINDOW_FILLERS = {"the", "a", "an", "span", "space", "course", "period", "of", "just",
                   "only", "under", "less", "than", "about", "around", "roughly",
                   "approximately", "barely", "little", "single"}
_WINDOW_TRAILERS = {"window", "windows", "span", "period", "interval", "stretch"}


# ------------------------------------------------------------------- claim


@dataclass(frozen=True)
class Claim:
    text: str
    count: int
    qualifier: str = "exactly"
    vehicle_class: Optional[str] = None       # our class name; None = any vehicle
    window_s: Optional[float] = None          # rate window; None = a total
    kind: str = field(init=False)             # "rate" | "total", from window_s

    def __post_init__(self):
        if self.qualifier not in QUALIFIERS:
            raise ValueError(f"qualifier must be one of {QUALIFIERS}, got {self.qualifier!r}")
        if self.count < 0:
            raise ValueError(f"claimed count must be >= 0, got {self.count}")
        if self.window_s is not None and not (self.window_s > 0 and math.isfinite(self.window_s)):
            raise ValueError(f"claim window must be a positive number of seconds, got {self.window_s}")
        object.__setattr__(self, "kind", "total" if self.window_s is None else "rate")

    def to_dict(self) -> dict:
        return {"text": self.text, "count": self.count, "qualifier": self.qualifier,
                "vehicle_class": self.vehicle_class, "window_s": self.window_s, "kind": self.kind}


def _tokens(text: str) -> list:
    s = text.lower().replace("\u2019", "").replace("'", "")
    s = s.replace("/", " per ").replace("~", " about ").replace("\u00d7", " x ")
    s = re.sub(r"(?<=\d),(?=\d{3})", "", s)               # 1,000 -> 1000
    s = re.sub(r"(?<=[a-z0-9])-", " ", s)                  # twenty-five, 10-second
    return re.findall(r"-?\d+(?:\.\d+)?|[a-z]+|\+", s)


def _number_tail(toks: list, val: float, j: int) -> tuple:
    """(value, end) after the words that may follow a number: "two dozen",
    "one and a half"."""
    if j < len(toks) and toks[j] == "dozen":
        val, j = val * 12, j + 1
    if toks[j:j + 3] == ["and", "a", "half"]:
        val, j = val + 0.5, j + 3
    return val, j


def _digits_at(toks: list, i: int) -> tuple:
    """A number written in digits at toks[i], with "hundred"/"thousand" and the
    tail words after it ("2 hundred", "3 dozen"): (value, end, False)."""
    val, j = float(toks[i]), i + 1
    if j < len(toks) and toks[j] in ("hundred", "thousand"):
        val, j = val * (100 if toks[j] == "hundred" else 1000), j + 1
    val, j = _number_tail(toks, val, j)
    return val, j, False


def _idiom_at(toks: list, i: int):
    """Fixed phrases that stand for a number: "dozens of" / "hundreds of" (vague:
    read as at least 24 / 200), "half a dozen", "a couple", "a pair"; else None."""
    n, t = len(toks), toks[i]
    if t in ("dozens", "hundreds") and i + 1 < n and toks[i + 1] == "of":
        return (24.0 if t == "dozens" else 200.0), i + 1, True
    if toks[i:i + 3] in (["half", "a", "dozen"], ["half", "an", "dozen"]):
        return 6.0, i + 3, False
    if t in ("a", "an") and i + 1 < n and toks[i + 1] in ("couple", "pair"):
        return 2.0, i + 2, False
    return None


def _words_at(toks: list, i: int):
    """A number spelt out in words at toks[i] ("one hundred and twenty", "a
    thousand", "twenty five"): (value, end, False), or None. Words are read while
    they extend the number, so "nine ten" stops after "nine"."""
    n, t = len(toks), toks[i]
    j, total, current, last, seen = i, 0, 0, None, False
    if t in ("a", "an"):
        if not (i + 1 < n and toks[i + 1] in ("hundred", "thousand", "dozen")):
            return None
        current, last, seen, j = 1, "small", True, i + 1
    while j < n:
        w = toks[j]
        if w in _SMALL:
            # "twenty five" is one number, "nine ten" is not
            if last == "small" or (last == "tens" and not 0 < _SMALL[w] < 10):
                break
            current += _SMALL[w]
            last = "small"
        elif w in _TENS:
            if last in ("small", "tens"):
                break
            current += _TENS[w]
            last = "tens"
        elif w == "hundred":
            if last == "hundred":
                break
            current = (current or 1) * 100
            last = "hundred"
        elif w == "thousand":
            if last == "thousand":
                break
            total += (current or 1) * 1000
            current, last = 0, "thousand"
        elif (w == "and" and last in ("hundred", "thousand") and j + 1 < n
              and (toks[j + 1] in _SMALL or toks[j + 1] in _TENS)):
            j += 1
            continue
        elif w == "dozen" and seen:
            current, j, seen = (current or 1) * 12, j + 1, True
            break
        else:
            break
        seen = True
        j += 1
    if not seen:
        return None
    val, j = _number_tail(toks, float(total + current), j)
    return val, j, False


def _number_at(toks: list, i: int):
    """A number starting at toks[i]: (value, end, vague) or None.

    vague=True for "dozens of"/"hundreds of" (read as at least 24 / 200)."""
    if i >= len(toks):
        return None
    if re.fullmatch(r"-?\d+(?:\.\d+)?", toks[i]):
        return _digits_at(toks, i)
    idiom = _idiom_at(toks, i)
    if idiom is not None:
        return idiom
    return _words_at(toks, i)


def _duration_at(toks: list, i: int, bare_unit_ok: bool):
    """A duration starting at toks[i]: (seconds, end) or None."""
    n = len(toks)
    if i >= n:
        return None
    if toks[i] == "half" and i + 2 < n and toks[i + 1] in ("a", "an") and toks[i + 2] in _UNIT_S:
        return 0.5 * _UNIT_S[toks[i + 2]], i + 3
    if toks[i] in ("a", "an") and i + 1 < n and toks[i + 1] in _UNIT_S:
        val, j = 1.0, i + 2
        if toks[j:j + 3] == ["and", "a", "half"]:       # "a minute and a half"
            val, j = 1.5, j + 3
        return val * _UNIT_S[toks[i + 1]], j
    if bare_unit_ok and toks[i] in _UNIT_S and toks[i] != "s":
        return _UNIT_S[toks[i]], i + 1
    num = _number_at(toks, i)
    if num is not None and not num[2] and num[1] < n and toks[num[1]] in _UNIT_S:
        return num[0] * _UNIT_S[toks[num[1]]], num[1] + 1
    return None


def _find_windows(toks: list) -> list:
    """[(seconds, start, end)] of every time window phrase."""
    found, i, n = [], 0, len(toks)
    while i < n:
        t = toks[i]
        hit = None
        if t in _WINDOW_PREPS:
            k = i + 1
            while k < n and k <= i + 6:
                hit = _duration_at(toks, k, bare_unit_ok=t in _PER_PREPS)
                if hit is not None or toks[k] not in _WINDOW_FILLERS:
                    break
                k += 1
        elif t in ("a", "an") and i > 0 and toks[i - 1] in _VEHICLE_WORDS:
            # "30 vehicles a minute"
            hit = _duration_at(toks, i, bare_unit_ok=False)
        elif _number_at(toks, i) is not None:
            # a bare "10 seconds" / "a 10-second window" with no preposition
            d = _duration_at(toks, i, bare_unit_ok=False)
            if d is not None and toks[i] not in ("a", "an", "half"):
                hit = d
        if hit is not None:
            end = hit[1]
            while end < n and toks[end] in _WINDOW_TRAILERS:
                end += 1
            found.append((hit[0], i, end))
            i = end
        else:
            i += 1
    return found


def _fail(text: str, what: str) -> ConvoyCountError:
    shown = text if len(text) <= 80 else text[:77] + "..."
    return ConvoyCountError(f"could not understand the claim {shown!r}: {what}; {_EXAMPLE}")


def _window_of(text: str, toks: list) -> tuple:
    """(window seconds or None, token positions inside window phrases). Several
    phrases naming the same window are fine ("30 vehicles per minute, in a
    minute"); different windows make the claim ambiguous."""
    windows = _find_windows(toks)
    if len({w for w, _, _ in windows}) > 1:
        raise _fail(text, "it names more than one time window")
    window_s = windows[0][0] if windows else None
    if window_s is not None and not window_s > 0:
        raise _fail(text, f"the time window must be longer than zero, got {window_s:g} s")
    in_window = set()
    for _, a, b in windows:
        in_window.update(range(a, b))
    return window_s, in_window


def _count_candidates(toks: list, in_window: set) -> list:
    """[(value, start, end, vague)] of every number outside the window phrases; with
    none, the article of a singular vehicle noun ("a vehicle every 2 seconds": the
    article counts one vehicle)."""
    numbers, i = [], 0
    while i < len(toks):
        if i in in_window:
            i += 1
            continue
        num = _number_at(toks, i)
        if num is None or any(k in in_window for k in range(i, num[1])):
            i += 1
            continue
        numbers.append((num[0], i, num[1], num[2]))
        i = num[1]
    if not numbers:
        numbers = [(1.0, i, i + 1, False) for i in range(len(toks) - 1)
                   if toks[i] in ("a", "an") and i + 1 not in in_window
                   and toks[i + 1] in _VEHICLE_WORDS and toks[i + 1] not in _COLLECTIVE
                   and toks[i + 1] in _SINGULAR_WORDS][:1]
    return numbers


def _pick_count(numbers: list, nouns: list) -> tuple:
    """The candidate that counts the vehicles: the number right in front of a
    vehicle noun ("25 cars", "nine military vehicles"); failing that, the one
    nearest a noun (after "convoy of"); ties go to the earlier number."""
    def _score(cand):
        _, start, end, _ = cand
        after = [j - end for j, w in nouns if j >= end and w not in _COLLECTIVE]
        if after:
            return (0, min(after), start)
        return (1, min(abs(start - j) for j, _ in nouns), start)

    return min(numbers, key=_score)


def _qualifier_of(toks: list, start: int, end: int, vague: bool) -> str:
    """The qualifier of the count at toks[start:end]: a phrase right before it
    ("no more than"), else "+", "plus", "or more", "or fewer" right after it; a
    vague count ("dozens of") is at least its value."""
    qualifier = "at_least" if vague else "exactly"
    for phrase, q in _QUALIFIER_PHRASES:
        k = len(phrase)
        if start - k >= 0 and tuple(toks[start - k:start]) == phrase:
            return q
    after = toks[end:end + 5]
    joined = " ".join(after)
    if after[:1] == ["+"] or after[:1] == ["plus"] or " or more" in f" {joined}":
        qualifier = "at_least"
    elif " or fewer" in f" {joined}" or " or less" in f" {joined}":
        qualifier = "at_most"
    return qualifier


def _vehicle_class(nouns: list) -> Optional[str]:
    """The one class the nouns name; "military" wins ("military trucks" are
    military vehicles); none or several ("cars and trucks") mean any vehicle."""
    classes = {_VEHICLE_WORDS[w] for _, w in nouns} - {None}
    if "military" in classes:
        return "military"
    if len(classes) == 1:
        return classes.pop()
    return None


def parse(text: str) -> Claim:
    """Parse a plain-English claim into a `Claim`; raise ConvoyCountError if it cannot."""
    if text is None or not str(text).strip():
        raise ConvoyCountError(f"the claim is empty; {_EXAMPLE}")
    text = " ".join(str(text).split())
    toks = _tokens(text)
    window_s, in_window = _window_of(text, toks)

    nouns = [(i, toks[i]) for i in range(len(toks))
             if i not in in_window and toks[i] in _VEHICLE_WORDS]
    if not nouns:
        raise _fail(text, "no vehicle word (vehicles, cars, trucks, buses, tanks, convoy, ...)")
    numbers = _count_candidates(toks, in_window)
    if not numbers:
        raise _fail(text, "no number of vehicles")

    value, start, end, vague = _pick_count(numbers, nouns)
    if value < 0:
        raise _fail(text, f"a count of vehicles cannot be negative, got {value:g}")
    if value != int(value):
        raise _fail(text, f"a count of vehicles must be a whole number, got {value:g}")
    return Claim(text=text, count=int(value), qualifier=_qualifier_of(toks, start, end, vague),
                 vehicle_class=_vehicle_class(nouns), window_s=window_s)


# ---------------------------------------------------------------- judging


def default_tolerance(claim: Claim, count_uncertainty: int = 0) -> int:
    """Counting is a measurement: allow max(1, count_uncertainty) vehicles either
    way; "about N" widens that to 10% of N (rounded half up)."""
    tol = max(1, int(count_uncertainty or 0))
    if claim.qualifier == "about":
        tol = max(tol, int(0.1 * claim.count + 0.5))
    return tol


@dataclass(frozen=True)
class BasisVerdict:
    basis: str                                   # "clip" | "real"
    verdict: str
    observed: Optional[int]
    tolerance: int
    window: Optional[tuple]                      # (start, end) on this basis holding the max
                                                 # (the whole footage when shorter than W)
    span_s: Optional[float]                      # footage span on this basis
    reason: str
    speedup: Optional[float] = None              # K used (real basis)
    speedup_interval: Optional[tuple] = None     # (low, high) evaluated (real basis)
    depends_on_speedup: bool = False
    verdict_at_low: Optional[str] = None
    verdict_at_high: Optional[str] = None
    observed_at_low: Optional[int] = None
    observed_at_high: Optional[int] = None
    flip_speedups: tuple = ()                    # K values where the verdict changes

    def to_dict(self) -> dict:
        def _r(v):
            return None if v is None else round(float(v), 4)
        return {"basis": self.basis, "verdict": self.verdict, "observed": self.observed,
                "tolerance": self.tolerance,
                "window": None if self.window is None else [_r(v) for v in self.window],
                "span_s": _r(self.span_s), "reason": self.reason, "speedup": _r(self.speedup),
                "speedup_interval": (None if self.speedup_interval is None
                                     else [_r(v) for v in self.speedup_interval]),
                "depends_on_speedup": self.depends_on_speedup,
                "verdict_at_low": self.verdict_at_low, "verdict_at_high": self.verdict_at_high,
                "observed_at_low": self.observed_at_low, "observed_at_high": self.observed_at_high,
                "flip_speedups": [_r(v) for v in self.flip_speedups]}


@dataclass(frozen=True)
class ClaimResult:
    text: str
    parsed: Claim
    basis: str
    verdict: str
    observed: Optional[int]
    tolerance: int
    reason: str
    by_basis: dict                               # {"clip": BasisVerdict, "real": BasisVerdict | None}
    parts: dict = field(default_factory=dict)    # {"count": {...}, "class": {...}}: judged apart

    def to_dict(self) -> dict:
        return {"text": self.text, "parsed": self.parsed.to_dict(), "basis": self.basis,
                "observed": self.observed, "verdict": self.verdict, "tolerance": self.tolerance,
                "reason": self.reason, "parts": self.parts,
                "by_basis": {k: (None if v is None else v.to_dict())
                             for k, v in self.by_basis.items()}}


# -- wording helpers

_PLURAL = {"car": "cars", "truck": "trucks", "bus": "buses", "motorcycle": "motorcycles",
           "van": "vans", "military": "military vehicles", None: "vehicles"}
_SINGULAR = {"car": "car", "truck": "truck", "bus": "bus", "motorcycle": "motorcycle",
             "van": "van", "military": "military vehicle", None: "vehicle"}
_QUAL_WORDS = {"exactly": "", "about": "about ", "at_least": "at least ",
               "more_than": "more than ", "at_most": "at most ", "fewer_than": "fewer than "}
_SOURCE_WORDS = {"given": "given", "real_duration": "from the stated real duration",
                 "metadata": "from metadata", "kinematics": "estimated from vehicle motion",
                 "clock": "from an on-screen clock", "combined": "combined estimate",
                 "unknown": "source unknown"}


def _noun(cls, n) -> str:
    return (_SINGULAR if n == 1 else _PLURAL)[cls]


def _fmt_dur(s: float) -> str:
    if s >= 3600 and abs(s / 3600 - round(s / 3600)) < 1e-9:
        return f"{s / 3600:g} h"
    if s >= 60 and abs(s / 60 - round(s / 60)) < 1e-9:
        return f"{s / 60:g} min"
    return f"{s:.3g} s" if s < 10 else f"{s:.4g} s"


def _fmt_k(k: float) -> str:
    s = f"{k:.2f}".rstrip("0")
    return s + "0" if s.endswith(".") else s


def _claimed(claim: Claim) -> str:
    s = f"{_QUAL_WORDS[claim.qualifier]}{claim.count} {_noun(claim.vehicle_class, claim.count)}"
    if claim.window_s is not None:
        s += f" in {_fmt_dur(claim.window_s)}"
    return s


def _satisfied(obs: int, n: int, qualifier: str, tol: int, rate: bool) -> bool:
    if rate and qualifier in ("exactly", "about"):
        # "N in W" means N passed within some span of W. A window holding more
        # than N contains a shorter span holding exactly N (drop the last
        # arrivals), so any window with at least N - tol agrees with the claim.
        return obs >= n - tol
    return {"exactly": abs(obs - n) <= tol, "about": abs(obs - n) <= tol,
            "at_least": obs >= n - tol, "more_than": obs > n - tol,
            "at_most": obs <= n + tol, "fewer_than": obs < n + tol}[qualifier]


def _max_in_window(times: Sequence[float], w: float):
    """Most events in any closed window [a, a + w]: (count, first, last) over sorted times."""
    best, bi, bj, i = 0, None, None, 0
    eps = 1e-9 * max(1.0, w)
    for j, t in enumerate(times):
        while t - times[i] > w + eps:
            i += 1
        if j - i + 1 > best:
            best, bi, bj = j - i + 1, i, j
    if best == 0:
        return 0, None, None
    return best, times[bi], times[bj]


def _rate_eval(claim: Claim, clip_times: Sequence[float], clip_span: tuple, k: float, tol: int):
    """Verdict of a rate claim with basis times = clip times x k:
    (verdict, observed, window, span)."""
    w = claim.window_s
    times = [t * k for t in clip_times]
    span = (clip_span[1] - clip_span[0]) * k
    obs, first, last = _max_in_window(times, w)
    window = None
    if first is not None:
        # Report a window of length W holding the busiest stretch, kept inside
        # the footage when the footage is long enough.
        lo_b, hi_b = clip_span[0] * k, clip_span[1] * k
        if span >= w:
            start = max(lo_b, last - w, min(first, hi_b - w))
            window = (start, start + w)
        else:                      # the whole footage fits inside one window
            window = (lo_b, hi_b)
    full = span + 1e-9 * max(1.0, w) >= w
    ok = _satisfied(obs, claim.count, claim.qualifier, tol, rate=True)
    if claim.qualifier in _LOWER_BOUND:
        verdict = "consistent" if ok else ("inconsistent" if full else "unsupported")
    else:
        verdict = "inconsistent" if not ok else ("consistent" if full else "unsupported")
    return verdict, obs, window, span


def _rate_sentence(claim, verdict, obs, window, span, basis_text, cls_counted) -> str:
    w = _fmt_dur(claim.window_s)
    noun = _noun(cls_counted, obs)
    if verdict != "consistent" and span + 1e-9 * max(1.0, claim.window_s) < claim.window_s:
        return (f"The footage covers only {_fmt_dur(span)} of {basis_text}, shorter than the "
                f"claimed {w} window, and shows {obs} {noun} in it")
    if claim.qualifier in _LOWER_BOUND and verdict == "consistent" and window is not None:
        return (f"Up to {obs} {noun} pass within {w} of {basis_text}, "
                f"between {window[0]:.1f} s and {window[1]:.1f} s")
    return f"At most {obs} {noun} pass in any {w} of {basis_text}"


def _finish(parts: list) -> str:
    s = "; ".join(p for p in parts if p)
    return s[0].upper() + s[1:] + "."


CLASS_STATUSES = ("not_claimed", "checked", "unverified", "contradicted")

# What a detector that cannot name a claimed class may call such a vehicle instead.
# A COCO detector sees a tank or an APC as a truck (sometimes a bus), never as a car
# or a motorcycle; a military jeep or Humvee it sees as a car; a van as a car or a
# truck. "vehicle" is a class-blind detector's (motion) only label.
_LOOKALIKES = {
    "armour": ("truck", "bus", "vehicle"),
    "military": ("truck", "bus", "car", "vehicle"),
    "van": ("car", "truck", "vehicle"),
}
_ARMOUR_WORDS = {"tank", "tanks", "apc", "apcs", "armoured", "armored"}


@dataclass(frozen=True)
class _ClassPart:
    status: str                     # one of CLASS_STATUSES
    count_class: Optional[str]      # count only events of this class (None: see candidates)
    candidates: Optional[tuple]     # unverified: classes that could be the claimed one
    reason: str

    def to_dict(self) -> dict:
        return {"status": self.status, "reason": self.reason,
                "candidate_classes": None if self.candidates is None else list(self.candidates)}


def _class_part(claim: Claim, detector_classes: Optional[Sequence[str]]) -> _ClassPart:
    """Can the counts see the claimed class? `detector_classes`: the classes the
    detector emits (None: trust the events' classes as they are)."""
    c = claim.vehicle_class
    if c is None:
        return _ClassPart("not_claimed", None, None, "")
    if c != "military" and (detector_classes is None or c in detector_classes):
        return _ClassPart("checked", c, None, f"{_PLURAL[c]} were counted by class")
    kind = "armour" if _ARMOUR_WORDS & set(_tokens(claim.text)) else c
    known = tuple(detector_classes or ())
    candidates = tuple(k for k in _LOOKALIKES.get(kind, (c, "vehicle")) if k in known or not known)
    if known == ("vehicle",):
        why = f"the detector does not tell {_PLURAL[c]} from other vehicles"
    elif c == "military":
        why = ("no detector here tells military from civilian vehicles (a COCO detector "
               f"labels them {' or '.join(k for k in candidates if k != 'vehicle')})")
    else:
        why = f"the detector has no {_SINGULAR[c]} class"
    return _ClassPart("unverified", None, candidates, why)


def _class_count(value, cls) -> Optional[int]:
    """An int total, or a per-class mapping summed over the class (None = all)."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return int(sum(v for k, v in value.items() if cls is None or k == cls))
    return int(value) if cls is None else None


def _clip_span(clip_span_s) -> tuple:
    """(start, end) clip seconds of the analysed footage, as floats, checked: two
    finite numbers with start <= end."""
    try:
        span_start, span_end = (float(v) for v in clip_span_s)
    except (TypeError, ValueError):
        raise ConvoyCountError(f"clip_span_s must be (start, end) seconds, got {clip_span_s!r}")
    if not (math.isfinite(span_start) and math.isfinite(span_end) and span_end >= span_start):
        raise ConvoyCountError(f"clip_span_s must satisfy start <= end, got {clip_span_s!r}")
    return (span_start, span_end)


def _real_time_words(time_map: TimeMap) -> str:
    """How the reasons name real time: the speed-up, where it comes from, and its
    interval when there is one."""
    k = time_map.speedup
    text = f"real time (\u00d7{_fmt_k(k)}, {_SOURCE_WORDS.get(time_map.source, time_map.source)}"
    if time_map.interval is not None:
        text += f", {_fmt_k(time_map.interval[0])}\u2013{_fmt_k(time_map.interval[1])}"
    return text + ")"


def _judge_rate(claim, clip_times, clip_span, time_map, tol, counted_cls, claimed, class_note):
    """(clip verdict, real verdict or None when real time is unknown) of a rate claim."""
    v, obs, win, span = _rate_eval(claim, clip_times, clip_span, 1.0, tol)
    clip_v = BasisVerdict("clip", v, obs, tol, win, span, _finish(
        [_rate_sentence(claim, v, obs, win, span, "clip time", counted_cls), claimed, class_note]))
    real_v = None
    if time_map.known:
        real_v = _judge_rate_real(claim, clip_times, clip_span, time_map, tol,
                                  _real_time_words(time_map), counted_cls, claimed, class_note)
    return clip_v, real_v


def _on_basis(claim: Claim, basis: str, tol: int, clip_v, real_v) -> ClaimResult:
    """The result on the chosen basis. A total does not depend on the basis, so it
    is answered on clip time when real time is unknown; a rate on an unknown real
    time is undetermined."""
    if basis == "clip":
        top = clip_v
    elif real_v is not None:
        top = real_v
    elif claim.kind == "total":
        top = clip_v
    else:
        reason = _finish([f"Real time is unknown (no speed-up given or estimated), so "
                          f"{_claimed(claim)} of real time cannot be checked",
                          "give --speedup or --real-duration, or judge on clip time"])
        return ClaimResult(claim.text, claim, "real", "undetermined", None, tol, reason,
                           {"clip": clip_v, "real": None})
    return ClaimResult(claim.text, claim, basis, top.verdict, top.observed, tol,
                       top.reason, {"clip": clip_v, "real": real_v})


def judge(claim: Claim, events: Sequence[CrossingEvent], time_map: TimeMap, *,
          clip_span_s: tuple, count_total: Optional[int] = None,
          stable_tracks: Union[int, Mapping[str, int], None] = None,
          basis: Optional[str] = None, count_uncertainty: int = 0,
          detector_classes: Optional[Sequence[str]] = None) -> ClaimResult:
    """Judge `claim` against crossing `events` on the clip and real time bases.

    The number and the class are judged apart (`parts`). A class the detector
    labels is counted by class. A class it cannot name (any class for a
    class-blind detector; "military" for every detector here) bounds the count
    between none and every vehicle that could be one: a verdict that holds at
    both bounds stands, otherwise the claim is `undetermined`; if every counted
    vehicle is clearly something else (cars for "tanks"), the class is contradicted.

    clip_span_s: (start, end) clip time covered by the analysed footage.
    count_total: distinct vehicles counted at the line (all classes); default:
      distinct track ids among `events`. Used only when all classes are counted.
    stable_tracks: distinct vehicles tracked long enough even without crossing;
      an int (all classes) or {class: count}. A total claim uses the larger count.
    basis: "clip" | "real" | None (real when the time map is known, else clip).
    detector_classes: the classes the detector can emit (None: trust the events).
    """
    if basis is not None and basis not in BASES:
        raise ConvoyCountError(f"basis must be one of {BASES} or None, got {basis!r}")
    clip_span = _clip_span(clip_span_s)
    basis = basis or ("real" if time_map.known else "clip")
    part = _class_part(claim, detector_classes)
    if part.status != "unverified":
        chosen = [e for e in events if part.count_class is None or e.class_name == part.count_class]
        r = _judge_counts(claim, chosen, part.count_class, time_map, clip_span, count_total,
                          stable_tracks, basis, count_uncertainty, "")
        return dataclasses.replace(r, parts=_parts(r, part))
    return _judge_unverified_class(claim, events, part, time_map, clip_span, stable_tracks,
                                   basis, count_uncertainty)


def _judge_counts(claim, chosen, counted_cls, time_map, clip_span, count_total, stable_tracks,
                  basis, count_uncertainty, class_note) -> ClaimResult:
    """The number part: the claim judged on the events `chosen`."""
    tol = default_tolerance(claim, count_uncertainty)
    clip_times = sorted(float(e.clip_time_s) for e in chosen if math.isfinite(e.clip_time_s))
    claimed = f"the claim says {_claimed(claim)} (tolerance \u00b1{tol})"
    k = time_map.speedup if time_map.known else None
    if claim.kind == "total":
        clip_v, real_v = _judge_total(claim, chosen, counted_cls, clip_span, k, count_total,
                                      stable_tracks, tol, claimed, class_note)
    else:
        clip_v, real_v = _judge_rate(claim, clip_times, clip_span, time_map, tol, counted_cls,
                                     claimed, class_note)
    return _on_basis(claim, basis, tol, clip_v, real_v)


def _parts(r: ClaimResult, part: _ClassPart) -> dict:
    """The number part (as judged on the vehicles counted for it) and the class part."""
    return {"count": {"verdict": r.verdict, "observed": r.observed, "basis": r.basis},
            "class": part.to_dict()}


def _judge_unverified_class(claim, events, part: _ClassPart, time_map, clip_span, stable_tracks,
                            basis, count_uncertainty) -> ClaimResult:
    """Bound the count of a class nobody can see: from none of the vehicles to every
    one that could be of that class."""
    cands = [e for e in events if e.class_name in part.candidates]
    if isinstance(stable_tracks, Mapping):
        stable_hi = int(sum(v for k, v in stable_tracks.items() if k in part.candidates))
    else:                               # an int covers every class: usable if all are candidates
        stable_hi = stable_tracks if len(cands) == len(events) else None
    what = _PLURAL[claim.vehicle_class]
    note = f"{part.reason}, so between 0 and {len(cands)} of the counted vehicles may be {what}"
    hi = _judge_counts(claim, cands, None, time_map, clip_span, len({e.track_id for e in cands}),
                       stable_hi, basis, count_uncertainty, note)
    if events and not cands:
        return _class_contradicted(claim, events, part, hi)
    lo = _judge_counts(claim, [], None, time_map, clip_span, 0, 0, basis, count_uncertainty, note)
    by_basis = {b: _bounded(v, lo.by_basis.get(b), f"all {len(cands)} vehicles that could be "
                            f"{what} were") for b, v in hi.by_basis.items()}
    top = by_basis.get(hi.basis)
    if top is None:                     # a rate on unknown real time: undetermined already
        return dataclasses.replace(hi, parts=_parts(hi, part))
    return ClaimResult(claim.text, claim, hi.basis, top.verdict, top.observed, hi.tolerance,
                       top.reason, by_basis, _parts(hi, part))


def _class_contradicted(claim, events, part: _ClassPart, hi: ClaimResult) -> ClaimResult:
    """Every counted vehicle is clearly of another class (cars for "tanks"): the
    footage contradicts the claim whatever the number, on every basis."""
    seen, what = _classes_seen(events), _PLURAL[claim.vehicle_class]
    part = dataclasses.replace(part, status="contradicted", reason=(
        f"every counted vehicle was seen as {seen}; none could be {what}"))
    reason = _finish([f"The footage shows {len(events)} {_noun(None, len(events))}, all {seen}, "
                      f"and none that could be {what}", f"the claim says {_claimed(claim)}"])
    by_basis = {b: None if v is None else dataclasses.replace(v, verdict="inconsistent",
                                                              reason=reason)
                for b, v in hi.by_basis.items()}
    return ClaimResult(claim.text, claim, hi.basis, "inconsistent", 0, hi.tolerance, reason,
                       by_basis, _parts(hi, part))


def _bounded(hv: Optional[BasisVerdict], lv: Optional[BasisVerdict], if_all: str):
    """One basis's verdict when the true count lies between lv's (none of the
    candidates is of the claimed class) and hv's (all are): it stands if both
    agree, else it is undetermined."""
    if hv is None or lv is None or hv.verdict == lv.verdict:
        return hv
    return dataclasses.replace(hv, verdict="undetermined", reason=_finish([
        f"If {if_all}, the claim would be {hv.verdict}; if none were, {lv.verdict}",
        hv.reason.rstrip(".")]))


def _classes_seen(events) -> str:
    names = sorted({_PLURAL.get(e.class_name, e.class_name) for e in events})
    return " or ".join(names)


def _judge_total(claim, chosen, cls, clip_span, k, count_total, stable_tracks, tol, claimed,
                 class_note):
    line = _class_count(count_total, cls)
    if line is None:
        line = len({e.track_id for e in chosen})
    stable = _class_count(stable_tracks, cls)
    n = claim.count
    if stable is not None and stable > line:
        observed = stable
        what = (f"{stable} distinct {_noun(cls, stable)} "
                f"{'was' if stable == 1 else 'were'} tracked long enough to count "
                f"({line} crossed the counting line)")
    else:
        observed = line
        what = (f"{line} distinct {_noun(cls, line)} "
                f"{'was' if line == 1 else 'were'} counted crossing the line")
    if _satisfied(observed, n, claim.qualifier, tol, rate=False):
        verdict, extra = "consistent", ""
    elif claim.qualifier in _UPPER_BOUND or observed > n + tol:
        verdict, extra = "inconsistent", ""
    else:
        verdict, extra = "unsupported", "the clip may show only part of the event"
    reason = _finish([what, claimed, extra, class_note])
    span = clip_span[1] - clip_span[0]
    clip_v = BasisVerdict("clip", verdict, observed, tol, None, span, reason)
    real_v = None
    if k is not None:
        real_v = BasisVerdict("real", verdict, observed, tol, None, span * k, reason, speedup=k)
    return clip_v, real_v


def _judge_rate_real(claim, clip_times, clip_span, time_map, tol, k_text, counted_cls,
                     claimed, class_note) -> BasisVerdict:
    k = time_map.speedup
    v, obs, win, span = _rate_eval(claim, clip_times, clip_span, k, tol)
    sentence = _rate_sentence(claim, v, obs, win, span, k_text, counted_cls)
    if time_map.interval is None:
        return BasisVerdict("real", v, obs, tol, win, span,
                            _finish([sentence, claimed, class_note]), speedup=k)

    lo, hi = min(time_map.interval[0], k), max(time_map.interval[1], k)
    v_lo, obs_lo, _, _ = _rate_eval(claim, clip_times, clip_span, lo, tol)
    v_hi, obs_hi, _, _ = _rate_eval(claim, clip_times, clip_span, hi, tol)
    common = dict(speedup=k, speedup_interval=(lo, hi), verdict_at_low=v_lo,
                  verdict_at_high=v_hi, observed_at_low=obs_lo, observed_at_high=obs_hi)
    if v_lo == v == v_hi:
        return BasisVerdict("real", v, obs, tol, win, span,
                            _finish([sentence, claimed, class_note]), **common)

    flips = _flip_points(lambda kk: _rate_eval(claim, clip_times, clip_span, kk, tol)[0], lo, hi)
    w = _fmt_dur(claim.window_s)
    flip_text = " and ".join(f"\u00d7{_fmt_k(f)}" for f in flips)
    reason = _finish([
        f"The verdict depends on the speed-up: at \u00d7{_fmt_k(lo)} the busiest {w} of real "
        f"time holds {obs_lo} {_noun(counted_cls, obs_lo)} ({v_lo}), at \u00d7{_fmt_k(hi)} "
        f"{obs_hi} ({v_hi}), and it changes near {flip_text}",
        claimed, class_note])
    return BasisVerdict("real", "undetermined", obs, tol, win, span, reason,
                        depends_on_speedup=True, flip_speedups=tuple(flips), **common)


def _flip_points(verdict_at, lo: float, hi: float, steps: int = 200) -> list:
    """K values in [lo, hi] where verdict_at(K) changes: a geometric scan, then
    bisection of each change to 0.1%."""
    if hi <= lo:
        return []
    ks = [lo * (hi / lo) ** (i / steps) for i in range(steps + 1)]
    vs = [verdict_at(kk) for kk in ks]
    flips = []
    for a, b, va, vb in zip(ks, ks[1:], vs, vs[1:]):
        if va == vb:
            continue
        while b - a > 1e-3 * a:
            m = (a + b) / 2
            if verdict_at(m) == va:
                a = m
            else:
                b = m
        flips.append((a + b) / 2)
    return flips
