"""The reader as the service runs it, on fresh crops with known text: each crop read alone,
then read as the pipeline reads a box (the crop, and while unsure its leveled views,
alpr.leveling). The crop margins are left out: they need the photo around the box.

    python -m alpr train-recognizer --eval-only --init weights/crnn.pth --served 800
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..config import Settings
from ..detector import BoundingBox, Detection
from ..metrics import roc_auc, share
from ..onnx_twins import open_onnx
from ..pipeline import Pipeline
from ..recognizer import PlateRecognizer, Reading
from ..rectifier import Rectifier
from .plate_designs import FAMILIES
from .recognizer_data import design_crop, draw_text, load_photos, swap_sample
from .render import LEGIBLE_HEIGHTS, VIEWS, synth_crop

# The families of plates figures are given for: Ukrainian one-line, and plate_designs'.
PLATE_FAMILIES = ("ua-one-line", *FAMILIES)
# Apart from the run's seed, so the crops differ from every cached validation set.
SERVED_SEED = 4242


def fresh_crops(kind: str, count: int, seed: int, photos_dir: Path | None) -> tuple[list[np.ndarray], list[str]]:
    """`count` BGR crops at their own size: 'rendered', 'swap' (validation photos), one of
    render.VIEWS (rendered plates of that view, LEGIBLE_HEIGHTS high), or a family of
    PLATE_FAMILIES (legible: each line LEGIBLE_HEIGHTS high; recognizer_data.design_crop)."""
    streams = ("rendered", "swap", *VIEWS, *FAMILIES, "ua-one-line")
    rng = np.random.default_rng([seed, SERVED_SEED, streams.index(kind)])
    samples: list[tuple[np.ndarray, str]] = []
    if kind == "ua-one-line":  # every view, legible
        samples = [synth_crop(rng, text=draw_text(rng, validation=True), capture_height=LEGIBLE_HEIGHTS)
                   for _ in range(count)]
    elif kind in FAMILIES:
        crops = [design_crop(rng, kind, True, capture_height=LEGIBLE_HEIGHTS) for _ in range(count)]
        samples = [(image, design.text) for image, design in crops]
    elif kind == "rendered":
        samples = [synth_crop(rng, text=draw_text(rng, validation=True)) for _ in range(count)]
    elif kind in VIEWS:
        samples = [synth_crop(rng, text=draw_text(rng, validation=True), capture_height=LEGIBLE_HEIGHTS,
                              view=kind) for _ in range(count)]
    else:
        photos = load_photos(photos_dir, "val", 10_000, rng)
        while len(samples) < count:
            made = swap_sample(photos[int(rng.integers(len(photos)))], rng, validation=True)
            if made is not None:
                samples.append(made)
    return [c for c, _ in samples], [t for _, t in samples]


class _WholeCrop:
    """A detector whose one box is the whole image: the crop is the box."""

    def detect(self, image: np.ndarray) -> list[Detection]:
        h, w = image.shape[:2]
        return [Detection(BoundingBox(0, 0, w, h), 1.0)]


def served_pipeline(recognizer: PlateRecognizer, settings: Settings) -> Pipeline:
    """The service's pipeline (its reporting floors, sure read and leveling) over whole crops."""
    return Pipeline(_WholeCrop(), recognizer, min_confidence=settings.min_read_confidence,
                    crop_margins=(0.0,), sure_confidence=settings.search.sure_read,
                    min_foreign_confidence=settings.min_foreign_read_confidence,
                    turn_angles=settings.search.turn_angles, slant_angles=settings.search.slant_angles)


def served_reads(pipeline: Pipeline, crops: list[np.ndarray]) -> list[Reading]:
    return [pipeline.read_boxes(c, pipeline.detector.detect(c))[0] for c in crops]


def figures(reads: list[Reading], texts: list[str], pipeline: Pipeline) -> dict:
    """Exact accuracy and confidence AUC of every read; and of the reads the service would
    answer (the rest it calls unreadable, code 6), their share and accuracy."""
    right = [r.text == t for r, t in zip(reads, texts)]
    answered = [pipeline.reports(r) for r in reads]
    answered_right = [ok for ok, a in zip(right, answered) if a]
    return {"exact_accuracy": float(np.mean(right)),
            "confidence_auc": roc_auc([r.confidence for r in reads], right),
            "answered_share": float(np.mean(answered)),
            "answered_accuracy": share(sum(answered_right), len(answered_right))}


def score_served(weights: Path, count: int, seed: int, photos_dir: Path | None,
                 views: tuple[str, ...] = (), rectifier: Path | None = None,
                 families: tuple[str, ...] = ()) -> list[dict]:
    """Figures of the crop alone and as served, for rendered crops, (with photos) swaps,
    rendered crops of each of `views` and legible plates of each of `families`; with a
    `rectifier`, every crop is leveled by it before it is read, as the service does."""
    settings = Settings.from_env()
    leveler = Rectifier.from_checkpoint(rectifier, spread=settings.search.rectifier_spread) if rectifier else None
    # An .onnx file is read as exported; a checkpoint as served (its twin when one matches).
    recognizer = (PlateRecognizer.from_onnx_net(open_onnx(weights), leveler) if weights.suffix == ".onnx"
                  else PlateRecognizer.from_checkpoint(weights, rectifier=leveler))
    pipeline = served_pipeline(recognizer, settings)
    results = []
    kinds = ("rendered", "swap") if photos_dir else ("rendered",)
    for kind in kinds + tuple(views) + tuple(families):
        crops, texts = fresh_crops(kind, count, seed, photos_dir)
        name = (f"rendered {kind}, 20-60 px" if kind in VIEWS
                else f"rendered {kind}, legible (20-60 px a line)" if kind in PLATE_FAMILIES else kind)
        results.append({"set": f"{name}, fresh crops", "count": count, "backend": recognizer.backend,
                        "rectifier": leveler.backend if leveler else "off",
                        "crop alone": figures(recognizer.read(crops), texts, pipeline),
                        "as served": figures(served_reads(pipeline, crops), texts, pipeline)})
    return results
