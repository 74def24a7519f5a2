"""The bundled CE U-Nets alone: FLOPs of one forward, time per batch, slices/s, achieved FLOP/s.

Input ``(batch, model.config.input_channels, size, size)`` (slices plus a noise-map channel when
the model has one) and the real context vector of a default scan asking for noise reduction 3,
``(batch, model.config.context_size)``. FLOPs are counted by ``torch.utils.flop_counter.
FlopCounterMode`` on one forward: convolutions, transposed convolutions and linear layers at
2 FLOPs per multiply-add; element-wise work (activations, FiLM, padding) is not counted, so the
achieved FLOP/s is a lower bound of the arithmetic done. On the CPU every batch size is tried
with contiguous and channels-last tensors; on CUDA the model runs in channels-last under bf16
autocast, as ``mrdeeprecon.inference`` runs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from common import measure


@dataclass(frozen=True)
class NetworkCase:
    """One timed configuration of the network alone."""

    kind: str
    batch: int
    memory_format: str
    seconds_per_batch: float
    samples_s: tuple[float, ...]
    flops_per_slice: float

    @property
    def slices_per_s(self) -> float:
        return self.batch / self.seconds_per_batch

    @property
    def flops_per_s(self) -> float:
        return self.flops_per_slice * self.slices_per_s

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "batch": self.batch,
            "memory_format": self.memory_format,
            "seconds_per_batch": self.seconds_per_batch,
            "samples_s": list(self.samples_s),
            "slices_per_s": self.slices_per_s,
            "flops_per_slice": self.flops_per_slice,
            "flops_per_s": self.flops_per_s,
        }


def _context_row(size: int) -> torch.Tensor:
    """The engine's context vector for a default scan (no super-resolution)."""
    from mrdeeprecon.context import ScanContext
    from mrdeeprecon.model import context_vector

    vector = context_vector.encode(ScanContext().on_output_grid((1.0, 1.0, 1.0)))
    if vector.shape != (size,):
        raise RuntimeError(f"context vector has {vector.shape[0]} values, the model wants {size}")
    return torch.from_numpy(vector)[None]


def count_flops_per_slice(model: torch.nn.Module, inputs: torch.Tensor, context: torch.Tensor) -> float:
    """FLOPs of one forward divided by the batch size (FlopCounterMode, see module docstring)."""
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        model(inputs, context)
    return counter.get_total_flops() / inputs.shape[0]


def time_kind(
    kind: str, device: str, size: int, batches: list[int], formats: list[str], repeats: int
) -> list[NetworkCase]:
    """Every (batch, memory format) case of the bundled ``kind`` model on ``device``."""
    from mrdeeprecon.inference import _autocast  # the engine's own precision policy
    from mrdeeprecon.model.weights import bundled_model_path, load_model

    model, _ = load_model(bundled_model_path(kind), device)
    channels, context_size = model.config.input_channels, model.config.context_size
    context = _context_row(context_size).to(device)
    flops = count_flops_per_slice(
        model, torch.rand(1, channels, size, size, device=device), context
    )
    synchronize = torch.cuda.synchronize if device == "cuda" else None
    cases = []
    for name in formats:
        memory_format = getattr(torch, name)
        model = model.to(memory_format=memory_format)
        for batch in batches:
            inputs = torch.rand(batch, channels, size, size, device=device).contiguous(
                memory_format=memory_format
            )
            contexts = context.expand(batch, -1)

            def forward() -> None:
                with torch.inference_mode(), _autocast(torch.device(device)):
                    model(inputs, contexts)

            timing = measure(forward, repeats, warmup=2, synchronize=synchronize)
            cases.append(NetworkCase(kind, batch, name, timing.median_s, timing.samples_s, flops))
    return cases


def run(device: str, quick: bool, repeats: int, peak: dict[str, Any] | None) -> dict[str, Any]:
    """The network section: every case, and per kind the best (most slices/s) case.

    ``peak`` is the peak section of the same run (or ``None``): the best case's FLOP/s is given
    as a fraction of the machine peak of the precision it ran in (float32 on the CPU, bfloat16
    under CUDA autocast) and of ``torch.mm``'s FLOP/s alone in that precision.
    """
    size = 64 if quick else 256
    if device == "cuda":
        batches = [4, 8] if quick else [8, 16, 32, 64, 128]
        formats = ["channels_last"]
        precision = "bfloat16"
    else:
        batches = [1, 2] if quick else [1, 4, 8, 16]
        formats = ["contiguous_format", "channels_last"]
        precision = "float32"
    machine_peak = peak["peak"].get(precision) if peak else None
    mm = peak["kernels"].get(f"mm_{precision}") if peak else None
    from mrdeeprecon.settings import EnhanceSettings

    section: dict[str, Any] = {
        "size": size,
        "precision": precision,
        "engine_batch_size": EnhanceSettings().batch_size,
        "kinds": {},
    }
    for kind in ("2d", "3d"):
        cases = time_kind(kind, device, size, batches, formats, repeats)
        best = max(cases, key=lambda c: c.slices_per_s)
        section["kinds"][kind] = {
            "cases": [c.as_dict() for c in cases],
            "best": best.as_dict(),
            "fraction_of_peak": best.flops_per_s / machine_peak if machine_peak else None,
            "fraction_of_mm": best.flops_per_s / mm["best_flops_per_s"] if mm else None,
        }
    return section
