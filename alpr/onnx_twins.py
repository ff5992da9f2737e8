"""ONNX Runtime twins of the checkpoints: CPU serving without importing torch.

`python -m alpr export-onnx` writes `<checkpoint>.onnx` beside each checkpoint and records
the checkpoint's SHA-256 in the ONNX metadata. A twin is used only while that digest still
matches its checkpoint, so a replaced checkpoint is never shadowed by a stale export.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from .weights import sha256_of

log = logging.getLogger(__name__)

SOURCE_DIGEST_KEY = "alpr_source_sha256"
BACKENDS = ("auto", "onnx", "torch")


def usable_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def twin_path(checkpoint: str | Path) -> Path:
    return Path(checkpoint).with_suffix(".onnx")


class OnnxNet:
    """A loaded ONNX graph with one input and its first output, called on NumPy arrays."""

    def __init__(self, session):
        self.session = session
        self.input_name = session.get_inputs()[0].name
        self.metadata: dict[str, str] = dict(session.get_modelmeta().custom_metadata_map)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: batch})[0]


def open_onnx(onnx_path: str | Path, spin: bool = True) -> OnnxNet:
    """Any ONNX file in ONNX Runtime on the CPU, with the session settings serving uses."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # warnings about unused initializers are noise here
    # Every CPU this process may use (ONNX Runtime would count physical cores only, which
    # halves the threads on a 2-vCPU Lambda or container).
    options.intra_op_num_threads = usable_cpus()
    # With `spin`, threads spin while a run lasts (waking sleeping ones cost the reader a
    # third of its time) and stop when it ends: the detector's and the reader's sessions
    # (and OpenCV's decode) take turns on the same cores, and threads left spinning slowed
    # the next stage by half. One request at a time gets faster (bench, in process: end to
    # end 63 → 43 ms, a read 3.4 → 2.2 ms); concurrent requests lose throughput to the
    # spinning (2 clients: 23 → 18 requests/s), hence ALPR_ONNX_SPIN=0 for such servers.
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    options.add_session_config_entry("session.force_spinning_stop", "1")
    return OnnxNet(onnxruntime.InferenceSession(str(onnx_path), options,
                                                providers=["CPUExecutionProvider"]))


def open_twin(checkpoint: str | Path, spin: bool = True) -> OnnxNet | None:
    """The checkpoint's ONNX twin, or None when there is none, onnxruntime is missing, or
    the twin was exported from other weights."""
    onnx_path = twin_path(checkpoint)
    if not onnx_path.is_file():
        return None
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        log.warning("%s present but onnxruntime is not installed; using torch", onnx_path.name)
        return None
    net = open_onnx(onnx_path, spin)
    if net.metadata.get(SOURCE_DIGEST_KEY) != sha256_of(checkpoint):
        log.warning("%s was exported from other weights than %s; using torch",
                    onnx_path.name, Path(checkpoint).name)
        return None
    return net


def choose_twin(checkpoint: str | Path, device: str, backend: str,
                spin: bool = True) -> OnnxNet | None:
    """The ONNX twin to serve `checkpoint` with, or None for torch.

    'auto' serves the twin on the CPU when a matching one exists; 'onnx' insists on it;
    'torch' never uses it. GPUs always run torch."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    if backend == "torch" or (backend == "auto" and device != "cpu"):
        return None
    net = open_twin(checkpoint, spin)
    if net is None and backend == "onnx":
        raise FileNotFoundError(f"no ONNX twin matching {checkpoint} at {twin_path(checkpoint)} "
                                "(run: python -m alpr export-onnx)")
    return net
