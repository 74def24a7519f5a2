"""Metric code against values that follow from their definitions."""

import numpy as np
import pytest

from mrdeeprecon import metrics
from mrdeeprecon.errors import MRDeepReconError


def _textured(shape=(3, 64, 64)) -> np.ndarray:
    yy, xx = np.mgrid[: shape[1], : shape[2]]
    return np.stack([np.sin(xx / 5.0 + z) * np.cos(yy / 7.0) * 50 + 100 for z in range(shape[0])])


def test_psnr_of_known_gaussian_noise():
    rng = np.random.default_rng(0)
    ref = np.zeros((8, 256, 256))
    ref[:, 64:192, 64:192] = 100.0
    sigma = 5.0
    noisy = ref + rng.normal(0.0, sigma, ref.shape)
    # PSNR = 20 log10(max / sigma) for white noise of SD sigma (524 288 samples: MSE within 0.4 %).
    assert metrics.psnr(ref, noisy) == pytest.approx(20 * np.log10(100.0 / sigma), abs=0.05)


def test_psnr_identical_is_infinite_and_shape_checked():
    ref = np.ones((2, 8, 8))
    assert metrics.psnr(ref, ref) == float("inf")
    with pytest.raises(MRDeepReconError, match="shape mismatch"):
        metrics.psnr(ref, np.ones((2, 8, 9)))


def test_ssim_orders_degradations():
    rng = np.random.default_rng(1)
    ref = _textured()
    mild = ref + rng.normal(0, 2, ref.shape)
    strong = ref + rng.normal(0, 20, ref.shape)
    assert metrics.ssim(ref, ref) == pytest.approx(1.0)
    assert 1.0 > metrics.ssim(ref, mild) > metrics.ssim(ref, strong)


def test_ssim_of_constant_images_is_the_luminance_term():
    # Constant images have zero variance, so SSIM = (2ab + C1) / (a² + b² + C1), C1 = (0.01 L)².
    ref = np.full((2, 32, 32), 100.0)
    image = np.full((2, 32, 32), 90.0)
    c1 = (0.01 * 100.0) ** 2
    expected = (2 * 100 * 90 + c1) / (100**2 + 90**2 + c1)
    assert metrics.ssim(ref, image) == pytest.approx(expected, rel=1e-9)
    half = np.zeros(ref.shape, dtype=bool)
    half[:, :, :16] = True
    assert metrics.ssim(ref, image, mask=half) == pytest.approx(expected, rel=1e-9)


def test_score_is_every_metric_in_table_order():
    ref = _textured()
    image = ref + np.random.default_rng(3).normal(0.0, 5.0, ref.shape)
    mask = ref > 100
    scores = metrics.score(ref, image, mask)
    assert tuple(scores) == metrics.SCORES
    for name, metric in zip(metrics.SCORES, (metrics.psnr, metrics.ssim, metrics.nmse, metrics.hfen)):
        assert scores[name] == metric(ref, image, mask=mask)


@pytest.mark.parametrize("a", [0.1, -0.25, 0.5])
def test_nmse_and_hfen_of_a_scaled_image(a):
    ref = _textured()
    # NMSE(a·x) = (1 − a)²; HFEN((1 + a)·x) = |a| (the LoG is linear).
    assert metrics.nmse(ref, a * ref) == pytest.approx((1 - a) ** 2, rel=1e-12)
    assert metrics.hfen(ref, (1 + a) * ref) == pytest.approx(abs(a), rel=1e-12)


def test_hfen_ignores_a_constant_offset_and_sees_noise():
    ref = _textured()
    assert metrics.hfen(ref, ref + 37.0) == pytest.approx(0.0, abs=1e-12)
    noisy = ref + np.random.default_rng(3).normal(0, 5, ref.shape)
    assert metrics.hfen(ref, noisy) > 0.05


def test_laplacian_of_gaussian_is_per_slice():
    # A change confined to one slice leaves the other slices' LoG untouched.
    image = np.zeros((3, 32, 32))
    image[1, 16, 16] = 1.0
    log = metrics.laplacian_of_gaussian(image)
    assert np.all(log[0] == 0) and np.all(log[2] == 0)
    assert log[1, 16, 16] < 0 and log[1].sum() == pytest.approx(0.0, abs=1e-12)


def test_masked_metrics_ignore_changes_outside_the_mask():
    ref = _textured((2, 64, 64))
    rng = np.random.default_rng(4)
    image = ref + rng.normal(0, 3, ref.shape)
    mask = np.zeros(ref.shape, dtype=bool)
    mask[:, 8:30, 8:30] = True
    changed = image.copy()
    changed[:, 40:, 40:] += rng.normal(0, 50, changed[:, 40:, 40:].shape)  # > 7 px from the mask
    for metric in (metrics.psnr, metrics.ssim, metrics.nmse, metrics.hfen):
        assert metric(ref, changed, mask=mask) == metric(ref, image, mask=mask)
        assert metric(ref, changed) != metric(ref, image)


def test_an_all_true_mask_gives_the_unmasked_value():
    ref = _textured()
    image = ref + np.random.default_rng(5).normal(0, 4, ref.shape)
    everywhere = np.ones(ref.shape, dtype=bool)
    for metric in (metrics.psnr, metrics.ssim, metrics.nmse, metrics.hfen):
        assert metric(ref, image, mask=everywhere) == pytest.approx(metric(ref, image), rel=1e-12)


def test_masked_psnr_counts_only_mask_voxels():
    ref = np.full((1, 10, 10), 100.0)
    image = ref.copy()
    image[0, :5] += 10.0  # error 10 in the top half only
    top = np.zeros(ref.shape, dtype=bool)
    top[0, :5] = True
    assert metrics.psnr(ref, image, mask=top) == pytest.approx(20.0)  # 20 log10(100 / 10)
    assert metrics.psnr(ref, image) == pytest.approx(10 * np.log10(100**2 / 50.0))


def test_bad_masks_and_references_are_refused():
    ref = _textured((1, 16, 16))
    with pytest.raises(MRDeepReconError, match="selects no voxel"):
        metrics.psnr(ref, ref, mask=np.zeros(ref.shape, dtype=bool))
    with pytest.raises(MRDeepReconError, match="mask shape"):
        metrics.hfen(ref, ref, mask=np.ones((1, 16, 15), dtype=bool))
    with pytest.raises(MRDeepReconError, match="zero"):
        metrics.nmse(np.zeros((1, 4, 4)), np.ones((1, 4, 4)))
    corner = np.zeros(ref.shape, dtype=bool)
    corner[0, 0, 0] = True
    with pytest.raises(MRDeepReconError, match="SSIM window"):
        metrics.ssim(ref, ref, mask=corner)
