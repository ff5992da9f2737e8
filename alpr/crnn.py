"""The CRNN: a small CNN that turns a 128×128 HLS plate into 32 column features, a
bidirectional LSTM over them, and per-column class scores for CTC. Serving and training
import this one module, and checkpoints carry its settings beside the weights."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .plate_formats import ALPHABET

CHECKPOINT_FORMAT = "alpr-crnn/1"


@dataclass(frozen=True)
class CRNNConfig:
    alphabet: str = ALPHABET  # the last symbol is the CTC blank
    input_size: int = 128     # square input, as the seed's model
    channels: tuple[int, ...] = (16, 32, 64, 96)
    hidden: int = 96
    lstm_layers: int = 1
    dropout: float = 0.1
    # Residual 3×3 convolutions after each of the first four conv layers (0 = none, the
    # first release's network). They start as identities, so a trained network can grow.
    refine: tuple[int, ...] = (0, 0, 0, 0)
    # Trained on lines cut from two-line plates (alpr.two_line): the service then reads a
    # box shaped like a two-line plate line by line too.
    reads_lines: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.alphabet)

    @property
    def blank(self) -> int:
        return len(self.alphabet) - 1


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class Refine(nn.Module):
    """x + BN(conv(x)), then ReLU. The BN scale starts at zero, so a new block passes its
    (non-negative) input through unchanged until training finds a use for it."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.norm = nn.BatchNorm2d(channels)
        nn.init.zeros_(self.norm.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.norm(self.conv(x)))


class CRNN(nn.Module):
    """Input N×3×128×128 in [0, 1]; output T×N×C log-probabilities (T = 32)."""

    def __init__(self, config: CRNNConfig | None = None):
        super().__init__()
        self.config = config = config or CRNNConfig()
        c1, c2, c3, c4 = config.channels
        # Width goes 128 → 32 (4 columns a character on an 8-character plate); height
        # keeps shrinking to 4, then collapses: plates are read left to right.
        stages = [
            [_conv(3, c1, stride=2)],                       # 64×64
            [nn.MaxPool2d(2), _conv(c1, c2)],               # 32×32
            [nn.MaxPool2d((2, 1)), _conv(c2, c3)],          # 16×32
            [nn.MaxPool2d((2, 1)), _conv(c3, c4)],          # 8×32
            [nn.MaxPool2d((2, 1)), _conv(c4, c4)],          # 4×32
        ]
        widths = (c1, c2, c3, c4)
        layers: list[nn.Module] = []
        for index, stage in enumerate(stages):
            layers += stage
            if index < len(config.refine):
                layers += [Refine(widths[index]) for _ in range(config.refine[index])]
        self.cnn = nn.Sequential(*layers)
        self.rnn = nn.LSTM(
            c4, config.hidden, num_layers=config.lstm_layers, bidirectional=True,
            dropout=config.dropout if config.lstm_layers > 1 else 0.0,
        )
        self.classifier = nn.Linear(2 * config.hidden, config.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.cnn(x).mean(dim=2)          # N×C×W
        sequence = features.permute(2, 0, 1)        # W×N×C
        out, _ = self.rnn(sequence)
        return self.classifier(out).log_softmax(-1)


def to_tensor(batch_hls) -> torch.Tensor:
    """N×H×W×3 uint8 HLS (NumPy) → N×3×H×W float in [0, 1]: the CRNN's input."""
    return torch.from_numpy(batch_hls).permute(0, 3, 1, 2).float().div_(255.0)


def save_checkpoint(model: CRNN, path: str | Path, **metadata: Any) -> None:
    """Self-describing checkpoint: format tag, settings and metadata beside the state dict."""
    config = asdict(model.config)
    torch.save(
        # CPU tensors: a checkpoint trained on a GPU loads anywhere.
        {"format": CHECKPOINT_FORMAT, "config": config,
         "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
         "metadata": metadata},
        str(path),
    )


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> CRNN:
    """Loads our checkpoints, and a bare state dict in the seed's style with default settings."""
    blob = torch.load(str(path), map_location=map_location, weights_only=True)
    if isinstance(blob, dict) and blob.get("format") == CHECKPOINT_FORMAT:
        raw = dict(blob["config"])
        raw["channels"] = tuple(raw["channels"])
        raw["refine"] = tuple(raw.get("refine", CRNNConfig.refine))
        config = CRNNConfig(**raw)
        state = blob["state_dict"]
    elif isinstance(blob, dict) and blob and all(isinstance(v, torch.Tensor) for v in blob.values()):
        config, state = CRNNConfig(), blob
    else:
        raise ValueError(f"{path}: not a CRNN checkpoint")
    model = CRNN(config)
    model.load_state_dict(state)
    return model.eval()


def _refine_blocks(cnn: nn.Sequential) -> list[list[Refine]]:
    """The Refine blocks of each stage (a stage starts at each main conv layer)."""
    stages: list[list[Refine]] = []
    for module in cnn:
        if isinstance(module, nn.Sequential):
            stages.append([])
        elif isinstance(module, Refine):
            stages[-1].append(module)
    return stages


def grow(model: CRNN, refine: tuple[int, ...]) -> CRNN:
    """The same network with more refining blocks: every trained layer keeps its weights
    and the new blocks start as identities, so the grown network reads exactly as before."""
    had = model.config.refine
    if not len(had) <= len(refine) <= 4 or any(new < old for new, old in zip(refine, had)):
        raise ValueError(f"cannot grow refine {model.config.refine} into {refine}")
    grown = CRNN(CRNNConfig(**{**asdict(model.config), "refine": tuple(refine)}))
    main_old = [m for m in model.cnn if not isinstance(m, Refine)]
    main_new = [m for m in grown.cnn if not isinstance(m, Refine)]
    for old, new in zip(main_old, main_new, strict=True):
        new.load_state_dict(old.state_dict())
    for old_stage, new_stage in zip(_refine_blocks(model.cnn), _refine_blocks(grown.cnn)):
        for old, new in zip(old_stage, new_stage):
            new.load_state_dict(old.state_dict())
    grown.rnn.load_state_dict(model.rnn.state_dict())
    grown.classifier.load_state_dict(model.classifier.state_dict())
    return grown.train(model.training)


def _stream_map(old: int, new: int, rng: torch.Generator) -> torch.Tensor:
    """Which old channel each new channel copies: the old ones in place, then random repeats."""
    extra = torch.randint(0, old, (new - old,), generator=rng)
    return torch.cat([torch.arange(old), extra])


def _copy_conv_norm(old_conv: nn.Conv2d, old_norm: nn.BatchNorm2d, new_conv: nn.Conv2d,
                    new_norm: nn.BatchNorm2d, source: torch.Tensor, target: torch.Tensor,
                    noise: float, rng: torch.Generator) -> None:
    """new output channel j copies old channel target[j]; each input channel i reads old
    channel source[i], divided by how many new channels share it, so sums are unchanged."""
    shares = torch.bincount(source, minlength=old_conv.in_channels).float()
    weight = old_conv.weight[target][:, source] / shares[source][None, :, None, None]
    if noise:
        weight = weight + noise * weight.std() * torch.randn(weight.shape, generator=rng)
    new_conv.weight.copy_(weight)
    for name in ("weight", "bias", "running_mean", "running_var"):
        getattr(new_norm, name).copy_(getattr(old_norm, name)[target])
    new_norm.num_batches_tracked.copy_(old_norm.num_batches_tracked)


@torch.no_grad()
def widen(model: CRNN, channels: tuple[int, ...], noise: float = 0.0, seed: int = 0) -> CRNN:
    """The same network with more channels per conv stage (Net2WiderNet): each new channel
    copies an existing one and the layers that read a copied channel share its weight among
    the copies, so the wider network reads exactly as before (with `noise`: nearly, which
    lets the copies grow apart). Refining blocks and the LSTM keep their sizes."""
    had = model.config.channels
    if len(channels) != len(had) or any(new < old for new, old in zip(channels, had)):
        raise ValueError(f"cannot widen channels {had} into {channels}")
    rng = torch.Generator().manual_seed(seed)
    wide = CRNN(CRNNConfig(**{**asdict(model.config), "channels": tuple(channels)}))
    # The conv layers in order, each with the stream (channel maps) it reads and writes.
    old_layers = [m for m in model.cnn.modules() if isinstance(m, nn.Conv2d)]
    new_layers = [m for m in wide.cnn.modules() if isinstance(m, nn.Conv2d)]
    old_norms = [m for m in model.cnn.modules() if isinstance(m, nn.BatchNorm2d)]
    new_norms = [m for m in wide.cnn.modules() if isinstance(m, nn.BatchNorm2d)]
    stream = torch.arange(3)  # the input's three channels
    widths = iter(zip(had + had[-1:], tuple(channels) + tuple(channels[-1:])))
    refine_ids = {id(m.conv) for m in model.cnn if isinstance(m, Refine)}
    for old_conv, new_conv, old_norm, new_norm in zip(old_layers, new_layers, old_norms, new_norms,
                                                      strict=True):
        if id(old_conv) in refine_ids:  # a residual block writes back into the stream it reads
            target = stream
        else:
            old_width, new_width = next(widths)
            target = _stream_map(old_width, new_width, rng)
        _copy_conv_norm(old_conv, old_norm, new_conv, new_norm, stream, target, noise, rng)
        stream = target
    shares = torch.bincount(stream, minlength=had[-1]).float()
    wide.rnn.load_state_dict(model.rnn.state_dict() | {
        key: value[:, stream] / shares[stream] for key, value in model.rnn.state_dict().items()
        if key.startswith("weight_ih")})
    wide.classifier.load_state_dict(model.classifier.state_dict())
    return wide.train(model.training)


@torch.no_grad()
def with_alphabet(model: CRNN, alphabet: str) -> CRNN:
    """The same network reading another alphabet: the classes both read keep their output
    weights; a new class starts with small weights and a bias far below every trained one,
    so the network reads as before until training gives the new class a use."""
    old = model.config.alphabet
    if alphabet[-1] != old[-1]:
        raise ValueError(f"the blank must stay {old[-1]!r}")
    grown = CRNN(CRNNConfig(**{**asdict(model.config), "alphabet": alphabet}))
    grown.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("classifier.")},
                          strict=False)
    weight, bias = model.classifier.weight, model.classifier.bias
    grown.classifier.weight.mul_(0.01 / grown.classifier.weight.std())
    grown.classifier.bias.fill_(float(bias.min()) - 10.0)
    for index, symbol in enumerate(alphabet):
        if symbol in old:
            grown.classifier.weight[index] = weight[old.index(symbol)]
            grown.classifier.bias[index] = bias[old.index(symbol)]
    return grown.train(model.training)
