"""QA change map: noise-like change is not structured, a planted blob is found where it is, edge
changes are told from blobs, and resampling a x2 refined volume onto the original grid is exact."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from mrdeeprecon.qa.change import change_map
from mrdeeprecon.qa.grid import index_to_lps, resample_like
from mrdeeprecon.standardize import resample_kspace
from mrdeeprecon.volume import Volume

SIGMA = 5.0


def _direction() -> np.ndarray:
    angle = np.deg2rad(30)
    return np.array(
        [[1, 0, 0], [0, np.cos(angle), -np.sin(angle)], [0, np.sin(angle), np.cos(angle)]]
    )


def _phantom(blur_mm: float = 1.0) -> tuple[Volume, np.ndarray]:
    """An ellipsoid of 100 with a brighter inner ball, blurred; returns it and its LPS grid."""
    volume = Volume(
        data=np.zeros((36, 56, 56)),
        spacing=(0.9, 0.9, 1.2),
        origin=(-20, 10, -5),
        direction=_direction(),
    )
    k, j, i = np.meshgrid(*(np.arange(n) for n in volume.shape), indexing="ij")
    lps = index_to_lps(volume, np.stack([i, j, k], axis=-1))
    centre = index_to_lps(volume, np.array([27.5, 27.5, 17.5]))
    d = lps - centre
    body = ((d[..., 0] / 22) ** 2 + (d[..., 1] / 22) ** 2 + (d[..., 2] / 18) ** 2 <= 1) * 100.0
    inner = (np.linalg.norm(d - np.array([8.0, 0.0, 0.0]), axis=-1) <= 5.0) * 60.0
    sigma = [blur_mm / s for s in volume.spacing[::-1]]
    return volume.with_data(ndimage.gaussian_filter(body + inner, sigma)), lps


def test_noise_like_change_is_not_structured() -> None:
    clean, _ = _phantom()
    noise = np.random.default_rng(0).normal(0, SIGMA, clean.shape)
    original = clean.with_data(clean.data + noise)
    enhanced = clean.with_data(clean.data + noise / 3)  # a perfect denoiser, factor 3
    result = change_map(original, enhanced)
    assert result.resampling == "identity"
    assert result.sd == pytest.approx(2 / 3 * SIGMA, rel=0.05)
    assert result.structured_energy_fraction < 0.02
    assert result.fraction_above < 1e-3
    assert result.components == ()


def test_planted_blob_is_flagged_at_its_place_with_its_volume() -> None:
    clean, lps = _phantom()
    rng = np.random.default_rng(1)
    noise = rng.normal(0, SIGMA, clean.shape)
    blob_centre = index_to_lps(clean, np.array([20.0, 30.0, 15.0]))  # flat part of the body
    radius = 4.0
    blob = (np.linalg.norm(lps - blob_centre, axis=-1) <= radius) * 30.0
    original = clean.with_data(clean.data + noise)
    enhanced = clean.with_data(clean.data + noise / 2 + blob)
    result = change_map(original, enhanced)
    blobs = [c for c in result.components if c.kind == "blob"]
    assert len(blobs) == 1 and result.components[0] is blobs[0]
    found = blobs[0]
    assert found.sign == 1
    assert np.linalg.norm(np.asarray(found.centroid_lps) - blob_centre) < 1.0
    assert found.volume_mm3 == pytest.approx(4 / 3 * np.pi * radius**3, rel=0.15)
    assert found.mean_change == pytest.approx(30.0, rel=0.1)
    assert found.edge_fraction < 0.5
    assert result.structured_energy_fraction > 0.1


def test_sharpened_edges_are_edge_changes_not_blobs() -> None:
    blurred, _ = _phantom(blur_mm=2.0)
    sharper, _ = _phantom(blur_mm=1.0)
    noise = np.random.default_rng(2).normal(0, SIGMA, blurred.shape)
    result = change_map(
        blurred.with_data(blurred.data + noise), sharper.with_data(sharper.data + noise / 2)
    )
    assert result.components
    assert all(c.kind == "edge" for c in result.components)
    assert result.edge_energy_fraction > 0.5


def _band_limited(shape: tuple[int, int, int], seed: int) -> np.ndarray:
    """A sum of random cosines with frequencies below a quarter of the sampling rate (periodic)."""
    rng = np.random.default_rng(seed)
    grids = np.meshgrid(*(np.arange(n) / n for n in shape), indexing="ij")
    image = np.full(shape, 50.0)
    for _ in range(12):
        k = [rng.integers(-n // 4, n // 4 + 1) for n in shape]
        phase = rng.uniform(0, 2 * np.pi)
        image += rng.uniform(1, 5) * np.cos(
            2 * np.pi * sum(f * g for f, g in zip(k, grids)) + phase
        )
    return image


def test_resampling_a_refined_volume_onto_the_original_grid_is_exact() -> None:
    original = Volume(
        data=_band_limited((8, 32, 40), 3),
        spacing=(0.8, 0.9, 2.0),
        origin=(1, 2, 3),
        direction=_direction(),
    )
    # x2 along i and j with the field of view kept: for even sizes the origin stays
    fine = original.with_data(resample_kspace(original.data, (8, 64, 80)), spacing=(0.4, 0.45, 2.0))
    back = resample_like(fine, original)
    assert back.method == "k-space"
    np.testing.assert_allclose(back.data, original.data, atol=1e-3)
    assert change_map(original, fine).resampling == "k-space"
    # shifted by 0.6 mm along i: not the same field of view, so interpolation is used, and the
    # first column of the original lies outside the shifted volume
    shifted = fine.with_data(
        fine.data, origin=tuple(np.asarray(fine.origin) + 0.6 * _direction()[:, 0])
    )
    other = resample_like(shifted, original)
    assert other.method == "windowed-sinc"
    assert other.coverage == pytest.approx(39 / 40)
    assert not other.covered[:, :, 0].any() and other.covered[:, :, 1:].all()
    # the uncovered column counts as unchanged
    assert np.all(change_map(original, shifted).change[:, :, 0] == 0)
