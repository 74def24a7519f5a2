"""Classical baselines and the degradation scenario they start from: oracle tuning, the acquired
matrix's geometry, interpolation onto the reference grid, BM4D when installed."""

from __future__ import annotations


import numpy as np
import pytest
from conftest import require_bm4d, shared_path

from mrdeeprecon.context import ScanContext
from mrdeeprecon.errors import MRDeepReconError
from mrdeeprecon.evaluation import baselines
from mrdeeprecon.evaluation.scenario import band_limited_spec, simulate_scenario
from mrdeeprecon.io import load_volume
from mrdeeprecon.kspace.degrade import DegradationSpec
from mrdeeprecon.metrics import psnr
from mrdeeprecon.simulate import simulate_acquisition
from mrdeeprecon.volume import Volume

OBLIQUE = np.array([[0.8, -0.6, 0.0], [0.6, 0.8, 0.0], [0.0, 0.0, 1.0]]) @ np.array(
    [[1.0, 0.0, 0.0], [0.0, 0.6, -0.8], [0.0, 0.8, 0.6]]
)


@pytest.fixture(scope="module")
def brain() -> Volume:
    """8 slices × 64 × 64 of the held-out seg3D_MR (brain centre)."""
    volume = load_volume(shared_path("volumes/seg3D_MR.nii.gz"))
    return volume.with_data(np.ascontiguousarray(volume.data[72:80, 80:144, 48:112], dtype=np.float32))


@pytest.fixture(scope="module")
def noisy(brain) -> tuple[np.ndarray, np.ndarray, float]:
    """(clean, noisy, sigma): Gaussian noise of 6 % of the 99th percentile."""
    clean = brain.data.astype(np.float64)
    sigma = 0.06 * float(np.percentile(clean, 99))
    return clean, clean + np.random.default_rng(0).normal(0, sigma, clean.shape), sigma


def test_oracle_gaussian_beats_no_smoothing(noisy):
    clean, image, _ = noisy
    out = baselines.gaussian_smoothing(image, clean)
    assert psnr(clean, out.image) > psnr(clean, image) + 1.0
    assert "sigma = 0 " not in out.parameter and "oracle" in out.parameter
    assert out.image.dtype == np.float32 and out.tuning_seconds >= out.seconds > 0


def test_oracle_searches_inside_the_mask(noisy):
    clean, image, _ = noisy
    # A mask on an edge-free patch wants more smoothing than the whole image.
    flat = np.zeros(clean.shape, dtype=bool)
    flat[:, 28:36, 28:36] = True
    chosen = [float(baselines.gaussian_smoothing(image, clean, m).parameter.split()[2]) for m in (None, flat)]
    assert chosen[1] >= chosen[0]


def test_nl_means_and_wavelet_denoise(noisy):
    clean, image, sigma = noisy
    nlm = baselines.nl_means(image, sigma, clean)
    assert psnr(clean, nlm.image) > psnr(clean, image) + 1.0
    factor = float(nlm.parameter.split()[2])
    assert factor in baselines.NLM_H_FACTORS
    wavelet = baselines.bayes_shrink(image, sigma)
    assert psnr(clean, wavelet.image) > psnr(clean, image)
    with pytest.raises(MRDeepReconError, match="noise SD"):
        baselines.bayes_shrink(image, 0.0)


def test_bm4d_denoises_with_the_true_sigma(noisy):
    require_bm4d()
    clean, image, sigma = noisy
    out = baselines.bm4d_denoise(image, sigma)
    assert out.image.dtype == np.float32 and out.image.shape == clean.shape
    assert psnr(clean, out.image) > psnr(clean, image) + 2.0


def test_lanczos_reproduces_a_band_limited_signal():
    n, m = 64, 32
    u = (np.arange(m) - m // 2) / m  # centred-FFT positions, FOV units
    x = (np.arange(n) - n // 2) / n
    low = np.cos(2 * np.pi * 3 * u + 0.3)[None, None, :] * np.ones((2, 4, 1))
    out = baselines.lanczos_resample(low, (2, 4, n))
    np.testing.assert_allclose(out[0, 0, 8:-8], np.cos(2 * np.pi * 3 * x + 0.3)[8:-8], atol=0.01)
    np.testing.assert_array_equal(baselines.lanczos_resample(low, low.shape), low)


def _blob_volume() -> Volume:
    z, y, x = np.meshgrid(*(np.arange(n, dtype=np.float64) for n in (16, 48, 40)), indexing="ij")
    data = 100 * np.exp(-(((z - 7.6) / 4.0) ** 2 + ((y - 22.3) / 7.0) ** 2 + ((x - 21.1) / 6.0) ** 2))
    return Volume(data.astype(np.float32), (0.9, 1.1, 2.0), (10.0, -4.0, 7.0), OBLIQUE)


@pytest.mark.parametrize("acquisition", ["2D", "3D"])
def test_scenario_is_the_degrade_command_and_keeps_the_acquired_matrix(brain, acquisition):
    spec = DegradationSpec(noise=0.05, kmax=(0.75, 0.5, 1.0 if acquisition == "2D" else 0.5))
    context = ScanContext(acquisition=acquisition, phase_axis=2)
    foreground = brain.data > np.percentile(brain.data, 30)
    scenario = simulate_scenario(brain, spec, context, 7, foreground)
    expected, expected_context = simulate_acquisition(brain, spec, context, seed=7)
    np.testing.assert_array_equal(scenario.degraded.data, expected.data)
    assert scenario.context == expected_context
    # phase along x (0.5 of 64), frequency along y (0.75 of 64), slices halved only in 3D
    assert scenario.low_resolution.shape == ((8 if acquisition == "2D" else 4), 48, 32)
    assert scenario.noise_sigma == pytest.approx(0.05 * np.percentile(brain.data, 99), rel=1e-6)
    # Image-domain noise SD of noise added on a fraction f of k-space: sigma · sqrt(f).
    fraction = 0.75 * 0.5 * (1.0 if acquisition == "2D" else 0.5)
    assert scenario.noise_sd == pytest.approx(scenario.noise_sigma * np.sqrt(fraction), rel=0.1)


def test_interpolations_land_on_the_reference_grid():
    volume = _blob_volume()
    context = ScanContext(acquisition="3D", phase_axis=1)
    spec = DegradationSpec(kmax=(0.375, 0.5, 0.5))  # x: 15 of 40 samples, an odd matrix
    scenario = simulate_scenario(volume, spec, context, 0, np.ones(volume.shape, dtype=bool))
    low = scenario.low_resolution
    assert low.shape == (8, 24, 15)
    np.testing.assert_allclose(low.spacing, (2.4, 2.2, 4.0))
    # Its sample 7 along x is the reference's sample 20 (both the centre of the FOV).
    centre = volume.ijk_to_lps() @ [20, 24, 8, 1]
    np.testing.assert_allclose(low.ijk_to_lps() @ [7, 12, 4, 1], centre, atol=1e-9)
    zerofill = scenario.degraded.data
    inner = (slice(1, -1), slice(2, -2), slice(2, -2))  # the periodic sinc differs at the borders
    for kind in baselines.INTERPOLATIONS:
        out = baselines.interpolate(low, volume, kind)
        assert out.image.shape == volume.shape and out.image.dtype == np.float32
        # A smooth blob: any interpolation agrees with the sinc (zero-filled) one, which a
        # misplacement of the acquired matrix by half its voxel along any axis would break.
        error = np.abs(out.image - zerofill)[inner].max() / zerofill.max()
        for axis in range(3):
            shifted = np.abs(np.roll(out.image, 1, axis=axis) - zerofill)[inner].max() / zerofill.max()
            assert error < 0.03 < shifted / 3, (kind, axis)
    with pytest.raises(MRDeepReconError, match="unknown interpolation"):
        baselines.interpolate(low, volume, "nearest")


def test_band_limits_the_requested_kmax_per_encoding_direction():
    spec = DegradationSpec(noise=0.1, kmax=(1.0, 0.5, 0.5))
    band_zyx = (0.9, 0.8, 0.7)
    two_d = band_limited_spec(spec, band_zyx, ScanContext(acquisition="2D", phase_axis=1))
    assert two_d.kmax == pytest.approx((0.7, 0.4, 0.5))  # frequency x, phase y; no slice band in 2D
    three_d = band_limited_spec(spec, band_zyx, ScanContext(acquisition="3D", phase_axis=2))
    assert three_d.kmax == pytest.approx((0.8, 0.35, 0.45))
    assert three_d.noise == 0.1
