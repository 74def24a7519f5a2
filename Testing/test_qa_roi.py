"""QA ROI statistics: noise SD, SNR, noise-reduction ratio, detrending, voxel counts, own-grid
measurement of a super-resolved output, automatic homogeneous ROI."""

from __future__ import annotations

import numpy as np
import pytest

from mrdeeprecon.errors import MRDeepReconError
from mrdeeprecon.qa.grid import index_to_lps
from mrdeeprecon.qa.roi import (
    BoxROI,
    MaskROI,
    SphereROI,
    compare_roi,
    find_homogeneous_roi,
    region_stats,
)
from mrdeeprecon.volume import Volume


def _rotation(angle_deg: float = 20.0) -> np.ndarray:
    """An oblique direction matrix (rotation about an axis not aligned with LPS)."""
    axis = np.array([1.0, 2.0, 2.0]) / 3.0
    a = np.deg2rad(angle_deg)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * k @ k


def _volume(
    data: np.ndarray, spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0), direction=None
) -> Volume:
    return Volume(
        data=np.asarray(data, dtype=np.float32),
        spacing=spacing,
        origin=origin,
        direction=np.eye(3) if direction is None else direction,
    )


def test_sd_snr_and_noise_ratio_of_known_gaussian_noise() -> None:
    rng = np.random.default_rng(0)
    sigma, level = 5.0, 100.0
    noise = rng.normal(0.0, sigma, (40, 40, 40))
    original = _volume(
        level + noise, spacing=(0.9, 1.1, 1.3), origin=(-5, 7, 30), direction=_rotation()
    )
    enhanced = original.with_data((level + noise / 2).astype(np.float32))
    box = BoxROI.from_indices(original, (5, 5, 5), (35, 35, 35))

    stats = region_stats(box, original)
    assert stats.voxels == 30**3
    assert stats.sd_detrended == pytest.approx(sigma, rel=0.03)
    assert stats.sd == pytest.approx(sigma, rel=0.03)
    assert stats.snr == pytest.approx(level / sigma, rel=0.03)
    assert stats.mean == pytest.approx(level, abs=0.2)

    comparison = compare_roi(box, original, enhanced, requested_noise_reduction=2.0)
    assert comparison.measured_noise_reduction == pytest.approx(2.0, rel=1e-5)
    assert comparison.relative_error == pytest.approx(0.0, abs=1e-5)
    assert comparison.enhanced.snr == pytest.approx(2 * comparison.original.snr, rel=1e-3)
    assert "detrended" in comparison.noise_sd
    assert compare_roi(box, original, enhanced, 2.5).relative_error == pytest.approx(
        2 / 2.5 - 1, rel=1e-4
    )
    assert compare_roi(box, original, enhanced).relative_error is None


def test_detrended_sd_ignores_shading() -> None:
    rng = np.random.default_rng(1)
    sigma = 4.0
    volume = _volume(np.zeros((30, 30, 30)), spacing=(1.0, 1.2, 1.5), direction=_rotation(35))
    k, j, i = np.meshgrid(*(np.arange(n) for n in volume.shape), indexing="ij")
    lps = index_to_lps(volume, np.stack([i, j, k], axis=-1))
    shading = 100 + 3.0 * lps[..., 0] - 2.0 * lps[..., 2]  # intensity per mm along L and S
    shaded = volume.with_data((shading + rng.normal(0, sigma, volume.shape)).astype(np.float32))
    stats = region_stats(SphereROI.from_indices(shaded, (15, 15, 15), 12.0), shaded)
    assert stats.sd > 3 * sigma  # the plain SD sees the shading
    assert stats.sd_detrended == pytest.approx(sigma, rel=0.04)


def test_voxel_counts_of_box_sphere_and_mask() -> None:
    grid = _volume(np.zeros((30, 40, 40)))
    assert (
        region_stats(BoxROI.from_indices(grid, (3, 4, 5), (13, 10, 8)), grid).voxels == 10 * 6 * 3
    )
    # faces halfway between voxel centres: 10 x 6 x 4 centres inside
    box = BoxROI(centre=(20.5, 20.5, 15.5), size=(10.0, 6.0, 4.0))
    assert region_stats(box, grid).voxels == 240

    oblique = _volume(
        np.zeros((30, 40, 40)), spacing=(0.7, 0.8, 1.9), origin=(3, -4, 5), direction=_rotation(50)
    )
    assert (
        region_stats(BoxROI.from_indices(oblique, (2, 3, 4), (22, 13, 9)), oblique).voxels
        == 20 * 10 * 5
    )

    fine = _volume(np.zeros((60, 60, 60)), spacing=(0.5, 0.5, 0.5), direction=_rotation(10))
    sphere = SphereROI(centre=tuple(index_to_lps(fine, np.array([30.2, 29.7, 30.1]))), radius=8.0)
    stats = region_stats(sphere, fine)
    assert stats.volume_mm3 == pytest.approx(4 / 3 * np.pi * 8.0**3, rel=0.02)

    rng = np.random.default_rng(2)
    mask = rng.random(grid.shape) < 0.1
    roi = MaskROI.on(grid, mask)
    assert region_stats(roi, grid).voxels == mask.sum()
    # a grid refined x2 along every axis, cells tiling the original's cells: 8 voxels per voxel
    refined = _volume(np.zeros((60, 80, 80)), spacing=(0.5, 0.5, 0.5), origin=(-0.25, -0.25, -0.25))
    assert region_stats(roi, refined).voxels == 8 * mask.sum()


def test_super_resolved_output_is_measured_on_its_own_voxels() -> None:
    rng = np.random.default_rng(3)
    original = _volume(100 + rng.normal(0, 4.0, (20, 30, 30)))
    # x2 in-plane with the field of view kept: fine voxel cells tile the original's cells
    enhanced = _volume(
        100 + rng.normal(0, 2.0, (20, 60, 60)), spacing=(0.5, 0.5, 1.0), origin=(-0.25, -0.25, 0.0)
    )
    box = BoxROI.from_indices(original, (5, 5, 5), (25, 25, 15))
    comparison = compare_roi(box, original, enhanced, requested_noise_reduction=2.0)
    assert comparison.original.voxels == 20 * 20 * 10
    assert comparison.enhanced.voxels == 4 * comparison.original.voxels
    # interpolating the fine white noise onto the original's centres would halve its SD
    assert comparison.enhanced.sd_detrended == pytest.approx(2.0, rel=0.03)
    assert comparison.measured_noise_reduction == pytest.approx(2.0, rel=0.04)


def test_auto_roi_lands_in_the_flat_region() -> None:
    rng = np.random.default_rng(4)
    shape, sigma = (30, 64, 64), 3.0
    z, y, x = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    inside = (z >= 3) & (z < 27) & (y >= 8) & (y < 56) & (x >= 8) & (x < 56)
    texture = 25 * np.sin(2 * np.pi * x / 6) * np.sin(2 * np.pi * y / 6) * (x >= 32)
    data = np.where(inside, 100 + texture, 0.0) + rng.normal(0, sigma, shape)
    volume = _volume(data, spacing=(1.0, 1.0, 1.0), origin=(10, 20, 30))
    roi = find_homogeneous_roi(volume, size_mm=8.0)
    assert roi.size == pytest.approx((8.0, 8.0, 8.0))
    corners = roi.corners()
    assert np.all(corners[:, 0] - 10 < 32 - 0.5 + 1e-6)  # every voxel in the flat half (x < 32)
    assert np.all(corners[:, 0] - 10 > 8 - 0.5 - 1e-6)  # and inside the object
    stats = region_stats(roi, volume)
    assert stats.voxels == 512
    assert stats.sd_detrended == pytest.approx(sigma, rel=0.1)  # no downward selection bias


def test_auto_roi_keeps_its_precision_on_a_large_offset() -> None:
    """The box scores are float32 (memory): on an image whose texture is 1e-4 of its level, the
    variance E[s²] − E[s]² must still find the flat half (a plain float32 sum of squares would not
    resolve it)."""
    shape = (20, 64, 64)
    z, y, x = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    inside = (z >= 2) & (z < 18) & (y >= 8) & (y < 56) & (x >= 8) & (x < 56)
    texture = 2.0 * np.sin(2 * np.pi * x / 12) * np.sin(2 * np.pi * y / 12) * (x < 32)
    data = np.where(inside, 20000.0 + texture, 0.0) + np.random.default_rng(2).normal(0, 0.05, shape)
    corners = find_homogeneous_roi(_volume(data.astype(np.float32)), size_mm=8.0).corners()
    assert np.all(corners[:, 0] > 32 - 0.5 - 1e-6)  # every voxel in the flat half (x >= 32)


def test_auto_roi_does_not_pick_the_lowest_noise_realisation() -> None:
    # on a flat noisy object every box is equally homogeneous; choosing by the raw local SD would
    # pick the box whose noise happens to be lowest (about 12 % low here)
    ratios = []
    for seed in range(4):
        rng = np.random.default_rng(10 + seed)
        data = np.zeros((30, 64, 64))
        data[3:27, 8:56, 8:56] = 100.0
        volume = _volume(data + rng.normal(0, 3.0, data.shape))
        ratios.append(region_stats(find_homogeneous_roi(volume), volume).sd_detrended / 3.0)
    assert np.mean(ratios) == pytest.approx(1.0, abs=0.04)


def test_roi_errors() -> None:
    volume = _volume(np.zeros((10, 10, 10)))
    with pytest.raises(MRDeepReconError, match="voxel"):
        region_stats(SphereROI(centre=(100.0, 100.0, 100.0), radius=2.0), volume)
    with pytest.raises(MRDeepReconError, match="shape"):
        MaskROI.on(volume, np.ones((5, 5, 5), dtype=bool))
    with pytest.raises(MRDeepReconError, match="start < stop"):
        BoxROI.from_indices(volume, (5, 5, 5), (5, 6, 6))
    with pytest.raises(MRDeepReconError, match="foreground"):
        find_homogeneous_roi(_volume(np.random.default_rng(0).random((10, 10, 10))), size_mm=50.0)


def test_auto_roi_on_a_coarse_epi_grid_holds_enough_voxels() -> None:
    """A 64² EPI at 3.25 × 3.25 × 3.6 mm: 8 mm is 2 voxels per axis, 8 in all; the box grows to 4
    voxels in-plane so that its statistics (at least MIN_VOXELS, a planar detrend) exist."""
    rng = np.random.default_rng(5)
    data = np.zeros((35, 64, 64))
    data[4:31, 12:52, 12:52] = 500.0
    volume = _volume(data + rng.normal(0, 10.0, data.shape), spacing=(3.25, 3.25, 3.6))
    roi = find_homogeneous_roi(volume)
    stats = region_stats(roi, volume)
    assert stats.voxels == 4 * 4 * 2
    assert stats.sd_detrended == pytest.approx(10.0, rel=0.35)
