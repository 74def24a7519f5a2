"""Sampling masks: k_max extent, uniform and random undersampling rates, elliptical, partial Fourier."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mrdeeprecon.kspace import masks, partial_fourier


def _half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


@pytest.mark.parametrize("n, fraction", [(256, 0.5), (256, 0.7), (255, 0.5), (64, 1.0), (10, 0.01)])
def test_centred_extent_is_a_centred_kspace(n: int, fraction: float) -> None:
    extent = masks.centred_extent(n, fraction)
    m = extent.stop - extent.start
    assert m == max(1, _half_up(n * fraction))
    # The cut-out keeps DC at its own centre index m // 2, so it is a centred k-space itself.
    assert extent.start + m // 2 == n // 2
    assert 0 <= extent.start and extent.stop <= n


@pytest.mark.parametrize(
    "n, r, calibration", [(256, 2, 24), (256, 3, 24), (255, 4, 16), (128, 4, 0), (100, 3, 7)]
)
def test_uniform_lines_lattice_and_calibration(n: int, r: int, calibration: int) -> None:
    mask = masks.uniform_lines(n, r, calibration)
    centre = n // 2
    lattice = {i for i in range(n) if (i - centre) % r == 0}
    start = centre - calibration // 2
    calib = set(range(start, start + calibration))
    assert set(np.flatnonzero(mask)) == lattice | calib
    assert mask[centre]
    # Nominal rate: away from the calibration block exactly one line in R.
    outer = [i for i in range(n) if i not in calib]
    assert abs(mask[outer].sum() - len(outer) / r) <= 1


@pytest.mark.parametrize(
    "shape, r, calibration",
    [
        ((256,), 2.0, 24),
        ((256,), 3.3, 24),
        ((255,), 1.7, 10),
        ((32, 64), 4.0, 12),
        ((24, 96), 2.5, 24),
        ((32,), 8.0, 24),
    ],
)
def test_random_pattern_hits_the_rate_exactly(shape: tuple[int, ...], r: float, calibration: int) -> None:
    mask = masks.random_pattern(shape, r, calibration, torch.Generator().manual_seed(3))[0].numpy()
    total = math.prod(shape)
    assert mask.sum() == _half_up(total / r)
    # The calibration block is fully sampled (shrunk only when it alone exceeds the budget).
    sides = [min(calibration, n) for n in shape]
    if math.prod(sides) > mask.sum():  # budget below the block (1D cases here): all samples central
        sides = [int(mask.sum())]
    block = tuple(slice(n // 2 - s // 2, n // 2 - s // 2 + s) for n, s in zip(shape, sides))
    assert mask[block].all()


def test_random_pattern_has_variable_density() -> None:
    n = 512
    mask = masks.random_pattern((n,), 3.0, 0, torch.Generator().manual_seed(0))[0].numpy()
    k = np.abs(np.arange(n) - n // 2)
    inner, outer = mask[k < n // 8].mean(), mask[k >= 3 * n // 8].mean()
    assert inner > 2.5 * outer


def test_random_pattern_seeded() -> None:
    a = masks.random_pattern((64, 96), 3.0, 12, torch.Generator().manual_seed(11))[0].numpy()
    b = masks.random_pattern((64, 96), 3.0, 12, torch.Generator().manual_seed(11))[0].numpy()
    c = masks.random_pattern((64, 96), 3.0, 12, torch.Generator().manual_seed(12))[0].numpy()
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.sum() == c.sum()


def test_elliptical_is_inscribed() -> None:
    mask = masks.elliptical((64, 96))
    assert mask[32, :].all() and mask[:, 48].all()  # both axes through the centre kept whole
    assert not mask[0, 0] and not mask[-1, -1] and not mask[0, -1] and not mask[-1, 0]
    assert mask.mean() == pytest.approx(np.pi / 4, abs=0.02)


@pytest.mark.parametrize("n, fraction", [(256, 0.625), (255, 0.75), (128, 0.5), (96, 1.0), (20, 0.55)])
def test_partial_fourier_lines(n: int, fraction: float) -> None:
    count = masks.partial_fourier_count(n, fraction)
    mask = partial_fourier.acquired_region((n,), {0: count})
    assert count == max(_half_up(n * fraction), n // 2 + 1)
    assert mask[:count].all() and not mask[count:].any()  # low side kept, high-k side missing
    assert mask[n // 2]  # the centre is always acquired


def test_place_puts_pattern_dimensions_on_the_named_axes() -> None:
    plane = masks.place(np.arange(6).reshape(2, 3), [2, 0], 3)  # dims go to axes 2 and 0
    assert plane.shape == (3, 1, 2)
    assert plane[2, 0, 1] == 5
