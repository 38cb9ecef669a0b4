"""Where training and evaluation run: the CPU by default, a CUDA GPU on request.

The station's embedded default is the CPU; an engineer with a GPU can train
and evaluate on it with ``--device cuda``. The model's own tensors decide
where work happens (``model_device``), so the code that scores cached
features needs no device argument of its own. Random numbers are always drawn
on the CPU, which keeps a seed's sample order and noise the same on every
device.
"""

from __future__ import annotations

import torch

from training.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """``"cpu"``, ``"cuda"`` or ``"cuda:N"`` as a usable :class:`torch.device`.

    Raises:
        ConfigError: the name is not a device, or no such GPU is usable here.
    """
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ConfigError(
            f"device {name!r} is not a device name", hint="use cpu, cuda or cuda:N"
        ) from None
    if device.type == "cpu":
        return device
    if device.type != "cuda":
        raise ConfigError(f"device {name!r} is not supported", hint="use cpu, cuda or cuda:N")
    if not torch.cuda.is_available():
        raise ConfigError(
            f"device {name!r} was asked for, but PyTorch sees no CUDA GPU on this machine",
            hint="train with --device cpu (the default), or install a CUDA build of PyTorch",
        )
    index = device.index if device.index is not None else torch.cuda.current_device()
    if index >= torch.cuda.device_count():
        raise ConfigError(
            f"device {name!r} does not exist: this machine has "
            f"{torch.cuda.device_count()} CUDA GPU(s)",
            hint=f"use cuda:0 .. cuda:{torch.cuda.device_count() - 1}",
        )
    return torch.device("cuda", index)


def model_device(model: torch.nn.Module) -> torch.device:
    """The device a model's tensors live on (all of them share one)."""
    for tensor in model.buffers():
        return tensor.device
    return next(model.parameters()).device
