"""Centred, orthonormal FFTs between image space and k-space, for numpy arrays and torch tensors.

``fftc``/``ifftc`` put the k-space centre (DC) at index ``n // 2`` and use ``norm="ortho"``, so
white noise of standard deviation σ per real/imaginary channel keeps σ in both domains. A torch
tensor is transformed with ``torch.fft`` on its own device; anything else with numpy. Axes may be
negative (counted from the end), which lets the same call serve ``(*grid)``, ``(batch, *grid)`` and
``(batch, coil, *grid)`` tensors.
"""

from __future__ import annotations

from typing import Sequence, TypeVar

import numpy as np
import torch

Array = TypeVar("Array", np.ndarray, torch.Tensor)


def fftc(image: Array, axes: Sequence[int]) -> Array:
    """Image → centred k-space along ``axes`` (orthonormal)."""
    axes = tuple(axes)
    if isinstance(image, torch.Tensor):
        shifted = torch.fft.ifftshift(image, dim=axes)
        return torch.fft.fftshift(torch.fft.fftn(shifted, dim=axes, norm="ortho"), dim=axes)
    return np.fft.fftshift(
        np.fft.fftn(np.fft.ifftshift(image, axes=axes), axes=axes, norm="ortho"), axes=axes
    )


def ifftc(kspace: Array, axes: Sequence[int]) -> Array:
    """Centred k-space → image along ``axes`` (orthonormal)."""
    axes = tuple(axes)
    if isinstance(kspace, torch.Tensor):
        shifted = torch.fft.ifftshift(kspace, dim=axes)
        return torch.fft.fftshift(torch.fft.ifftn(shifted, dim=axes, norm="ortho"), dim=axes)
    return np.fft.fftshift(
        np.fft.ifftn(np.fft.ifftshift(kspace, axes=axes), axes=axes, norm="ortho"), axes=axes
    )
