"""How many tiles one network call takes, and what happens when the device runs out of memory.

* :func:`batch_size` — the settings' batch when they give one; else 2 on a CPU and 8 on MPS
  (:func:`~mrdeeprecon.settings.default_batch_size`), and on CUDA as many tiles as half the free
  memory (``torch.cuda.mem_get_info``) holds by :func:`tile_bytes`' estimate, at most
  :data:`MAX_CUDA_BATCH`. Results do not depend on the batch size (each tile is computed alone).
* :func:`run_in_batches` — runs consecutive batches; a batch that raises
  ``torch.OutOfMemoryError`` is retried with half as many tiles, down to one; when even one tile
  does not fit it raises :class:`DeviceOutOfMemory`, and the caller starts again on the CPU
  (:func:`mrdeeprecon.inference.enhance`). Nothing is kept of a batch that failed, so a retry
  never leaves a half-written output.
"""

from __future__ import annotations

import gc
from typing import Callable, Sequence, TypeVar

import torch

from .settings import default_batch_size

Item = TypeVar("Item")
Result = TypeVar("Result")

#: Most tiles per CUDA call (the network's throughput no longer grows beyond it, benchmarks/).
MAX_CUDA_BATCH = 128
#: Share of the free CUDA memory the tiles of one call may take.
FREE_SHARE = 0.5
#: Bytes per tile pixel and base channel of the network at peak (activations and skips of a
#: depth-3 U-Net, float32; an upper estimate, the retry covers an underestimate).
BYTES_PER_PIXEL_CHANNEL = 48


class DeviceOutOfMemory(RuntimeError):
    """Even one tile per network call does not fit in the device's memory."""


def tile_bytes(height: int, width: int, base_channels: int) -> int:
    """Estimated device memory (bytes) of one ``height × width`` tile in one network call."""
    return BYTES_PER_PIXEL_CHANNEL * base_channels * height * width


def batch_size_for(free_bytes: int, bytes_per_tile: int) -> int:
    """Tiles that fit in :data:`FREE_SHARE` of ``free_bytes``: at least 1, at most :data:`MAX_CUDA_BATCH`."""
    return max(1, min(MAX_CUDA_BATCH, int(free_bytes * FREE_SHARE) // max(1, bytes_per_tile)))


def batch_size(requested: int | None, device: torch.device, bytes_per_tile: int) -> int:
    """Tiles per network call on ``device`` (see the module docstring); ``requested`` wins."""
    if requested:
        return requested
    if device.type != "cuda":
        return default_batch_size(device.type)
    free, _ = torch.cuda.mem_get_info(device)
    return batch_size_for(free, bytes_per_tile)


def release(device: torch.device) -> None:
    """Return cached blocks to the device after an out-of-memory error (CUDA; nothing elsewhere)."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def run_in_batches(
    items: Sequence[Item],
    size: int,
    run: Callable[[Sequence[Item]], Result],
    keep: Callable[[Sequence[Item], Result, int, int], None],
    device: torch.device,
) -> int:
    """``run`` consecutive batches of ``items`` (``size`` each, the last one shorter) and ``keep``
    each result; returns the batch size that finally worked.

    ``keep(batch, result, done, total)`` receives the batch, ``run``'s result, how many batches are
    done (this one included) and how many there are (which grows after a retry). A batch whose
    ``run`` raises ``torch.OutOfMemoryError`` is not kept: it is run again with half as many
    items; at one item :class:`DeviceOutOfMemory` is raised.
    """
    start, done = 0, 0
    while start < len(items):
        batch = items[start : start + size]
        try:
            result = run(batch)
        except torch.OutOfMemoryError:
            release(device)
            if size == 1:
                raise DeviceOutOfMemory(f"one tile does not fit in the memory of {device}") from None
            size = max(1, size // 2)
            continue
        start += len(batch)
        done += 1
        keep(batch, result, done, done + -(-(len(items) - start) // size))
    return size
