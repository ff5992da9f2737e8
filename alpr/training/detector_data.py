"""Assembles the detector's dataset (Ultralytics YOLO layout) from the shared real photos,
optionally with plate-swap scenes: Ukrainian plates rendered into the real plate boxes and
at new positions.

Real photos are linked, not copied. The validation split is the shared one, which keeps
every Roboflow source and every dashcam video on one side; swap scenes are made only from
training photos, so no near-duplicate frame crosses the split.
"""
from __future__ import annotations

import argparse
import os
import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from ..config import PROJECT_ROOT, SHARED_PHOTOS
from .swap_scenes import STEEP_SHARE, write_swap_scenes

DEFAULT_SOURCE = SHARED_PHOTOS
DEFAULT_OUT = PROJECT_ROOT / "data" / "detector"
_RF_NAME = re.compile(r"^(rf-.+)-(\d+)$")


def source_of(stem: str) -> str:
    """The photo a Roboflow variant was made from (`rf-<source>-<k>`); dashcam frames are their own."""
    match = _RF_NAME.match(stem)
    return match.group(1) if match else stem


def select_train_images(images: list[Path], rf_variants: int, rng: np.random.Generator) -> list[Path]:
    """All dashcam frames, and up to `rf_variants` variants per Roboflow source photo
    (the variants are flips, rotations and noise of one photo: a few go a long way)."""
    groups: dict[str, list[Path]] = defaultdict(list)
    for path in sorted(images):
        groups[source_of(path.stem)].append(path)
    chosen: list[Path] = []
    for key in sorted(groups):
        members = groups[key]
        if key.startswith("rf-") and len(members) > rf_variants:
            picks = rng.choice(len(members), size=rf_variants, replace=False)
            members = [members[i] for i in sorted(picks)]
        chosen.extend(members)
    return chosen


def _link(src: Path, dst: Path) -> None:
    if dst.exists() or dst.is_symlink():
        dst.unlink()
    os.symlink(src.resolve(), dst)


def build(source: Path, out: Path, rf_variants: int, swap_scenes: int, seed: int,
          steep_share: float = STEEP_SHARE) -> Path:
    rng = np.random.default_rng(seed)
    for split in ("train", "val"):
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)

    train_images = select_train_images(sorted((source / "images" / "train").glob("*.jpg")), rf_variants, rng)
    splits = {"train": train_images, "val": sorted((source / "images" / "val").glob("*.jpg"))}
    for split, images in splits.items():
        for image in images:
            label = source / "labels" / split / f"{image.stem}.txt"
            _link(image, out / "images" / split / image.name)
            if label.exists():
                _link(label, out / "labels" / split / label.name)

    if swap_scenes:
        write_swap_scenes(source, train_images, out, swap_scenes, rng, steep_share)

    yaml = out / "data.yaml"
    yaml.write_text(
        f"path: {out.resolve()}\ntrain: images/train\nval: images/val\nnames:\n  0: plate\n"
    )
    count = len(list((out / "images" / "train").iterdir()))
    print(f"{yaml}: {count} training images, {len(splits['val'])} validation images")
    return yaml


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alpr build-detector-data", description=__doc__)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--rf-variants", type=int, default=1, help="Roboflow variants kept per source photo")
    parser.add_argument("--swap-scenes", type=int, default=0, help="plate-swap scenes to add")
    parser.add_argument("--steep-share", type=float, default=STEEP_SHARE,
                        help="share of the plates added to swap scenes that are seen steeply (from the side)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    build(args.source, args.out, args.rf_variants, args.swap_scenes, args.seed, args.steep_share)
    return 0
