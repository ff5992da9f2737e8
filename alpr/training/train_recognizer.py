"""Trains the CRNN on rendered and plate-swapped Ukrainian plates (CTC loss), resumable.

    python -m alpr train-recognizer --steps 12000 --out weights/crnn.pth
    python -m alpr train-recognizer --steps 20000 --resume   # continue the run in --run-dir

Each "epoch" is --epoch-steps fresh batches; after each one the run directory gets a
checkpoint (model, optimizer, schedule, step), the validation figures and the curve PNG.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader

from ..config import PROJECT_ROOT, SHARED_PHOTOS, Settings
from ..crnn import CRNN, CRNNConfig, grow, load_checkpoint, save_checkpoint, to_tensor, widen, with_alphabet
from ..ctc import decode_batch
from ..metrics import edit_distance, roc_auc
from ..onnx_twins import open_onnx
from ..recognizer import CONFIG_KEY, to_array
from .distill import Teachers, distillation_loss
from ..plate_formats import LATIN_ALPHABET, matching_layout
from .real_plates import TRAINING_LABELS, VALIDATION_LABELS, real_validation_set
from .plate_designs import FAMILIES
from .recognizer_data import TrainingStream, collate, make_validation_set
from .render import LEGIBLE_HEIGHTS, LEVELING_ERROR, VIEWS


def ctc_loss(log_probs: torch.Tensor, targets, lengths, blank: int, focal: float = 0.0,
             per_plate: bool = False) -> torch.Tensor:
    """CTC loss per label character, averaged over the batch (F.ctc_loss's "mean"), or one
    figure per plate with `per_plate`.

    focal > 0 weighs each plate by (1 - p) ** focal, p being the network's probability of
    its label (focal CTC): plates it already reads surely count less, so the gradient
    goes where the misreads are.
    """
    steps, batch = log_probs.shape[:2]
    plates = F.ctc_loss(log_probs, targets, torch.full((batch,), steps, dtype=torch.long), lengths,
                        blank=blank, zero_infinity=True, reduction="none")
    if focal:
        label_probability = torch.exp(-plates.detach())
        plates = plates * (1.0 - label_probability).clamp(min=0.0) ** focal
    plates = plates / lengths.clamp(min=1).to(plates.dtype)
    return plates if per_plate else plates.mean()


def taught_plates(texts: list[str]) -> torch.Tensor:
    """Which plates of a batch the teachers of --teach-ukrainian teach: those whose label fits
    a Ukrainian one-line layout, the plates the shipped readers were trained on."""
    return torch.tensor([matching_layout(t) is not None for t in texts], dtype=torch.bool)


def training_loss(log_probs: torch.Tensor, targets, lengths, texts: list[str], images: torch.Tensor,
                  blank: int, args: argparse.Namespace, teachers: Teachers | None) -> torch.Tensor:
    """The labels' CTC loss; with teachers, each taught plate's loss is (1 - distill) × CTC +
    distill × KL(teachers ‖ network), the others' CTC alone."""
    if teachers is None:
        return ctc_loss(log_probs, targets, lengths, blank, args.focal)
    plates = ctc_loss(log_probs, targets, lengths, blank, args.focal, per_plate=True)
    taught = (taught_plates(texts).to(plates.device) if args.teach_ukrainian
              else torch.ones_like(plates, dtype=torch.bool))
    if taught.any():
        kl = distillation_loss(log_probs[:, taught], teachers(images[taught]), lengths[taught], per_plate=True)
        plates = plates.masked_scatter(taught, (1.0 - args.distill) * plates[taught] + args.distill * kl)
    return plates.mean()


def evaluate_reads(forward: Callable[[np.ndarray], np.ndarray], alphabet: str, images: np.ndarray,
                   texts: list[str], batch: int = 256) -> dict:
    """Exact-plate accuracy, character accuracy (1 - CER), and per-read confidences of a
    network given as `forward`: preprocessed crops (N×H×W×3 uint8) → T×N×C log-probs."""
    reads, confidences = [], []
    for start in range(0, len(texts), batch):
        for d in decode_batch(forward(images[start:start + batch]), alphabet):
            reads.append(d.text)
            confidences.append(d.confidence)
    correct = [r == t for r, t in zip(reads, texts)]
    distance = sum(edit_distance(r, t) for r, t in zip(reads, texts))
    return {
        "count": len(texts),
        "exact_accuracy": float(np.mean(correct)),
        "char_accuracy": 1.0 - distance / max(1, sum(len(t) for t in texts)),
        "confidence_auc": roc_auc(confidences, correct),
        "errors": [(t, r) for r, t, ok in zip(reads, texts, correct) if not ok][:20],
    }


@torch.inference_mode()
def evaluate_set(model: CRNN, images: np.ndarray, texts: list[str], batch: int = 256) -> dict:
    model.eval()
    try:
        device = next(model.parameters()).device
        return evaluate_reads(lambda x: model(to_tensor(x).to(device)).cpu(), model.config.alphabet,
                              images, texts, batch)
    finally:
        model.train()


def onnx_forward(path: Path) -> tuple[Callable[[np.ndarray], np.ndarray], dict]:
    """An exported reader (float32 or int8) as `evaluate_reads` wants it, and its settings."""
    net = open_onnx(path)
    return (lambda x: net(to_array(x))), json.loads(net.metadata[CONFIG_KEY])


def save_curve(history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [h["step"] for h in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(steps, [h["loss"] for h in history])
    ax_loss.set(xlabel="step", ylabel="CTC loss", yscale="log", title="training loss")
    for key, label in (("synthetic", "synthetic val"), ("swap", "plate-swap val")):
        ax_acc.plot(steps, [h[key]["exact_accuracy"] for h in history], label=label)
    ax_acc.set(xlabel="step", ylabel="exact-plate accuracy", ylim=(0, 1), title="validation")
    ax_acc.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def validation_sets(args: argparse.Namespace, config: CRNNConfig,
                    photos: Path | None) -> dict[str, tuple[np.ndarray, list[str]]]:
    """The run's held-out sets, made once and cached in the run directory, so every file
    scored against this run directory is scored on the same crops (whatever their count)."""
    swap = (partial(make_validation_set, "swap", args.val_swap, args.seed, photos, config.input_size)
            if photos else  # no photos: a second rendered set stands in
            partial(make_validation_set, "synthetic", args.val_swap, args.seed + 1, None, config.input_size))
    makers = {"synthetic": partial(make_validation_set, "synthetic", args.val_synthetic, args.seed, None,
                                   config.input_size),
              "swap": swap}
    for family in FAMILIES if getattr(args, "val_family", 0) else ():
        makers[family] = partial(make_validation_set, family, args.val_family, args.seed, None, config.input_size)
    if getattr(args, "real_labels", None) and photos:  # the validation photos' real plates
        makers["real"] = partial(real_validation_set, VALIDATION_LABELS, photos, config.input_size, args.seed)
    return cached_sets(args.run_dir / "validation.npz", makers)


# Plate heights in pixels, as the camera saw them, of the --by-height sets.
CAPTURE_HEIGHTS = (12, 16, 20, 24, 32, 48)


def cached_sets(cache: Path, makers: dict[str, Callable[[], tuple[np.ndarray, list[str]]]],
                count: int | None = None) -> dict[str, tuple[np.ndarray, list[str]]]:
    """Named sets, made once and kept in `cache` so every file is scored on the same crops;
    remade when the cache lacks one, or holds another `count` of crops when one is given."""
    if cache.exists():
        blob = np.load(cache)
        if all(f"{k}_texts" in blob and count in (None, len(blob[f"{k}_texts"])) for k in makers):
            return {k: (blob[f"{k}_images"], list(blob[f"{k}_texts"])) for k in makers}
    print(f"making {cache.name} ...", flush=True)
    sets = {k: make() for k, make in makers.items()}
    np.savez_compressed(cache, **{f"{k}_images": v[0] for k, v in sets.items()},
                        **{f"{k}_texts": np.array(v[1]) for k, v in sets.items()})
    return sets


def validation_by_height(args: argparse.Namespace, config: CRNNConfig) -> dict[str, tuple[np.ndarray, list[str]]]:
    """The same rendered plates captured at each of CAPTURE_HEIGHTS (one seed, so only the
    resolution differs): how large a plate must be to be read."""
    return cached_sets(args.run_dir / "validation-by-height.npz", {
        f"rendered at {h} px": partial(make_validation_set, "synthetic", args.by_height, args.seed, None,
                                       config.input_size, capture_height=h)
        for h in CAPTURE_HEIGHTS}, args.by_height)


def validation_by_view(args: argparse.Namespace, config: CRNNConfig) -> dict[str, tuple[np.ndarray, list[str]]]:
    """Rendered plates of each kind of view (render.VIEWS: level, steep, turned, slanted),
    LEGIBLE_HEIGHTS high: which views the reader has mastered; and turned and slanted ones
    leveled as the service levels unsure plates: how well it reads what leveling gives it."""
    def of_view(view: str, leveled: bool = False) -> Callable[[], tuple[np.ndarray, list[str]]]:
        return partial(make_validation_set, "synthetic", args.by_view, args.seed, None, config.input_size,
                       capture_height=LEGIBLE_HEIGHTS, view=view, leveled=leveled)

    makers = {f"rendered {view}, 20-60 px": of_view(view) for view in VIEWS}
    makers.update({f"rendered {view}, leveled, 20-60 px": of_view(view, leveled=True)
                   for view in ("turned", "slanted")})
    return cached_sets(args.run_dir / "validation-by-view.npz", makers, args.by_view)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alpr train-recognizer", description=__doc__)
    parser.add_argument("--steps", type=int, default=12000)
    parser.add_argument("--epoch-steps", type=int, default=500)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--swap-share", type=float, default=0.35, help="share of plate-swap samples")
    parser.add_argument("--leveled-share", type=float, default=0.0,
                        help="share of rendered steep views given leveled, as the service reads "
                             "unsure plates (render.synth_crop)")
    parser.add_argument("--leveling-error", type=float, default=LEVELING_ERROR, metavar="DEGREES",
                        help="how far off the angle of a leveled training crop is, at most (default "
                             f"{LEVELING_ERROR:g}: the service's grid of angles; its rectifier is off by less)")
    parser.add_argument("--small-share", type=float, default=0.0,
                        help="share of rendered crops captured 12-20 px high (besides the "
                             "renderer's own 12-60 px draw): more practice where most misreads are")
    parser.add_argument("--photos", type=Path, default=SHARED_PHOTOS)
    parser.add_argument("--val-synthetic", type=int, default=2000)
    parser.add_argument("--val-swap", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="where the network trains: cpu, cuda, cuda:1 ...")
    parser.add_argument("--run-dir", type=Path, default=PROJECT_ROOT / "runs" / "recognizer")
    parser.add_argument("--resume", action="store_true", help="continue from run-dir/last.pt")
    parser.add_argument("--init", type=Path, default=None,
                        help="start from these CRNN weights (a new schedule: fine-tuning)")
    parser.add_argument("--grow", default=None, metavar="N,N,N,N",
                        help="add identity-initialised refining blocks to the --init network "
                             "(per conv stage, the totals wanted; see alpr.crnn.grow)")
    parser.add_argument("--widen", default=None, metavar="N,N,N,N",
                        help="give the --init network these conv channels per stage, each new channel "
                             "a copy of an old one (it reads as before; see alpr.crnn.widen)")
    parser.add_argument("--ema", type=float, default=0.0, metavar="DECAY",
                        help="score and keep an exponential moving average of the weights (and "
                             "BatchNorm statistics) with this decay per step, e.g. 0.999; 0: off")
    parser.add_argument("--teachers", type=Path, nargs="+", default=None, metavar="WEIGHTS",
                        help="CRNN checkpoints whose averaged column probabilities the network "
                             "also learns (knowledge distillation, alpr.training.distill)")
    parser.add_argument("--distill", type=float, default=0.5, metavar="SHARE",
                        help="with --teachers: the teachers' share of the loss, the labels' (CTC) "
                             "being the rest")
    parser.add_argument("--teach-ukrainian", action="store_true",
                        help="with --teachers: they teach only plates of a Ukrainian one-line layout "
                             "(what a Ukrainian-only reader knows); the rest learn from labels alone")
    parser.add_argument("--focal", type=float, default=0.0, metavar="GAMMA",
                        help="weigh each plate's CTC loss by (1 - p) ** GAMMA, p the probability of its "
                             "label (focal CTC): surely read plates count less; 0: plain CTC")
    parser.add_argument("--out", type=Path, default=None, help="write the best weights here too")
    parser.add_argument("--alphabet", choices=("keep", "latin"), default="keep",
                        help="latin: grow the network to read digits and all 26 Latin letters (foreign plates)")
    parser.add_argument("--real-labels", type=Path, nargs="+", default=None, metavar="JSON",
                        help=f"real plates read by eye to train on (e.g. {TRAINING_LABELS.relative_to(PROJECT_ROOT)}); "
                             "their crops join the mix, and the validation photos' become a validation set")
    parser.add_argument("--real-share", type=float, default=0.2, help="share of real plates when --real-labels")
    parser.add_argument("--real-augment", type=float, default=0.0, metavar="SHARE",
                        help="share of real crops seen as another camera would see them (smaller, turned, "
                             "blurred, lit, coloured, noisy, JPEG: real_plates.camera_variant)")
    parser.add_argument("--foreign-share", type=float, default=0.0,
                        help="share of rendered foreign plates (needs --alphabet latin)")
    parser.add_argument("--two-line-share", type=float, default=0.0,
                        help="share of rendered Ukrainian two-line plates, given line by line")
    parser.add_argument("--half-share", type=float, default=0.0,
                        help="share of rendered one-line crops given as a half, read as nothing")
    parser.add_argument("--val-family", type=int, default=0, metavar="N",
                        help="validate on N rendered plates of each plate_designs family too")
    parser.add_argument("--eval-only", action="store_true",
                        help="print the --init weights' figures on run-dir's validation sets and stop")
    parser.add_argument("--by-height", type=int, default=0, metavar="N",
                        help="with --eval-only: also score N rendered crops at each capture height "
                             f"({', '.join(map(str, CAPTURE_HEIGHTS))} px)")
    parser.add_argument("--by-view", type=int, default=0, metavar="N",
                        help="with --eval-only: also score N rendered crops of each kind of view "
                             f"({', '.join(VIEWS)}), plates 20-60 px high")
    parser.add_argument("--served", type=int, default=0, metavar="N",
                        help="with --eval-only: also read N fresh rendered and N plate-swap crops "
                             "alone and as the service does (alpr.training.served_reads); with "
                             "--by-view, also N of each view")
    parser.add_argument("--by-family", action="store_true",
                        help="with --served: also legible rendered plates of each plate_designs family")
    parser.add_argument("--rectifier", default=Settings().rectifier_weights, metavar="WEIGHTS",
                        help="with --served: the rectifier that levels crops before they are read, "
                             "as the service does ('none': read crops as they are)")
    args = parser.parse_args(argv)
    if args.eval_only and not args.init:
        parser.error("--eval-only needs --init WEIGHTS")
    if args.init and args.init.suffix == ".onnx" and not args.eval_only:
        parser.error("an ONNX file can be scored (--eval-only), not trained")
    if args.teachers and not 0.0 <= args.distill <= 1.0:
        parser.error("--distill is a share of the loss, from 0 to 1")

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    args.run_dir.mkdir(parents=True, exist_ok=True)
    photos = args.photos if args.photos.exists() else None

    if args.eval_only and args.init.suffix == ".onnx":  # an exported reader, as served
        forward, settings = onnx_forward(args.init)
        config = CRNNConfig(alphabet=settings["alphabet"], input_size=int(settings["input_size"]))
        score = partial(evaluate_reads, forward, config.alphabet)
    else:
        model = load_checkpoint(args.init).train() if args.init else CRNN(CRNNConfig())
        if args.grow:
            model = grow(model, tuple(int(n) for n in args.grow.split(",")))
        if args.widen:
            # A little noise (1 % of each layer's spread) lets the copied channels grow apart.
            model = widen(model, tuple(int(n) for n in args.widen.split(",")), noise=0.01, seed=args.seed)
        if args.alphabet == "latin" and model.config.alphabet != LATIN_ALPHABET:
            model = with_alphabet(model, LATIN_ALPHABET)
        if args.two_line_share > 0:  # it learns lines of two-line plates: the service cuts them
            model.config = dataclasses.replace(model.config, reads_lines=True)
        config = model.config
        score = partial(evaluate_set, model)
    if args.eval_only:
        sets = validation_sets(args, config, photos)
        if args.by_height:
            sets.update(validation_by_height(args, config))
        if args.by_view:
            sets.update(validation_by_view(args, config))
        for name, (images, texts) in sets.items():
            result = score(images, texts)
            print(json.dumps({"set": name, **{k: v for k, v in result.items() if k != "errors"}}))
        if args.served:
            from .served_reads import PLATE_FAMILIES, score_served

            rectifier = None if str(args.rectifier).lower() == "none" else Path(args.rectifier)
            for result in score_served(args.init, args.served, args.seed, photos,
                                       views=VIEWS if args.by_view else (), rectifier=rectifier,
                                       families=PLATE_FAMILIES if args.by_family else ()):
                print(json.dumps(result))
        return 0

    device = torch.device(args.device)
    model.to(device)
    try:
        teachers = Teachers.from_paths(args.teachers, device, config.alphabet) if args.teachers else None
    except ValueError as error:
        parser.error(str(error))
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=args.steps,
                                                   pct_start=0.1)
    # The average is what gets scored and saved: it smooths the last steps' gradient noise.
    average = (AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(args.ema), use_buffers=True)
               if args.ema else None)
    step, history, best = 0, [], -1.0
    last = args.run_dir / "last.pt"
    if args.resume and last.exists():
        state = torch.load(last, map_location=device, weights_only=False)
        if state["schedule"]["total_steps"] != args.steps:
            parser.error(f"{last} belongs to a {state['schedule']['total_steps']}-step schedule: "
                         "resume with the same --steps")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        step, history, best = state["step"], state["history"], state["best"]
        if average is not None:
            if "average" not in state:
                parser.error(f"{last} was trained without --ema: resume without it")
            average.load_state_dict(state["average"])
        print(f"resumed at step {step}")

    val = validation_sets(args, config, photos)

    model.train()
    while step < args.steps:
        epoch = step // args.epoch_steps
        loader = DataLoader(
            TrainingStream(args.seed, epoch, photos, args.swap_share, config.input_size,
                           leveled_share=args.leveled_share, small_share=args.small_share,
                           leveling_error=args.leveling_error, real_labels=args.real_labels or (),
                           real_share=args.real_share, alphabet=config.alphabet,
                           foreign_share=args.foreign_share, two_line_share=args.two_line_share,
                           half_share=args.half_share, real_augment=args.real_augment),
            batch_size=args.batch, num_workers=args.workers,
            collate_fn=partial(collate, alphabet=config.alphabet), pin_memory=device.type == "cuda",
        )
        losses, started = [], time.time()
        for images, targets, lengths, texts in loader:
            images, targets, lengths = (t.to(device, non_blocking=True) for t in (images, targets, lengths))
            log_probs = model(images)
            loss = training_loss(log_probs, targets, lengths, texts, images, config.blank, args, teachers)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            schedule.step()
            if average is not None:
                average.update_parameters(model)
            step += 1
            losses.append(loss.item())
            if step % 25 == 0:
                rate = len(losses) / (time.time() - started)
                print(f"step {step}/{args.steps} loss {np.mean(losses[-25:]):.4f} "
                      f"lr {schedule.get_last_lr()[0]:.2e} {rate:.2f} it/s", flush=True)
            if step % args.epoch_steps == 0 or step >= args.steps:
                break

        scored = model if average is None else average.module
        metrics = {k: evaluate_set(scored, *v) for k, v in val.items()}
        record = {"step": step, "loss": float(np.mean(losses)), "seconds": time.time() - started,
                  **{k: {m: v for m, v in r.items() if m != "errors"} for k, r in metrics.items()}}
        if average is not None:  # the raw weights' figures too: what the average adds
            record["raw"] = {k: evaluate_set(model, *v)["exact_accuracy"] for k, v in val.items()}
        history.append(record)
        print(json.dumps(record), flush=True)
        print("sample errors (truth, read):", metrics["swap"]["errors"][:8], flush=True)
        score = sum(m["exact_accuracy"] for m in metrics.values())
        if score > best:
            best = score
            save_checkpoint(scored, args.run_dir / "best.pth", step=step, validation=record)
            if args.out:
                args.out.parent.mkdir(parents=True, exist_ok=True)
                save_checkpoint(scored, args.out, step=step, validation=record)
        # Written aside, then renamed: a job killed mid-write leaves the previous checkpoint.
        aside = last.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "schedule": schedule.state_dict(), "step": step, "history": history, "best": best,
                    **({"average": average.state_dict()} if average is not None else {})},
                   aside)
        aside.replace(last)
        (args.run_dir / "history.json").write_text(json.dumps(history, indent=1))
        save_curve(history, args.run_dir / "curve.png")
    return 0
