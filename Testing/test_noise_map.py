"""The wavelet MAD noise estimates (mrdeeprecon.noise_map), global and local, against noise of
known, varying SD."""

import numpy as np
import pytest

from mrdeeprecon.kspace.degrade import AxisRoles, DegradationSpec, degrade
from mrdeeprecon.noise_map import global_noise_sd, local_noise_sd


def test_global_estimate_recovers_sigma_on_smooth_image():
    rng = np.random.default_rng(2)
    yy, xx = np.mgrid[:128, :128]
    smooth = np.stack([100 + 20 * np.sin(xx / 30.0) + 10 * np.cos(yy / 25.0)] * 2)
    noisy = smooth + rng.normal(0, 4.0, smooth.shape)
    assert global_noise_sd(noisy) == pytest.approx(4.0, rel=0.1)


def test_white_noise_sd_is_recovered_everywhere():
    rng = np.random.default_rng(0)
    noise = rng.normal(0.0, 0.1, (3, 120, 96)).astype(np.float32)
    sd = local_noise_sd(noise)
    assert sd.shape == noise.shape and sd.dtype == np.float32
    assert np.median(sd) == pytest.approx(0.1, rel=0.05)
    assert np.percentile(sd, 5) > 0.07 and np.percentile(sd, 95) < 0.13


def test_a_single_slice_keeps_its_shape_and_a_constant_image_has_no_noise():
    assert local_noise_sd(np.ones((40, 50), np.float32)).shape == (40, 50)
    assert np.all(local_noise_sd(np.full((2, 40, 50), 7.0, np.float32)) == 0)


def test_the_map_follows_a_noise_level_that_varies_across_the_image():
    rng = np.random.default_rng(1)
    ramp = np.linspace(0.02, 0.2, 128, dtype=np.float32)[None, None, :]
    sd = local_noise_sd(rng.normal(size=(2, 128, 128)).astype(np.float32) * ramp)
    profile = np.median(sd, axis=(0, 1))
    assert profile[:16].mean() == pytest.approx(0.035, rel=0.35)
    assert profile[-16:].mean() == pytest.approx(0.19, rel=0.15)
    assert np.corrcoef(profile, ramp[0, 0])[0, 1] > 0.95


@pytest.mark.parametrize("kmax", [0.5, 0.7])
def test_band_limited_noise_is_measured_on_the_acquired_matrix(kmax):
    """After zero-padding interpolation the pixel noise SD is σ·sqrt(kf·kp); the map finds it,
    which the finest-scale estimate of the interpolated image (kmax 1) does not."""
    image = np.zeros((128, 128), np.float32)
    result = degrade(image, DegradationSpec(noise=0.1, kmax=(kmax, kmax, 1.0), output="real"),
                     axes=AxisRoles(frequency=0, phase=1), rng=2, reference_level=1.0)
    true_sd = float(np.std(result.image))
    assert np.median(local_noise_sd(result.image, (kmax, kmax))) == pytest.approx(true_sd, rel=0.1)
    assert np.median(local_noise_sd(result.image)) < 0.8 * true_sd


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="slices"):
        local_noise_sd(np.zeros((2, 2, 8, 8), np.float32))
    with pytest.raises(ValueError, match="kmax"):
        local_noise_sd(np.zeros((8, 8), np.float32), (0.0, 1.0))
