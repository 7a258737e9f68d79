"""Real footage: counts of the bundled COCO detector against careful hand counts.

The four clips live outside the repository (../shared/realclips, or the folder in
$CONVOYCOUNT_REALCLIPS) and are never copied into it; the hand counts are in
benchmarks/realclips_hand.json (how they were made: benchmarks/realclips.md).
Each clip is counted with `--detector coco` and with the motion detector at the
hand count's line, then sped-up copies (every K-th frame kept, pts / K, written
to a temporary folder) are counted with `speedup=K`.
"""
from __future__ import annotations

import dataclasses
import json
import tempfile
import time
from fractions import Fraction
from pathlib import Path

from convoycount.realclips import realclips_dir, why_missing

HERE = Path(__file__).resolve().parent
HAND_FILE = HERE / "realclips_hand.json"
SPEEDUPS = (3, 6)
# residential_a is a 10 fps camera: x6 would leave 1.7 frames per real second, a car in
# view for ~5 of them (see benchmarks/realclips.md), so it is sped up x3 and x4.
SPEEDUPS_OF = {"residential_a": (3, 4)}
QUICK_CLIPS = ("highway_b",)


def hand_counts() -> dict:
    """{clip name: {"file", "line", "counted", "total", "events": [...], optional "span_s"}}.
    Clips judged not countable with a fixed line are kept apart, under "not_countable"."""
    return json.loads(HAND_FILE.read_text())["clips"]


def in_span(hand: dict, events: list) -> list:
    """The counted events inside the hand count's span ("span_s": [start, end], clip
    seconds; the whole clip without one): after a cut the line is no longer in the
    scene, so nothing there is expected and nothing there may be counted against it."""
    lo, hi = hand.get("span_s", (float("-inf"), float("inf")))
    return [e for e in events if lo <= e.clip_time_s <= hi]


def _family(class_name: str) -> str:
    """Hand classes (car, pickup, van, bus, motorcycle) and detector classes (car, truck,
    bus, motorcycle) grouped the way they can be told apart."""
    return class_name if class_name in ("motorcycle", "bus") else "car"


def match_events(hand_events: list, events: list, tol_s: float = 0.6) -> tuple:
    """Pair counted events with hand-counted ones (same direction, clip times within
    tol_s, nearest first; on near-ties the same kind of vehicle): (matched, missed hand
    events, extra counted events). `events` are CrossingEvents, their clip_time_s on the
    original clip's clock."""
    pairs = sorted(((abs(e.clip_time_s - h["time_s"])
                     + (0.25 if _family(e.class_name) != _family(h["class"]) else 0.0), hi, ei)
                    for hi, h in enumerate(hand_events) for ei, e in enumerate(events)
                    if e.direction == h["direction"] and abs(e.clip_time_s - h["time_s"]) <= tol_s),
                   key=lambda p: p[0])
    used_h, used_e = set(), set()
    for _, hi, ei in pairs:
        if hi not in used_h and ei not in used_e:
            used_h.add(hi)
            used_e.add(ei)
    missed = [h for hi, h in enumerate(hand_events) if hi not in used_h]
    extra = [e for ei, e in enumerate(events) if ei not in used_e]
    return len(used_h), missed, extra


def speed_up_copy(src, dst, k: int, crf: int = 20) -> int:
    """Write a K-times faster copy of `src` to `dst`: every K-th decoded frame, each with
    pts = original pts / K in a 1/90000 time base (H.264). Returns the frames written."""
    import av
    tb = Fraction(1, 90000)
    written, last = 0, None
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        vout = out.add_stream("libx264", rate=max(1, round(float(vin.average_rate or 25))))
        vout.width, vout.height, vout.pix_fmt = vin.codec_context.width, vin.codec_context.height, "yuv420p"
        # Both: the muxer takes the stream's, the encoder the codec context's time base.
        vout.time_base = tb
        vout.codec_context.time_base = tb
        vout.options = {"crf": str(crf), "preset": "veryfast"}
        for i, frame in enumerate(inp.decode(vin)):
            if i % k:
                continue
            pts = int(round(frame.pts * frame.time_base / k / tb))
            pts = pts if last is None or pts > last else last + 1
            last = pts
            f = frame.reformat(format="yuv420p")
            f.pts, f.time_base = pts, tb
            out.mux(vout.encode(f))
            written += 1
        out.mux(vout.encode(None))
    return written


def _diff(n: int, hand: int) -> str:
    return f"{n - hand:+d}"


def _events_note(hand, events, k: int = 1) -> str:
    ev = in_span(hand, [dataclasses.replace(e, clip_time_s=e.clip_time_s * k) for e in events])
    matched, missed, extra = match_events(hand["events"], ev)
    parts = [f"{matched}/{len(hand_events)} matched"]
    if missed:
        parts.append("missed " + ", ".join(f"{h['class']} {h['time_s']:.1f}s" for h in missed))
    if extra:
        parts.append("extra " + ", ".join(f"{e.class_name} {e.clip_time_s:.1f}s" for e in ev if e in extra))
    return "; ".join(parts)


def run(quick: bool = False) -> str:
    import convoycount
    folder = realclips_dir()
    hand = hand_counts()
    reason = why_missing([c["file"] for c in hand.values()], folder)
    if reason:
        return f"## Real clips (COCO detector vs hand counts)\n\nSkipped: {reason}.\n"
    names = [n for n in hand if n in QUICK_CLIPS] if quick else list(hand)
    rows, fast_rows = [], []
    for name in names:
        c = hand[name]
        clip = folder / c["file"]
        t0 = time.perf_counter()
        r = convoycount.analyze(clip, detector="coco", line=c["line"])
        fps = r.frames_processed / (time.perf_counter() - t0)
        m = convoycount.analyze(clip, detector="motion", line=c["line"])
        n, n_m = len(in_span(c, r.events)), len(in_span(c, m.events))
        rows.append(f"| {name} | `{c['line']}` | {c['total']} | {n} | {n_m} | "
                    f"{_diff(n, c['total'])} | {fps:.1f} | {_events_note(c, r.events)} |")
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            c = hand[name]
            ks = SPEEDUPS_OF.get(name, SPEEDUPS)
            for k in (ks[:1] if quick else ks):
                fast = Path(tmp) / f"{name}_x{k}.mp4"
                n = speed_up_copy(folder / c["file"], fast, k)
                r = convoycount.analyze(fast, detector="coco", line=c["line"], speedup=k)
                got = len(in_span(c, [dataclasses.replace(e, clip_time_s=e.clip_time_s * k)
                                      for e in r.events]))
                fast_rows.append(f"| {name} | x{k} | {n} | {c['total']} | {got} | "
                                 f"{_diff(got, c['total'])} | "
                                 f"{_events_note(c, r.events, k)} |")
    return ("## Real clips (COCO detector vs hand counts)\n\n"
            "Hand counts: benchmarks/realclips_hand.json (made frame by frame, see "
            "benchmarks/realclips.md). coco = `analyze(clip, detector=\"coco\", line=...)`, "
            "motion = the same with the motion detector; diff = coco - hand; fps = frames / wall "
            "time of the whole coco pipeline (decode, detect, track, count). Events are matched "
            "to the hand list by direction and time (within 0.6 s).\n\n"
            "| clip | line | hand | coco | motion | diff | coco fps | coco events |\n"
            "|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
            "Sped-up copies: every K-th frame kept, pts / K (1/90000 time base, H.264 crf 20), "
            "counted with `speedup=K`; event times are compared on the original clock (x K).\n\n"
            "| clip | K | frames | hand | coco | diff | coco events |\n"
            "|---|---|---|---|---|---|---|\n" + "\n".join(fast_rows) + "\n")
