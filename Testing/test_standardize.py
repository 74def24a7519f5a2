"""Standardisation: reversibility, working-grid shapes, sinc interpolation, invariance."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mrdeeprecon.context import ScanContext
from mrdeeprecon.errors import MRDeepReconError
from mrdeeprecon.standardize import (
    denormalize,
    destandardize,
    intensity_range,
    normalize,
    resample_kspace,
    standardize,
)


def _volume(shape: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random(shape) * 900 + 100).astype(np.float32)


def _band_limited(shape: tuple[int, int, int], band: int, seed: int = 0) -> np.ndarray:
    """Real image whose centred k-space is non-zero only within ``band`` samples of the centre
    along every axis (no Nyquist energy)."""
    rng = np.random.default_rng(seed)
    grids = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    image = np.full(shape, 5.0)
    for _ in range(12):
        freqs = rng.integers(-band, band + 1, size=3)
        phase = rng.uniform(0, 2 * np.pi)
        arg = sum(2 * np.pi * f * (g - n // 2) / n for f, g, n in zip(freqs, grids, shape))
        image += rng.uniform(0.2, 1.0) * np.cos(arg + phase)
    return image.astype(np.float32)


@pytest.mark.parametrize("phase_axis", [1, 2])
def test_round_trip_without_super_resolution(phase_axis: int) -> None:
    data = _volume((3, 20, 28))
    std = standardize(data, ScanContext(phase_axis=phase_axis))
    expected_shape = (3, 28, 20) if phase_axis == 1 else (3, 20, 28)
    assert std.data.shape == expected_shape
    assert std.data.dtype == torch.float32 and std.data.is_contiguous()
    back = destandardize(std.data, std.record)
    assert back.dtype == torch.float32 and back.is_contiguous()
    np.testing.assert_allclose(back.numpy(), data, rtol=0, atol=1e-6 * np.abs(data).max())


@pytest.mark.parametrize("phase_axis", [1, 2])
def test_zero_padded_borders_are_cropped_and_restored(phase_axis: int) -> None:
    data = np.zeros((4, 32, 32), dtype=np.float32)
    data[1:3, 5:29, 8:20] = _volume((2, 24, 12))
    std = standardize(data, ScanContext(phase_axis=phase_axis))
    assert std.data.shape == ((2, 12, 24) if phase_axis == 1 else (2, 24, 12))
    back = destandardize(std.data, std.record).numpy()
    np.testing.assert_allclose(back, data, rtol=0, atol=1e-6 * data.max())
    assert (back[:, :5] == 0).all() and (back[:, :, 20:] == 0).all()


@pytest.mark.parametrize("factor", [1.5, 2.0])
def test_working_grid_shapes_with_super_resolution(factor: float) -> None:
    data = np.zeros((5, 40, 30), dtype=np.float32)
    data[:, 4:36, :] = _volume((5, 32, 30))
    context = ScanContext(phase_axis=1)  # phase along y → transposed: (z, x, y)
    std = standardize(data, context, super_resolution=(factor, 1.0, factor))
    record = std.record
    # standard orientation: axis 1 = frequency (x here), axis 2 = phase (y here)
    assert std.data.shape == (round(5 * factor), round(30 * factor), 32)
    assert record.super_resolution == (factor, 1.0, factor)  # (frequency, phase, slice), as requested
    back = destandardize(std.data, record).numpy()
    assert back.shape == (round(5 * factor), 40, round(30 * factor)) == record.output_shape
    assert (back[:, :4] == 0).all() and (back[:, 36:] == 0).all()


def test_zero_padding_interpolation_is_exact_for_band_limited_signal() -> None:
    image = _band_limited((6, 24, 32), band=4)
    fine = resample_kspace(image, (12, 48, 64))
    np.testing.assert_allclose(fine[::2, ::2, ::2], image, atol=1e-5 * np.abs(image).max())
    assert abs(fine.mean() - image.mean()) < 1e-5 * abs(image.mean())


def test_resampling_keeps_the_centre_sample_in_place() -> None:
    image = _band_limited((1, 15, 20), band=3)
    fine = resample_kspace(image, (1, 23, 30))  # ×1.5, odd and even sizes
    assert fine[0, 23 // 2, 30 // 2] == pytest.approx(image[0, 15 // 2, 20 // 2], abs=1e-4)


def test_standardised_output_is_invariant_to_linear_rescaling() -> None:
    data = _volume((2, 24, 24), seed=3)
    context = ScanContext(phase_axis=2)
    reference = standardize(data, context, (1.5, 2.0, 1.0))
    rescaled = standardize(data.astype(np.float64) * 3.7 + 250.0, context, (1.5, 2.0, 1.0))
    np.testing.assert_allclose(rescaled.data.numpy(), reference.data.numpy(), atol=1e-5)
    assert rescaled.record.lo == pytest.approx(reference.record.lo * 3.7 + 250.0)


def test_normalize_helpers_are_inverse_and_use_percentiles() -> None:
    data = np.linspace(0.0, 100.0, 1001, dtype=np.float32)
    lo, hi = intensity_range(data)
    assert (lo, hi) == pytest.approx((1.0, 99.0))
    normalized = normalize(torch.from_numpy(data), lo, hi)
    assert normalized.dtype == torch.float32
    np.testing.assert_allclose(denormalize(normalized, lo, hi).numpy(), data, atol=1e-4)


@pytest.mark.parametrize("shape", [(1, 1, 7), (2, 3, 4), (5, 41, 43)])
def test_intensity_range_is_numpy_s_percentile(shape) -> None:
    """Exact order statistics with numpy's linear interpolation, ties and skew included."""
    rng = np.random.default_rng(sum(shape))
    data = np.round(rng.gamma(0.5, 100.0, shape)).astype(np.float32)
    data.flat[0] = 1e6
    assert intensity_range(torch.from_numpy(data)) == pytest.approx(tuple(np.percentile(data, (1, 99))), rel=1e-6)


def test_constant_image_is_a_clear_error() -> None:
    with pytest.raises(MRDeepReconError, match="constant image"):
        standardize(np.full((1, 8, 8), 7.0), ScanContext())
    with pytest.raises(MRDeepReconError, match="constant image"):
        standardize(np.zeros((1, 8, 8)), ScanContext())


def test_input_is_not_modified() -> None:
    data = _volume((2, 16, 16))
    copy = data.copy()
    std = standardize(data, ScanContext(phase_axis=1), (2.0, 1.0, 1.0))
    std.data += 1
    np.testing.assert_array_equal(data, copy)


def test_destandardize_rejects_wrong_shape() -> None:
    std = standardize(_volume((1, 16, 16)), ScanContext())
    with pytest.raises(MRDeepReconError, match="expects shape"):
        destandardize(std.data[:, :8], std.record)


@pytest.mark.parametrize(
    ("shape", "factors"), [((1, 25, 20), (1.0, 2.0, 1.0)), ((3, 17, 14), (1.5, 2.0, 1.0))]
)
def test_working_grid_places_output_samples_exactly(shape, factors) -> None:
    """Wherever ``offset + f · step`` is an input index, the output sample equals the input one."""
    image = _band_limited(shape, band=3, seed=1)
    context = ScanContext(phase_axis=1)
    std = standardize(image, context, factors)
    fine = destandardize(std.data, std.record).numpy()
    grids = []
    for (step, offset), n_out in zip(std.record.working_grid(), fine.shape):
        position = offset + np.arange(n_out) * step
        on_input = np.flatnonzero(np.isclose(position, np.round(position)) & (position > -0.5))
        grids.append((on_input, np.round(position[on_input]).astype(int)))
    (fz, iz), (fy, iy), (fx, ix) = grids
    assert min(len(fy), len(fx)) >= 5
    np.testing.assert_allclose(
        fine[np.ix_(fz, fy, fx)], image[np.ix_(iz, iy, ix)], atol=1e-4 * np.abs(image).max()
    )


def test_working_grid_without_resampling_is_identity() -> None:
    data = np.zeros((2, 12, 10), dtype=np.float32)
    data[:, 3:9, 1:7] = _volume((2, 6, 6))
    std = standardize(data, ScanContext(phase_axis=1))
    assert std.record.working_grid() == ((1.0, 0.0), (1.0, 0.0), (1.0, 0.0))
