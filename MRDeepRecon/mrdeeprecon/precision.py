"""Arithmetic of a training step's forward pass: bf16 autocast or float32 (the training command's,
and the scan-specific fine-tune's, :mod:`mrdeeprecon.scan_adaptation`, which the extension ships).

Under bf16 autocast the network's layers read and write bfloat16 (convolutions accumulating in
float32) while the weights, the Adam moments, the network's global skip (input + correction) and
the loss (computed outside the autocast region) stay float32, so a checkpoint is the same
whichever arithmetic trained it. ``"auto"`` takes bf16 where the device computes it natively —
CUDA GPUs of compute capability 8.0 or more, CPUs with AVX-512 BF16 or AMX tiles (oneDNN) — and
float32 elsewhere, where bf16 would be emulated and slower. The README's training section gives
the speed and the gradient agreement measured on this project's VM.
"""

from __future__ import annotations

import contextlib

import torch

PRECISIONS = ("auto", "float32", "bfloat16")
RESOLVED = PRECISIONS[1:]


def native_bfloat16(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 in hardware (not by emulation)."""
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device) >= (8, 0)
    if device.type == "cpu":
        return any(getattr(torch.cpu, probe, lambda: False)() for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))
    return False


def resolve_precision(precision: str, device: torch.device) -> str:
    """``"float32"`` or ``"bfloat16"``: ``precision`` itself, or for ``"auto"`` bfloat16 where
    :func:`native_bfloat16`."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "auto":
        return "bfloat16" if native_bfloat16(device) else "float32"
    return precision


def forward_precision(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The context a forward pass at a resolved ``precision`` (:data:`RESOLVED`) runs in on ``device``."""
    if precision not in RESOLVED:
        raise ValueError(f"resolve the precision first: one of {RESOLVED}, got {precision!r}")
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bfloat16")
