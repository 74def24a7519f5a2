"""Thermal noise of k-space samples and the intensity it is relative to.

With the orthonormal FFT of :mod:`mrdeeprecon.kspace.fft`, complex white Gaussian noise of σ per
real/imaginary channel and k-space sample is noise of σ per image pixel at full sampling, so σ is
given in image intensity units, as a fraction of the image's reference level.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

REFERENCE_PERCENTILE = 99.0
"""Percentile of the clean magnitude that defines the reference intensity level."""


def reference_level(image: np.ndarray) -> float:
    """The image's reference intensity: the 99th percentile of its magnitude (image units)."""
    return float(np.percentile(np.abs(image), REFERENCE_PERCENTILE))


def percentile(values: torch.Tensor, q: float) -> torch.Tensor:
    """Per-row ``q``-th percentile of ``values`` ``(B, ...)`` (flattened after the first axis),
    interpolated linearly between order statistics as ``numpy.percentile`` does; shape ``(B,)``.

    Works on any size (``torch.quantile`` refuses more than 2²⁴ elements): the order statistics
    come from one ``topk`` on the smaller side of the percentile.
    """
    flat = values.reshape(values.shape[0], -1)
    n = flat.shape[1]
    position = q / 100.0 * (n - 1)
    low = int(np.floor(position))
    fraction = position - low
    high = min(low + 1, n - 1)
    if low >= n // 2:  # the order statistics low and high, counted from the top
        top = torch.topk(flat, n - low, dim=1).values
        below, above = top[:, n - low - 1], top[:, n - high - 1]
    else:
        bottom = torch.topk(flat, high + 1, dim=1, largest=False).values
        below, above = bottom[:, low], bottom[:, high]
    return below + (above - below) * fraction


def reference_levels(images: torch.Tensor) -> torch.Tensor:
    """:func:`reference_level` of each image of a batch ``(B, ...)``: shape ``(B,)``, float32."""
    return percentile(images.abs().float(), REFERENCE_PERCENTILE)


def complex_gaussian(
    shape: Sequence[int], sigma: torch.Tensor | float, generator: torch.Generator | None, device: torch.device
) -> torch.Tensor:
    """Independent complex64 Gaussian samples, standard deviation ``sigma`` per channel.

    ``sigma`` broadcasts against ``shape`` (a per-image σ is shaped ``(B, 1, …)``); a coil axis in
    ``shape`` gives each coil its own independent noise.
    """
    channels = torch.randn((*tuple(shape), 2), generator=generator, device=device, dtype=torch.float32)
    return torch.view_as_complex(channels) * sigma
