"""k-space sampling masks: k_max box, uniform and random undersampling, elliptical, partial Fourier.

Every mask is a boolean array, ``True`` where a sample is acquired. Indices follow
:mod:`mrdeeprecon.kspace.fft`: along an axis of length ``n`` the k-space centre (DC) is index
``n // 2``, so the centred frequency of index ``i`` is ``i - n // 2`` (in cycles per field of view).
The k_max box is a :func:`centred_extent` per axis; the 1D and 2D patterns below are built on that
acquired extent and broadcast into k-space with :func:`place`; masks are combined by logical AND.
The deterministic patterns are numpy arrays (the simulator moves them to its device); the random
pattern is drawn on the simulator's device from its torch generator.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

DENSITY_POWER = 2.0
"""Exponent of the polynomial variable-density law ``(1 - r)^p`` of random undersampling."""


def round_half_up(value: float) -> int:
    """Nearest integer, halves rounded up (``round`` in Python rounds halves to even)."""
    return int(math.floor(value + 0.5))


def centred_extent(n: int, fraction: float) -> slice:
    """Index range of a centred run of ``round(fraction · n)`` (at least 1) k-space lines.

    The centre ``n // 2`` lies at position ``m // 2`` of the run, so a run cut out of k-space is
    itself a centred k-space of length ``m``. For even ``m`` it spans
    centred frequencies ``-m/2 … m/2 - 1``, as a scanner's ``m``-line matrix does.
    """
    m = min(n, max(1, round_half_up(fraction * n)))
    start = n // 2 - m // 2
    return slice(start, start + m)


def place(pattern: np.ndarray, axes: Sequence[int], ndim: int) -> np.ndarray:
    """View of ``pattern`` broadcastable to an ``ndim`` array, its dimension ``d`` on ``axes[d]``."""
    axes = tuple(axes)
    order = np.argsort(axes)
    shape = [1] * ndim
    for d in order:
        shape[axes[d]] = pattern.shape[d]
    return np.transpose(pattern, order).reshape(shape)


def calibration_block(n: int, lines: int) -> np.ndarray:
    """1D mask of the ``min(lines, n)`` central lines (the fully sampled calibration region)."""
    mask = np.zeros(n, dtype=bool)
    if lines > 0:
        mask[centred_extent(n, min(lines, n) / n)] = True
    return mask


def lattice_lines(n: int, acceleration: int) -> np.ndarray:
    """1D mask of every ``acceleration``-th line, aligned so that the centre line is acquired."""
    return (np.arange(n) - n // 2) % acceleration == 0


def uniform_lines(n: int, acceleration: int, calibration: int) -> np.ndarray:
    """Uniform undersampling: every ``acceleration``-th line plus a centred calibration block.

    The number of acquired lines is ``|lattice ∪ calibration|``, so the effective rate is a
    little below ``acceleration`` when ``calibration > 0``.
    """
    return lattice_lines(n, acceleration) | calibration_block(n, calibration)


def random_pattern(
    shape: Sequence[int],
    acceleration: float,
    calibration: int,
    generator: torch.Generator | None,
    batch: int = 1,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Variable-density random undersampling of a 1D line set or a 2D (phase, slice) plane.

    Exactly ``round(prod(shape) / acceleration)`` samples are acquired (at least 1), counting a
    centred, fully sampled calibration block of ``calibration`` lines per axis (shrunk, larger side
    first, when it alone would exceed that number). The other samples are drawn without
    replacement with probability proportional to ``(1 - r)^DENSITY_POWER``, ``r`` being the
    distance from the centre normalised to just beyond the farthest sample (weighted sampling
    without replacement by exponential keys, Efraimidis & Spirakis 2006).

    Returns:
        boolean tensor ``(batch, *shape)`` on ``device``: ``batch`` independent patterns drawn
        from ``generator`` (which must live on ``device``).
    """
    shape = tuple(int(n) for n in shape)
    total = min(math.prod(shape), max(1, round_half_up(math.prod(shape) / acceleration)))
    sides = [min(calibration, n) for n in shape]
    while math.prod(sides) > total:
        sides[int(np.argmax(sides))] -= 1
    block = np.zeros(shape, dtype=bool)
    if math.prod(sides) > 0:
        block[tuple(centred_extent(n, s / n) for n, s in zip(shape, sides))] = True
    grids = np.meshgrid(*[(np.arange(n) - n // 2) / (n / 2) for n in shape], indexing="ij")
    radius = np.sqrt(sum(g**2 for g in grids))
    density = (1.0 - radius / (radius.max() * 1.001 + 1e-12)) ** DENSITY_POWER
    fixed = torch.from_numpy(block.ravel()).to(device)
    weights = torch.from_numpy(density.ravel().astype(np.float32)).to(device)
    uniform = torch.rand((batch, fixed.numel()), generator=generator, device=device)
    keys = torch.log(uniform) / weights
    keys[:, fixed] = -math.inf  # already acquired: never drawn
    chosen = torch.topk(keys, total - int(block.sum()), dim=1).indices
    mask = fixed.expand(batch, -1).clone()
    mask.scatter_(1, chosen, True)
    return mask.reshape(batch, *shape)


def elliptical(shape: Sequence[int]) -> np.ndarray:
    """2D mask of the ellipse inscribed in a centred k-space extent of ``shape`` (corners dropped)."""
    n1, n2 = (int(n) for n in shape)
    k1 = (np.arange(n1) - n1 // 2) / (n1 / 2)
    k2 = (np.arange(n2) - n2 // 2) / (n2 / 2)
    return k1[:, None] ** 2 + k2[None, :] ** 2 <= 1.0 + 1e-9


def partial_fourier_count(n: int, fraction: float) -> int:
    """Lines partial Fourier acquires along an axis of ``n``: ``round(fraction · n)``, at least
    through the centre line. They are the low indices ``0 … count - 1``; the high-k side is missing
    (see :func:`mrdeeprecon.kspace.partial_fourier.acquired_region`)."""
    return min(n, max(round_half_up(fraction * n), n // 2 + 1))
