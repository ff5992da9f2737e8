"""Exports the checkpoints' ONNX twins, which the service runs on the CPU without torch.

    python -m alpr export-onnx                     # the shipped weights
    python -m alpr export-onnx --detector my.pt --recognizer my.pth --rectifier my-rectifier.pth
    python -m alpr export-onnx --only recognizer --float32   # a reader twin left in float32

Each twin lands beside its checkpoint (`car-plate-best.pt` → `car-plate-best.onnx`) with
the checkpoint's SHA-256 in its metadata; the service ignores a twin whose digest no longer
matches. The reader's twin is quantized to int8 (alpr.quantize), calibrated on crops the
training data code makes (rendered, and swapped into the --photos when they are there);
the rectifier's, a tenth of the reader's work, stays in float32.
Needs the `onnx` package (requirements-dev.txt).
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from .config import SHARED_PHOTOS, Settings
from .onnx_twins import SOURCE_DIGEST_KEY, twin_path
from .recognizer import CONFIG_KEY, QUANTIZATION_KEY
from .weights import sha256_of


def _stamp(onnx_path: Path, metadata: dict[str, str]) -> None:
    """Adds metadata entries to an ONNX file in place."""
    import onnx

    model = onnx.load(str(onnx_path))
    existing = {p.key: p for p in model.metadata_props}
    for key, value in metadata.items():
        prop = existing.get(key) or model.metadata_props.add()
        prop.key, prop.value = key, value
    onnx.save(model, str(onnx_path))


def export_detector(checkpoint: Path, imgsz: int) -> Path:
    """Ultralytics' own ONNX export (dynamic input size, so any letterboxed photo fits)."""
    from .yolo_env import prepare_ultralytics

    prepare_ultralytics()
    from ultralytics import YOLO

    out = twin_path(checkpoint)
    with tempfile.TemporaryDirectory() as scratch:  # Ultralytics writes beside its input
        source = Path(scratch) / checkpoint.name
        shutil.copy2(checkpoint, source)
        exported = Path(YOLO(str(source), task="detect").export(
            format="onnx", imgsz=imgsz, dynamic=True, simplify=False, verbose=False))
        shutil.move(str(exported), out)
    _stamp(out, {SOURCE_DIGEST_KEY: sha256_of(checkpoint)})
    return out


def export_recognizer(checkpoint: Path, quantize: bool = True, photos_dir: Path | None = None,
                      calibration: int = 256) -> Path:
    import torch

    from .crnn import load_checkpoint

    model = load_checkpoint(checkpoint).eval()
    size = model.config.input_size
    out = twin_path(checkpoint)
    # The TorchScript-based exporter handles the LSTM without extra packages.
    torch.onnx.export(model, (torch.zeros(1, 3, size, size),), str(out), dynamo=False,
                      input_names=["images"], output_names=["log_probs"],
                      dynamic_axes={"images": {0: "batch"}, "log_probs": {1: "batch"}})
    config = {"alphabet": model.config.alphabet, "input_size": size, "reads_lines": model.config.reads_lines}
    metadata = {SOURCE_DIGEST_KEY: sha256_of(checkpoint), CONFIG_KEY: json.dumps(config)}
    if quantize:
        from .quantize import calibration_crops, quantize_int8

        metadata[QUANTIZATION_KEY] = quantize_int8(out, calibration_crops(calibration, size, photos_dir))
    _stamp(out, metadata)
    return out


def export_rectifier(checkpoint: Path) -> Path:
    import torch

    from .rectifier import load_checkpoint

    model, config = load_checkpoint(checkpoint)
    out = twin_path(checkpoint)
    size = config.input_size
    torch.onnx.export(model, (torch.zeros(1, 1, size, size),), str(out), dynamo=False,
                      input_names=["images"], output_names=["views"],
                      dynamic_axes={"images": {0: "batch"}, "views": {0: "batch"}})
    _stamp(out, {SOURCE_DIGEST_KEY: sha256_of(checkpoint), "input_size": str(size)})
    return out


def main(argv: list[str] | None = None) -> int:
    defaults = Settings()
    parser = argparse.ArgumentParser(prog="python -m alpr export-onnx", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--detector", type=Path, default=Path(defaults.detector_weights))
    parser.add_argument("--recognizer", type=Path, default=Path(defaults.recognizer_weights))
    parser.add_argument("--rectifier", type=Path, default=Path(str(defaults.rectifier_weights)))
    parser.add_argument("--latin-reader", type=Path, default=Path(str(defaults.latin_reader_weights)))
    parser.add_argument("--imgsz", type=int, default=defaults.detector_imgsz,
                        help="nominal detector input size recorded in the export")
    parser.add_argument("--only", choices=("detector", "recognizer", "rectifier", "latin-reader"), default=None)
    parser.add_argument("--float32", action="store_true", help="leave the readers' twins unquantized")
    parser.add_argument("--photos", type=Path, default=SHARED_PHOTOS,
                        help="real photos for the reader's plate-swap calibration crops")
    parser.add_argument("--calibration", type=int, default=256, help="calibration crops for the int8 reader")
    args = parser.parse_args(argv)
    if args.only in (None, "detector"):
        print(f"detector twin: {export_detector(args.detector, args.imgsz)}", flush=True)
    if args.only in (None, "recognizer"):
        twin = export_recognizer(args.recognizer, quantize=not args.float32, photos_dir=args.photos,
                                 calibration=args.calibration)
        print(f"recognizer twin: {twin}", flush=True)
    if args.only in (None, "rectifier"):
        print(f"rectifier twin: {export_rectifier(args.rectifier)}", flush=True)
    if args.only in (None, "latin-reader"):
        twin = export_recognizer(args.latin_reader, quantize=not args.float32, photos_dir=args.photos,
                                 calibration=args.calibration)
        print(f"latin reader twin: {twin}", flush=True)
    return 0
