"""Settings from the environment, read once into one frozen dataclass."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from .search import DEFAULT_SEARCH, PLANS, SearchPlan, plan_named

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The shared datasets beside the checkout: training and calibration data, never shipped.
SHARED_DATASETS = PROJECT_ROOT.parent / "shared" / "datasets"
SHARED_PHOTOS = SHARED_DATASETS / "plates-detection"
DEFAULT_DETECTOR_WEIGHTS = str(PROJECT_ROOT / "weights" / "car-plate-best.pt")
DEFAULT_RECOGNIZER_WEIGHTS = str(PROJECT_ROOT / "weights" / "crnn.pth")
DEFAULT_RECTIFIER_WEIGHTS = str(PROJECT_ROOT / "weights" / "rectifier.pth")
DEFAULT_LATIN_READER_WEIGHTS = str(PROJECT_ROOT / "weights" / "crnn-latin.pth")


@dataclass(frozen=True)
class Settings:
    detector_weights: str = DEFAULT_DETECTOR_WEIGHTS
    recognizer_weights: str = DEFAULT_RECOGNIZER_WEIGHTS
    # Levels askew crops before the reader reads them (None: crops are read as they are).
    rectifier_weights: str | None = DEFAULT_RECTIFIER_WEIGHTS
    # Reads what the Ukrainian reader does not read surely as a Ukrainian plate, with all 26
    # Latin letters (alpr.reader_pair; None: the Ukrainian reader alone).
    latin_reader_weights: str | None = DEFAULT_LATIN_READER_WEIGHTS
    detector_weights_sha256: str | None = None
    recognizer_weights_sha256: str | None = None
    rectifier_weights_sha256: str | None = None
    latin_reader_weights_sha256: str | None = None
    device: str = "auto"
    # auto: a checkpoint's ONNX twin on the CPU when one matches it (no torch import), else torch.
    backend: str = "auto"
    # ONNX Runtime's threads spin through each run: faster one request at a time (Lambda),
    # fewer requests a second when a process serves several at once (alpr.onnx_twins).
    onnx_spin: bool = True
    max_upload_mb: float = 16.0
    # 50 MP covers every phone camera; 50e6 * 3 bytes is the most one decode may allocate.
    max_pixels: int = 50_000_000
    results_bucket: str | None = None
    results_prefix: str = "results/"
    # The S3 job also writes a copy of each photo with its plates hidden this way (alpr.anonymize
    # MODES) beside the result object; None: no copy.
    anonymized_copy: str | None = None
    weights_cache: str = "/tmp/alpr-weights"
    detector_imgsz: int = 512  # the size the shipped detector was trained at
    detector_conf: float = 0.25
    # How hard to look for a plate not read surely at first (alpr.search: ALPR_SEARCH).
    search: SearchPlan = PLANS[DEFAULT_SEARCH]
    # A read below this confidence is treated as unreadable (code 6), not reported as a plate.
    min_read_confidence: float = 0.3
    # A read that fits no Ukrainian layout is reported only from this confidence up (and
    # never below min_read_confidence). Its confidence is how well reads of crops at three
    # margins agree (Pipeline.foreign_margins), which already sinks most wrong foreign reads.
    min_foreign_read_confidence: float = 0.3

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(name)
            return value if value not in (None, "") else None

        defaults = cls()
        return cls(
            detector_weights=get("ALPR_DETECTOR_WEIGHTS") or defaults.detector_weights,
            recognizer_weights=get("ALPR_RECOGNIZER_WEIGHTS") or defaults.recognizer_weights,
            rectifier_weights=_optional_path(get("ALPR_RECTIFIER_WEIGHTS"), defaults.rectifier_weights),
            latin_reader_weights=_optional_path(get("ALPR_LATIN_READER_WEIGHTS"), defaults.latin_reader_weights),
            detector_weights_sha256=get("ALPR_DETECTOR_WEIGHTS_SHA256"),
            recognizer_weights_sha256=get("ALPR_RECOGNIZER_WEIGHTS_SHA256"),
            rectifier_weights_sha256=get("ALPR_RECTIFIER_WEIGHTS_SHA256"),
            latin_reader_weights_sha256=get("ALPR_LATIN_READER_WEIGHTS_SHA256"),
            device=get("ALPR_DEVICE") or defaults.device,
            backend=get("ALPR_BACKEND") or defaults.backend,
            onnx_spin=get("ALPR_ONNX_SPIN").lower() not in ("0", "false", "no", "off")
            if get("ALPR_ONNX_SPIN") else defaults.onnx_spin,
            max_upload_mb=float(get("ALPR_MAX_UPLOAD_MB") or defaults.max_upload_mb),
            max_pixels=int(get("ALPR_MAX_PIXELS") or defaults.max_pixels),
            results_bucket=get("ALPR_RESULTS_BUCKET"),
            results_prefix=get("ALPR_RESULTS_PREFIX") or defaults.results_prefix,
            anonymized_copy=_hiding_mode(get("ALPR_ANONYMIZED_COPY")),
            weights_cache=get("ALPR_WEIGHTS_CACHE") or defaults.weights_cache,
            detector_imgsz=int(get("ALPR_DETECTOR_IMGSZ") or defaults.detector_imgsz),
            detector_conf=float(get("ALPR_DETECTOR_CONF") or defaults.detector_conf),
            search=plan_named(get("ALPR_SEARCH") or DEFAULT_SEARCH),
            min_read_confidence=float(
                get("ALPR_MIN_READ_CONFIDENCE") or defaults.min_read_confidence
            ),
            min_foreign_read_confidence=float(
                get("ALPR_MIN_FOREIGN_READ_CONFIDENCE") or defaults.min_foreign_read_confidence
            ),
        )


def _hiding_mode(value: str | None) -> str | None:
    """A hiding mode of alpr.anonymize, or None for "off" (and unset)."""
    from .anonymize import MODES

    if value is None or value.strip().lower() in ("off", "none", "false", "0"):
        return None
    if value.strip().lower() not in MODES:
        raise ValueError(f"ALPR_ANONYMIZED_COPY must be off or one of {', '.join(MODES)}, not {value!r}")
    return value.strip().lower()


def _optional_path(value: str | None, default: str | None) -> str | None:
    """A path or s3:// location; "none" for none."""
    if value is None:
        return default
    return None if value.strip().lower() == "none" else value


def parse_angles(value: str | None, default: tuple[float, ...] = ()) -> tuple[float, ...]:
    """A comma-separated list of degrees; "none" for none."""
    if value is None:
        return default
    if value.strip().lower() == "none":
        return ()
    return tuple(float(a) for a in value.split(","))
