"""Train the project's vehicle detector (models/convoy-yolo.pt) from scratch, on CPU, offline.

    python models/train/make_dataset.py --out /tmp/convoy-data
    python models/train/train.py --data /tmp/convoy-data/data.yaml --epochs 18

The network is ultralytics' YOLO11n architecture built from `yolo11n.yaml` (no
pretrained weights: none can be downloaded here, and a COCO start would hide what the
synthetic data alone teaches). Nothing is fetched from the network: YOLO_OFFLINE is set
before ultralytics is imported, plots are off (they would fetch a font), AMP is off (its
check would fetch yolo11n.pt; AMP is CUDA-only anyway).

When training ends the best checkpoint (by validation fitness) is copied to `--out`,
validated once more on the validation split, and the metrics (overall and per class)
are written to `--metrics` as JSON for the model card.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, help="data.yaml from make_dataset.py")
    ap.add_argument("--epochs", type=int, default=18)
    ap.add_argument("--hours", type=float, default=None,
                    help="wall-clock budget: ultralytics re-plans the epoch count after the "
                         "first epoch to fit it (the epochs actually run go into --metrics)")
    ap.add_argument("--imgsz", type=int, default=320)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--arch", default="yolo11n.yaml", help="ultralytics model config (no weights)")
    ap.add_argument("--init", type=Path, default=None,
                    help="continue from these weights (a previous stage's .pt) instead of --arch")
    ap.add_argument("--warmup-epochs", type=float, default=3.0)
    ap.add_argument("--project", type=Path, default=Path("/tmp/convoy-train"))
    ap.add_argument("--name", default="convoy-yolo")
    ap.add_argument("--out", type=Path, default=REPO / "models" / "convoy-yolo.pt")
    ap.add_argument("--metrics", type=Path, default=REPO / "models" / "train" / "metrics.json")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch CPU threads (default: ultralytics' choice, cpu_count - 1)")
    ap.add_argument("--inference-imgsz", type=int, default=None,
                    help="inference size to record in the weights (convoycount's YoloDetector "
                         "uses it when --imgsz is not given; default: the training size)")
    ap.add_argument("--stamp-only", action="store_true",
                    help="only record --inference-imgsz in --out (no training)")
    args = ap.parse_args()
    if args.stamp_only:
        stamp_inference_imgsz(args.out, args.inference_imgsz or args.imgsz)
        return
    if args.data is None:
        ap.error("--data is required")

    os.environ["YOLO_OFFLINE"] = "1"       # before ultralytics is imported: no downloads, no events
    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    from ultralytics import YOLO

    t0 = time.time()
    model = YOLO(str(args.init) if args.init else args.arch)
    if args.threads:
        # ultralytics' select_device() resets torch to cpu_count - 1 threads (1 on a
        # 2-core machine) when training starts; put the requested count back after it.
        model.add_callback("on_pretrain_routine_end", lambda trainer: torch.set_num_threads(args.threads))
    model.train(
        data=str(args.data), epochs=args.epochs, imgsz=args.imgsz, batch=args.batch,
        device="cpu", workers=args.workers, seed=args.seed, deterministic=True,
        pretrained=bool(args.init), warmup_epochs=args.warmup_epochs, amp=False, plots=False, cache="ram", exist_ok=True,
        project=str(args.project), name=args.name, patience=args.epochs,
        # geometry augmentation: vehicles are never upside down in a side view, and a
        # vertical top view is rendered by the generator itself
        fliplr=0.5, flipud=0.0, degrees=0.0, mosaic=1.0, close_mosaic=max(1, args.epochs // 6),
        scale=0.5, translate=0.1, hsv_h=0.015, hsv_s=0.6, hsv_v=0.4,
        time=args.hours, verbose=True)
    train_s = time.time() - t0

    run_dir = args.project / args.name
    epochs_run = _epochs_run(run_dir)
    best = run_dir / "weights" / "best.pt"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".pt.tmp")
    shutil.copyfile(best, tmp)
    os.replace(tmp, args.out)

    stamp_inference_imgsz(args.out, args.inference_imgsz or args.imgsz)
    val = YOLO(str(args.out)).val(data=str(args.data), imgsz=args.imgsz, batch=args.batch,
                                  device="cpu", plots=False, split="val", workers=args.workers,
                                  project=str(args.project), name=f"{args.name}-val", exist_ok=True,
                                  verbose=True)
    names = val.names
    per_class = {}
    for k, ci in enumerate(val.box.ap_class_index):
        p, r, ap50, ap = val.box.class_result(k)
        per_class[names[int(ci)]] = {"precision": round(float(p), 4), "recall": round(float(r), 4),
                                     "mAP50": round(float(ap50), 4), "mAP50-95": round(float(ap), 4),
                                     "instances": int(val.nt_per_class[int(ci)])
                                     if getattr(val, "nt_per_class", None) is not None else None}
    metrics = {
        "model": str(args.out.relative_to(REPO)) if args.out.is_relative_to(REPO) else str(args.out),
        "bytes": args.out.stat().st_size,
        "inference_imgsz": args.inference_imgsz or args.imgsz, "arch": args.arch, "init": str(args.init) if args.init else None, "epochs": epochs_run, "hours_budget": args.hours, "imgsz": args.imgsz, "batch": args.batch,
        "seed": args.seed, "train_seconds": round(train_s, 1),
        "torch_threads": args.threads or max(1, (os.cpu_count() or 2) - 1), "cpu_count": os.cpu_count(),
        "ultralytics": __import__("ultralytics").__version__, "torch": torch.__version__,
        "val": {"precision": round(float(val.box.mp), 4), "recall": round(float(val.box.mr), 4),
                "mAP50": round(float(val.box.map50), 4), "mAP50-95": round(float(val.box.map), 4),
                "per_class": per_class},
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }
    args.metrics.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.metrics.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(metrics, indent=2) + "\n")
    os.replace(tmp, args.metrics)
    print(json.dumps(metrics, indent=2))


def stamp_inference_imgsz(path: Path, size: int) -> None:
    """Record the inference size convoycount should use by default in the checkpoint
    (key "convoycount"; ultralytics ignores keys it does not know). A model trained at
    416 finds small, partly hidden vehicles better when run at a larger size: the size
    is chosen on tuning clips, never on the benchmark clips."""
    import torch
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    ckpt["convoycount"] = {"inference_imgsz": int(size)}
    tmp = path.with_suffix(".pt.tmp")
    torch.save(ckpt, tmp)
    os.replace(tmp, path)


def _epochs_run(run_dir: Path) -> int:
    """Epochs completed, from ultralytics' results.csv (one row per epoch)."""
    csv = run_dir / "results.csv"
    return max(0, len(csv.read_text().strip().splitlines()) - 1) if csv.is_file() else -1


if __name__ == "__main__":
    main()
