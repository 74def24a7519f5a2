"""The calibrated noise-reduction knob (mrdeeprecon.noise_reduction) and its calibration table.

A linear smoother stands in for the network: its residual moments are measured by pseudo-replica
exactly as training measures them, and the knob must then deliver the requested factor on fresh
noise, in the band and outside it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from mrdeeprecon.errors import MRDeepReconError
from mrdeeprecon.kspace.fft import fftc
from mrdeeprecon.noise_reduction import Calibration, band_limit, reduce_noise, solve_alpha

SHAPE = (8, 96, 96)


def _noise(seed: int, kmax: tuple[float, float, float]) -> np.ndarray:
    """White Gaussian noise of SD 0.05 per voxel, projected onto the ``kmax`` band."""
    noise = np.random.default_rng(seed).normal(0.0, 0.05, SHAPE).astype(np.float32)
    return band_limit(torch.from_numpy(noise), kmax, (1, 2, 0)).numpy() / np.sqrt(kmax[0] * kmax[1] * kmax[2])


def _smoother(image: np.ndarray) -> np.ndarray:
    return ndimage.gaussian_filter(image, (0, 2.5, 2.5)).astype(np.float32)


def _moments(kmax) -> dict:
    """A, C, D of the smoother by pseudo-replica on a flat image (the training's recipe)."""
    flat = np.full(SHAPE, 0.5, np.float32)
    ya, yb = flat + _noise(1, kmax), flat + _noise(2, kmax)
    d_x = _smoother(ya) - _smoother(yb)
    d_y = ya - yb
    banded = band_limit(torch.from_numpy(d_x - d_y), kmax, (1, 2, 0)).numpy()
    var_y = d_y.var()
    return {"a": d_x.var() / var_y, "c": np.mean((d_x - d_x.mean()) * (banded - banded.mean())) / var_y,
            "d": banded.var() / var_y}


def _knob(data: np.ndarray, estimate: np.ndarray, sd: float, kmax, factor: float, calibration: Calibration):
    """``reduce_noise`` of numpy volumes (a uniform noise SD ``sd``); the image back as numpy."""
    result = reduce_noise(torch.from_numpy(data), torch.from_numpy(estimate),
                          torch.full(data.shape, sd), kmax, factor, calibration)
    return result.image.numpy(), result


def _calibration(kmax) -> Calibration:
    m = _moments(kmax)
    row = lambda key: [m[key], m[key]]  # noqa: E731 - the same value at both noise levels
    return Calibration.from_card({"calibration": {
        "band_fractions": [0.2, 1.0], "noise_sd": [[0.01, 0.5], [0.01, 0.5]],
        "a": [row("a")] * 2, "c": [row("c")] * 2, "d": [row("d")] * 2}})


@pytest.mark.parametrize("kmax", [(1.0, 1.0, 1.0), (0.5, 0.5, 1.0)])
@pytest.mark.parametrize("factor", [1.5, 2.0, 3.0])
def test_the_requested_factor_is_delivered_on_fresh_noise(kmax, factor):
    calibration = _calibration(kmax)
    clean = np.full(SHAPE, 0.5, np.float32)
    outputs, inputs = [], []
    for seed in (11, 12):
        y = clean + _noise(seed, kmax)
        image, result = _knob(y, _smoother(y), 0.05, kmax, factor, calibration)
        outputs.append(image)
        inputs.append(y)
        assert result.achieved == pytest.approx(factor, rel=1e-3) and result.reachable == 1.0
    measured = np.std(inputs[0] - inputs[1]) / np.std(outputs[0] - outputs[1])
    assert measured == pytest.approx(factor, rel=0.03)
    assert np.mean(outputs[0]) == pytest.approx(0.5, abs=1e-3)


def test_an_unreachable_factor_delivers_and_reports_the_model_s_limit():
    kmax = (1.0, 1.0, 1.0)
    calibration = _calibration(kmax)
    m = _moments(kmax)
    least = max(0.0, min(1.0, m["c"] / m["d"]))
    ceiling = 1 / np.sqrt(m["a"] - 2 * least * m["c"] + least**2 * m["d"])
    assert ceiling < 20
    clean = np.full(SHAPE, 0.5, np.float32)
    ys = [clean + _noise(seed, kmax) for seed in (21, 22)]
    (first, result), (second, _) = (_knob(y, _smoother(y), 0.05, kmax, 20.0, calibration) for y in ys)
    assert result.achieved == pytest.approx(ceiling, rel=1e-3) and result.reachable == 0.0
    measured = np.std(ys[0] - ys[1]) / np.std(first - second)
    assert measured == pytest.approx(ceiling, rel=0.03)


def test_factor_one_is_the_input_inside_the_band_and_the_estimate_outside():
    rng = np.random.default_rng(3)
    data = rng.normal(size=SHAPE).astype(np.float32)
    estimate = rng.normal(size=SHAPE).astype(np.float32)
    kmax = (0.5, 1.0, 1.0)
    out, _ = _knob(data, estimate, 0.1, kmax, 1.0, _calibration(kmax))
    inside = band_limit(torch.from_numpy(out - data), kmax, (1, 2, 0)).numpy()
    assert np.abs(inside).max() < 1e-4
    outside = (out - estimate) - band_limit(torch.from_numpy(out - estimate), kmax, (1, 2, 0)).numpy()
    assert np.abs(outside).max() < 1e-4


def test_band_limit_is_the_projection_onto_the_centred_box():
    image = torch.from_numpy(np.random.default_rng(4).normal(size=(6, 40, 30)).astype(np.float32))
    once = band_limit(image, (0.5, 0.7, 0.5), (1, 2, 0))
    torch.testing.assert_close(band_limit(once, (0.5, 0.7, 0.5), (1, 2, 0)), once, atol=1e-5, rtol=0)
    power = fftc(once.double(), (0, 1, 2)).abs() ** 2
    keep = np.zeros((6, 40, 30), bool)
    keep[2:5, 11:30, 5:26] = True  # |k| <= 1 of 6, <= 9 of 40 (20 lines), <= 10 of 30 (21 lines)
    assert float(power[torch.from_numpy(~keep)].sum()) < 1e-6 * float(power.sum())
    assert band_limit(image, (1.0, 1.0, 1.0), (1, 2, 0)) is image


def test_solve_alpha_takes_the_larger_root():
    a, c, d = np.array([0.1]), np.array([0.1]), np.array([1.0])
    alpha, achieved = solve_alpha(a, c, d, 2.0)
    assert float((a - 2 * alpha * c + alpha**2 * d)[0]) == pytest.approx(0.25)
    assert alpha[0] > c[0] / d[0] and achieved[0] == pytest.approx(2.0)


def test_alpha_per_voxel_is_the_solution_at_its_own_noise_sd():
    """The tabulated α and achieved factor agree with solving at each voxel, through the table's
    bends, beyond its ends, between two rows and where the factor becomes unreachable."""
    calibration = Calibration.from_card({"calibration": {
        "band_fractions": [0.25, 1.0], "noise_sd": [[0.01, 0.05, 0.1], [0.02, 0.08, 0.2]],
        "a": [[0.9, 0.5, 0.3], [0.8, 0.6, 0.2]], "c": [[0.5, 0.6, 0.5], [0.4, 0.7, 0.6]],
        "d": [[0.6, 0.7, 0.8], [0.5, 0.9, 0.7]]}})
    sd = torch.from_numpy(np.geomspace(0.001, 1.0, 5000).astype(np.float32))
    for factor in (1.5, 3.0):
        table = calibration.levels(0.5, factor, sd)
        exact = solve_alpha(*calibration.coefficients(0.5, sd.numpy().astype(np.float64)), factor)
        alpha, achieved = table.read(sd, torch.ones_like(sd, dtype=torch.bool))
        np.testing.assert_allclose(alpha.numpy(), exact[0], rtol=0, atol=2e-4)
        np.testing.assert_allclose(achieved.numpy(), exact[1], rtol=1e-3)


def test_a_card_without_a_usable_calibration_is_refused():
    with pytest.raises(MRDeepReconError, match="no noise-reduction calibration"):
        Calibration.from_card({})
    with pytest.raises(MRDeepReconError, match="malformed"):
        Calibration.from_card({"calibration": {"band_fractions": [1.0]}})
    with pytest.raises(MRDeepReconError, match="do not fit"):
        Calibration.from_card({"calibration": {"band_fractions": [1.0], "noise_sd": [[0.1, 0.2]],
                                               "a": [[1.0]], "c": [[0.0, 0.0]], "d": [[0.0, 0.0]]}})
    with pytest.raises(MRDeepReconError, match=">= 1"):
        _knob(np.zeros(SHAPE, np.float32), np.zeros(SHAPE, np.float32), 0.0, (1.0, 1.0, 1.0), 0.5,
              _calibration((1.0, 1.0, 1.0)))
