"""The contact sheet: one tile per counted vehicle, in time order.

A crossing that replays earlier footage (integrity: a loop, a copy-paste) is the
same vehicle again: it gets no tile of its own but is listed on the tile of the
crossing it repeats ("replayed at ..."), so the tiles are the distinct vehicles.

A reader counts the tiles (that is the count) and looks at each one: is it a
vehicle, is it a different vehicle from its neighbours, is it at the line?
Each tile is cropped from the frame of the observation nearest the crossing,
with the detection box and the counting line drawn on it, and labelled with
track id, class, direction, clip time and real time.

The layout (pixel box of every tile) is returned and written beside the PNG
as contact_sheet.json, so a program can check the sheet as well.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ..video import printable_path
from .draw import DIRECTION_SHORT, LINE_BGR, line_pixels, track_colour

CROP_W, CROP_H = 256, 160        # picture area of a tile (16:10)
LABEL_LINE_H = 18
LABEL_LINES = 3
TILE_W, TILE_H = CROP_W, CROP_H + LABEL_LINES * LABEL_LINE_H + 4
GAP = 8
MAX_COLS = 4            # 4 tiles span 1064 px: full size on the 1100 px report page
TITLE_H = 52
MIN_WIDTH = 640
BG = (40, 40, 40)


@dataclass(frozen=True)
class TileSpec:
    n: int                       # 1-based position in time order
    event: object                # CrossingEvent
    frame_index: int             # frame to crop from
    box: tuple                   # (x1, y1, x2, y2) on that frame
    frame_time_s: Optional[float]   # time of that observation (None: taken from the event)
    replays: tuple = ()          # crossings (events) that replay this one's footage


def plan_tiles(report) -> list:
    """Which frame and box shows each counted vehicle best: the track's
    observation whose box the event reports (the one nearest the crossing), on
    that observation's own frame, so box and picture always agree."""
    tracks = {t.track_id: t for t in report.tracks}
    repeat_of = getattr(report, "repeat_of", None) or {}
    specs = []
    events = sorted(report.events, key=lambda e: (e.clip_time_s, e.track_id))
    replays = {}
    for e in events:
        if e.track_id in repeat_of:
            replays.setdefault(repeat_of[e.track_id], []).append(e)
    events = [e for e in events if e.track_id not in repeat_of]
    for n, e in enumerate(events, 1):
        again = tuple(replays.get(e.track_id, ()))
        tr = tracks.get(e.track_id)
        obs = None
        if tr is not None and tr.observations:
            same = [o for o in tr.observations if tuple(o.box) == tuple(e.box)]
            pool = same or tr.observations
            obs = min(pool, key=lambda o: abs(o.time_s - e.clip_time_s))
        if obs is not None:
            specs.append(TileSpec(n, e, obs.frame_index, tuple(obs.box), obs.time_s, again))
        else:
            specs.append(TileSpec(n, e, e.frame_index, tuple(e.box), None, again))
    return specs


def _crop_rect(box, width: int, height: int) -> tuple:
    """A crop around the box with context on every side, in the tile's aspect
    ratio where the frame allows, shifted (not shrunk) to stay inside it."""
    x1, y1, x2, y2 = box
    bw, bh = max(1.0, x2 - x1), max(1.0, y2 - y1)
    margin = max(0.6 * max(bw, bh), 24.0)
    hw, hh = bw / 2 + margin, bh / 2 + margin
    aspect = CROP_W / CROP_H
    if hw / hh < aspect:
        hw = hh * aspect
    else:
        hh = hw / aspect
    hw, hh = min(hw, width / 2), min(hh, height / 2)
    cx = min(max((x1 + x2) / 2, hw), width - hw)
    cy = min(max((y1 + y2) / 2, hh), height - hh)
    return (int(math.floor(cx - hw)), int(math.floor(cy - hh)),
            int(math.ceil(cx + hw)), int(math.ceil(cy + hh)))


def tile_line(report, frame_index: int) -> Optional[tuple]:
    """The counting line in the pixels of a tile's frame. When the camera moved, the
    line is fixed in the scene (camera/), so it is drawn where the scene puts it in
    that frame, not where the user drew it on the first; None: not in that frame's
    shot."""
    cam = getattr(report, "camera", None)
    if cam is not None and cam.follows_scene:
        return cam.line_in_frame(frame_index)
    return line_pixels(report.line, report.probe.width, report.probe.height)


def render_tile(image: np.ndarray, spec: TileSpec, report) -> tuple:
    """The picture part of one tile (CROP_H x CROP_W BGR) and the crop rectangle
    in frame pixels. Box and line are drawn after scaling, so they stay thin."""
    import cv2
    h, w = image.shape[:2]
    x0, y0, x1, y1 = _crop_rect(spec.box, w, h)
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    crop = image[y0:y1, x0:x1]
    s = min(CROP_W / crop.shape[1], CROP_H / crop.shape[0])
    nw, nh = max(1, int(round(crop.shape[1] * s))), max(1, int(round(crop.shape[0] * s)))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    scaled = cv2.resize(crop, (nw, nh), interpolation=interp)
    tile = np.full((CROP_H, CROP_W, 3), BG, dtype=np.uint8)
    ox, oy = (CROP_W - nw) // 2, (CROP_H - nh) // 2
    tile[oy:oy + nh, ox:ox + nw] = scaled

    def to_tile(x, y):
        return (int(round(ox + (x - x0) * s)), int(round(oy + (y - y0) * s)))

    sub = tile[oy:oy + nh, ox:ox + nw]          # draw clipped to the picture area
    line = tile_line(report, spec.frame_index)
    if line is not None:
        a, b = to_tile(*line[0]), to_tile(*line[1])
        cv2.line(sub, (a[0] - ox, a[1] - oy), (b[0] - ox, b[1] - oy), LINE_BGR, 1, cv2.LINE_AA)
    bx1, by1 = to_tile(spec.box[0], spec.box[1])
    bx2, by2 = to_tile(spec.box[2], spec.box[3])
    cv2.rectangle(sub, (bx1 - ox, by1 - oy), (bx2 - ox, by2 - oy),
                  track_colour(spec.event.track_id), 2, cv2.LINE_AA)
    return tile, (x0, y0, x1, y1)


def _put(img, text, org, scale=0.45, colour=(235, 235, 235), thickness=1):
    import cv2
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness, cv2.LINE_AA)


def _fit(text: str, max_px: int, scale: float) -> str:
    import cv2
    while text and cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] > max_px:
        text = text[:-2] + "~"
    return text


def compose(report, specs: list, tiles: dict) -> tuple:
    """The sheet image (BGR) and its layout dict. `tiles` maps TileSpec.n to
    (picture, crop_rect); a vehicle whose frame could not be decoded still gets
    a tile, marked missing, so the tile count always equals the count."""
    n = len(specs)
    cols = max(1, min(MAX_COLS, n))
    rows = math.ceil(n / cols) if n else 0
    width = max(MIN_WIDTH, GAP + cols * (TILE_W + GAP))
    height = TITLE_H + rows * (TILE_H + GAP) + GAP
    sheet = np.full((height, width, 3), 25, dtype=np.uint8)
    noun = "vehicle" if n == 1 else "vehicles"
    replayed = sum(len(s.replays) for s in specs)
    head = f"{n} {noun} counted at the line" + (f" ({n + replayed} crossings as played)" if replayed else "")
    _put(sheet, _fit(f"{head}  -  {printable_path(Path(report.input_path).name)}",
                     width - 2 * GAP, 0.7), (GAP, 24), 0.7, (255, 255, 255), 2)
    sub = ("one tile per distinct vehicle; replays of looped footage are listed on its tile"
           if replayed else "one tile per counted vehicle, in time order")
    _put(sheet, _fit(sub + "; box = its detection nearest the crossing; amber = counting line",
                     width - 2 * GAP, 0.45), (GAP, 44), 0.45, (190, 190, 190))
    layout = {"image": "contact_sheet.png", "width": width, "height": height, "total": n,
              "crossings": n + replayed, "columns": cols, "rows": rows, "tiles": []}
    for i, spec in enumerate(specs):
        r, c = divmod(i, cols)
        x, y = GAP + c * (TILE_W + GAP), TITLE_H + r * (TILE_H + GAP)
        e = spec.event
        got = tiles.get(spec.n)
        if got is None:
            pic = np.full((CROP_H, CROP_W, 3), (60, 60, 90), dtype=np.uint8)
            _put(pic, "frame not decoded", (10, CROP_H // 2))
            crop = None
        else:
            pic, crop = got
        sheet[y:y + CROP_H, x:x + CROP_W] = pic
        sheet[y + CROP_H:y + TILE_H, x:x + TILE_W] = (55, 55, 55)
        real = "?" if e.real_time_s is None else f"{e.real_time_s:.2f} s"
        again = ", ".join(f"{r.clip_time_s:.2f} s" for r in spec.replays)
        after = "" if e.continues_track is None else f" after #{e.continues_track}"
        labels = [f"{spec.n}. track #{e.track_id}{after}  {e.class_name}",
                  f"{DIRECTION_SHORT.get(e.direction, e.direction)}" + (f"  replayed at {again}" if again else ""),
                  f"clip {e.clip_time_s:.2f} s  real {real}"]
        for j, t in enumerate(labels):
            _put(sheet, _fit(t, TILE_W - 8, 0.45), (x + 4, y + CROP_H + (j + 1) * LABEL_LINE_H - 3),
                 colour=(255, 255, 255) if j == 0 else (220, 220, 220))
        layout["tiles"].append({
            "n": spec.n, "track_id": e.track_id, "continues_track": e.continues_track, "class": e.class_name,
            "direction": e.direction, "clip_time_s": round(e.clip_time_s, 4),
            "real_time_s": None if e.real_time_s is None else round(e.real_time_s, 4),
            "frame_index": spec.frame_index,
            "frame_time_s": None if spec.frame_time_s is None else round(spec.frame_time_s, 6),
            "box": [round(v, 1) for v in spec.box],
            "crop_px": None if crop is None else list(crop),
            "tile": {"x": x, "y": y, "w": TILE_W, "h": TILE_H},
            "picture": {"x": x, "y": y, "w": CROP_W, "h": CROP_H},
            "missing": got is None,
            "replays": [{"track_id": r.track_id, "clip_time_s": round(r.clip_time_s, 4)}
                        for r in spec.replays]})
    return sheet, layout
