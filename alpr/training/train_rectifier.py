"""Trains the rectifier (alpr.rectifier) on rendered crops whose view the renderer knows.

    python -m alpr train-rectifier --out weights/rectifier.pth

The crops are made once (in parallel, `--workers`) and kept in the run directory, so a
second run, or a run stopped and started again, trains without rendering. Half of them are
askew on purpose (steep, turned and slanted views in equal parts): the other half, the
renderer's usual mix, is mostly level. Training and validation never share a plate string.
"""
from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np

from ..config import PROJECT_ROOT, SHARED_PHOTOS
from ..rectifier import RectifierConfig, build_network, climb_of, network_input, save_checkpoint, square_slope
from .recognizer_data import draw_text, load_photos
from .render import synth_viewed_crop

# The view each sample is drawn with: None is the renderer's usual mix (70 % level).
VIEW_MIX = (None, None, None, "steep", "turned", "slanted")
# Below this climb, turned and slanted look alike and either leveling does: no slant label.
SLANT_LABEL_MIN_CLIMB = 8.0
CHUNK = 500


def make_chunk(seed: int, chunk: int, count: int, validation: bool, photos_dir: Path | None,
               input_size: int) -> dict[str, np.ndarray]:
    """`count` samples: network inputs, square slopes, slant labels, and the crops' h/w."""
    rng = np.random.default_rng([seed, 7717, int(validation), chunk])
    photos = load_photos(photos_dir, "val" if validation else "train", 60, rng) if photos_dir else []
    images, slopes, slanted, climbs, aspects = [], [], [], [], []
    for _ in range(count):
        background = photos[int(rng.integers(len(photos)))].image if photos and rng.random() < 0.5 else None
        view = VIEW_MIX[int(rng.integers(len(VIEW_MIX)))]
        made = synth_viewed_crop(rng, text=draw_text(rng, validation), background=background, view=view)
        h, w = made.image.shape[:2]
        images.append(network_input([made.image], input_size)[0, 0])
        slopes.append(float(square_slope(made.climb, w, h)))
        slanted.append(made.slanted)
        climbs.append(made.climb)
        aspects.append(h / w)
    return {"images": (np.stack(images) * 255).round().astype(np.uint8), "slopes": np.float32(slopes),
            "slanted": np.array(slanted), "climbs": np.float32(climbs),
            "aspects": np.float32(aspects)}


def make_set(path: Path, count: int, seed: int, validation: bool, photos_dir: Path | None,
             input_size: int, workers: int) -> dict[str, np.ndarray]:
    """The set, made once (chunks in parallel) and cached at `path`."""
    if path.exists():
        blob = dict(np.load(path))
        if len(blob["slopes"]) == count:
            return blob
    chunks = [(i, min(CHUNK, count - start)) for i, start in enumerate(range(0, count, CHUNK))]
    make = partial(make_chunk, seed, validation=validation, photos_dir=photos_dir, input_size=input_size)
    started, parts = time.time(), []
    with ProcessPoolExecutor(max(1, workers)) as pool:
        for done, part in enumerate(pool.map(make, *zip(*chunks)), 1):
            parts.append(part)
            print(f"{path.name}: {min(done * CHUNK, count)}/{count} crops "
                  f"({time.time() - started:.0f} s)", flush=True)
    blob = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    np.savez_compressed(path, **blob)
    return blob


def evaluate(model, data: dict[str, np.ndarray], batch: int = 512) -> dict:
    """Climb error in degrees (in the crops' own pixels), and how often the kind of an
    askew plate (turned or slanted) is told right."""
    import torch

    model.eval()
    outs = []
    with torch.inference_mode():
        for start in range(0, len(data["slopes"]), batch):
            outs.append(model(torch.from_numpy(data["images"][start:start + batch, None] / np.float32(255))).numpy())
    model.train()
    out = np.concatenate(outs)
    climbs = climb_of(out[:, 0], 1.0, data["aspects"])  # aspects are h / w
    error = np.abs(climbs - data["climbs"])
    askew = np.abs(data["climbs"]) >= SLANT_LABEL_MIN_CLIMB
    return {"count": len(error), "climb_mae": float(error.mean()), "climb_p90": float(np.percentile(error, 90)),
            "within_6": float((error <= 6).mean()),
            "kind_accuracy": float(((out[askew, 1] > 0) == data["slanted"][askew]).mean()) if askew.any() else 1.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alpr train-rectifier", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=80000)
    parser.add_argument("--val", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--workers", type=int, default=2, help="processes that render the crops")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--photos", type=Path, default=SHARED_PHOTOS)
    parser.add_argument("--run-dir", type=Path, default=PROJECT_ROOT / "runs" / "rectifier")
    parser.add_argument("--out", type=Path, default=None, help="write the best weights here too")
    args = parser.parse_args(argv)

    import torch
    import torch.nn.functional as F

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    args.run_dir.mkdir(parents=True, exist_ok=True)
    photos = args.photos if args.photos.exists() else None
    config = RectifierConfig()
    train = make_set(args.run_dir / "train.npz", args.samples, args.seed, False, photos, config.input_size,
                     args.workers)
    val = make_set(args.run_dir / "val.npz", args.val, args.seed, True, photos, config.input_size, args.workers)

    model = build_network(config)
    steps = args.epochs * (len(train["slopes"]) // args.batch)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=max(1, steps),
                                                   pct_start=0.1)
    images = torch.from_numpy(train["images"])
    slopes = torch.from_numpy(train["slopes"])
    slanted = torch.from_numpy(train["slanted"].astype(np.float32))
    labelled = torch.from_numpy(np.abs(train["climbs"]) >= SLANT_LABEL_MIN_CLIMB).float()
    generator = torch.Generator().manual_seed(args.seed)
    history, best = [], float("inf")
    for epoch in range(1, args.epochs + 1):
        started, losses = time.time(), []
        order = torch.randperm(len(slopes), generator=generator)
        for start in range(0, len(order) - args.batch + 1, args.batch):
            index = order[start:start + args.batch]
            x = images[index, None].float().div_(255.0)
            if torch.rand(1, generator=generator).item() < 0.5:  # a mirrored plate climbs the other way
                x, sign = x.flip(3), -1.0
            else:
                sign = 1.0
            out = model(x)
            loss = F.smooth_l1_loss(out[:, 0], sign * slopes[index], beta=0.1) + 0.5 * (
                F.binary_cross_entropy_with_logits(out[:, 1], slanted[index], reduction="none")
                * labelled[index]).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
        record = {"epoch": epoch, "loss": float(np.mean(losses)), "seconds": time.time() - started,
                  "validation": evaluate(model, val)}
        history.append(record)
        print(json.dumps(record), flush=True)
        if record["validation"]["climb_mae"] < best:
            best = record["validation"]["climb_mae"]
            for path in filter(None, (args.run_dir / "best.pth", args.out)):
                path.parent.mkdir(parents=True, exist_ok=True)
                save_checkpoint(model, config, path, epoch=epoch, validation=record["validation"])
        (args.run_dir / "history.json").write_text(json.dumps(history, indent=1))
    return 0
