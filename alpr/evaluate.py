"""Accuracy on a labelled folder, through the very path the API answers with.

    python -m alpr evaluate DIR [--labels DIR/labels.json] [--out report/] [--detail]

`labels.json` maps a file name in DIR to the list of plate texts in that image; an empty
list means the image has no plate (anything read there is a false read), and `null` in the
list a plate no person could read for sure (not scored; an image of such plates only is
left out). Every
image goes through `alpr.service.recognize(..., detail=True)`, so all plates found are
available, and the report is written into --out:

    report.json          the summary and one row per image
    summary.md           the same as Markdown tables
    annotated/<name>.jpg every box and read drawn: green when right, red when wrong

Exit status: 0 once the report is written; 1 if the models cannot be loaded; 2 for bad
arguments (argparse) or an unreadable labels file.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import cv2
import numpy as np

from . import metrics
from .config import Settings
from .images import ALLOWED_EXTENSIONS, load_image
from .models import ModelHolder
from .service import recognize
from .status import AlprError, Code

LABELS_NAME = "labels.json"
ANNOTATED_MAX_SIDE = 1600
GREEN, RED = (0, 170, 0), (0, 0, 220)  # BGR


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class PlateRead:
    """One plate the pipeline found: its read, and its box in the image's pixels."""
    text: str
    confidence: float
    box: tuple[int, int, int, int]
    detection_score: float
    char_confidences: tuple[float, ...] = ()


@dataclass(frozen=True)
class ImageResult:
    file: str
    labels: tuple[str, ...]
    code: int
    plate: str | None              # the answer's plate: the most confident read
    confidence: float
    plates: tuple[PlateRead, ...]  # every plate found, best first
    correct: bool                  # see is_correct()
    char_accuracy: float | None    # None for an image without labels
    labels_read: int               # labelled plates read exactly by any plate found
    total_ms: float = 0.0          # wall time of the recognize call
    timings_ms: dict[str, float] = field(default_factory=dict)  # the service's stages (--detail)

    @property
    def labelled(self) -> bool:
        return bool(self.labels)

    @property
    def read(self) -> bool:
        return self.code == Code.SUCCESS


@dataclass(frozen=True)
class Summary:
    images: int
    labelled_images: int
    unlabelled_images: int
    labelled_plates: int
    exact_accuracy: float | None       # labelled images whose top read is one of their labels
    plate_recall: float | None         # labelled plates read exactly by any plate found
    char_accuracy: float | None        # mean over labelled images, closest label
    detection_rate: float | None       # labelled images where the detector found ≥1 plate
    false_reads: int                   # unlabelled images where a plate was read
    false_read_rate: float | None
    reads: int                         # images answered with code 0
    right_reads: int
    wrong_reads: int                   # includes the false reads
    confidence_right_mean: float | None
    confidence_right_median: float | None
    confidence_wrong_mean: float | None
    confidence_wrong_median: float | None
    confidence_auc: float | None       # right vs wrong reads; None unless both exist
    codes: dict[str, int]              # answers by code
    total_ms_median: float | None


@dataclass(frozen=True)
class Report:
    created: str
    directory: str
    labels_file: str
    detector_weights: str
    recognizer_weights: str
    latin_reader_weights: str | None
    device: str
    summary: Summary
    images: tuple[ImageResult, ...]
    missing: tuple[str, ...] = ()          # labelled but not in the folder
    unlabelled_files: tuple[str, ...] = ()  # in the folder but not in labels.json

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- pure metrics


def plate_found(code: int) -> bool:
    """The detector found at least one plate: a read (0), or boxes that read nothing usable (6)."""
    return code in (Code.SUCCESS, Code.RECOGNITION_FAILED)


def is_correct(plate: str | None, labels: Sequence[str]) -> bool:
    """With labels: the top read is one of them. Without: nothing was read."""
    return plate in labels if labels else plate is None


def count_labels_read(texts: Iterable[str], labels: Sequence[str]) -> int:
    """How many labelled plates some found plate reads exactly (each read counts once)."""
    return sum((Counter(labels) & Counter(texts)).values())


def image_result(file: str, labels: Sequence[str], answer: Mapping[str, Any], total_ms: float = 0.0,
                 keep_detail: bool = False) -> ImageResult:
    """One row from the API's detailed answer for that image."""
    plates = tuple(
        PlateRead(
            p["text"], float(p["confidence"]), tuple(p["box"]), float(p["detection_score"]),
            tuple(p.get("char_confidences", ())) if keep_detail else (),
        )
        for p in answer.get("plates", ())
    )
    labels = tuple(labels)
    return ImageResult(
        file=file,
        labels=labels,
        code=int(answer["code"]),
        plate=answer["plate"],
        confidence=float(answer["confidence"]),
        plates=plates,
        correct=is_correct(answer["plate"], labels),
        char_accuracy=metrics.best_char_accuracy(answer["plate"], labels) if labels else None,
        labels_read=count_labels_read((p.text for p in plates), labels),
        total_ms=round(total_ms, 2),
        timings_ms=dict(answer.get("timings_ms", {})) if keep_detail else {},
    )


def summarize(results: Sequence[ImageResult]) -> Summary:
    labelled = [r for r in results if r.labelled]
    unlabelled = [r for r in results if not r.labelled]
    reads = [r for r in results if r.read]
    right = [r.confidence for r in reads if r.correct]
    wrong = [r.confidence for r in reads if not r.correct]
    false_reads = sum(r.read for r in unlabelled)
    labelled_plates = sum(len(r.labels) for r in labelled)
    return Summary(
        images=len(results),
        labelled_images=len(labelled),
        unlabelled_images=len(unlabelled),
        labelled_plates=labelled_plates,
        exact_accuracy=metrics.share(sum(r.correct for r in labelled), len(labelled)),
        plate_recall=metrics.share(sum(r.labels_read for r in labelled), labelled_plates),
        char_accuracy=metrics.mean([r.char_accuracy for r in labelled]),
        detection_rate=metrics.share(sum(plate_found(r.code) for r in labelled), len(labelled)),
        false_reads=false_reads,
        false_read_rate=metrics.share(false_reads, len(unlabelled)),
        reads=len(reads),
        right_reads=len(right),
        wrong_reads=len(wrong),
        confidence_right_mean=metrics.mean(right),
        confidence_right_median=metrics.median(right),
        confidence_wrong_mean=metrics.mean(wrong),
        confidence_wrong_median=metrics.median(wrong),
        confidence_auc=metrics.roc_auc([r.confidence for r in reads], [r.correct for r in reads]),
        codes=dict(sorted(Counter(str(r.code) for r in results).items())),
        total_ms_median=metrics.median([r.total_ms for r in results]),
    )


# --------------------------------------------------------------------------- running


def load_labels(path: Path) -> dict[str, tuple[str, ...]]:
    """file name → the plate texts read in it; ValueError unless it is an object of lists of
    strings or nulls. Nulls (plates no one could read) are dropped, and an image with only
    those is left out: whatever is read there can be neither right nor a false read."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected an object mapping file name → list of plate texts")
    labels: dict[str, tuple[str, ...]] = {}
    for name, texts in raw.items():
        if not isinstance(texts, list) or not all(t is None or isinstance(t, str) for t in texts):
            raise ValueError(f"{path}: labels of {name!r} must be a list of strings (or nulls)")
        read = tuple(t.strip().upper() for t in texts if t is not None)
        if read or not texts:
            labels[name] = read
    return labels


def evaluate_folder(
    directory: Path, labels: Mapping[str, Sequence[str]], models: ModelHolder, settings: Settings,
    labels_file: Path | None = None, keep_detail: bool = False,
    progress: Callable[[ImageResult], None] | None = None,
) -> Report:
    results, missing = [], []
    for name in sorted(labels):
        path = directory / name
        if not path.is_file():
            missing.append(name)
            continue
        start = time.perf_counter()
        answer = recognize(path.read_bytes(), path.name, models, settings, detail=True)
        elapsed = (time.perf_counter() - start) * 1000
        result = image_result(name, labels[name], answer.body, elapsed, keep_detail)
        results.append(result)
        if progress:
            progress(result)
    unlabelled = sorted(
        p.name for p in directory.iterdir()
        if p.is_file() and p.suffix.lower().lstrip(".") in ALLOWED_EXTENSIONS and p.name not in labels
    )
    return Report(
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        directory=str(directory),
        labels_file=str(labels_file or directory / LABELS_NAME),
        detector_weights=settings.detector_weights,
        recognizer_weights=settings.recognizer_weights,
        latin_reader_weights=settings.latin_reader_weights,
        device=models.device,
        summary=summarize(results),
        images=tuple(results),
        missing=tuple(missing),
        unlabelled_files=tuple(unlabelled),
    )


# --------------------------------------------------------------------------- output


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def summary_rows(s: Summary) -> list[tuple[str, str]]:
    return [
        ("images (labelled / without plate)", f"{s.images} ({s.labelled_images} / {s.unlabelled_images})"),
        ("exact-plate accuracy (top read is a label)", _pct(s.exact_accuracy)),
        (f"plate recall ({s.labelled_plates} labelled plates, any read)", _pct(s.plate_recall)),
        ("character accuracy (1 − CER, closest label)", _pct(s.char_accuracy)),
        ("detection rate (≥1 plate found)", _pct(s.detection_rate)),
        (f"false reads on images without plate ({s.false_reads})", _pct(s.false_read_rate)),
        (f"confidence of right reads ({s.right_reads}): mean / median",
         f"{_num(s.confidence_right_mean)} / {_num(s.confidence_right_median)}"),
        (f"confidence of wrong reads ({s.wrong_reads}): mean / median",
         f"{_num(s.confidence_wrong_mean)} / {_num(s.confidence_wrong_median)}"),
        ("confidence ROC AUC (right vs wrong)", _num(s.confidence_auc)),
        ("answers by code", ", ".join(f"{c}: {n}" for c, n in s.codes.items()) or "n/a"),
        ("median time per image", "n/a" if s.total_ms_median is None else f"{s.total_ms_median:.0f} ms"),
    ]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(report: Report) -> str:
    lines = [
        f"# Evaluation: `{report.directory}`", "",
        f"{report.created} · detector `{Path(report.detector_weights).name}` · "
        f"recognizer `{Path(report.recognizer_weights).name}` · latin reader "
        f"`{Path(report.latin_reader_weights).name if report.latin_reader_weights else 'none'}` · "
        f"device `{report.device}`", "",
        "| metric | value |", "|---|---|",
        *(f"| {_cell(k)} | {_cell(v)} |" for k, v in summary_rows(report.summary)),
        "", "## Per image", "",
        "| file | labels | code | plate | confidence | all plates | correct | ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in report.images:
        found = ", ".join(f"{p.text} ({p.confidence:.2f})" for p in r.plates) or "—"
        lines.append(
            f"| {_cell(r.file)} | {', '.join(r.labels) or '(none)'} | {r.code} | {r.plate or '—'} | "
            f"{r.confidence:.3f} | {_cell(found)} | {'yes' if r.correct else 'no'} | {r.total_ms:.0f} |"
        )
    if report.missing:
        lines += ["", "Labelled but missing: " + ", ".join(report.missing)]
    if report.unlabelled_files:
        lines += ["", "Not in the labels (not evaluated): " + ", ".join(report.unlabelled_files)]
    return "\n".join(lines) + "\n"


def annotate(image: np.ndarray, result: ImageResult) -> np.ndarray:
    """A copy of the image (at most ANNOTATED_MAX_SIDE px) with every box and read drawn,
    green when the read is one of the labels, red otherwise; a banner says the verdict."""
    scale = min(1.0, ANNOTATED_MAX_SIDE / max(image.shape[:2]))
    canvas = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image.copy()
    h, w = canvas.shape[:2]
    thick = max(2, round(min(h, w) / 300))
    font_scale = max(0.5, min(h, w) / 900)

    def label(text: str, x: int, y: int, colour: tuple[int, int, int]) -> None:
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thick)
        x = min(max(0, x), max(0, w - tw))
        y = max(th + base, y)
        cv2.rectangle(canvas, (x, y - th - base), (x + tw, y + base // 2), colour, -1)
        cv2.putText(canvas, text, (x, y - base // 2), cv2.FONT_HERSHEY_SIMPLEX, font_scale,
                    (255, 255, 255), thick, cv2.LINE_AA)

    for plate in reversed(result.plates):  # best drawn last, on top
        colour = GREEN if plate.text in result.labels else RED
        x1, y1, x2, y2 = (int(round(v * scale)) for v in plate.box)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, thick)
        label(f"{plate.text} {plate.confidence:.2f}", x1, y1 - thick, colour)
    verdict = f"read: {result.plate or '-'} (code {result.code})   labels: {', '.join(result.labels) or 'none'}"
    label(verdict, 0, 0, GREEN if result.correct else RED)
    return canvas


def write_report(report: Report, out: Path, images_dir: Path | None = None, settings: Settings | None = None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report.as_dict(), indent=1, ensure_ascii=False) + "\n",
                                     encoding="utf-8")
    (out / "summary.md").write_text(to_markdown(report), encoding="utf-8")
    if images_dir is None:
        return
    settings = settings or Settings()
    annotated = out / "annotated"
    annotated.mkdir(exist_ok=True)
    for result in report.images:
        path = images_dir / result.file
        try:  # the same decode as the service, so boxes land where it saw them (EXIF applied)
            image = load_image(path.read_bytes(), path.name, 1 << 62, settings.max_pixels)
        except (AlprError, OSError):
            continue
        cv2.imwrite(str(annotated / f"{Path(result.file).stem}.jpg"), annotate(image, result),
                    [cv2.IMWRITE_JPEG_QUALITY, 88])


def _print_row(r: ImageResult) -> None:
    plates = ", ".join(f"{p.text}:{p.confidence:.2f}" for p in r.plates) or "-"
    print(f"{'ok ' if r.correct else 'BAD'} {r.file}: code {r.code}, read {r.plate or '-'} "
          f"({r.confidence:.3f}), labels {list(r.labels)}, plates [{plates}]", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alpr evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory", type=Path, help="folder with the images")
    parser.add_argument("--labels", type=Path, default=None, help=f"labels file (default DIR/{LABELS_NAME})")
    parser.add_argument("--out", type=Path, default=Path("report"), help="report folder (default report/)")
    parser.add_argument("--detail", action="store_true",
                        help="print a line per image, and keep per-character confidences and stage "
                             "timings in report.json")
    parser.add_argument("--no-images", action="store_true", help="skip the annotated images")
    args = parser.parse_args(argv)

    labels_file = args.labels or args.directory / LABELS_NAME
    if not args.directory.is_dir():
        parser.error(f"not a folder: {args.directory}")
    try:
        labels = load_labels(labels_file)
    except (OSError, ValueError) as exc:
        parser.error(f"cannot read labels: {exc}")
    if not args.detail:
        logging.getLogger("alpr.service").setLevel(logging.WARNING)

    settings = Settings.from_env()
    models = ModelHolder(settings)
    try:
        models.get()
    except AlprError as exc:
        print(f"cannot load the models: {exc.detail}", file=sys.stderr)
        return 1

    report = evaluate_folder(args.directory, labels, models, settings, labels_file,
                             keep_detail=args.detail, progress=_print_row if args.detail else None)
    write_report(report, args.out, None if args.no_images else args.directory, settings)
    width = max(len(k) for k, _ in summary_rows(report.summary))
    for key, value in summary_rows(report.summary):
        print(f"{key:<{width}}  {value}")
    if report.missing:
        print(f"missing ({len(report.missing)}): {', '.join(report.missing)}")
    print(f"report written to {args.out}/ (report.json, summary.md"
          f"{'' if args.no_images else ', annotated/'})")
    return 0
