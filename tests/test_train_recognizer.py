"""The reader's training command end to end, on a few tiny steps: checkpoints, curve,
history, resuming after a kill, growing the network it was given, scoring weights and
exported readers."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest
import torch

from alpr.config import SHARED_PHOTOS
from alpr.crnn import CRNN, load_checkpoint, save_checkpoint
from alpr.plate_formats import LATIN_ALPHABET
from alpr.training.real_plates import VALIDATION_LABELS
from alpr.training.render import find_fonts

# Training and its validation sets render plates.
pytestmark = pytest.mark.skipif(not find_fonts(),
                                reason="plate fonts (../shared/datasets/fonts) not available")


def command(run_dir, *extra: str) -> list[str]:
    return [sys.executable, "-m", "alpr", "train-recognizer", "--epoch-steps", "1", "--batch", "4",
            "--val-synthetic", "6", "--val-swap", "3", "--workers", "0",
            "--photos", str(run_dir / "no-photos"), "--run-dir", str(run_dir), *extra]


def train(run_dir, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(command(run_dir, *extra), capture_output=True, text=True, timeout=600)


def test_an_interrupted_run_resumes_where_it_stopped(tmp_path):
    torch.manual_seed(0)
    save_checkpoint(CRNN(), tmp_path / "start.pth")
    run_dir = tmp_path / "run"
    args = ("--steps", "12", "--init", str(tmp_path / "start.pth"), "--grow", "1,0,0,0")
    job = subprocess.Popen(command(run_dir, *args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    history = run_dir / "history.json"
    deadline = time.time() + 300
    while time.time() < deadline and job.poll() is None:
        if history.exists() and len(json.loads(history.read_text() or "[]")) >= 2:
            job.kill()  # as a session's end or a lost machine would
            break
        time.sleep(0.05)
    job.wait()
    assert job.returncode != 0, "the run ended before it could be interrupted"
    assert (run_dir / "curve.png").read_bytes()[:4] == b"\x89PNG"
    assert load_checkpoint(run_dir / "best.pth").config.refine == (1, 0, 0, 0)
    validation = (run_dir / "validation.npz").read_bytes()

    resumed = train(run_dir, "--resume", *args)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    stopped_at = int(re.search(r"resumed at step (\d+)", resumed.stdout).group(1))
    assert stopped_at >= 2
    records = json.loads(history.read_text())
    assert [r["step"] for r in records] == list(range(1, 13))
    assert {"synthetic", "swap"} <= records[0].keys()
    assert (run_dir / "validation.npz").read_bytes() == validation

    other_schedule = train(run_dir, "--resume", "--steps", "20", *args[2:])
    assert other_schedule.returncode == 2 and "same --steps" in other_schedule.stderr


def test_eval_only_scores_weights_on_the_run_sets(tmp_path):
    save_checkpoint(CRNN(), tmp_path / "weights.pth")
    run_dir = tmp_path / "run"
    result = train(run_dir, "--init", str(tmp_path / "weights.pth"), "--eval-only")
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [line["set"] for line in lines] == ["synthetic", "swap"]
    assert [line["count"] for line in lines] == [6, 3]
    assert all(0.0 <= line["exact_accuracy"] <= 1.0 for line in lines)


def scores(result: subprocess.CompletedProcess) -> list[dict]:
    assert result.returncode == 0, result.stderr[-2000:]
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def test_eval_only_scores_an_exported_reader_as_its_checkpoint(tmp_path):
    # A float32 export reads exactly as its checkpoint, so it scores the same on the same sets.
    torch.manual_seed(1)
    save_checkpoint(CRNN(), tmp_path / "weights.pth")
    export = subprocess.run([sys.executable, "-m", "alpr", "export-onnx", "--only", "recognizer",
                             "--recognizer", str(tmp_path / "weights.pth"), "--float32"],
                            capture_output=True, text=True, timeout=600)
    assert export.returncode == 0, export.stderr[-2000:]
    run_dir = tmp_path / "run"
    checkpoint = scores(train(run_dir, "--init", str(tmp_path / "weights.pth"), "--eval-only"))
    twin = scores(train(run_dir, "--init", str(tmp_path / "weights.onnx"), "--eval-only"))
    assert [line["set"] for line in twin] == ["synthetic", "swap"]
    for a, b in zip(checkpoint, twin):
        assert (a["count"], a["exact_accuracy"]) == (b["count"], b["exact_accuracy"])
        assert abs(a["char_accuracy"] - b["char_accuracy"]) < 1e-9
    refused = train(run_dir, "--init", str(tmp_path / "weights.onnx"), "--steps", "1")
    assert refused.returncode == 2 and "--eval-only" in refused.stderr


def test_eval_only_by_height_by_view_and_as_served(tmp_path):
    from conftest import SHIPPED_RECOGNIZER

    run_dir = tmp_path / "run"
    lines = scores(train(run_dir, "--init", str(SHIPPED_RECOGNIZER.with_suffix(".onnx")), "--eval-only",
                         "--by-height", "24", "--by-view", "48", "--served", "8"))
    by_height = {line["set"]: line for line in lines if line["set"].startswith("rendered at")}
    assert list(by_height) == [f"rendered at {h} px" for h in (12, 16, 20, 24, 32, 48)]
    assert all(line["count"] == 24 for line in by_height.values())
    # The same plates, only sharper: a plate 48 px high reads far better than one 12 px high.
    assert by_height["rendered at 48 px"]["exact_accuracy"] > by_height["rendered at 12 px"]["exact_accuracy"]
    by_view = {line["set"].removeprefix("rendered ").removesuffix(", 20-60 px"): line
               for line in lines if line["set"].endswith("20-60 px")}
    assert list(by_view) == ["level", "steep", "turned", "slanted", "turned, leveled", "slanted, leveled"]
    # The same plates: a level one is read far more often than one turned 25-50°.
    assert by_view["level"]["exact_accuracy"] > by_view["turned"]["exact_accuracy"] + 0.3
    # ... and the same turned plates, leveled as the service levels them, far more often.
    assert by_view["turned, leveled"]["exact_accuracy"] > by_view["turned"]["exact_accuracy"] + 0.15
    served = [line for line in lines if "fresh crops" in line["set"]]
    assert [line["set"] for line in served] == ["rendered, fresh crops"] + [  # no photos given
        f"rendered {view}, 20-60 px, fresh crops" for view in ("level", "steep", "turned", "slanted")]
    assert {"crop alone", "as served"} <= served[0].keys() and served[0]["count"] == 8
    assert {"exact_accuracy", "confidence_auc", "answered_share", "answered_accuracy"} <= served[0]["as served"].keys()
    assert served[0]["backend"] == "onnx-int8"
    assert (run_dir / "validation-by-height.npz").is_file() and (run_dir / "validation-by-view.npz").is_file()


def test_an_averaged_run_scores_and_keeps_the_average(tmp_path):
    torch.manual_seed(2)
    save_checkpoint(CRNN(), tmp_path / "start.pth")
    run_dir = tmp_path / "run"
    result = train(run_dir, "--init", str(tmp_path / "start.pth"), "--steps", "3", "--epoch-steps", "3",
                   "--lr", "1e-2", "--ema", "0.5")
    assert result.returncode == 0, result.stderr[-2000:]
    (record,) = json.loads((run_dir / "history.json").read_text())
    assert set(record["raw"]) == {"synthetic", "swap"}  # the raw weights are scored beside the average
    last = torch.load(run_dir / "last.pt", weights_only=False)
    average = {k.removeprefix("module."): v for k, v in last["average"].items() if k.startswith("module.")}
    kept = torch.load(run_dir / "best.pth", weights_only=True)["state_dict"]
    weight = "rnn.weight_ih_l0"
    assert torch.equal(kept[weight], average[weight])
    assert not torch.equal(kept[weight], last["model"][weight])  # the average, not the last step

    plain = tmp_path / "plain"
    assert train(plain, "--init", str(tmp_path / "start.pth"), "--steps", "2").returncode == 0
    mixed = train(plain, "--init", str(tmp_path / "start.pth"), "--steps", "2", "--resume", "--ema", "0.5")
    assert mixed.returncode == 2 and "without --ema" in mixed.stderr


def test_focal_ctc_is_plain_ctc_at_zero_and_weighs_sure_plates_less():
    from alpr.training.train_recognizer import ctc_loss

    torch.manual_seed(0)
    steps, blank = 32, 24
    targets = torch.tensor([[1, 2, 3, 4], [5, 6, 7, 8]])
    lengths = torch.tensor([4, 3])
    logits = torch.randn(steps, 2, 25)
    # Plate 0 read surely: its label's characters win their columns, blanks between.
    for column, symbol in enumerate([1, blank, 2, blank, 3, blank, 4] + [blank] * (steps - 7)):
        logits[column, 0, symbol] += 12.0
    log_probs = logits.log_softmax(-1)

    plain = ctc_loss(log_probs, targets, lengths, blank)
    expected = torch.nn.functional.ctc_loss(log_probs, targets, torch.full((2,), steps), lengths,
                                            blank=blank, zero_infinity=True)
    assert torch.isclose(plain, expected)
    # Focal CTC leaves the unsure plate nearly whole and all but drops the sure one.
    per_plate = [ctc_loss(log_probs[:, i:i + 1], targets[i:i + 1], lengths[i:i + 1], blank, focal=1.0)
                 / ctc_loss(log_probs[:, i:i + 1], targets[i:i + 1], lengths[i:i + 1], blank)
                 for i in range(2)]
    assert per_plate[0] < 0.05 and per_plate[1] > 0.99


@pytest.mark.skipif(not SHARED_PHOTOS.is_dir(), reason=f"{SHARED_PHOTOS} not available")
def test_a_reader_grows_to_the_latin_alphabet_and_trains_on_real_plates(tmp_path):
    # Two plumbing labels for a training photo's boxes; the validation photos' real plates
    # (labels/) become a validation set of their own.
    photo = sorted((SHARED_PHOTOS / "labels" / "train").glob("rl-*.txt"))[0]
    boxes = [line for line in photo.read_text().splitlines() if line.strip()]
    labels = tmp_path / "train-labels.json"
    labels.write_text(json.dumps({f"{photo.stem}.jpg": ["B123SLR"] + [None] * (len(boxes) - 1)}))
    init = tmp_path / "init.pth"
    save_checkpoint(CRNN(), init)
    # The last --photos wins over command()'s: the shared photos, for the real plates.
    run = train(tmp_path / "run", "--steps", "2", "--init", str(init), "--alphabet", "latin",
                "--real-labels", str(labels), "--real-share", "0.5", "--photos", str(SHARED_PHOTOS))
    assert run.returncode == 0, run.stderr[-2000:]
    best = load_checkpoint(tmp_path / "run" / "best.pth")
    assert best.config.alphabet == LATIN_ALPHABET
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert history[-1]["real"]["count"] == sum(1 for texts in json.loads(VALIDATION_LABELS.read_text()).values()
                                               for t in texts if t)
