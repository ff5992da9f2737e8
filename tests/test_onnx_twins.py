"""ONNX twins: the shipped ones match their checkpoints and answer as torch does, a stale
twin is never served, the export command makes twins that load, and serving on them
imports no torch."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from alpr.config import Settings
from alpr.detector import PlateDetector
from alpr.models import ModelHolder
from alpr.onnx_twins import SOURCE_DIGEST_KEY, open_twin, twin_path
from alpr.recognizer import PlateRecognizer
from alpr.status import AlprError, Code
from alpr.weights import sha256_of
from conftest import SHIPPED_DETECTOR, SHIPPED_RECOGNIZER, encode


def scene_with_boxes(seed: int = 0) -> np.ndarray:
    """A noisy photo-sized image with plate-like light rectangles: something to detect."""
    rng = np.random.default_rng(seed)
    image = rng.integers(40, 200, (720, 1280, 3), dtype=np.uint8)
    for x, y in ((300, 500), (800, 420)):
        image[y:y + 40, x:x + 180] = 235
        image[y + 8:y + 32, x + 20:x + 160:12] = 20
    return image


@pytest.mark.parametrize("checkpoint", [SHIPPED_DETECTOR, SHIPPED_RECOGNIZER], ids=["detector", "reader"])
def test_shipped_twins_match_their_checkpoints(checkpoint):
    # Fails when weights are replaced without `python -m alpr export-onnx`.
    net = open_twin(checkpoint)
    assert net is not None, f"{twin_path(checkpoint)} missing or exported from other weights"
    assert net.metadata[SOURCE_DIGEST_KEY] == sha256_of(checkpoint)


def test_shipped_detector_twin_finds_what_torch_finds():
    settings = Settings()
    kwargs = dict(imgsz=settings.detector_imgsz, conf=0.05)
    onnx = PlateDetector(SHIPPED_DETECTOR, "cpu", backend="onnx", **kwargs)
    torch = PlateDetector(SHIPPED_DETECTOR, "cpu", backend="torch", **kwargs)
    assert (onnx.backend, torch.backend) == ("onnx", "torch")
    image = scene_with_boxes()
    a, b = onnx.detect(image), torch.detect(image)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert np.allclose(x.box.as_list(), y.box.as_list(), atol=2)
        assert abs(x.score - y.score) < 1e-3


def test_shipped_reader_twin_reads_what_torch_reads():
    rng = np.random.default_rng(3)
    crops = [rng.integers(0, 255, (60, 260, 3), dtype=np.uint8) for _ in range(4)]
    onnx = PlateRecognizer.from_checkpoint(SHIPPED_RECOGNIZER, backend="onnx").read(crops)
    torch = PlateRecognizer.from_checkpoint(SHIPPED_RECOGNIZER, backend="torch").read(crops)
    assert [r.text for r in onnx] == [r.text for r in torch]
    assert np.allclose([r.confidence for r in onnx], [r.confidence for r in torch], atol=1e-3)


def test_a_stale_twin_is_ignored_or_refused(tmp_path, untrained_weights):
    _, untrained_reader = untrained_weights
    checkpoint = tmp_path / "crnn.pth"
    shutil.copy2(untrained_reader, checkpoint)
    shutil.copy2(twin_path(SHIPPED_RECOGNIZER), twin_path(checkpoint))  # exported from other weights
    assert open_twin(checkpoint) is None
    assert PlateRecognizer.from_checkpoint(checkpoint).backend == "torch"  # auto falls back
    settings = Settings(detector_weights=str(SHIPPED_DETECTOR), recognizer_weights=str(checkpoint),
                        device="cpu", backend="onnx")
    with pytest.raises(AlprError) as raised:
        ModelHolder(settings).get()
    assert raised.value.code == Code.MODEL_NOT_LOADED and "export-onnx" in str(raised.value.detail)


def test_export_command_makes_twins_that_load(tmp_path, untrained_weights):
    detector, reader = (shutil.copy2(p, tmp_path / p.name) for p in untrained_weights)
    run = subprocess.run([sys.executable, "-m", "alpr", "export-onnx", "--detector", str(detector),
                          "--recognizer", str(reader)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    loaded = PlateDetector(detector, "cpu", imgsz=320, conf=0.0, backend="onnx")
    reference = PlateDetector(detector, "cpu", imgsz=320, conf=0.0, backend="torch")
    image = scene_with_boxes(1)
    assert [d.box.as_list() for d in loaded.detect(image)[:5]] == \
        [d.box.as_list() for d in reference.detect(image)[:5]]
    crop = scene_with_boxes(2)[480:560, 280:500]
    a = PlateRecognizer.from_checkpoint(reader, backend="onnx").read([crop])[0]
    b = PlateRecognizer.from_checkpoint(reader, backend="torch").read([crop])[0]
    assert a.raw_text == b.raw_text


def test_serving_on_the_twins_imports_no_torch(tmp_path):
    image = tmp_path / "scene.jpg"
    image.write_bytes(encode(scene_with_boxes(), quality=90))
    probe = (
        "import json, sys\n"
        "from alpr.config import Settings\n"
        "from alpr.models import ModelHolder\n"
        "from alpr.service import recognize\n"
        "settings = Settings(device='auto')\n"
        "models = ModelHolder(settings)\n"
        f"answer = recognize(open({str(image)!r}, 'rb').read(), 'scene.jpg', models, settings)\n"
        "print(json.dumps({'code': answer.body['code'], 'loaded': models.state.loaded,\n"
        "                  'torch': 'torch' in sys.modules, 'ultralytics': 'ultralytics' in sys.modules}))\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    facts = json.loads(run.stdout.splitlines()[-1])
    if facts["loaded"] is False:
        pytest.fail(f"models did not load: {run.stderr[-2000:]}")
    assert facts["code"] in (0, 4, 6)  # whatever the image holds, it was looked at
    assert facts == {**facts, "torch": False, "ultralytics": False}
