"""Machine peak: the FLOP/s dense kernels reach in this process, measured in the same run.

* ``mm``: ``torch.mm`` of two random ``n × n`` matrices, ``2·n³`` FLOPs, for several ``n``.
* ``conv3x3`` (CPU only): a 3 × 3 convolution, ``C → C`` channels on a ``C × 64 × 64``
  channels-last image, ``2·9·C²·64²`` FLOPs — the kernel the CE U-Net spends its time in, run by
  oneDNN. On AMD CPUs torch's MKL ``sgemm`` may take a path far below the cores' real FMA peak
  while oneDNN convolutions do not, so the CPU peak is the larger of the two kernels.

Each size is timed after a warm-up (median of repeats); a kernel's peak is its best size. On
CUDA a repeat is ``inner`` back-to-back products timed with CUDA events, for bfloat16 and
float32 (TF32 as torch has it, recorded).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from common import measure

CONV_IMAGE = 64


@dataclass(frozen=True)
class KernelPeak:
    """Best FLOP/s of one kernel and dtype over its sizes, and the FLOP/s of every size."""

    kernel: str
    dtype: str
    best_flops_per_s: float
    best_size: int
    by_size: dict[int, float]

    @classmethod
    def of(cls, kernel: str, dtype: str, by_size: dict[int, float]) -> "KernelPeak":
        best = max(by_size, key=by_size.__getitem__)
        return cls(kernel, dtype, by_size[best], best, by_size)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kernel": self.kernel,
            "dtype": self.dtype,
            "best_flops_per_s": self.best_flops_per_s,
            "best_size": self.best_size,
            "by_size": {str(n): f for n, f in self.by_size.items()},
        }


def _cpu_mm_flops(n: int, repeats: int) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    out = torch.empty(n, n)
    timing = measure(lambda: torch.mm(a, b, out=out), repeats, warmup=2)
    return 2.0 * n**3 / timing.median_s


def _cpu_conv_flops(channels: int, repeats: int) -> float:
    image = torch.randn(1, channels, CONV_IMAGE, CONV_IMAGE).contiguous(memory_format=torch.channels_last)
    weight = torch.randn(channels, channels, 3, 3).contiguous(memory_format=torch.channels_last)

    def convolve() -> None:
        with torch.inference_mode():
            F.conv2d(image, weight, padding=1)

    timing = measure(convolve, repeats, warmup=2)
    return 2.0 * 9 * channels**2 * CONV_IMAGE**2 / timing.median_s


def _cuda_mm_flops(n: int, dtype: torch.dtype, repeats: int, inner: int) -> float:
    a = torch.randn(n, n, device="cuda", dtype=dtype)
    b = torch.randn(n, n, device="cuda", dtype=dtype)
    out = torch.empty(n, n, device="cuda", dtype=dtype)
    for _ in range(3):
        torch.mm(a, b, out=out)
    samples = []
    for _ in range(repeats):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(inner):
            torch.mm(a, b, out=out)
        stop.record()
        torch.cuda.synchronize()
        samples.append(start.elapsed_time(stop) / 1e3 / inner)
    samples.sort()
    return 2.0 * n**3 / samples[len(samples) // 2]


def run(device: str, quick: bool, repeats: int) -> dict[str, Any]:
    """The peak section: every kernel, and ``peak[dtype]`` = the best kernel's FLOP/s."""
    kernels: list[KernelPeak] = []
    if device == "cuda":
        sizes = [512, 1024] if quick else [2048, 4096, 8192, 16384]
        for dtype in (torch.bfloat16, torch.float32):
            name = str(dtype).removeprefix("torch.")
            kernels.append(KernelPeak.of("mm", name, {n: _cuda_mm_flops(n, dtype, repeats, 10) for n in sizes}))
    else:
        sizes = [256, 512] if quick else [1024, 2048, 4096]
        channels = [32, 64] if quick else [64, 128, 256]
        kernels.append(KernelPeak.of("mm", "float32", {n: _cpu_mm_flops(n, repeats) for n in sizes}))
        kernels.append(KernelPeak.of("conv3x3", "float32", {c: _cpu_conv_flops(c, repeats) for c in channels}))
    peak: dict[str, float] = {}
    for kernel in kernels:
        peak[kernel.dtype] = max(peak.get(kernel.dtype, 0.0), kernel.best_flops_per_s)
    section: dict[str, Any] = {
        "device": device,
        "kernels": {f"{k.kernel}_{k.dtype}": k.as_dict() for k in kernels},
        "peak": peak,
    }
    if device == "cuda":
        section["tf32_matmul"] = bool(torch.backends.cuda.matmul.allow_tf32)
    else:
        section["threads"] = torch.get_num_threads()
    return section
