"""Centred, orthonormal FFTs between image space and k-space.

``fftc``/``ifftc`` put the k-space centre (DC) at index ``n // 2`` and use ``norm="ortho"``, so
white noise of standard deviation σ per real/imaginary channel keeps σ in both domains.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def fftc(image: np.ndarray, axes: Sequence[int]) -> np.ndarray:
    """Image → centred k-space along ``axes`` (orthonormal)."""
    axes = tuple(axes)
    return np.fft.fftshift(
        np.fft.fftn(np.fft.ifftshift(image, axes=axes), axes=axes, norm="ortho"), axes=axes
    )


def ifftc(kspace: np.ndarray, axes: Sequence[int]) -> np.ndarray:
    """Centred k-space → image along ``axes`` (orthonormal)."""
    axes = tuple(axes)
    return np.fft.fftshift(
        np.fft.ifftn(np.fft.ifftshift(kspace, axes=axes), axes=axes, norm="ortho"), axes=axes
    )
