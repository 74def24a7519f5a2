"""Partial-Fourier reconstruction: zero-filled, homodyne and POCS, on torch tensors.

All functions take and return centred k-space (see :mod:`mrdeeprecon.kspace.fft`) on the
reconstruction grid, with any leading (batch) axes: the grid axes are the last ``len(axes)``, and
``axes`` and ``counts`` name them by their grid index (``0 … ndim-1``). ``counts`` maps each
partial-Fourier axis to the number of acquired lines, which are the low indices ``0 … count - 1``
(at least through the centre ``n // 2``); the high-k side is missing. Lines ``c - h … c + h``
around the centre ``c = n // 2``, ``h = count - 1 - c``, are acquired on both sides of the centre
(the symmetric region) and give the low-resolution phase.

* ``"zero"`` — zero filling; the acquired samples are the result's samples.
* ``"homodyne"`` — Noll et al. 1991: a ramp weights unpaired samples by 2 and paired ones so that
  each pair sums to 2 (``w(k) + w(-k) = 2``), the image is demodulated by the low-resolution phase
  and its real part kept; this filters the acquired samples, so they are not kept exactly.
* ``"pocs"`` — Haacke et al. 1991: ``POCS_ITERATIONS`` projections alternating the phase
  constraint (magnitude with the low-resolution phase) and data consistency; the acquired samples
  are kept exactly and only the missing region is filled.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch

from .fft import fftc, ifftc
from .masks import place

METHODS = ("zero", "homodyne", "pocs")
POCS_ITERATIONS = 6
"""Projection iterations of the POCS reconstruction."""


def _separable(shape: Sequence[int], factors: Mapping[int, np.ndarray]) -> np.ndarray:
    """Product of 1D factors placed on their axes (broadcastable to the grid ``shape``)."""
    out = np.ones([1] * len(shape), dtype=np.float32)
    for axis, factor in factors.items():
        out = out * place(factor.astype(np.float32), [axis], len(shape))
    return out


def _mirror(line: np.ndarray) -> np.ndarray:
    """``line`` at the mirrored centred frequency: index ``i`` → ``2·(n // 2) - i`` (mod n)."""
    return np.roll(line[::-1], 1 - line.size % 2)


def acquired_region(shape: Sequence[int], counts: Mapping[int, int]) -> np.ndarray:
    """Boolean mask (broadcastable to the grid ``shape``) of the samples partial Fourier acquires."""
    return _separable(shape, {a: np.arange(shape[a]) < c for a, c in counts.items()}) > 0


def _soft_acquired(n: int, count: int) -> np.ndarray:
    """1 on the unpaired acquired side, a linear ramp through the symmetric region, 0 beyond."""
    half = count - 1 - n // 2
    return np.clip((count - np.arange(n)) / (2.0 * (half + 1)), 0.0, 1.0)


def _on(array: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array)).to(like.device)


def _grid(kspace: torch.Tensor, axes: Sequence[int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The grid shape (last ``len(axes)`` axes) and the FFT dims counted from the end."""
    ndim = len(axes)
    return tuple(kspace.shape[-ndim:]), tuple(a - ndim for a in axes)


def _low_resolution_phase(kspace: torch.Tensor, counts: Mapping[int, int], axes: Sequence[int]) -> torch.Tensor:
    """Unit phasor of the image made from the symmetric region (Hann-windowed along each PF axis)."""
    shape, dims = _grid(kspace, axes)
    windows = {}
    for axis, count in counts.items():
        n = shape[axis]
        half = count - 1 - n // 2
        offset = np.arange(n) - n // 2
        windows[axis] = np.where(np.abs(offset) <= half, np.cos(np.pi * offset / (2 * (half + 1))) ** 2, 0.0)
    low = ifftc(kspace * _on(_separable(shape, windows), kspace), dims)
    magnitude = low.abs()
    return torch.where(magnitude > 0, low / torch.where(magnitude > 0, magnitude, 1.0), 1.0).to(kspace.dtype)


def homodyne(kspace: torch.Tensor, counts: Mapping[int, int], axes: Sequence[int]) -> torch.Tensor:
    """Homodyne partial-Fourier reconstruction; returns the k-space of the real, re-phased image."""
    shape, dims = _grid(kspace, axes)
    soft = _separable(shape, {a: _soft_acquired(shape[a], c) for a, c in counts.items()})
    mirrored = _separable(shape, {a: _mirror(_soft_acquired(shape[a], c)) for a, c in counts.items()})
    total = soft + mirrored
    weight = np.where(total > 0, 2.0 * soft / np.where(total > 0, total, 1.0), 0.0).astype(np.float32)
    phase = _low_resolution_phase(kspace, counts, axes)
    image = ifftc(kspace * _on(weight, kspace), dims)
    return fftc((image * torch.conj(phase)).real * phase, dims)


def pocs(
    kspace: torch.Tensor, counts: Mapping[int, int], axes: Sequence[int], iterations: int = POCS_ITERATIONS
) -> torch.Tensor:
    """POCS partial-Fourier reconstruction; the acquired samples are returned unchanged."""
    shape, dims = _grid(kspace, axes)
    acquired = _on(acquired_region(shape, counts), kspace)
    phase = _low_resolution_phase(kspace, counts, axes)
    estimate = kspace
    for _ in range(iterations):
        image = ifftc(estimate, dims)
        estimate = torch.where(acquired, kspace, fftc(image.abs() * phase, dims))
    return estimate


def reconstruct(
    kspace: torch.Tensor, counts: Mapping[int, int], axes: Sequence[int], method: str
) -> torch.Tensor:
    """Partial-Fourier reconstruction by ``method`` (``"zero"``, ``"homodyne"`` or ``"pocs"``).

    Args:
        kspace: centred k-space ``(..., *grid)``; the missing high-k side is ignored (treated as
            zero).
        counts: partial-Fourier grid axis → number of acquired low-index lines; axes absent or
            with ``count == n`` are fully acquired.
        axes: all encoding axes of the grid (the FFT axes), ``0 … ndim-1``.
        method: one of :data:`METHODS`.

    Returns:
        centred k-space of the reconstructed image, same shape and dtype.
    """
    if method not in METHODS:
        raise ValueError(f"unknown partial-Fourier reconstruction {method!r}")
    shape, _ = _grid(kspace, axes)
    counts = {a: c for a, c in counts.items() if c < shape[a]}
    if any(c <= shape[a] // 2 for a, c in counts.items()):
        raise ValueError(f"partial Fourier must acquire past the centre line: {counts}, shape {shape}")
    kspace = kspace * _on(acquired_region(shape, counts), kspace)
    if not counts or method == "zero":
        return kspace
    if method == "homodyne":
        return homodyne(kspace, counts, axes)
    return pocs(kspace, counts, axes)
