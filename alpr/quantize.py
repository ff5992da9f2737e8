"""Int8 quantization of the reader's ONNX twin (static, per-channel, QDQ).

Convolutions are 80 % of the reader's time on a CPU; in int8 they cost less, and the
accuracy the reader loses is within the noise of its validation sets (MODEL_CARD.md gives
the figures). The scales come from crops made by the training data code under a fixed seed,
so an export is reproducible. Needs `onnx` (requirements-dev.txt), like the export itself.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from .recognizer import to_array

CALIBRATION_SEED = 20261126
CALIBRATION_BATCH = 16


def calibration_crops(count: int, input_size: int, photos_dir: Path | None) -> np.ndarray:
    """`count` preprocessed crops (N×H×W×3 uint8): rendered plates (Ukrainian one-line; a
    third foreign, a sixth lines of two-line plates), and half of them plates swapped into
    real photos when the photos are there."""
    from .training.recognizer_data import make_validation_set
    from .training.render import find_fonts, fonts_dir_or_default

    if not find_fonts():
        raise FileNotFoundError(f"int8 calibration renders plates, and {fonts_dir_or_default()} has no "
                                "fonts: set $ALPR_FONTS_DIR, or export with --float32")
    swapped = count // 2 if photos_dir is not None and photos_dir.is_dir() else 0
    rendered = count - swapped
    foreign, two_line = rendered // 3, rendered // 6
    parts = [make_validation_set("synthetic", rendered - foreign - two_line, CALIBRATION_SEED, None, input_size)[0],
             make_validation_set("foreign", foreign, CALIBRATION_SEED, None, input_size)[0],
             make_validation_set("ua-two-line", two_line, CALIBRATION_SEED, None, input_size)[0]]
    if swapped:
        parts.append(make_validation_set("swap", swapped, CALIBRATION_SEED, photos_dir, input_size)[0])
    return np.concatenate(parts)


def quantize_int8(onnx_path: Path, crops: np.ndarray) -> str:
    """Rewrites `onnx_path` in place as its int8 version; returns the description to record
    under `alpr.recognizer.QUANTIZATION_KEY`."""
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Batches(CalibrationDataReader):
        def __init__(self):
            self._batches = iter([{"images": to_array(crops[i:i + CALIBRATION_BATCH])}
                                  for i in range(0, len(crops), CALIBRATION_BATCH)])

        def get_next(self):
            return next(self._batches, None)

    with tempfile.TemporaryDirectory() as scratch:
        prepared = Path(scratch) / "prepared.onnx"
        # Folds constants and fuses what ORT would fuse, so scales are computed for the
        # graph that runs. (Symbolic shape inference is for transformer graphs.)
        quant_pre_process(str(onnx_path), str(prepared), skip_symbolic_shape=True)
        # The LSTM stays float32: ORT quantizes it only dynamically, which measured slower.
        quantize_static(str(prepared), str(onnx_path), Batches(), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8,
                        op_types_to_quantize=["Conv", "MatMul", "Add", "MaxPool", "Relu"])
    return f"int8 static QDQ, per-channel weights, calibrated on {len(crops)} crops (seed {CALIBRATION_SEED})"
