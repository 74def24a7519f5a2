"""Resumable training checkpoints without pickles: tensors in safetensors, the rest in JSON.

``<stem>.safetensors`` holds the model weights (``model.<name>``), the Adam moments
(``optim.<i>.exp_avg`` / ``optim.<i>.exp_avg_sq``) and any other tensors the trainer keeps
(``extra.<name>``, e.g. the pair sampler's generator state); ``<stem>.json`` holds the step, the
optimiser's scalar state and the trainer's history.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file


def checkpoint_files(stem: Path) -> tuple[Path, Path]:
    """``(<stem>.safetensors, <stem>.json)`` — appended, since ``stem`` may itself contain dots."""
    return stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".json")


def save_checkpoint(
    stem: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    state: dict[str, Any],
    extra: dict[str, torch.Tensor] | None = None,
) -> None:
    """Write the checkpoint atomically (temporary files renamed at the end)."""
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tensors.update({f"extra.{k}": v.detach().cpu().contiguous() for k, v in (extra or {}).items()})
    optim_state = optimizer.state_dict()
    scalars: dict[str, Any] = {"param_groups": optim_state["param_groups"], "steps": {}}
    for index, entry in optim_state["state"].items():
        for key, value in entry.items():
            if key == "step":
                scalars["steps"][str(index)] = float(value)
            else:
                tensors[f"optim.{index}.{key}"] = value.detach().cpu().contiguous()
    stem.parent.mkdir(parents=True, exist_ok=True)
    tensor_file, json_file = checkpoint_files(stem)
    tmp_tensors = tensor_file.with_name(tensor_file.name + ".tmp")
    tmp_json = json_file.with_name(json_file.name + ".tmp")
    save_file(tensors, str(tmp_tensors))
    tmp_json.write_text(json.dumps({"optimizer": scalars, **state}, indent=1))
    os.replace(tmp_tensors, tensor_file)
    os.replace(tmp_json, json_file)


def _moments_like_parameters(optimizer: torch.optim.Optimizer) -> None:
    """Give each restored per-parameter tensor (saved contiguous) its parameter's memory layout
    (e.g. channels-last), as a fresh run's would have: fused and foreach optimiser steps need
    matching strides."""
    for group in optimizer.param_groups:
        for parameter in group["params"]:
            state = optimizer.state.get(parameter, {})
            for key, value in state.items():
                if isinstance(value, torch.Tensor) and value.shape == parameter.shape and value.stride() != parameter.stride():
                    state[key] = torch.empty_like(parameter, dtype=value.dtype).copy_(value)


def load_checkpoint(
    stem: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Restore model and optimiser in place; returns the JSON state (step, history …) and the
    extra tensors."""
    tensor_file, json_file = checkpoint_files(stem)
    tensors = load_file(str(tensor_file))
    state = json.loads(json_file.read_text())
    model.load_state_dict({k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")})
    scalars = state.pop("optimizer")
    optim_state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            optim_state.setdefault(int(index), {})[name] = value
    for index, step in scalars["steps"].items():
        optim_state.setdefault(int(index), {})["step"] = torch.tensor(step)
    optimizer.load_state_dict({"state": optim_state, "param_groups": scalars["param_groups"]})
    _moments_like_parameters(optimizer)
    extra = {k[len("extra.") :]: v for k, v in tensors.items() if k.startswith("extra.")}
    return state, extra
