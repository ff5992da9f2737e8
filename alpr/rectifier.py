"""The rectifier: a small network that tells how a plate crop is askew, so the crop can be
leveled (alpr.leveling, with OpenCV) before the CRNN reads it.

The reader reads a plate column by column, and a plate whose baseline climbs mixes the
characters in its columns (a turned plate alone is read less than half the time). The
network predicts two things from the crop squeezed to a small gray square:

- the slope of the plate's baseline *in that square* (dy/dx, positive climbing to the
  right). A crop w wide and h high is squeezed by w/h against its height, so the slope in
  the crop is the square's slope × h / w;
- whether the plate is slanted (seen from the side: characters upright, `unslant`) rather
  than turned (characters turned with it, `unturn`).

The warp is OpenCV's, outside the network: a spatial transformer inside the ONNX graph
(GridSample) cost more than the whole reader on these CPUs.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np

from .search import RECTIFIER_SPREAD
from .leveling import unslant, unturn
from .onnx_twins import choose_twin

CHECKPOINT_FORMAT = "alpr-rectifier/1"
# A crop whose baseline climbs less than this many degrees is read as it is: leveling from
# 0-3 degrees instead cost level plates 0.5-0.8 points when only the leveled crop was read,
# and gained nothing when the plain crop was read beside it (weights/MODEL_CARD.md).
MIN_CLIMB = 6.0
# Degrees either side of the predicted climb an askew crop is also leveled by (0: no such looks).
LOOK_SPREAD = RECTIFIER_SPREAD


@dataclass(frozen=True)
class RectifierConfig:
    input_size: int = 64
    channels: tuple[int, ...] = (16, 32, 64, 64)
    hidden: int = 64


@dataclass(frozen=True)
class PlateView:
    climb: float   # degrees the plate's baseline climbs to the right, in the crop's own pixels
    slanted: bool  # characters upright (sheared): unslant; else turned: unturn


def network_input(crops: Sequence[np.ndarray], size: int) -> np.ndarray:
    """BGR crops of any size → N×1×size×size float32 gray in [0, 1]."""
    gray = [cv2.cvtColor(cv2.resize(c, (size, size), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
            for c in crops]
    return np.stack(gray)[:, None].astype(np.float32) / np.float32(255.0)


def square_slope(climb, width, height):
    """The baseline's slope once a width × height crop is squeezed into a square (numbers or
    NumPy arrays)."""
    return np.tan(np.radians(climb)) * width / height


def climb_of(slope, width, height):
    """The inverse of square_slope: degrees in the crop's own pixels."""
    return np.degrees(np.arctan(slope * height / width))


def build_network(config: RectifierConfig):
    """Strided 3×3 convolutions down to 4×4, then two linear layers → (slope, slant logit)."""
    from torch import nn

    layers: list[nn.Module] = []
    cin = 1
    for cout in config.channels:
        layers += [nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(cout),
                   nn.ReLU(inplace=True)]
        cin = cout
    side = config.input_size // 2 ** len(config.channels)
    layers += [nn.Flatten(), nn.Linear(cin * side * side, config.hidden), nn.ReLU(inplace=True),
               nn.Linear(config.hidden, 2)]
    return nn.Sequential(*layers)


def save_checkpoint(model, config: RectifierConfig, path: str | Path, **metadata: Any) -> None:
    import torch

    torch.save({"format": CHECKPOINT_FORMAT, "config": asdict(config),
                "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                "metadata": metadata}, str(path))


def load_checkpoint(path: str | Path):
    """(network in eval mode, its config)."""
    import torch

    blob = torch.load(str(path), map_location="cpu", weights_only=True)
    if not (isinstance(blob, dict) and blob.get("format") == CHECKPOINT_FORMAT):
        raise ValueError(f"{path}: not a rectifier checkpoint")
    raw = dict(blob["config"])
    config = RectifierConfig(**{**raw, "channels": tuple(raw["channels"])})
    model = build_network(config)
    model.load_state_dict(blob["state_dict"])
    return model.eval(), config


class Rectifier:
    """Predicts each crop's view and levels the askew ones."""

    def __init__(self, net: Callable[[np.ndarray], np.ndarray], input_size: int = 64,
                 min_climb: float = MIN_CLIMB, backend: str = "torch", spread: float = LOOK_SPREAD):
        self.net, self.input_size, self.min_climb, self.backend = net, input_size, min_climb, backend
        self.spread = spread

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "cpu", backend: str = "auto",
                        spin: bool = True, spread: float = LOOK_SPREAD) -> "Rectifier":
        """The checkpoint's ONNX twin on the CPU when one matches, else the checkpoint in torch."""
        if not Path(path).is_file():
            raise FileNotFoundError(f"rectifier weights not found: {path}")
        twin = choose_twin(path, device, backend, spin)
        if twin is not None:
            return cls(twin, int(twin.metadata.get("input_size", 64)), backend="onnx", spread=spread)
        import torch

        model, config = load_checkpoint(path)
        model = model.to(device)

        def forward(batch: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                return model(torch.from_numpy(batch).to(device)).float().cpu().numpy()

        return cls(forward, config.input_size, backend="torch", spread=spread)

    def views(self, crops: Sequence[np.ndarray]) -> list[PlateView]:
        if not crops:
            return []
        out = np.asarray(self.net(network_input(crops, self.input_size)), dtype=np.float64)
        return [PlateView(float(climb_of(slope, c.shape[1], c.shape[0])), bool(logit > 0))
                for c, (slope, logit) in zip(crops, out)]

    def leveled(self, crops: Sequence[np.ndarray]) -> list[list[np.ndarray]]:
        """For each crop, its leveled versions: none when it is nearly level; else leveled by
        its climb the way the network saw it, then the other way (turned back instead of
        sheared back, or the reverse), then the network's way `spread` degrees either side.
        Both ways are given because the kind is the network's weaker guess (89 % right on
        askew validation crops; a plate leveled the wrong way reads worse than as it is)."""
        out: list[list[np.ndarray]] = []
        for crop, view in zip(crops, self.views(crops)):
            if abs(view.climb) < self.min_climb:
                out.append([])
                continue
            seen, other = (unslant, unturn) if view.slanted else (unturn, unslant)
            looks = [seen(crop, view.climb), other(crop, view.climb)]
            if self.spread:
                looks += [seen(crop, view.climb - self.spread), seen(crop, view.climb + self.spread)]
            out.append(looks)
        return out
