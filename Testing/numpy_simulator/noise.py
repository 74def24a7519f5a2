"""Thermal noise of k-space samples: complex white Gaussian noise, σ per real/imaginary channel.

With the orthonormal FFT of :mod:`mrdeeprecon.kspace.fft`, noise of σ per k-space sample is noise
of σ per image pixel at full sampling, so σ is given in image intensity units.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

REFERENCE_PERCENTILE = 99.0
"""Percentile of the clean magnitude that defines the reference intensity level."""


def reference_level(image: np.ndarray) -> float:
    """The image's reference intensity: the 99th percentile of its magnitude (image units)."""
    return float(np.percentile(np.abs(image), REFERENCE_PERCENTILE))


def complex_gaussian(
    shape: Sequence[int], sigma: float, rng: np.random.Generator, dtype: type = np.complex64
) -> np.ndarray:
    """Independent complex Gaussian samples with standard deviation ``sigma`` per channel.

    A leading coil axis in ``shape`` gives each coil its own independent noise.
    """
    real_dtype = np.float32 if np.dtype(dtype) == np.complex64 else np.float64
    channels = rng.standard_normal((*tuple(shape), 2), dtype=real_dtype)
    channels *= real_dtype(sigma)
    return channels.view(dtype)[..., 0]
