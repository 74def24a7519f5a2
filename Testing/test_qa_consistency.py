"""QA low-frequency k-space consistency on a real volume with the real engine: a true enhancement
and a noise-removal oracle are not flagged, a planted blob flags exactly its slice; the band mask,
the noise-removal expectation and the slice-band projection of 3D acquisitions."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import shared_path
from scipy import ndimage

from mrdeeprecon import enhance
from mrdeeprecon.context import ScanContext
from mrdeeprecon.io import load_volume
from mrdeeprecon.kspace.degrade import DegradationSpec
from mrdeeprecon.kspace.fft import fftc, ifftc
from mrdeeprecon.qa.consistency import acquired_band, kspace_consistency
from mrdeeprecon.qa.foreground import foreground_mask
from mrdeeprecon.qa.grid import index_to_lps
from mrdeeprecon.settings import EnhanceSettings
from mrdeeprecon.simulate import simulate_acquisition
from mrdeeprecon.volume import Volume

SLICES = slice(68, 92)  # 24 slices through the middle of the head
PLANTED_SLICE = 12


@pytest.fixture(scope="module")
def real_case() -> dict:
    """seg3D_MR (held out from training), noise added in k-space (σ 3 % of the 99th percentile,
    magnitude), enhanced by the bundled 2D model with noise reduction 3."""
    volume = load_volume(shared_path("volumes/seg3D_MR.nii.gz"))
    clean = volume.with_data(volume.data[SLICES].astype(np.float32))
    original, context = simulate_acquisition(
        clean, DegradationSpec(noise=0.03), ScanContext(), seed=1
    )
    enhanced = enhance(
        original, EnhanceSettings(noise_reduction=3.0, model_kind="2d", device="cpu"), context
    )
    return {"clean": clean, "original": original, "enhanced": enhanced, "context": context}


def _planted(case: dict, amplitude_fraction: float, radius_mm: float = 4.0) -> Volume:
    """The enhanced volume with a disk of ``radius_mm`` in slice PLANTED_SLICE, at the foreground's
    centre of mass, of ``amplitude_fraction`` × the tissue level (median foreground intensity)."""
    enhanced = case["enhanced"]
    foreground = foreground_mask(case["original"])
    tissue = float(np.median(case["original"].data[foreground]))
    y0, x0 = (float(c) for c in np.argwhere(foreground[PLANTED_SLICE]).mean(axis=0))
    j, i = np.meshgrid(*(np.arange(n) for n in enhanced.shape[1:]), indexing="ij")
    ijk = np.stack([i, j, np.full(i.shape, PLANTED_SLICE)], axis=-1)
    centre = index_to_lps(enhanced, np.array([x0, y0, PLANTED_SLICE]))
    disk = np.linalg.norm(index_to_lps(enhanced, ijk) - centre, axis=-1) <= radius_mm
    data = enhanced.data.copy()
    data[PLANTED_SLICE][disk] += amplitude_fraction * tissue
    return enhanced.with_data(data)


def test_true_enhancement_is_not_flagged(real_case: dict) -> None:
    result = kspace_consistency(
        real_case["original"], real_case["enhanced"], real_case["context"], 3.0
    )
    assert result.resampling == "identity"
    assert all(r is not None for r in result.residuals)
    assert result.flagged == ()
    assert max(result.residuals) < min(result.thresholds)


@pytest.mark.parametrize("amplitude", [0.3, -0.3])
def test_planted_blob_flags_exactly_its_slice(real_case: dict, amplitude: float) -> None:
    result = kspace_consistency(
        real_case["original"], _planted(real_case, amplitude), real_case["context"], 3.0
    )
    assert result.flagged == (PLANTED_SLICE,)


def test_noise_removal_oracle_is_not_flagged(real_case: dict) -> None:
    # "enhanced" = the clean volume: exactly the noise was removed (requested factor unknown)
    result = kspace_consistency(real_case["original"], real_case["clean"], real_case["context"])
    assert result.flagged == ()
    assert result.noise_reduction is None


def test_noise_removal_residual_matches_its_expectation() -> None:
    # a smooth phantom (little signal in the corners of k-space) with white Gaussian noise,
    # denoised exactly by a factor 3
    rng = np.random.default_rng(0)
    z, y, x = np.meshgrid(
        np.arange(12), np.linspace(-1, 1, 96), np.linspace(-1, 1, 80), indexing="ij"
    )
    disk = 200.0 * (x**2 + y**2 < 0.7) * (1 + 0.3 * np.cos(3 * x) * np.sin(2 * y))
    clean = ndimage.gaussian_filter(disk, (0, 2, 2))
    noise = rng.normal(0, 6.0, clean.shape)
    original = Volume(data=clean + noise, spacing=(0.9, 0.9, 3.0))
    enhanced = original.with_data(clean + noise / 3)
    result = kspace_consistency(original, enhanced, ScanContext(phase_axis=2), 3.0)
    assert result.noise_sigma_k == pytest.approx(6.0, rel=0.1)
    ratios = np.asarray(result.residuals) / np.asarray(result.expected)
    assert ratios.mean() == pytest.approx(1.0, abs=0.05)
    np.testing.assert_allclose(ratios, 1.0, atol=0.25)  # 168 core samples, correlated by the window
    assert result.flagged == ()


def test_acquired_band_follows_kmax_partial_fourier_and_phase_axis() -> None:
    context = ScanContext(phase_axis=2, kmax=(0.5, 0.75, 1.0), partial_fourier=(0.625, 1.0))
    band = acquired_band((64, 80), context)  # frequency along y (64), phase along x (80)
    rows, columns = np.flatnonzero(band.any(axis=1)), np.flatnonzero(band.any(axis=0))
    # 31 of 64 frequency samples: -16 has no +16 partner
    assert (rows.min(), rows.max()) == (32 - 15, 32 + 15)
    # 60 of 80 phase lines, of which partial Fourier keeps the low-index 62.5 %: 38 lines
    assert (columns.min(), columns.size) == (40 - 30, 38)
    assert band.sum() == 31 * 38
    full = acquired_band((64, 80), ScanContext(phase_axis=1, kmax=(0.5, 0.75, 1.0)))
    assert full.sum() == 39 * 47  # x: 40 samples -> 39; y: 48 lines -> 47
    np.testing.assert_array_equal(
        full, full[::-1, ::-1][np.r_[-1, :63]][:, np.r_[-1, :79]]
    )  # symmetric


def test_3d_acquisition_compares_only_the_acquired_slice_band() -> None:
    rng = np.random.default_rng(1)
    shape = (32, 48, 48)
    z, y, x = np.meshgrid(*(np.linspace(-1, 1, n) for n in shape), indexing="ij")
    clean = 100.0 * (x**2 + y**2 + z**2 < 0.6)
    # the original holds only the central half of the slice frequencies (kmax slice 0.5)
    line = np.zeros(shape[0], dtype=bool)
    line[8:24] = True
    original = ifftc(fftc(clean, (0,)) * line[:, None, None], (0,)).real + rng.normal(0, 1.0, shape)
    # the enhancement restores the missing slice frequencies, i.e. the clean volume
    context3d = ScanContext(acquisition="3D", kmax=(1.0, 1.0, 0.5))
    result = kspace_consistency(Volume(original), Volume(clean), context3d)
    assert result.slice_projection
    assert result.flagged == ()
    # read as a 2D acquisition the restored slice frequencies count as inconsistency
    as_2d = kspace_consistency(Volume(original), Volume(clean), ScanContext())
    assert not as_2d.slice_projection
    assert np.nanmax(np.asarray(as_2d.residuals, dtype=float)) > 3 * np.nanmax(
        np.asarray(result.residuals, dtype=float)
    )
