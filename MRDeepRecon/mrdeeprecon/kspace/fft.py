"""Centred, orthonormal FFTs between image space and k-space, for numpy arrays and torch tensors.

``fftc``/``ifftc`` put the k-space centre (DC) at index ``n // 2`` and use ``norm="ortho"``, so
white noise of standard deviation σ per real/imaginary channel keeps σ in both domains. A torch
tensor is transformed with ``torch.fft`` on its own device; anything else with numpy. Axes may be
negative (counted from the end), which lets the same call serve ``(*grid)``, ``(batch, *grid)`` and
``(batch, coil, *grid)`` tensors.

For tensors whose transformed axes all have even length, the shifts are done by modulation
instead of copies: with ``n`` even, ``fftc(x)[k] = (-1)^(n/2) (-1)^k fft((-1)^i x)[k]`` (the same for
the inverse), a quarter faster than rolling the data twice.
"""

from __future__ import annotations

import functools
from typing import Sequence, TypeVar

import numpy as np
import torch

Array = TypeVar("Array", np.ndarray, torch.Tensor)


@functools.lru_cache(maxsize=64)
def _signs(ndim: int, lengths: tuple[tuple[int, int], ...], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """``(-1)^(Σ i)`` over the ``(axis, length)`` pairs of an ``ndim`` tensor (broadcastable),
    and the same times ``(-1)^(Σ n/2)``."""
    sign = torch.ones([1] * ndim)
    for axis, n in lengths:
        line_shape = [1] * ndim
        line_shape[axis] = n
        sign = sign * (1 - 2 * (torch.arange(n) % 2)).float().reshape(line_shape)
    constant = (-1) ** (sum(n // 2 for _, n in lengths) % 2)
    return sign.to(device), (sign * constant).to(device)


def _centred(data: torch.Tensor, axes: tuple[int, ...], transform) -> torch.Tensor:
    axes = tuple(a % data.dim() for a in axes)
    if all(data.shape[a] % 2 == 0 for a in axes):
        before, after = _signs(data.dim(), tuple((a, data.shape[a]) for a in axes), data.device)
        return transform(data * before, dim=axes, norm="ortho").mul_(after)
    shifted = torch.fft.ifftshift(data, dim=axes)
    return torch.fft.fftshift(transform(shifted, dim=axes, norm="ortho"), dim=axes)


def fftc(image: Array, axes: Sequence[int]) -> Array:
    """Image → centred k-space along ``axes`` (orthonormal)."""
    axes = tuple(axes)
    if isinstance(image, torch.Tensor):
        return _centred(image, axes, torch.fft.fftn)
    return np.fft.fftshift(
        np.fft.fftn(np.fft.ifftshift(image, axes=axes), axes=axes, norm="ortho"), axes=axes
    )


def ifftc(kspace: Array, axes: Sequence[int]) -> Array:
    """Centred k-space → image along ``axes`` (orthonormal)."""
    axes = tuple(axes)
    if isinstance(kspace, torch.Tensor):
        return _centred(kspace, axes, torch.fft.ifftn)
    return np.fft.fftshift(
        np.fft.ifftn(np.fft.ifftshift(kspace, axes=axes), axes=axes, norm="ortho"), axes=axes
    )
