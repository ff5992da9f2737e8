"""The process-wide model holder: built on first use, under a lock, once per warm instance."""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass

from .config import Settings
from .pipeline import Pipeline
from .status import AlprError, Code

log = logging.getLogger(__name__)


def gpu_present() -> bool:
    """Whether an NVIDIA driver is visible: without one torch cannot see a GPU, and the
    check costs no torch import (seconds of cold start on a CPU-only function)."""
    return os.path.exists("/proc/driver/nvidia/version") or os.path.exists("/dev/nvidiactl")


def resolve_device(requested: str) -> str:
    """'auto' → 'cuda' when torch sees a GPU, else 'cpu'; anything else is taken as given."""
    if requested != "auto":
        return requested
    if not gpu_present():
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


# How many photos' model work runs at once in a process. One: each run has every core (ONNX
# Runtime's intra-op threads), and photos take turns in the order they came. Measured with
# python -m alpr soak (8 clients, 2 CPUs): photos sharing the cores four at a time (gunicorn's
# threads) made every photo as slow as the slowest beside it, p99 of photos with a plate 4.7x
# their p50 (3.4x two at a time, 2.5x one at a time) at the same throughput; and as the server
# now takes more requests than it runs (gunicorn --threads 8), bad input is answered at once
# (p50 5 ms, was 370 ms behind model work).
MODEL_CALLS = 1


class FairGate:
    """At most `slots` holders at once, let in in the order they came (a ticket queue)."""

    def __init__(self, slots: int):
        self.slots = max(1, slots)
        self._changed = threading.Condition()
        self._issued = 0
        self._done = 0

    def __enter__(self) -> "FairGate":
        with self._changed:
            ticket = self._issued
            self._issued += 1
            self._changed.wait_for(lambda: ticket < self._done + self.slots)
        return self

    def __exit__(self, *exc) -> None:
        with self._changed:
            self._done += 1
            self._changed.notify_all()


@dataclass(frozen=True)
class LoadState:
    loaded: bool
    error: str | None


class ModelHolder:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._lock = threading.Lock()
        self._pipeline: Pipeline | None = None
        self._error: str | None = None
        self._device: str | None = None
        self.load_count = 0  # how many times the weights were actually loaded
        # Model work (the detector's looks and the reads of one photo) for one photo at a time,
        # photos in the order they came; ONNX Runtime's threads give it every core.
        self.calls = FairGate(MODEL_CALLS)

    @property
    def device(self) -> str:
        if self._device is None:
            self._device = resolve_device(self.settings.device)
        return self._device

    @property
    def state(self) -> LoadState:
        return LoadState(self._pipeline is not None, self._error)

    def get(self) -> Pipeline:
        """The loaded pipeline; AlprError(8) if the weights can't be loaded. A failed load is
        retried on the next call (the weights may appear, or S3 may come back)."""
        pipeline = self._pipeline
        if pipeline is not None:
            return pipeline
        with self._lock:
            if self._pipeline is None:
                try:
                    self._pipeline = self._build()
                    self._error = None
                except Exception as exc:  # any failure to load is code 8, and logged
                    self._error = f"{type(exc).__name__}: {exc}"
                    log.error("model load failed: %s", self._error)
                    raise AlprError(Code.MODEL_NOT_LOADED, self._error) from exc
            return self._pipeline

    def _build(self) -> Pipeline:
        from .detector import PlateDetector
        from .reader_pair import ReaderPair
        from .recognizer import PlateRecognizer
        from .rectifier import Rectifier
        from .weights import fetch_twin, resolve

        s = self.settings
        detector_path = resolve(s.detector_weights, s.weights_cache, s.detector_weights_sha256)
        recognizer_path = resolve(s.recognizer_weights, s.weights_cache, s.recognizer_weights_sha256)
        rectifier_path = (resolve(s.rectifier_weights, s.weights_cache, s.rectifier_weights_sha256)
                          if s.rectifier_weights else None)
        latin_path = (resolve(s.latin_reader_weights, s.weights_cache, s.latin_reader_weights_sha256)
                      if s.latin_reader_weights else None)
        if s.backend != "torch" and self.device == "cpu":  # S3 weights may come with their twins
            for location in (s.detector_weights, s.recognizer_weights, s.rectifier_weights, s.latin_reader_weights):
                if location:
                    fetch_twin(location, s.weights_cache)
        plan = s.search
        detector = PlateDetector(detector_path, self.device, s.detector_imgsz, s.detector_conf,
                                 backend=s.backend, retry_imgsz=plan.retry_imgsz, tiles=plan.tiles,
                                 turns=plan.detector_turns, slants=plan.detector_slants, spin=s.onnx_spin)
        rectifier = (Rectifier.from_checkpoint(rectifier_path, self.device, s.backend, s.onnx_spin,
                                               spread=plan.rectifier_spread)
                     if rectifier_path else None)
        recognizer = PlateRecognizer.from_checkpoint(recognizer_path, self.device, backend=s.backend,
                                                     spin=s.onnx_spin, rectifier=rectifier)
        latin = (PlateRecognizer.from_checkpoint(latin_path, self.device, backend=s.backend, spin=s.onnx_spin,
                                                 rectifier=rectifier) if latin_path is not None else None)
        if latin is not None:
            recognizer = ReaderPair(recognizer, latin, min_ukrainian_confidence=s.min_read_confidence)
        log.info("models loaded on %s: detector %s, rectifier %s, reader %s, search %s", self.device,
                 detector.backend, rectifier.backend if rectifier else "off", recognizer.backend, plan.name)
        self.load_count += 1
        return Pipeline(detector, recognizer, min_confidence=s.min_read_confidence,
                        crop_margins=plan.crop_margins, sure_confidence=plan.sure_read,
                        min_foreign_confidence=s.min_foreign_read_confidence,
                        turn_angles=plan.turn_angles, slant_angles=plan.slant_angles,
                        found_box=plan.found_box, foreign_reader=latin, foreign_margins=plan.foreign_margins)
