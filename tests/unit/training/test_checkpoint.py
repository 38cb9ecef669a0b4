"""Resumable state without pickle: a restored run continues exactly like the original."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from training.checkpoint import INFO_FILE, STATE_FILE, load_checkpoint, save_checkpoint
from training.errors import ModelFileError


def _setup(seed: int):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(6, 5), nn.BatchNorm1d(5), nn.Linear(5, 1))
    adam = torch.optim.Adam(net.parameters(), lr=1e-2, weight_decay=1e-5)
    adamw = torch.optim.AdamW(net[0].parameters(), lr=3e-3)
    return net, {"adam": adam, "adamw": adamw}, torch.Generator().manual_seed(seed)


def _step(net, optimizers, generator) -> None:
    x = torch.randn(9, 6, generator=generator)
    loss = (net(x) ** 2).mean()
    for optimizer in optimizers.values():
        optimizer.zero_grad()
    loss.backward()
    for optimizer in optimizers.values():
        optimizer.step()


def test_restored_state_continues_identically(tmp_path: Path) -> None:
    net, optimizers, generator = _setup(0)
    for _ in range(3):
        _step(net, optimizers, generator)
    best = {"w": torch.randn(3, 2)}
    save_checkpoint(
        tmp_path,
        modules={"net": net},
        optimizers=optimizers,
        best=best,
        generator=generator,
        info={"epoch": 3, "history": [{"loss": 1.5}]},
    )
    assert (tmp_path / STATE_FILE).is_file() and (tmp_path / INFO_FILE).is_file()
    assert not list(tmp_path.glob("*.tmp"))

    fresh_net, fresh_optimizers, fresh_generator = _setup(99)
    info, restored_best = load_checkpoint(
        tmp_path, modules={"net": fresh_net}, optimizers=fresh_optimizers, generator=fresh_generator
    )
    assert info["epoch"] == 3 and info["history"] == [{"loss": 1.5}]
    assert torch.equal(restored_best["w"], best["w"])
    for _ in range(2):
        _step(net, optimizers, generator)
        _step(fresh_net, fresh_optimizers, fresh_generator)
    for (name, a), b in zip(net.state_dict().items(), fresh_net.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_missing_or_damaged_checkpoint(tmp_path: Path) -> None:
    net, optimizers, generator = _setup(0)
    kwargs = dict(modules={"net": net}, optimizers=optimizers, generator=generator)
    with pytest.raises(ModelFileError, match="no checkpoint"):
        load_checkpoint(tmp_path, **kwargs)
    save_checkpoint(tmp_path, best=None, info={"epoch": 1}, **kwargs)
    (tmp_path / STATE_FILE).write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not a header")
    with pytest.raises(ModelFileError, match="damaged"):
        load_checkpoint(tmp_path, **kwargs)
