"""Metric code against values that follow from their definitions."""

import numpy as np
import pytest

from mrdeeprecon import metrics


def test_psnr_of_known_gaussian_noise():
    rng = np.random.default_rng(0)
    ref = np.zeros((4, 64, 64))
    ref[:, 16:48, 16:48] = 100.0
    sigma = 5.0
    noisy = ref + rng.normal(0.0, sigma, ref.shape)
    # PSNR = 20 log10(max / sigma) for white noise of SD sigma.
    assert metrics.psnr(ref, noisy) == pytest.approx(20 * np.log10(100.0 / sigma), abs=0.1)


def test_psnr_identical_is_infinite_and_shape_checked():
    ref = np.ones((2, 8, 8))
    assert metrics.psnr(ref, ref) == float("inf")
    with pytest.raises(ValueError):
        metrics.psnr(ref, np.ones((2, 8, 9)))


def test_ssim_orders_degradations():
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[:64, :64]
    ref = np.stack([np.sin(xx / 5.0) * np.cos(yy / 7.0) * 50 + 100] * 3)
    mild = ref + rng.normal(0, 2, ref.shape)
    strong = ref + rng.normal(0, 20, ref.shape)
    assert metrics.ssim(ref, ref) == pytest.approx(1.0)
    assert 1.0 > metrics.ssim(ref, mild) > metrics.ssim(ref, strong)


def test_noise_estimate_recovers_sigma_on_smooth_image():
    rng = np.random.default_rng(2)
    yy, xx = np.mgrid[:128, :128]
    smooth = np.stack([100 + 20 * np.sin(xx / 30.0) + 10 * np.cos(yy / 25.0)] * 2)
    noisy = smooth + rng.normal(0, 4.0, smooth.shape)
    assert metrics.estimate_noise_sigma(noisy) == pytest.approx(4.0, rel=0.1)


def test_nmse_scales_with_error_energy():
    ref = np.full((2, 4, 4), 10.0)
    assert metrics.nmse(ref, ref * 1.1) == pytest.approx(0.01)
