"""Distillation: the teachers' averaged probabilities, the loss that pulls a student to them,
and train-recognizer's --teachers."""
from __future__ import annotations

import argparse
import json
import math

import pytest
import torch

from alpr.crnn import CRNN, CRNNConfig, save_checkpoint, with_alphabet
from alpr.plate_formats import LATIN_ALPHABET
from alpr.training.distill import Teachers, distillation_loss
from alpr.training.train_recognizer import ctc_loss, taught_plates, training_loss
from alpr.training.render import find_fonts


def images(n: int = 3, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, 128, 128, generator=torch.Generator().manual_seed(seed))


def networks(*seeds: int) -> list[CRNN]:
    out = []
    for seed in seeds:
        torch.manual_seed(seed)
        out.append(CRNN().eval())
    return out


def test_teachers_read_the_mean_of_their_probabilities():
    first, second = networks(1, 2)
    x = images()
    with torch.no_grad():
        expected = ((first(x).exp() + second(x).exp()) / 2).log()
        alone = first(x)
    assert torch.allclose(Teachers([first, second])(x), expected, atol=1e-5)
    assert torch.allclose(Teachers([first])(x), alone, atol=1e-6)
    assert Teachers([first, second])(x).exp().sum(-1).allclose(torch.ones(32, 3), atol=1e-5)


def test_teachers_refuse_nothing_and_mixed_alphabets():
    with pytest.raises(ValueError, match="at least one"):
        Teachers([])
    (plain,) = networks(1)
    torch.manual_seed(3)
    other = CRNN(CRNNConfig(alphabet="0123456789_")).eval()
    with pytest.raises(ValueError, match="different alphabets"):
        Teachers([plain, other])


def test_the_loss_is_nil_for_a_copy_and_pulls_a_student_to_its_teacher():
    teacher, student = networks(1, 2)
    with torch.no_grad():  # a sure teacher: a fresh network's columns are near uniform
        teacher.classifier.weight.mul_(30.0)
    x, lengths = images(4, seed=1), torch.tensor([8, 7, 8, 7])
    teach = Teachers([teacher])
    with torch.no_grad():
        assert distillation_loss(teacher(x), teach(x), lengths).abs() < 1e-6
        before = distillation_loss(student(x), teach(x), lengths).item()
    assert before > 0.5
    student.train()
    optimizer = torch.optim.Adam(student.parameters(), lr=3e-3)
    for _ in range(15):
        loss = distillation_loss(student(x), teach(x), lengths)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        after = distillation_loss(student.eval()(x), teach(x), lengths).item()
    assert after < 0.5 * before
    # per label character: halving the labels' lengths doubles the loss
    with torch.no_grad():
        s, t = student(x), teach(x)
        assert math.isclose(distillation_loss(s, t, lengths // 2).item(),
                            2 * distillation_loss(s, t, lengths).item(), rel_tol=0.2)


@pytest.mark.skipif(not find_fonts(), reason="plate fonts (../shared/datasets/fonts) not available")
def test_train_recognizer_learns_from_teachers(tmp_path):
    from test_train_recognizer import train

    torch.manual_seed(4)
    save_checkpoint(CRNN(), tmp_path / "start.pth")
    torch.manual_seed(5)
    save_checkpoint(CRNN(), tmp_path / "teacher.pth")
    run_dir = tmp_path / "run"
    start, teacher = str(tmp_path / "start.pth"), str(tmp_path / "teacher.pth")
    result = train(run_dir, "--init", start, "--steps", "2", "--teachers", teacher, start,
                   "--distill", "0.7")
    assert result.returncode == 0, result.stderr[-2000:]
    assert [r["step"] for r in json.loads((run_dir / "history.json").read_text())] == [1, 2]

    out_of_range = train(tmp_path / "bad", "--init", start, "--steps", "1", "--teachers", teacher,
                         "--distill", "1.5")
    assert out_of_range.returncode == 2 and "--distill" in out_of_range.stderr
    torch.manual_seed(6)
    save_checkpoint(CRNN(CRNNConfig(alphabet=LATIN_ALPHABET)), tmp_path / "latin.pth")
    other_alphabet = train(tmp_path / "other", "--init", start, "--steps", "1",
                           "--teachers", str(tmp_path / "latin.pth"))
    assert other_alphabet.returncode == 2 and "another alphabet" in other_alphabet.stderr


def test_a_teacher_reading_part_of_the_alphabet_is_widened_to_it(tmp_path):
    (teacher,) = networks(7)
    save_checkpoint(teacher, tmp_path / "teacher.pth")
    widened = Teachers.from_paths([tmp_path / "teacher.pth"], alphabet=LATIN_ALPHABET)
    x = images(2, seed=3)
    with torch.no_grad():
        before, after = teacher(x).exp(), widened(x).exp()
    assert after.shape[-1] == len(LATIN_ALPHABET)
    new = [i for i, c in enumerate(LATIN_ALPHABET) if c not in teacher.config.alphabet]
    assert after[..., new].max() < 1e-3  # letters it never reads get no probability
    kept = [LATIN_ALPHABET.index(c) for c in teacher.config.alphabet]
    assert torch.allclose(after[..., kept], before, atol=1e-3)
    with pytest.raises(ValueError, match="another alphabet"):
        Teachers.from_paths([tmp_path / "teacher.pth"], alphabet="0123456789_")


def test_teach_ukrainian_teaches_only_ukrainian_one_line_plates():
    teacher, student = networks(1, 2)
    x = images(3, seed=2)
    texts = ["AA1234BB", "BA302OZ", "APET"]  # Ukrainian, Slovak, a two-line plate's top line
    assert taught_plates(texts).tolist() == [True, False, False]
    targets = torch.tensor([LATIN_ALPHABET.index(c) for t in texts for c in t])
    lengths = torch.tensor([len(t) for t in texts])
    latin_student = with_alphabet(student, LATIN_ALPHABET).eval()
    teach = Teachers([with_alphabet(teacher, LATIN_ALPHABET)])
    blank = len(LATIN_ALPHABET) - 1
    args = argparse.Namespace(focal=0.0, distill=0.5, teach_ukrainian=True)
    with torch.no_grad():
        log_probs = latin_student(x)
        ctc = ctc_loss(log_probs, targets, lengths, blank, per_plate=True)
        kl = distillation_loss(log_probs, teach(x), lengths, per_plate=True)
        taught = training_loss(log_probs, targets, lengths, texts, x, blank, args, teach)
        everyone = training_loss(log_probs, targets, lengths, texts, x, blank,
                                 argparse.Namespace(**{**vars(args), "teach_ukrainian": False}), teach)
    expected = torch.stack([0.5 * ctc[0] + 0.5 * kl[0], ctc[1], ctc[2]]).mean()
    assert torch.isclose(taught, expected, rtol=1e-5)
    assert torch.isclose(everyone, (0.5 * ctc + 0.5 * kl).mean(), rtol=1e-5)
