"""Weight averaging ("model soup"): one CRNN whose weights are the mean of several
fine-tuned from a common parent. Sibling runs (different seeds and data mixes from one
parent) sit in one basin, so their mean reads better than each alone at no serving cost.
Runs from different parents or architectures are refused: their mean reads nothing."""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ..crnn import CRNN, load_checkpoint, save_checkpoint


def average_checkpoints(paths: list[Path], weights: list[float] | None = None) -> CRNN:
    """The weighted mean of the checkpoints' floating-point tensors (BatchNorm statistics
    included); integer buffers (BatchNorm's step count) come from the first."""
    if not paths:
        raise ValueError("no checkpoints to average")
    weights = [1.0 / len(paths)] * len(paths) if weights is None else list(weights)
    if len(weights) != len(paths) or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError("one non-negative weight per checkpoint, not all zero")
    total = sum(weights)
    models = [load_checkpoint(path) for path in paths]
    for path, model in zip(paths[1:], models[1:]):
        if model.config != models[0].config:
            raise ValueError(f"{path}: another architecture than {paths[0]}; only siblings average")
    states = [model.state_dict() for model in models]
    mean = {}
    for name, tensor in states[0].items():
        if tensor.is_floating_point():
            mean[name] = sum((w / total) * state[name] for w, state in zip(weights, states))
        else:
            mean[name] = tensor.clone()
    averaged = models[0]  # already built with the architecture all of them share
    averaged.load_state_dict(mean)
    return averaged.eval()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alpr average-recognizers", description=__doc__)
    parser.add_argument("checkpoints", nargs="+", type=Path, help="CRNN checkpoints of one architecture")
    parser.add_argument("--out", type=Path, required=True, help="where the averaged checkpoint goes")
    parser.add_argument("--weights", type=lambda text: [float(x) for x in text.split(",")],
                        help="comma-separated weights, one per checkpoint (default: equal)")
    args = parser.parse_args(argv)
    model = average_checkpoints(args.checkpoints, args.weights)
    weights = args.weights or [1.0] * len(args.checkpoints)
    save_checkpoint(model, args.out, averaged_from=[str(p) for p in args.checkpoints],
                    averaging_weights=weights)
    print(f"wrote {args.out}: the mean of {len(args.checkpoints)} checkpoints")
    return 0
