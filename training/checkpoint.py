"""Resumable training state in safetensors + JSON (no pickle, like model files).

Saved after every epoch into ``OUT/checkpoint/``: the adaptor and
discriminator, both optimisers, the best weights so far, the random
generator and the history. ``station train --resume`` continues from there
and ends with the same model as an uninterrupted run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from training.errors import ModelFileError

STATE_FILE = "state.safetensors"
INFO_FILE = "state.json"


def flatten_optimizer(prefix: str, state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict]:
    """Split an optimiser state dict into tensors and JSON-able rest."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for param_id, values in state["state"].items():
        for key, value in values.items():
            if torch.is_tensor(value):
                tensors[f"{prefix}.{param_id}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(param_id), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def unflatten_optimizer(prefix: str, tensors: dict[str, torch.Tensor], rest: dict) -> dict:
    state: dict[int, dict[str, Any]] = {}
    for name, tensor in tensors.items():
        if name.startswith(prefix + "."):
            param_id, key = name[len(prefix) + 1 :].split(".", 1)
            state.setdefault(int(param_id), {})[key] = tensor
    for param_id, values in rest["scalars"].items():
        state.setdefault(int(param_id), {}).update(values)
    return {"state": state, "param_groups": rest["param_groups"]}


def save_checkpoint(
    folder: Path,
    *,
    modules: dict[str, torch.nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
    best: dict[str, torch.Tensor] | None,
    generator: torch.Generator,
    info: dict[str, Any],
) -> None:
    """Write the state atomically (temporary names, then rename); tensors go to the CPU
    first, so a run trained on a GPU resumes anywhere."""
    folder.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {"rng": generator.get_state()}
    optimizer_rest = {}
    for name, module in modules.items():
        for key, value in module.state_dict().items():
            tensors[f"module.{name}.{key}"] = value.detach().cpu().contiguous()
    for name, optimizer in optimizers.items():
        flat, rest = flatten_optimizer(f"optim.{name}", optimizer.state_dict())
        tensors.update(flat)
        optimizer_rest[name] = rest
    for key, value in (best or {}).items():
        tensors[f"best.{key}"] = value.detach().cpu().contiguous()
    save_file(tensors, str(folder / (STATE_FILE + ".tmp")))
    payload = dict(info, optimizers=optimizer_rest, has_best=best is not None)
    (folder / (INFO_FILE + ".tmp")).write_text(json.dumps(payload), encoding="utf-8")
    os.replace(folder / (STATE_FILE + ".tmp"), folder / STATE_FILE)
    os.replace(folder / (INFO_FILE + ".tmp"), folder / INFO_FILE)


def load_checkpoint(
    folder: Path,
    *,
    modules: dict[str, torch.nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
    generator: torch.Generator,
) -> tuple[dict[str, Any], dict[str, torch.Tensor] | None]:
    """Restore modules, optimisers and generator in place.

    Returns:
        ``(info, best)`` as given to :func:`save_checkpoint`.

    Raises:
        ModelFileError: no checkpoint, or a damaged one.
    """
    if not (folder / STATE_FILE).is_file() or not (folder / INFO_FILE).is_file():
        raise ModelFileError(
            f"there is no checkpoint to resume in {folder}",
            hint="run without --resume to start a new training",
        )
    try:
        tensors = load_file(str(folder / STATE_FILE))
        info = json.loads((folder / INFO_FILE).read_text(encoding="utf-8"))
    except Exception as error:
        raise ModelFileError(
            f"the checkpoint in {folder} is damaged: {error}",
            hint="delete the checkpoint folder and train again without --resume",
        ) from None
    generator.set_state(tensors["rng"])
    for name, module in modules.items():
        prefix = f"module.{name}."
        module.load_state_dict(
            {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        )
    for name, optimizer in optimizers.items():
        optimizer.load_state_dict(
            unflatten_optimizer(f"optim.{name}", tensors, info["optimizers"][name])
        )
    best = (
        {k[5:]: v for k, v in tensors.items() if k.startswith("best.")}
        if info["has_best"]
        else None
    )
    return info, best
