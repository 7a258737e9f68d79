"""report.html: one self-contained page a sceptical reader can check offline.

Images are embedded as data: URIs, CSS is inline, there are no scripts, no
fonts and no network references; a Content-Security-Policy forbids loading
anything else. All values come from `report.to_dict()`, so the page shows
exactly what report.json says, and every piece of user text is escaped.
"""
from __future__ import annotations

import base64
import json
from html import escape
from typing import Optional

VERDICT_COLOURS = {"consistent": "#1a7f37", "inconsistent": "#c62828",
                   "unsupported": "#b26a00", "undetermined": "#5a6470"}
VERDICT_GLOSS = {
    "consistent": "the footage agrees with the claim",
    "inconsistent": "the footage contradicts the claim",
    "unsupported": "the footage shows less than claimed, but may show only part of the event",
    "undetermined": "cannot decide: real time unknown, or the verdict depends on the speed-up",
}

CSS = """
.pair .row{display:flex;gap:8px;flex-wrap:wrap}.pair figure{margin:0}.pair img{width:320px}
.pair figcaption{font-size:0.85em;color:#555}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d1d1f;
background:#f4f5f7;line-height:1.45}
main{max-width:1100px;margin:0 auto;padding:16px 20px 40px}
.verdict{color:#fff;padding:22px 26px;border-radius:10px;margin:8px 0 14px}
.verdict .word{font-size:46px;font-weight:800;letter-spacing:.04em}
.verdict .gloss{font-size:17px;opacity:.95}
.claim{font-size:20px;margin:4px 0}.reason{font-size:16px;margin:4px 0 10px}
section{background:#fff;border-radius:8px;padding:12px 18px;margin:14px 0;
box-shadow:0 1px 2px rgba(0,0,0,.08)}
h2{font-size:18px;margin:4px 0 10px}
table{border-collapse:collapse;font-size:14px}
td,th{border-bottom:1px solid #e3e5e8;padding:3px 10px 3px 0;text-align:left;vertical-align:top}
th{color:#555;font-weight:600}
.num{font-variant-numeric:tabular-nums;text-align:right}
.big{font-size:32px;font-weight:700}
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px}
pre{background:#f6f8fa;padding:8px;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
img{max-width:100%;height:auto;border:1px solid #ddd}
.warn{color:#8a4b00}.muted{color:#666}
"""

CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
       "base-uri 'none'; form-action 'none'")


def _e(v) -> str:
    return escape("" if v is None else str(v), quote=True)


def _num(v, digits: int = 3) -> str:
    if v is None:
        return "&ndash;"
    if isinstance(v, float):
        return _e(f"{v:.{digits}f}")
    return _e(v)


def _table(rows, header: Optional[list] = None) -> str:
    out = ["<table>"]
    if header:
        out.append("<tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr>")
    for r in rows:
        out.append("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _kv(pairs) -> str:
    """Key/value rows: the key is plain text (escaped here), the value is HTML."""
    return ("<table>" + "".join(f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in pairs)
            + "</table>")


def _png(data: Optional[bytes], alt: str) -> str:
    if not data:
        return f"<p class=muted>{_e(alt)}: not available</p>"
    b64 = base64.b64encode(data).decode("ascii")
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{b64}">'


def _window(w) -> str:
    return "&ndash;" if not w else _e(f"{w[0]:.2f} s to {w[1]:.2f} s")


def _verdict_block(d: dict) -> str:
    claim = d.get("claim")
    total = d["count"]["total"]
    if claim is None:
        return (f'<div class=verdict style="background:#455a64"><div class=word>'
                f'{total} VEHICLE{"S" if total != 1 else ""} COUNTED</div>'
                f'<div class=gloss>no claim was given to judge</div></div>')
    v = claim["verdict"]
    colour = VERDICT_COLOURS.get(v, "#5a6470")
    return (f'<div class=verdict style="background:{colour}"><div class=word>{_e(v.upper())}</div>'
            f'<div class=gloss>{_e(VERDICT_GLOSS.get(v, ""))} '
            f'(judged on {_e(claim["basis"])} time)</div></div>'
            f'<p class=claim>Claim: &ldquo;{_e(claim["text"])}&rdquo;</p>'
            + _parts_line(claim) +
            f'<p class=reason>{_e(claim["reason"])}</p>')


CLASS_WORDS = {"not_claimed": "no class claimed", "checked": "counted by class",
               "unverified": "NOT VERIFIED: the detector cannot tell this class apart",
               "contradicted": "CONTRADICTED: the vehicles seen are of another class"}


def _parts_line(claim: dict) -> str:
    """The number and the class, judged apart, shown before the reasoning."""
    parts = claim.get("parts") or {}
    if not parts:
        return ""
    count, cls = parts["count"], parts["class"]
    return (f'<p class=parts id=parts><b>Number:</b> {_e(count["verdict"])} '
            f'({_e(count["observed"])} observed) &nbsp; <b>Class:</b> '
            f'{_e(CLASS_WORDS.get(cls["status"], cls["status"]))}'
            + (f' &ndash; {_e(cls["reason"])}' if cls.get("reason") else "") + '</p>')


def _count_section(d: dict) -> str:
    c = d["count"]
    dirs = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in c["by_direction"].items()) or "none"
    classes = ", ".join(f"{k}: {v}" for k, v in c["by_class"].items()) or "none"
    line = d["line"]
    return ("<section id=count><h2>Count</h2>"
            f"<p><span class=big>{_e(c['total'])}</span> vehicles crossed the counting line "
            "(each distinct vehicle once).</p>"
            + _kv([("total counted", _e(c["total"])), ("by direction", _e(dirs)),
                   ("by class", _e(classes)),
                   ("stable tracks", _e(f"{c['stable_tracks']} (tracked for at least "
                                        f"{d['params'].get('stable_min_frames', '?')} frames)")),
                   ("counting line", _e(f"({line['x1']:.3f}, {line['y1']:.3f}) to "
                                        f"({line['x2']:.3f}, {line['y2']:.3f}) of the frame, "
                                        f"{line['source']}"))])
            + "</section>")


def _spans_text(spans) -> str:
    return ", ".join(f"{a:.2f}-{b:.2f} s" for a, b in spans) or "never"


def _camera_section(d: dict) -> str:
    """What the camera did and what that left countable (report.json `camera`): the
    reader sees whether the count is in scene coordinates and which span it covers."""
    cam = d.get("camera")
    if not cam:
        return ""
    if not cam["compensated"]:
        return ("<p class=muted id=camera>Camera motion: not measured (--no-camera); the line "
                "and the tracks are in image pixels.</p>")
    m, shots = cam.get("motion") or {}, cam.get("shots") or []
    if not cam["moved"] and len(shots) < 2:
        return "<p id=camera>Camera: fixed (no motion measured); counted in image pixels.</p>"
    rows = []
    if m:
        rows += [("max shift", _e(f"{m['max_shift_px']:.0f} px ({m['max_shift_frac']:.1%} of the width)")),
                 ("pan", _e(f"x {m['pan_x_px'][0]:.0f} to {m['pan_x_px'][1]:.0f} px, "
                            f"y {m['pan_y_px'][0]:.0f} to {m['pan_y_px'][1]:.0f} px")),
                 ("zoom", _e(f"x{m['zoom'][0]:.2f} to x{m['zoom'][1]:.2f}")),
                 ("rotation", _e(f"up to {m['max_rotation_deg']:.1f} deg")),
                 ("registration segments", _e(m["segments"]))]
    if "counted_s" in cam:
        a, b = cam["counted_s"]
        rows += [("line placed at", _e(f"{cam['reference_s']:.2f} s")),
                 ("shots", _e(f"{len(shots)}: {_spans_text(shots)}")),
                 ("counted", _e(f"{a:.2f}-{b:.2f} s (the shot and segment that hold the line)")),
                 ("line watched", _e(_spans_text(cam["watched_s"]))),
                 ("motion lost", _e(", ".join(f"{t:.2f} s" for t in cam["breaks_s"]) or "never"))]
    return ("<section id=camera><h2>Camera motion</h2>" + _kv(rows)
            + "<p class=muted>Tracks and the counting line live in the scene (the picture at the "
              "line's reference frame): a parked vehicle does not cross because the camera moved. "
              "Crossings count only while at least half of the line is in view; the annotated "
              "video and the contact sheet draw the line where it lies in each frame.</p></section>")


def _time_section(d: dict) -> str:
    tm = d["time_map"]
    span = d["analysis"]["span_s"]
    if tm["speedup"] is None:
        body = ("<p>Speed-up <b>unknown</b>: real times cannot be given "
                "(pass <code>--speedup K</code> or <code>--real-duration S</code>).</p>")
    else:
        k = tm["speedup"]
        iv = tm["interval"]
        rows = [("speed-up K", _e(f"x{k:.4g}: the clip plays {k:.4g} times faster than reality")),
                ("source", _e(tm["source"])),
                ("interval", "&ndash;" if not iv else _e(f"{iv[0]:.4g} to {iv[1]:.4g}")),
                ("clip span", _e(f"{span[0]:.3f} s to {span[1]:.3f} s "
                                 f"({span[1] - span[0]:.3f} s of footage)")),
                ("real span", _e(f"{span[0] * k:.2f} s to {span[1] * k:.2f} s "
                                 f"({(span[1] - span[0]) * k:.2f} s of real time)"))]
        for ev in tm.get("evidence") or []:
            rows.append(("evidence", f"<code>{_e(json.dumps(ev, ensure_ascii=False))}</code>"))
        body = _kv(rows)
    return f"<section id=time><h2>Time map</h2>{body}</section>"


def _bases_section(d: dict) -> str:
    claim = d.get("claim")
    if claim is None:
        return ""
    parsed = claim["parsed"]
    rows = []
    for basis in ("clip", "real"):
        bv = (claim.get("by_basis") or {}).get(basis)
        if bv is None:
            rows.append((_e(basis), "not judged", "", "", "", "", _e(
                "no speed-up known" if basis == "real" else "")))
            continue
        verdict = _e(bv["verdict"])
        if basis == claim["basis"]:
            verdict = f"<b>{verdict}</b> (used)"
        extra = ""
        if bv.get("depends_on_speedup"):
            extra = _e(f" At the low end of K: {bv.get('verdict_at_low')} "
                       f"({bv.get('observed_at_low')}); at the high end: "
                       f"{bv.get('verdict_at_high')} ({bv.get('observed_at_high')}).")
        rows.append((_e(basis), verdict, _num(bv.get("observed")), _num(bv.get("tolerance")),
                     _window(bv.get("window")), _num(bv.get("span_s"), 2),
                     _e(bv.get("reason")) + extra))
    head = _e(f"Parsed: {json.dumps(parsed, ensure_ascii=False)}")
    return ("<section id=bases><h2>The claim on both time bases</h2>"
            f"<p class=muted><code>{head}</code></p>"
            + _table(rows, ["basis", "verdict", "observed", "tolerance", "window", "span (s)",
                            "reason"])
            + "<p class=muted>Clip time is the file's own timestamps; real time is clip time "
              "&times; K. Windows are on their basis' own clock.</p></section>")


def _integrity_section(d: dict, pairs: Optional[dict] = None) -> str:
    """Signs of editing, first on the page when there are any: a count of edited
    footage is suspect. `pairs`: {finding position: ((caption, png), (caption, png))}."""
    integ = d.get("integrity")
    if not integ or not integ.get("checked"):
        return "<p class=muted id=integrity>Integrity: not checked (--no-integrity).</p>"
    if not integ["findings"]:
        return f"<p id=integrity>Integrity: no sign of editing in {integ['frames']} frames.</p>"
    rows = [(_e(f["kind"]), _num(f["start_s"]), _num(f["end_s"]),
             "" if f.get("source_start_s") is None else f"{_num(f['source_start_s'])}-{_num(f['source_end_s'])}",
             _e(f["detail"])) for f in integ["findings"]]
    repeated = [e for e in d["events"] if "repeat_of" in e]
    note = (f"<p><b>{len(repeated)} crossings replay earlier footage</b> and are counted once: "
            + ", ".join(f"track {e['track_id']} repeats track {e['repeat_of']}" for e in repeated)
            + f". Distinct vehicles: {d['count']['distinct']} of {d['count']['total']} crossings.</p>"
            if repeated else "")
    figs = "".join(_pair_figure(integ["findings"][k], pair) for k, pair in sorted((pairs or {}).items()))
    return ("<section id=integrity><h2>Integrity: signs of editing</h2>" + note
            + _table(rows, ["kind", "start (s)", "end (s)", "source (s)", "detail"])
            + (f"<div class=pairs>{figs}</div>" if figs else "")
            + "<p class=muted>The findings are also marked on the timeline below and in the "
              "annotated video.</p></section>")


def _pair_figure(f: dict, pair: tuple) -> str:
    imgs = "".join(f"<figure>{_png(png, cap)}<figcaption>{_e(cap)}</figcaption></figure>"
                   for cap, png in pair)
    return (f"<div class=pair><p><b>{_e(f['kind'])}</b> at {_num(f['start_s'], 2)} s</p>"
            f"<div class=row>{imgs}</div></div>")


def _events_section(d: dict) -> str:
    rows = []
    for i, e in enumerate(d["events"], 1):
        rows.append((_e(i), _e(_tracks_of(e)), _num(e["clip_time_s"]), _num(e["real_time_s"]),
                     _e(e["direction"].replace("_", " ")), _e(e["class"]),
                     _num(e["confidence"], 2), _e(e["frame_index"])))
    table = _table(rows, ["#", "track", "clip time (s)", "real time (s)", "direction", "class",
                          "confidence", "frame_index"]) if rows else \
        "<p>No vehicle crossed the counting line.</p>"
    return ("<section id=events><h2>Events</h2>" + table +
            "<p class=muted>Same rows as events.csv. frame_index is 0-based over the analysed "
            "frames (the annotated video shows it; tracks.txt uses frame_index + 1). "
            "\"after #a\": the vehicle was on track a up to the line and went on as this "
            "track (an id switch); \"also #b\": track b crossed with the same vehicle and "
            "was not counted again.</p></section>")


def _tracks_of(e: dict) -> str:
    """The event's track, and the tracks that carried the same vehicle."""
    text = str(e["track_id"])
    if e.get("continues_track") is not None:
        text += f" (after #{e['continues_track']})"
    if e.get("also_tracks"):
        text += " (also " + ", ".join(f"#{t}" for t in e["also_tracks"]) + ")"
    return text


def _provenance_section(d: dict, command_line: Optional[str], files: list, render: dict) -> str:
    inp, tool, det = d["input"], d["tool"], d["detector"]
    pk = ", ".join(f"{k} {v}" for k, v in (tool.get("packages") or {}).items() if v) or "none"
    rows = [("input", f"<code>{_e(inp['path'])}</code>"),
            ("input sha256", f"<code>{_e(inp['sha256'])}</code>"),
            ("input bytes", _e(inp["bytes"])),
            ("tool", _e(f"{tool.get('name', 'convoycount')} {tool.get('version')} "
                        f"(Python {tool.get('python')})")),
            ("packages", _e(pk)),
            ("detector", _e(det["name"])),
            ("model", f"<code>{_e(det.get('model'))}</code>" if det.get("model") else "&ndash;"),
            ("model sha256", f"<code>{_e(det.get('model_sha256'))}</code>"
             if det.get("model_sha256") else "&ndash;"),
            ("detector classes", _e(", ".join(det.get("classes") or [])) or "&ndash;"),
            ("command line", f"<code>{_e(command_line)}</code>" if command_line
             else "<span class=muted>not recorded (called from Python)</span>")]
    if det.get("fallback_reason"):
        rows.append(("detector fallback", f"<span class=warn>{_e(det['fallback_reason'])}</span>"))
    if det.get("license"):
        rows.append(("model license", _e(det["license"])))
    a = d["analysis"]
    rows.append(("analysis", _e(f"{a['frames_processed']} frames in {a['elapsed_s']} s "
                                f"({a['fps']} fps)")))
    warns = d.get("warnings") or []
    warn_html = ("<ul>" + "".join(f"<li class=warn>{_e(w)}</li>" for w in warns) + "</ul>") \
        if warns else "<p class=muted>none</p>"
    probe_rows = [(k, f"<code>{_e(json.dumps(v, ensure_ascii=False))}</code>")
                  for k, v in d["probe"].items()]
    file_rows = [(f"<code>{_e(name)}</code>", _e(size), f"<code>{_e(sha)}</code>")
                 for name, size, sha in files]
    render_rows = [(k, _e(v)) for k, v in render.items()]
    return ("<section id=provenance><h2>Provenance</h2>" + _kv(rows)
            + "<h3>Warnings</h3>" + warn_html
            + "<h3>Parameters</h3><pre>" + _e(json.dumps(d["params"], indent=2,
                                                         ensure_ascii=False)) + "</pre>"
            + "<h3>Probe</h3>" + _kv(probe_rows)
            + ("<h3>Evidence re-decode</h3>" + _kv(render_rows) if render_rows else "")
            + "<h3>Evidence files</h3>"
            + (_table(file_rows, ["file", "bytes", "sha256"]) if file_rows else "")
            + "<p class=muted>report.json is written last: if it is missing, the run was "
              "interrupted and the other files may be from an older run.</p></section>")


def render_html(report, *, contact_sheet_png: Optional[bytes], timeline_png: Optional[bytes],
                command_line: Optional[str], files: list, render: dict,
                annotated: Optional[str]) -> str:
    """The page. `files`: [(name, bytes, sha256)] of evidence already written;
    `render`: facts of the re-decode (frames written, first/last time...)."""
    d = report.to_dict()
    total = d["count"]["total"]
    title = f"convoycount: {total} vehicles"
    if d.get("claim"):
        title += f", claim {d['claim']['verdict']}"
    video = (f"<p>Every analysed frame, annotated: <code>{_e(annotated)}</code> "
             "(beside this page; same frame count and timestamps as the input).</p>"
             if annotated else "<p class=muted>No annotated video was written.</p>")
    from ..integrity.pairs import finding_pairs
    integrity = _integrity_section(d, finding_pairs(report))
    edited = bool((d.get("integrity") or {}).get("findings"))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body><main>",
        integrity if edited else "",
        _verdict_block(d),
        "" if edited else integrity,
        _count_section(d),
        _camera_section(d),
        _time_section(d),
        _bases_section(d),
        "<section id=sheet><h2>Contact sheet: one tile per counted vehicle</h2>",
        "<p class=muted>Count the tiles and check each one: a vehicle, a different one from "
        "its neighbours, at the line.</p>",
        _png(contact_sheet_png, "contact sheet"), "</section>",
        "<section id=timeline><h2>Timeline</h2>", _png(timeline_png, "timeline"), video,
        "</section>",
        _events_section(d),
        _provenance_section(d, command_line, files, render),
        "</main></body></html>\n",
    ]
    return "\n".join(parts)
