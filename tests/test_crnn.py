"""The CRNN's checkpoints and its growth: a grown or widened network reads exactly as before."""
from __future__ import annotations

import pytest
import torch

from alpr.crnn import CRNN, CRNNConfig, Refine, grow, load_checkpoint, save_checkpoint


def trained_looking(model: CRNN) -> CRNN:
    """Random but non-trivial BatchNorm statistics, as a trained network has."""
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.copy_(torch.randn(module.num_features, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
            module.bias.data.copy_(torch.randn(module.num_features, generator=generator) * 0.1)
    return model.eval()


def test_grown_network_reads_exactly_as_before():
    torch.manual_seed(0)
    small = trained_looking(CRNN())
    grown = grow(small, (1, 1, 2, 1)).eval()
    images = torch.rand(4, 3, 128, 128)
    with torch.no_grad():
        assert torch.equal(small(images), grown(images))
    assert sum(isinstance(m, Refine) for m in grown.cnn) == 5
    assert grown.config.refine == (1, 1, 2, 1)


def test_a_grown_network_learns_in_its_new_blocks():
    torch.manual_seed(0)
    grown = grow(CRNN(), (1, 0, 0, 0)).train()
    block = next(m for m in grown.cnn if isinstance(m, Refine))
    grown(torch.rand(2, 3, 128, 128)).sum().backward()
    assert block.norm.weight.grad is not None and block.norm.weight.grad.abs().sum() > 0


def test_growing_keeps_existing_blocks_and_refuses_to_shrink():
    torch.manual_seed(0)
    once = trained_looking(grow(CRNN(), (0, 1, 0, 0)))
    next(m for m in once.cnn if isinstance(m, Refine)).norm.weight.data.fill_(0.5)
    twice = grow(once, (1, 1, 0, 0)).eval()
    images = torch.rand(2, 3, 128, 128)
    with torch.no_grad():
        assert torch.equal(once(images), twice(images))
    with pytest.raises(ValueError):
        grow(twice, (0, 1, 0, 0))


def test_checkpoint_carries_the_refining_blocks(tmp_path):
    torch.manual_seed(0)
    model = trained_looking(grow(CRNN(), (1, 0, 1, 0)))
    save_checkpoint(model, tmp_path / "grown.pth", step=1)
    loaded = load_checkpoint(tmp_path / "grown.pth")
    assert loaded.config.refine == (1, 0, 1, 0)
    images = torch.rand(2, 3, 128, 128)
    with torch.no_grad():
        assert torch.equal(model(images), loaded(images))


def test_checkpoint_from_before_refining_blocks_loads(tmp_path):
    model = trained_looking(CRNN())
    save_checkpoint(model, tmp_path / "old.pth")
    blob = torch.load(tmp_path / "old.pth", weights_only=True)
    del blob["config"]["refine"]  # as the first release wrote it
    torch.save(blob, tmp_path / "old.pth")
    loaded = load_checkpoint(tmp_path / "old.pth")
    assert loaded.config.refine == CRNNConfig().refine == (0, 0, 0, 0)
    assert not any(isinstance(m, Refine) for m in loaded.cnn)


def test_a_widened_network_reads_exactly_as_before_and_its_copies_grow_apart():
    from alpr.crnn import widen

    torch.manual_seed(3)
    small = trained_looking(grow(CRNN(), (1, 0, 1, 2))).eval()
    for module in small.modules():  # the refining blocks too, which start as identities
        if isinstance(module, torch.nn.BatchNorm2d):
            module.weight.data.uniform_(0.5, 1.5)
    wide = widen(small, (16, 40, 80, 128)).eval()
    assert wide.config.channels == (16, 40, 80, 128) and wide.config.refine == (1, 0, 1, 2)
    assert sum(p.numel() for p in wide.parameters()) > sum(p.numel() for p in small.parameters())
    images = torch.rand(3, 3, 128, 128)
    with torch.no_grad():
        assert torch.allclose(small(images), wide(images), atol=1e-4)
        # With noise the copies differ, and the read barely moves.
        noisy = widen(small, (16, 40, 80, 128), noise=0.01).eval()
        assert not torch.allclose(small(images), noisy(images), atol=1e-6)
        assert torch.allclose(small(images), noisy(images), atol=0.5)
    with pytest.raises(ValueError):
        widen(wide, (16, 32, 64, 96))


def _saved(tmp_path, name: str, config: CRNNConfig | None = None, seed: int = 0):
    torch.manual_seed(seed)
    model = trained_looking(CRNN(config))
    path = tmp_path / name
    save_checkpoint(model, path)
    return model, path


def test_averaged_checkpoint_is_the_weighted_mean_of_its_siblings(tmp_path):
    from alpr.training.average_weights import main

    first, first_path = _saved(tmp_path, "a.pth", seed=1)
    second, second_path = _saved(tmp_path, "b.pth", seed=2)
    out = tmp_path / "mean.pth"
    assert main([str(first_path), str(second_path), "--out", str(out), "--weights", "3,1"]) == 0
    averaged = load_checkpoint(out)
    a, b, m = first.state_dict(), second.state_dict(), averaged.state_dict()
    for name, tensor in m.items():
        if tensor.is_floating_point():
            assert torch.allclose(tensor, 0.75 * a[name] + 0.25 * b[name], atol=1e-6), name
    assert not torch.equal(m["classifier.weight"], a["classifier.weight"])
    metadata = torch.load(out, weights_only=True)["metadata"]
    assert metadata["averaged_from"] == [str(first_path), str(second_path)]


def test_the_mean_of_one_network_with_itself_reads_as_it_does(tmp_path):
    from alpr.training.average_weights import average_checkpoints

    model, path = _saved(tmp_path, "a.pth", seed=3)
    averaged = average_checkpoints([path, path, path])
    images = torch.rand(3, 3, 128, 128)
    with torch.no_grad():
        assert torch.allclose(model(images), averaged(images), atol=1e-5)


def test_averaging_refuses_other_architectures_and_bad_weights(tmp_path):
    from alpr.training.average_weights import average_checkpoints

    _, narrow = _saved(tmp_path, "narrow.pth")
    _, wide = _saved(tmp_path, "wide.pth", CRNNConfig(channels=(16, 32, 96, 128)))
    with pytest.raises(ValueError, match="architecture"):
        average_checkpoints([narrow, wide])
    with pytest.raises(ValueError, match="weight"):
        average_checkpoints([narrow, narrow], [1.0])
    with pytest.raises(ValueError, match="no checkpoints"):
        average_checkpoints([])


def test_a_reader_grown_to_the_latin_alphabet_reads_as_before():
    from alpr.crnn import with_alphabet
    from alpr.plate_formats import ALPHABET, LATIN_ALPHABET

    torch.manual_seed(0)
    model = CRNN(CRNNConfig()).eval()
    x = torch.rand(4, 3, 128, 128)
    grown = with_alphabet(model, LATIN_ALPHABET).eval()
    assert grown.config.alphabet == LATIN_ALPHABET and grown.classifier.out_features == 37
    before, after = model(x), grown(x)
    # The classes both read keep their log-probabilities (nearly: the new ones take almost nothing).
    kept = [LATIN_ALPHABET.index(c) for c in ALPHABET]
    assert torch.allclose(after[:, :, kept], before, atol=1e-3)
    new = [i for i, c in enumerate(LATIN_ALPHABET) if c not in ALPHABET]
    assert after[:, :, new].exp().sum(-1).max() < 1e-3
    with pytest.raises(ValueError):
        with_alphabet(model, LATIN_ALPHABET[:-1] + "-")


def test_a_seed_style_bare_state_dict_loads_with_the_seeds_alphabet(tmp_path):
    from alpr.plate_formats import ALPHABET

    model = trained_looking(CRNN())
    torch.save(model.state_dict(), tmp_path / "seed.pth")
    loaded = load_checkpoint(tmp_path / "seed.pth")
    assert loaded.config.alphabet == ALPHABET
    images = torch.rand(2, 3, 128, 128, generator=torch.Generator().manual_seed(1))
    assert torch.equal(model(images), loaded(images))
