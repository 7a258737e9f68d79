"""Render a YOLO-format vehicle dataset with convoycount's synthetic generator.

    python models/train/make_dataset.py --out /tmp/convoy-data            # the recipe in convoy-yolo.md

Each clip gets its own randomised SynthConfig (domain randomisation): resolution and
aspect (landscape and portrait), scale (pixels per metre), orientation and view (side /
top), lanes, two-way traffic, packed lanes (occlusion), class mix (civilian, military,
custom weights), low-contrast paint, shadows, lighting drift, camera shake, sensor
noise, stop-and-go and non-crossing vehicles. Frames are sampled sparsely over the clip
(the renderer runs at a low capture rate so consecutive samples differ) and then
degraded here the way real footage is: blur (defocus / motion), brightness, contrast,
gamma and colour cast, resolution loss (down-up scaling), extra noise and JPEG
compression. Geometry is left to ultralytics' own augmentation (mosaic, scale,
translate, horizontal flip).

Labels come from the renderer's exact boxes; a box less than `--min-visible` visible
(occluded or leaving the frame) or whose short side would be under `--min-side-px`
pixels at the training size is not labelled. The validation split uses a disjoint seed
range and its own resolution list, so its metrics measure generalisation to unseen
scenes and sizes, not memory of training scenes.

Writes OUT/images/{train,val}/*.jpg, OUT/labels/{train,val}/*.txt, OUT/data.yaml and
OUT/recipe.json (every clip's config and augmentation, for reproducibility).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

try:
    from convoycount.synth import SynthConfig, render  # noqa: E402
except ImportError:   # the package __init__ is not in place yet
    from convoycount.synth.config import SynthConfig  # noqa: E402
    from convoycount.synth.render import render  # noqa: E402
from convoycount.errors import ConvoyCountError  # noqa: E402
from convoycount.synth.looks import HELD_OUT_LOOKS, TRAINING_LOOKS  # noqa: E402

CLASSES = ("car", "van", "truck", "bus", "motorcycle", "military")   # YOLO ids 0..5

# (width, height). Validation sizes are deliberately not in the training list.
TRAIN_SIZES = [(640, 360), (960, 540), (1280, 720), (480, 270), (854, 480), (768, 432),
               (360, 640), (540, 960), (640, 480), (1024, 576)]
VAL_SIZES = [(800, 450), (1120, 630), (720, 404), (432, 768), (576, 324)]
TRAIN_SEED_BASE = 10_000
VAL_SEED_BASE = 900_000


def even(v: float) -> int:
    return max(64, int(round(v / 2)) * 2)


def random_config(seed: int, sizes, rng: np.random.Generator) -> SynthConfig:
    """One clip's scene: every knob drawn from a broad range."""
    w, h = sizes[rng.integers(len(sizes))]
    w, h = even(w), even(h)
    vertical = rng.random() < 0.35
    two_way = rng.random() < 0.5
    lanes = int(rng.integers(2, 5)) if two_way else int(rng.integers(1, 4))
    view = "top" if vertical else ("top" if rng.random() < 0.2 else "side")
    overlap = bool(view == "side" and lanes >= 2 and rng.random() < 0.4)
    mix_kind = rng.random()
    if mix_kind < 0.3:
        class_mix = "mixed"
    elif mix_kind < 0.5:
        class_mix = "civilian"
    elif mix_kind < 0.7:
        class_mix = "military"
    else:   # random weights, so rare classes (bus, motorcycle) get enough examples
        class_mix = {c: float(rng.uniform(0.2, 1.0)) for c in CLASSES}
    # Scale: vehicle size relative to the frame matters to the detector, so draw it
    # relative to the short side (360 px reference) and convert.
    short = min(w, h)
    ppm = float(rng.uniform(7.0, 26.0)) * short / 360.0
    lo = float(rng.uniform(6.0, 14.0))
    return SynthConfig(
        seed=seed, width=w, height=h, real_fps=float(rng.uniform(1.5, 3.0)),
        n_vehicles=int(rng.integers(4, 15)), lanes=lanes, two_way=two_way,
        reverse_direction=bool(rng.random() < 0.5), spacing_s=float(rng.uniform(1.0, 4.0)),
        spacing_jitter=float(rng.uniform(0.1, 0.6)), speed_mps=(lo, lo + float(rng.uniform(0.5, 6.0))),
        class_mix=class_mix, low_contrast_fraction=float(rng.uniform(0.0, 0.3)),
        stop_and_go=float(rng.uniform(0, 0.4)) if rng.random() < 0.3 else 0.0,
        non_crossing=int(rng.integers(0, 4)) if rng.random() < 0.3 else 0,
        orientation="vertical" if vertical else "horizontal", view=view,
        pixels_per_m=min(200.0, ppm), lane_depth_scale=float(rng.uniform(0.75, 0.95)),
        overlap=overlap, shadow_strength=float(rng.uniform(0.0, 0.8)),
        lighting_drift=float(rng.uniform(0.0, 0.3)) if rng.random() < 0.4 else 0.0,
        shake_px=float(rng.uniform(0.0, 5.0)) if rng.random() < 0.4 else 0.0,
        noise_sigma=float(rng.uniform(0.0, 10.0)) if rng.random() < 0.6 else 0.0,
    )


def degrade(img: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Photometric degradations of real footage; boxes are unchanged. Returns the image
    and what was applied (recorded in recipe.json)."""
    applied = {}
    out = img.astype(np.float32)
    if rng.random() < 0.6:   # exposure, contrast, gamma, colour cast
        gain, bias = rng.uniform(0.6, 1.35), rng.uniform(-30, 30)
        gamma = rng.uniform(0.7, 1.4)
        cast = rng.uniform(0.9, 1.1, size=3)
        out = np.clip(out * gain * cast + bias, 0, 255)
        out = 255.0 * (out / 255.0) ** gamma
        applied["light"] = [round(float(gain), 3), round(float(bias), 1), round(float(gamma), 3)]
    out = np.clip(out, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:   # defocus or motion blur
        if rng.random() < 0.5:
            k = int(rng.choice([3, 5, 7]))
            out = cv2.GaussianBlur(out, (k, k), 0)
            applied["blur"] = f"gauss{k}"
        else:
            k = int(rng.integers(3, 10))
            kern = np.zeros((k, k), np.float32)
            if rng.random() < 0.5:
                kern[k // 2, :] = 1.0 / k
            else:
                kern[:, k // 2] = 1.0 / k
            out = cv2.filter2D(out, -1, kern)
            applied["blur"] = f"motion{k}"
    if rng.random() < 0.25:   # resolution loss: a small sensor or a re-upload
        f = rng.uniform(0.35, 0.75)
        h, w = out.shape[:2]
        small = cv2.resize(out, (max(16, int(w * f)), max(16, int(h * f))), interpolation=cv2.INTER_AREA)
        out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
        applied["downscale"] = round(float(f), 3)
    if rng.random() < 0.25:   # extra sensor noise
        sigma = rng.uniform(2, 12)
        out = np.clip(out.astype(np.float32) + rng.normal(0, sigma, out.shape), 0, 255).astype(np.uint8)
        applied["noise"] = round(float(sigma), 2)
    quality = int(rng.integers(25, 90)) if rng.random() < 0.7 else 95
    ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, quality])
    applied["jpeg"] = quality
    return cv2.imdecode(buf, cv2.IMREAD_COLOR), applied


def yolo_labels(boxes, w: int, h: int, *, min_visible: float, min_side_px: float,
                train_imgsz: int) -> list[str]:
    """Renderer boxes -> YOLO lines (class cx cy bw bh, normalised)."""
    lines = []
    to_train = train_imgsz / max(w, h)     # ultralytics scales the long side to imgsz
    for _vid, cls, (x1, y1, x2, y2), visible in boxes:
        if cls not in CLASSES or visible < min_visible:
            continue
        x1, x2 = max(0.0, float(x1)), min(float(w), float(x2))
        y1, y2 = max(0.0, float(y1)), min(float(h), float(y2))
        if min(x2 - x1, y2 - y1) * to_train < min_side_px:
            continue
        lines.append(f"{CLASSES.index(cls)} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} "
                     f"{(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}")
    return lines


def write_split(out: Path, split: str, n_clips: int, seed_base: int, sizes, frames_per_clip: int,
                args) -> list[dict]:
    img_dir, lbl_dir = out / "images" / split, out / "labels" / split
    img_dir.mkdir(parents=True, exist_ok=True)
    lbl_dir.mkdir(parents=True, exist_ok=True)
    recipe, n_images, n_boxes = [], 0, 0
    t0 = time.perf_counter()
    for c in range(n_clips):
        seed = seed_base + c
        rng = np.random.default_rng(seed)
        for _attempt in range(20):
            cfg = random_config(seed, sizes, rng)
            # Held-out looks measure generalisation only if no training image ever used them.
            if cfg.look not in TRAINING_LOOKS:
                raise RuntimeError(f"seed {seed}: look {cfg.look!r} is held out of training ({HELD_OUT_LOOKS})")
            try:
                frames = list(render(cfg))
                break
            except ConvoyCountError:   # e.g. too many lanes for the picture at this scale: redraw
                continue
        else:
            raise RuntimeError(f"seed {seed}: no drawable scene in 20 attempts")
        with_vehicles = [i for i, f in enumerate(frames) if any(b[3] >= args.min_visible for b in f.boxes)]
        empty = [i for i, f in enumerate(frames) if not f.boxes]
        k = min(frames_per_clip, len(with_vehicles))
        pick = sorted(rng.choice(with_vehicles, size=k, replace=False).tolist()) if k else []
        if empty and rng.random() < args.background_fraction * frames_per_clip:
            pick.append(int(rng.choice(empty)))     # a few pictures of the empty road
        clip_rec = {"seed": seed, "config": cfg.to_dict(), "frames": []}
        for i in pick:
            f = frames[i]
            img, applied = degrade(f.image, rng)
            h, w = img.shape[:2]
            lines = yolo_labels(f.boxes, w, h, min_visible=args.min_visible,
                                min_side_px=args.min_side_px, train_imgsz=args.imgsz)
            stem = f"{split}_{seed}_{i:04d}"
            cv2.imwrite(str(img_dir / f"{stem}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
            (lbl_dir / f"{stem}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
            clip_rec["frames"].append({"index": i, "labels": len(lines), **applied})
            n_images += 1
            n_boxes += len(lines)
        recipe.append(clip_rec)
        if (c + 1) % 10 == 0 or c + 1 == n_clips:
            print(f"{split}: {c + 1}/{n_clips} clips, {n_images} images, {n_boxes} boxes, "
                  f"{time.perf_counter() - t0:.0f} s", flush=True)
    return recipe


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--train-clips", type=int, default=150)
    ap.add_argument("--val-clips", type=int, default=30)
    ap.add_argument("--frames-per-clip", type=int, default=10)
    ap.add_argument("--min-visible", type=float, default=0.3)
    ap.add_argument("--min-side-px", type=float, default=3.0, help="at the training size")
    ap.add_argument("--imgsz", type=int, default=320, help="training size (for --min-side-px)")
    ap.add_argument("--background-fraction", type=float, default=0.01,
                    help="per sampled frame, chance of adding one empty-road picture")
    args = ap.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    recipe = {"args": {k: str(v) for k, v in vars(args).items()}, "classes": list(CLASSES),
              "train": write_split(out, "train", args.train_clips, TRAIN_SEED_BASE, TRAIN_SIZES,
                                   args.frames_per_clip, args),
              "val": write_split(out, "val", args.val_clips, VAL_SEED_BASE, VAL_SIZES,
                                 args.frames_per_clip, args)}
    names = "\n".join(f"  {i}: {c}" for i, c in enumerate(CLASSES))
    (out / "data.yaml").write_text(f"path: {out.resolve()}\ntrain: images/train\nval: images/val\n"
                                   f"names:\n{names}\n")
    tmp = out / "recipe.json.tmp"
    tmp.write_text(json.dumps(recipe, indent=1))
    os.replace(tmp, out / "recipe.json")
    print(f"wrote {out / 'data.yaml'}")


if __name__ == "__main__":
    main()
