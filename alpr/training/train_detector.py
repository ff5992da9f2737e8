"""Trains the YOLO plate detector from scratch with Ultralytics, offline, resumable.

    python -m alpr build-detector-data --rf-variants 1 --swap-scenes 600
    python -m alpr train-detector --data data/detector/data.yaml --hours 1.5
    python -m alpr train-detector --resume runs/detector/train/weights/last.pt

No pretrained weights exist here: the model is built from its YAML (yolo11n by default:
the smallest current model, whose ~6.5 GFLOPs at 640 fit a 2-vCPU Lambda's budget).
"""
from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

from ..config import PROJECT_ROOT
from ..yolo_env import prepare_ultralytics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alpr train-detector", description=__doc__)
    parser.add_argument("--data", type=Path, default=PROJECT_ROOT / "data" / "detector" / "data.yaml")
    parser.add_argument("--model", default="yolo11n.yaml", help="architecture YAML (trained from scratch)")
    parser.add_argument("--imgsz", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--hours", type=float, default=None, help="time budget; overrides --epochs")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--project", type=Path, default=PROJECT_ROOT / "runs" / "detector")
    parser.add_argument("--name", default="train")
    parser.add_argument("--resume", type=Path, default=None, help="last.pt of an interrupted run")
    parser.add_argument("--init", type=Path, default=None, help="start from these weights (fine-tune)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr0", type=float, default=None,
                        help="initial learning rate with AdamW (default: Ultralytics' automatic choice)")
    parser.add_argument("--warmup-epochs", type=float, default=3.0,
                        help="Ultralytics' warm-up; keep it short when fine-tuning (--init)")
    parser.add_argument("--shear", type=float, default=0.0, metavar="DEGREES",
                        help="shear training photos by up to this many degrees (Ultralytics' shear, both "
                             "axes): plates seen from the side, which the service's sheared looks find otherwise")
    parser.add_argument("--no-plots", action="store_true",
                        help="skip Ultralytics' plots (they need matplotlib and polars)")
    parser.add_argument("--export", type=Path, default=None, help="copy best.pt here when done")
    args = parser.parse_args(argv)

    os.environ.setdefault("YOLO_VERBOSE", "true")  # a long job shows its progress
    prepare_ultralytics()
    from ultralytics import YOLO

    if args.resume:
        model = YOLO(str(args.resume))
        model.train(resume=True)
    else:
        # Fine-tuning starts from a checkpoint of ours; otherwise the architecture from scratch.
        model = YOLO(str(args.init) if args.init else args.model, task="detect")
        model.train(
            data=str(args.data.resolve()), imgsz=args.imgsz, epochs=args.epochs,
            time=args.hours, batch=args.batch, workers=args.workers, device=args.device,
            project=str(args.project.resolve()), name=args.name, exist_ok=True,
            pretrained=bool(args.init), amp=False, seed=args.seed, deterministic=False,
            # Plates are text: mirrored plates teach the wrong shapes less than they cost.
            fliplr=0.0, mosaic=1.0, close_mosaic=2, patience=100, plots=not args.no_plots, val=True,
            warmup_epochs=args.warmup_epochs, shear=args.shear,
            # The warm-up's bias learning rate (0.1) suits a network from scratch; it undoes
            # a trained one, so a fine-tune starts the biases at its own rate.
            **({"warmup_bias_lr": args.lr0 or 0.001} if args.init else {}),
            **({"optimizer": "AdamW", "lr0": args.lr0} if args.lr0 else {}),
        )
    best = Path(model.trainer.best)
    print(f"best weights: {best}")
    if args.export and best.exists():
        args.export.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(best, args.export)
        print(f"copied to {args.export}")
    return 0
