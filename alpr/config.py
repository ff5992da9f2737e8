"""Settings from the environment, read once into one frozen dataclass."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The shared datasets beside the checkout: training and calibration data, never shipped.
SHARED_DATASETS = PROJECT_ROOT.parent / "shared" / "datasets"
SHARED_PHOTOS = SHARED_DATASETS / "plates-detection"
DEFAULT_DETECTOR_WEIGHTS = str(PROJECT_ROOT / "weights" / "car-plate-best.pt")
DEFAULT_RECOGNIZER_WEIGHTS = str(PROJECT_ROOT / "weights" / "crnn.pth")
DEFAULT_RECTIFIER_WEIGHTS = str(PROJECT_ROOT / "weights" / "rectifier.pth")


@dataclass(frozen=True)
class Settings:
    detector_weights: str = DEFAULT_DETECTOR_WEIGHTS
    recognizer_weights: str = DEFAULT_RECOGNIZER_WEIGHTS
    # Levels askew crops before the reader reads them (None: crops are read as they are).
    rectifier_weights: str | None = DEFAULT_RECTIFIER_WEIGHTS
    detector_weights_sha256: str | None = None
    recognizer_weights_sha256: str | None = None
    rectifier_weights_sha256: str | None = None
    # An askew crop is also leveled this many degrees either side of the rectifier's angle
    # (alpr.rectifier; 0: not). The angle is off by 0.8° on average, by several on small,
    # blurred crops, and a plate leveled a few degrees off reads worse.
    rectifier_spread: float = 5.0
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
    weights_cache: str = "/tmp/alpr-weights"
    detector_imgsz: int = 512  # the size the shipped detector was trained at
    detector_conf: float = 0.25
    # A second, larger look when the first finds nothing (a photo no larger than 1.5× the
    # input size: at 1.5× the input size; 0: never).
    detector_retry_imgsz: int = 1024
    # When that finds nothing in a photo larger still, a last look at N×N tiles (0: never).
    detector_tiles: int = 3
    # Looks at the photo turned by these angles, in degrees, when the plain looks read
    # nothing: the network misses plates turned 25–50° in the picture (empty: never).
    detector_turns: tuple[float, ...] = (-35.0, 35.0)
    # Then looks at the photo sheared so that a baseline climbing by these angles, in
    # degrees, comes level: plates seen from the side and above or below (empty: never).
    detector_slants: tuple[float, ...] = (-30.0, 30.0)
    # A read below this confidence is treated as unreadable (code 6), not reported as a plate.
    # (0.2 until stage 17 read the Georgian dev plate as `00964OI` at 0.25; of 4,000 fresh
    # rendered crops as served, 7 right and 19 wrong reads fell between 0.2 and 0.3.)
    min_read_confidence: float = 0.3
    # A read that fits no Ukrainian layout is reported only from this confidence up.
    # (0.5 until stage 14 read the Georgian dev plate `0O964C` at 0.56; from 0.5 to 0.7 it
    # changed no answer on fresh rendered and plate-swap crops or the scenes.)
    min_foreign_read_confidence: float = 0.7
    # Margins (share of the box) of the crops read per box; the most confident read wins.
    # 8 % first: on the evaluation sets it gives the most sure reads (144 of 206 boxes).
    crop_margins: tuple[float, ...] = (0.08, 0.0, 0.16, 0.24, 0.32, 0.4)
    # A read of the first margin's crop this sure, fitting a Ukrainian layout, skips the
    # other margins (above 1: always read them all).
    sure_read_confidence: float = 0.95
    # A box still unsure after every margin is read again from its first crop turned back
    # by each turn angle and sheared back by each slant angle, in degrees (empty: never).
    turn_angles: tuple[float, ...] = (-40.0, -30.0, -20.0, -12.0, 12.0, 20.0, 30.0, 40.0)
    slant_angles: tuple[float, ...] = (-35.0, -25.0, -15.0, 15.0, 25.0, 35.0)

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
            detector_weights_sha256=get("ALPR_DETECTOR_WEIGHTS_SHA256"),
            recognizer_weights_sha256=get("ALPR_RECOGNIZER_WEIGHTS_SHA256"),
            rectifier_weights_sha256=get("ALPR_RECTIFIER_WEIGHTS_SHA256"),
            rectifier_spread=float(get("ALPR_RECTIFIER_SPREAD") or defaults.rectifier_spread),
            device=get("ALPR_DEVICE") or defaults.device,
            backend=get("ALPR_BACKEND") or defaults.backend,
            onnx_spin=get("ALPR_ONNX_SPIN").lower() not in ("0", "false", "no", "off")
            if get("ALPR_ONNX_SPIN") else defaults.onnx_spin,
            max_upload_mb=float(get("ALPR_MAX_UPLOAD_MB") or defaults.max_upload_mb),
            max_pixels=int(get("ALPR_MAX_PIXELS") or defaults.max_pixels),
            results_bucket=get("ALPR_RESULTS_BUCKET"),
            results_prefix=get("ALPR_RESULTS_PREFIX") or defaults.results_prefix,
            weights_cache=get("ALPR_WEIGHTS_CACHE") or defaults.weights_cache,
            detector_imgsz=int(get("ALPR_DETECTOR_IMGSZ") or defaults.detector_imgsz),
            detector_conf=float(get("ALPR_DETECTOR_CONF") or defaults.detector_conf),
            detector_retry_imgsz=int(get("ALPR_DETECTOR_RETRY_IMGSZ") or defaults.detector_retry_imgsz),
            detector_tiles=int(get("ALPR_DETECTOR_TILES") or defaults.detector_tiles),
            detector_turns=parse_angles(get("ALPR_DETECTOR_TURNS"), defaults.detector_turns),
            detector_slants=parse_angles(get("ALPR_DETECTOR_SLANTS"), defaults.detector_slants),
            min_read_confidence=float(
                get("ALPR_MIN_READ_CONFIDENCE") or defaults.min_read_confidence
            ),
            min_foreign_read_confidence=float(
                get("ALPR_MIN_FOREIGN_READ_CONFIDENCE") or defaults.min_foreign_read_confidence
            ),
            crop_margins=tuple(float(m) for m in get("ALPR_CROP_MARGINS").split(","))
            if get("ALPR_CROP_MARGINS") else defaults.crop_margins,
            sure_read_confidence=float(
                get("ALPR_SURE_READ_CONFIDENCE") or defaults.sure_read_confidence
            ),
            turn_angles=parse_angles(get("ALPR_TURN_ANGLES"), defaults.turn_angles),
            slant_angles=parse_angles(get("ALPR_SLANT_ANGLES"), defaults.slant_angles),
        )


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
