"""The timeline: when each counted vehicle crossed, on clip time and real time,
with the claim's window where the claim was judged.

matplotlib is imported here only, and through its object API (Figure +
FigureCanvasAgg): no pyplot, so no global figure state and no GUI backend.
"""
from __future__ import annotations

import io

DIRECTION_MARKERS = {"left_to_right": ">", "right_to_left": "<",
                     "top_to_bottom": "v", "bottom_to_top": "^"}
BASIS_STYLE = {"clip": {"color": "#1f77b4"}, "real": {"color": "#d62728"}}


def _clip_window(bv, time_map) -> tuple | None:
    """A basis verdict's window, on the clip-time axis."""
    if bv is None or bv.window is None:
        return None
    a, b = bv.window
    if bv.basis == "clip":
        return (a, b)
    k = bv.speedup or time_map.speedup
    return None if not k else (a / k, b / k)


_PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
            "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def _new_axes(span_s, n: int):
    """A figure (with its Agg canvas) and axes spanning the analysed clip time,
    tall enough for `n` cumulative counts and the legend above them."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    lo, hi = span_s
    fig = Figure(figsize=(10, 4.6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.set_xlim(lo, hi if hi > lo else lo + 1.0)
    ax.set_ylim(-0.3, max(1, n) * 1.12 + 0.5)
    ax.set_xlabel("clip time (s): timestamps of the file as played")
    ax.set_ylabel("vehicles counted (cumulative)")
    ax.grid(True, alpha=0.3)
    return fig, ax


def _draw_claim(ax, claim, time_map, handles: list) -> None:
    """Shade each basis' claim window on clip time (the judged basis solid, the
    other hatched) and, for a claim without a window, the claimed total."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    for basis, bv in claim.by_basis.items():
        win = _clip_window(bv, time_map)
        if win is None:
            continue
        judged = basis == claim.basis
        style = BASIS_STYLE.get(basis, {"color": "grey"})
        ax.axvspan(win[0], win[1], alpha=0.22 if judged else 0.10, color=style["color"],
                   hatch=None if judged else "//", lw=0)
        unit = "clip" if basis == "clip" else "real"
        label = (f"claim window, {basis} time{' (judged)' if judged else ''}: "
                 f"{bv.observed} in {bv.window[0]:.1f}-{bv.window[1]:.1f} s {unit}")
        handles.append(Patch(facecolor=style["color"], alpha=0.3 if judged else 0.12,
                             hatch=None if judged else "//", label=label))
    if claim.parsed.window_s is None:
        ax.axhline(claim.parsed.count, color="k", ls="--", lw=1)
        handles.append(Line2D([], [], color="k", ls="--",
                              label=f"claimed total: {claim.parsed.count}"))


def _draw_crossings(ax, events: list, span_s, handles: list) -> None:
    """The cumulative count as a step line, one marker per crossing (colour: class,
    shape: direction), their legend entries, or a note when nothing crossed."""
    from matplotlib.lines import Line2D

    lo, hi = span_s
    times = [e.clip_time_s for e in events]
    n = len(events)
    xs = [lo] + times + [max(hi, times[-1] if times else hi)]
    ys = [0] + list(range(1, n + 1)) + [n]
    ax.step(xs, ys, where="post", color="0.25", lw=1.5, zorder=2)

    classes = sorted({e.class_name for e in events})
    colour = {c: _PALETTE[i % len(_PALETTE)] for i, c in enumerate(classes)}
    for i, e in enumerate(events, 1):
        ax.scatter([e.clip_time_s], [i], marker=DIRECTION_MARKERS.get(e.direction, "o"),
                   s=70, color=colour[e.class_name], edgecolors="k", linewidths=0.6, zorder=3)
    for c in classes:
        handles.append(Line2D([], [], marker="s", ls="", color=colour[c], label=c))
    for d in sorted({e.direction for e in events}):
        handles.append(Line2D([], [], marker=DIRECTION_MARKERS.get(d, "o"), ls="", color="0.4",
                              label=d.replace("_", " ")))
    if not events:
        ax.text(0.5, 0.5, "no vehicle crossed the counting line", transform=ax.transAxes,
                ha="center", va="center", fontsize=12, color="0.3")


def _draw_gaps(ax, gaps: list, handles: list) -> None:
    """A grey band where damaged data cost frames: nothing there was seen, so no
    crossing there could be counted."""
    from matplotlib.patches import Patch

    for g in gaps:
        ax.axvspan(g.start_s, g.end_s, color="0.55", alpha=0.35, lw=0, zorder=1)
    if gaps:
        lost = sum(g.packets_lost for g in gaps)
        handles.append(Patch(facecolor="0.55", alpha=0.35,
                             label=f"not seen: {lost} frame(s) lost to damaged data"))


def _draw_title(ax, report, n: int) -> None:
    """A real-time axis on top when the speed-up is known, and the title: the
    count and, if a claim was judged, its verdict."""
    tm = report.time_map
    if tm.known:
        k = tm.speedup
        top = ax.secondary_xaxis("top", functions=(lambda x: x * k, lambda x: x / k))
        iv = f", K in [{tm.interval[0]:.2f}, {tm.interval[1]:.2f}]" if tm.interval else ""
        top.set_xlabel(f"real time (s) = clip time x {k:.3g} ({tm.source}{iv})")
    title = f"{n} vehicle{'s' if n != 1 else ''} counted"
    claim = report.claim
    if claim is not None:
        title += f"  |  claim \"{claim.text}\": {claim.verdict.upper()} ({claim.basis} time)"
    ax.set_title(title, fontsize=11, loc="left", pad=28 if tm.known else 6)


def _draw_findings(ax, integrity, handles: list) -> None:
    """Integrity findings as shaded spans (a point finding as a thin band)."""
    if integrity is None or not integrity.findings:
        return
    from matplotlib.patches import Patch
    for f in integrity.findings:
        ax.axvspan(f.start_s, max(f.end_s, f.start_s + 0.05), color="#d81b60", alpha=0.18, lw=0)
        ax.text(f.start_s, 0.98, f.kind, transform=ax.get_xaxis_transform(), fontsize=7,
                color="#ad1457", va="top")
    handles.append(Patch(color="#d81b60", alpha=0.18, label="sign of editing"))


def render_timeline(report) -> bytes:
    """PNG bytes of the timeline figure."""
    events = sorted(report.events, key=lambda e: (e.clip_time_s, e.track_id))
    n = len(events)
    fig, ax = _new_axes(report.span_s, n)
    handles: list = []
    if report.claim is not None:
        _draw_claim(ax, report.claim, report.time_map, handles)
    _draw_gaps(ax, report.gaps, handles)
    _draw_crossings(ax, events, report.span_s, handles)
    _draw_findings(ax, getattr(report, "integrity", None), handles)
    _draw_title(ax, report, n)
    if handles:
        ax.legend(handles=handles, loc="upper left", fontsize=8, framealpha=0.9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()
