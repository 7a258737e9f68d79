"""The bundled COCO detector (NanoDet-g) on the same generated clips as bench_count.

Synthetic vehicles are not COCO-like (flat sprites, military shapes), so this
table says how far `--detector coco` can be trusted on them; real footage is
in the realclips section."""
from __future__ import annotations

from bench_count import suite_runs

from convoycount.evaluate import COUNT_SUITE


def run(quick: bool = False) -> str:
    suite = COUNT_SUITE[:4] if quick else COUNT_SUITE
    rows, exact, within1 = [], 0, 0
    for entry, truth, r, c, fps in suite_runs(suite, detector="coco"):
        exact += c.exact
        within1 += abs(c.counted_total - c.true_total) <= 1
        rows.append(f"| {entry[0]} | x{truth['speedup']} | {c.true_total} | {c.counted_total} | "
                    f"{c.matched} | {'yes' if c.exact else 'no'} | {fps:.0f} |")
    head = ("## COCO detector on generated clips\n\n"
            f"{exact}/{len(suite)} exact, {within1}/{len(suite)} within ±1. Synthetic vehicles are "
            "not COCO-like; use `motion` on synthetic footage and `coco` on real footage.\n\n"
            "| clip | speed-up | true | counted | matched | exact | pipeline fps |\n"
            "|---|---|---|---|---|---|---|\n")
    return head + "\n".join(rows) + "\n"
