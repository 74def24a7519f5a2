"""The reference's own k-space band, noise and slice crop, on real data truncated and noised by us."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import shared_path

from mrdeeprecon.errors import MRDeepReconError
from mrdeeprecon.evaluation.reference import crop_slices, describe_reference, estimate_band
from mrdeeprecon.io import load_volume
from mrdeeprecon.kspace.degrade import AxisRoles, DegradationSpec, degrade
from mrdeeprecon.kspace.masks import round_half_up
from mrdeeprecon.volume import Volume


@pytest.fixture(scope="module")
def seg3d_crop() -> np.ndarray:
    """64 slices of the held-out seg3D_MR (T1 with skull, 232 × 160 in-plane), float32."""
    volume = load_volume(shared_path("volumes/seg3D_MR.nii.gz"))
    return np.asarray(volume.data[48:112], dtype=np.float32)


def test_an_untouched_reference_has_its_whole_band(seg3d_crop):
    assert estimate_band(seg3d_crop) == (1.0, 1.0, 1.0)
    # A short axis (here 32 slices) is taken whole, even when it was truncated.
    short = degrade(seg3d_crop[:32], DegradationSpec(kmax=(1, 0.5, 0.5)), rng=0).image
    assert estimate_band(short) == pytest.approx((1.0, 0.5, 1.0), abs=0.02)


@pytest.mark.parametrize(
    "kmax, noise",
    [((0.75, 0.6, 0.8), 0.01), ((1.0, 0.5, 1.0), 0.0), ((0.35, 1.0, 0.6), 0.03)],
)
def test_band_finds_a_zero_padding_we_applied(seg3d_crop, kmax, noise):
    # kmax is (frequency = x, phase = y, slice = z); the estimate is per array axis (z, y, x).
    truncated = degrade(seg3d_crop, DegradationSpec(noise=noise, kmax=kmax), rng=1).image
    band = estimate_band(truncated)
    # The kept extent is round(k·n) samples (masks.centred_extent): 38 of 64 slices for 0.6.
    kept = [round_half_up(k * n) / n for k, n in zip((kmax[2], kmax[1], kmax[0]), seg3d_crop.shape)]
    assert band == pytest.approx(kept, abs=0.025)
    assert band == pytest.approx((kmax[2], kmax[1], kmax[0]), rel=0.05)


def test_band_of_a_slice_by_slice_truncation_leaves_the_slice_axis_whole(seg3d_crop):
    spec = DegradationSpec(noise=0.01, kmax=(0.7, 0.5, 1.0))
    roles = AxisRoles(frequency=1, phase=0)
    truncated = np.stack([degrade(s, spec, roles, rng=2).image for s in seg3d_crop])
    assert estimate_band(truncated) == pytest.approx((1.0, 0.5, 0.7), abs=0.05)


def test_reference_noise_follows_added_white_noise(seg3d_crop):
    own = describe_reference(seg3d_crop)
    assert 0.0 < own.noise_sd < 0.03 * np.percentile(seg3d_crop, 99)  # a low-noise reference
    sigma = 20.0
    noisy = seg3d_crop + np.random.default_rng(3).normal(0, sigma, seg3d_crop.shape).astype(np.float32)
    facts = describe_reference(noisy)
    assert facts.noise_sd == pytest.approx(math.hypot(sigma, own.noise_sd), rel=0.1)
    assert facts.perfect_denoiser_psnr_db == pytest.approx(20 * math.log10(noisy.max() / facts.noise_sd))


def test_reference_noise_inside_a_band(seg3d_crop):
    # Noise added only inside k_max 0.5 along y: the image-domain SD is sigma·sqrt(0.5); the
    # estimator must look inside the band it found, not at the empty corner beyond it.
    spec = DegradationSpec(noise=0.05, kmax=(1.0, 0.5, 1.0))
    result = degrade(seg3d_crop, spec, rng=4)
    inside = result.image > 0.3 * np.percentile(seg3d_crop, 99)  # tissue: Gaussian noise
    added = float(np.std((result.image - result.noise_free)[inside]))
    own = describe_reference(seg3d_crop).noise_sd * math.sqrt(0.5)
    facts = describe_reference(result.image)
    assert facts.band[1] == pytest.approx(0.5, abs=0.02)
    assert facts.noise_sd == pytest.approx(math.hypot(added, own), rel=0.15)


def test_crop_keeps_the_geometry_of_each_voxel():
    direction = np.array([[0.8, -0.6, 0.0], [0.6, 0.8, 0.0], [0.0, 0.0, 1.0]]) @ np.array(
        [[1.0, 0.0, 0.0], [0.0, 0.6, -0.8], [0.0, 0.8, 0.6]]
    )
    volume = Volume(np.arange(6 * 4 * 5, dtype=np.float32).reshape(6, 4, 5), (0.9, 1.1, 2.5), (10.0, -4.0, 7.0), direction)
    crop = crop_slices(volume, 2, 5)
    assert crop.shape == (3, 4, 5) and crop.metadata["slices"] == (2, 5)
    np.testing.assert_array_equal(crop.data, volume.data[2:5])
    voxel = np.array([3, 1, 0, 1.0])
    np.testing.assert_allclose(crop.ijk_to_lps() @ voxel, volume.ijk_to_lps() @ (voxel + [0, 0, 2, 0]))
    for start, stop in ((3, 3), (-1, 2), (0, 7)):
        with pytest.raises(MRDeepReconError, match="slice range"):
            crop_slices(volume, start, stop)
