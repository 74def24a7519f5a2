"""Centred, orthonormal FFTs between image space and k-space, for numpy arrays and torch tensors.

``fftc``/``ifftc`` put the k-space centre (DC) at index ``n // 2`` and use ``norm="ortho"``, so
white noise of standard deviation σ per real/imaginary channel keeps σ in both domains. A torch
tensor is transformed with ``torch.fft`` on its own device; anything else with numpy. Axes may be
negative (counted from the end), which lets the same call serve ``(*grid)``, ``(batch, *grid)`` and
``(batch, coil, *grid)`` tensors.

For tensors the shifts are done by modulation instead of copies. With ``c = n // 2`` the centre
index, ``(i - c)(k - c) = ik - ci - ck + c²``, so ``fftc(x)[k] = e^(-2πi c²/n) e^(2πi ck/n)
fft(e^(2πi ci/n) x)[k]`` (the inverse with the conjugate factors). For even ``n`` the factors are
the signs ``(-1)^i`` and ``(-1)^(n/2) (-1)^k``, a quarter faster than rolling the data twice; an odd
length (the SENSE grid padded to a multiple of R = 3, odd volumes) takes complex factors, about
four times faster than the rolls.
"""

from __future__ import annotations

import functools
from typing import Sequence, TypeVar

import numpy as np
import torch

Array = TypeVar("Array", np.ndarray, torch.Tensor)


@functools.lru_cache(maxsize=64)
def _modulation(
    ndim: int, lengths: tuple[tuple[int, int], ...], inverse: bool, double: bool, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """The factors before and after the uncentred transform over the ``(axis, length)`` pairs of
    an ``ndim`` tensor (broadcastable): real signs when every length is even, else complex (in
    double precision for double-precision data)."""
    if all(n % 2 == 0 for _, n in lengths):
        sign = torch.ones([1] * ndim)
        for axis, n in lengths:
            line_shape = [1] * ndim
            line_shape[axis] = n
            sign = sign * (1 - 2 * (torch.arange(n) % 2)).float().reshape(line_shape)
        constant = (-1) ** (sum(n // 2 for _, n in lengths) % 2)
        return sign.to(device), (sign * constant).to(device)
    direction = -1.0 if inverse else 1.0
    ramp = torch.ones([1] * ndim, dtype=torch.complex128)
    constant = 0.0
    for axis, n in lengths:
        line_shape = [1] * ndim
        line_shape[axis] = n
        centre = n // 2
        angle = direction * 2.0 * np.pi * ((centre * np.arange(n)) % n) / n
        ramp = ramp * torch.from_numpy(np.exp(1j * angle)).reshape(line_shape)
        constant -= direction * 2.0 * np.pi * (centre * centre % n) / n
    dtype = torch.complex128 if double else torch.complex64
    return ramp.to(device, dtype), (ramp * complex(np.exp(1j * constant))).to(device, dtype)


def _centred(data: torch.Tensor, axes: tuple[int, ...], transform, inverse: bool) -> torch.Tensor:
    axes = tuple(a % data.dim() for a in axes)
    double = data.dtype in (torch.float64, torch.complex128)
    lengths = tuple((a, data.shape[a]) for a in axes)
    before, after = _modulation(data.dim(), lengths, inverse, double, data.device)
    return transform(data * before, dim=axes, norm="ortho").mul_(after)


def fftc(image: Array, axes: Sequence[int]) -> Array:
    """Image → centred k-space along ``axes`` (orthonormal)."""
    axes = tuple(axes)
    if isinstance(image, torch.Tensor):
        return _centred(image, axes, torch.fft.fftn, inverse=False)
    return np.fft.fftshift(
        np.fft.fftn(np.fft.ifftshift(image, axes=axes), axes=axes, norm="ortho"), axes=axes
    )


def ifftc(kspace: Array, axes: Sequence[int]) -> Array:
    """Centred k-space → image along ``axes`` (orthonormal)."""
    axes = tuple(axes)
    if isinstance(kspace, torch.Tensor):
        return _centred(kspace, axes, torch.fft.ifftn, inverse=True)
    return np.fft.fftshift(
        np.fft.ifftn(np.fft.ifftshift(kspace, axes=axes), axes=axes, norm="ortho"), axes=axes
    )
