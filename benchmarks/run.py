"""Benchmark runner: `python benchmarks/run.py [SECTION ...]`.

Each section is a module `benchmarks/bench_<name>.py` with
`run(quick: bool) -> str` returning a Markdown block (a title line, a table and
a few lines on how it was measured). The runner prints each block and writes it
into benchmarks/RESULTS.md between markers, so running one section refreshes
only its part. Numbers in one section come from one run on one machine.
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import platform
import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))


def sections() -> list:
    return sorted(p.stem[len("bench_"):] for p in HERE.glob("bench_*.py"))


def machine() -> str:
    import os
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def update_results(name: str, block: str) -> None:
    from convoycount.io import write_text
    text = RESULTS.read_text() if RESULTS.exists() else (
        "# Benchmark results\n\nWritten by `python benchmarks/run.py`; each section is "
        "replaced when it is run again. Ratios within a section come from one run.\n")
    start, end = f"<!-- section:{name} -->", f"<!-- /section:{name} -->"
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    new = f"{start}\n{block.rstrip()}\n\n_Run {stamp} on {machine()}._\n{end}"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda m: new, text) if pattern.search(text) else text.rstrip() + "\n\n" + new + "\n"
    write_text(RESULTS, text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sections", nargs="*", help=f"any of: {', '.join(sections())} (default: all)")
    ap.add_argument("--quick", action="store_true", help="fewer clips / repetitions (smoke run)")
    ap.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md alone")
    ap.add_argument("--json", metavar="OUT", help="raw results as JSON (sections that offer it, e.g. peers)")
    args = ap.parse_args()
    # `speedup-real` and `speedup_real` name the same section
    chosen = [c.replace("-", "_") for c in args.sections] or sections()
    unknown = set(chosen) - set(sections())
    if unknown:
        ap.error(f"unknown section(s): {', '.join(sorted(unknown))}; have {', '.join(sections())}")
    for name in chosen:
        t0 = time.perf_counter()
        section = importlib.import_module(f"bench_{name}")
        if args.json and "json_out" in inspect.signature(section.run).parameters:
            block = section.run(quick=args.quick, json_out=args.json)
        else:
            block = section.run(quick=args.quick)
        print(block, f"\n({name}: {time.perf_counter() - t0:.1f} s)\n", flush=True)
        if not args.no_write:
            update_results(name, block)


if __name__ == "__main__":
    main()
