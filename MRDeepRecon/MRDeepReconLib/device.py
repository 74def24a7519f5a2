"""Which device an enhancement runs on: the CUDA GPU when it has room, else the CPU.

:func:`cuda_gpu` asks PyTorch (imported on first use) about CUDA device 0; :func:`choose_device`
turns the panel's request (``"auto"``, ``"cuda"`` or ``"cpu"``) into the device of the run and,
when that is not the one asked for, says why (:class:`DeviceFallback`), so that the panel can tell
the user in its own words.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Callable, Optional

#: Bytes in a GiB (the unit the panel shows GPU memory in).
GIB = 1024**3

#: Below this much free GPU memory the enhancement runs on the CPU (the network is small and
#: tiled, so this covers a batch of 8 tiles of 256² with headroom).
MIN_GPU_FREE_BYTES = 2 * GIB


@dataclass(frozen=True)
class GpuInfo:
    """CUDA device 0: its name and its free and total memory in bytes."""

    name: str
    free_bytes: int
    total_bytes: int

    @property
    def free_gib(self) -> float:
        return self.free_bytes / GIB

    @property
    def total_gib(self) -> float:
        return self.total_bytes / GIB


def cuda_gpu() -> Optional[GpuInfo]:
    """CUDA device 0, or ``None`` without a usable CUDA GPU (imports torch)."""
    import torch

    if not torch.cuda.is_available():
        return None
    free, total = torch.cuda.mem_get_info(0)
    return GpuInfo(torch.cuda.get_device_name(0), int(free), int(total))


class DeviceFallback(enum.Enum):
    """Why a run does not use the device asked for."""

    NO_GPU = "no CUDA GPU"
    """``"cuda"`` was asked for and there is no usable CUDA GPU."""
    GPU_TOO_FULL = "GPU too full"
    """The GPU has less than :data:`MIN_GPU_FREE_BYTES` free."""


@dataclass(frozen=True)
class DeviceChoice:
    """The device of a run (an engine ``device`` setting) and, when it is not the one asked
    for, why (with the GPU, for a GPU that is too full)."""

    device: str
    fallback: Optional[DeviceFallback] = None
    gpu: Optional[GpuInfo] = None


def choose_device(requested: str, query_gpu: Callable[[], Optional[GpuInfo]] = cuda_gpu) -> DeviceChoice:
    """The device to run on for the panel's ``requested`` device.

    ``"cpu"`` stays the CPU (the GPU is not queried). Otherwise ``query_gpu`` is asked: without a
    GPU, ``"cuda"`` falls back to the CPU (:attr:`DeviceFallback.NO_GPU`) and any other request is
    left to the engine; a GPU with less than :data:`MIN_GPU_FREE_BYTES` free sends the run to the
    CPU (:attr:`DeviceFallback.GPU_TOO_FULL`); else ``"auto"`` and ``"cuda"`` run on ``"cuda"``.
    """
    if requested == "cpu":
        return DeviceChoice("cpu")
    gpu = query_gpu()
    if gpu is None:
        if requested == "cuda":
            return DeviceChoice("cpu", DeviceFallback.NO_GPU)
        return DeviceChoice(requested)
    if gpu.free_bytes < MIN_GPU_FREE_BYTES:
        return DeviceChoice("cpu", DeviceFallback.GPU_TOO_FULL, gpu)
    return DeviceChoice("cuda" if requested in ("auto", "cuda") else requested, gpu=gpu)
