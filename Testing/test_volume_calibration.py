"""The noise-reduction knob calibrated on the volume itself (mrdeeprecon.volume_calibration).

Linear "networks" stand in for the CE U-Net, so the right coefficients are known: the measured
moments must be theirs, each noise level must get its own, and the knob built on them must deliver
the requested factor on fresh noise in a quiet and a noisy region alike, or say that it cannot.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from mrdeeprecon.context import ScanContext
from mrdeeprecon.inference import enhance
from mrdeeprecon.kspace.fft import fftc
from mrdeeprecon.noise_reduction import reduce_noise
from mrdeeprecon.settings import EnhanceSettings
from mrdeeprecon.volume import Volume
from mrdeeprecon.volume_calibration import (
    BINS, MIN_VOXELS, SLAB, band_noise, measure_volume_calibration, slab_bounds,
)

SHAPE = (8, 192, 192)
KMAX = (1.0, 0.75, 1.0)
#: Noise SD of the left and right halves.
QUIET, NOISY = 0.03, 0.06


def _clean() -> np.ndarray:
    """Texture everywhere (0.4-0.6) but one flat bright square (0.7) in each half: the squares are
    the homogeneous tissue."""
    y, x = np.mgrid[: SHAPE[1], : SHAPE[2]]
    image = 0.5 + 0.1 * np.sin(y / 2.0) * np.sin(x / 2.5)
    image[64:128, 16:80] = 0.7
    image[64:128, 112:176] = 0.7
    return np.broadcast_to(image, SHAPE).astype(np.float32)


def _noise_sd() -> torch.Tensor:
    sd = torch.full(SHAPE, QUIET)
    sd[..., SHAPE[2] // 2 :] = NOISY
    return sd


def _noise(seed: int) -> torch.Tensor:
    """Noise in the band, of SD :data:`QUIET` on the left and :data:`NOISY` on the right."""
    return band_noise(SHAPE, KMAX, torch.Generator().manual_seed(seed), torch.device("cpu")) * _noise_sd()


def _smoother(left: float, right: float):
    """A linear network: Gaussian smoothing of σ ``left`` px in the left half, ``right`` in the
    right half."""

    def network(slab: torch.Tensor, _sd: torch.Tensor, slices: range | None = None) -> torch.Tensor:
        data = slab.numpy()
        out = ndimage.gaussian_filter(data, (0, left, left))
        out[..., SHAPE[2] // 2 :] = ndimage.gaussian_filter(data, (0, right, right))[..., SHAPE[2] // 2 :]
        return torch.from_numpy(out.astype(np.float32))[slice(slices.start, slices.stop) if slices else slice(None)]

    return network


def _square(half: str) -> tuple[slice, slice, slice]:
    return (slice(None), slice(72, 120), slice(24, 72) if half == "left" else slice(120, 168))


def test_the_slab_centres_on_the_tissue_and_stays_inside_the_volume():
    weights = np.zeros(40)
    weights[28:33] = 1.0
    assert slab_bounds(weights, 3) == (slice(26, 26 + SLAB), slice(23, 26 + SLAB + 3))
    weights = np.zeros(40)
    weights[-1] = 1.0
    assert slab_bounds(weights, 3) == (slice(40 - SLAB, 40), slice(40 - SLAB - 3, 40))
    assert slab_bounds(np.ones(5), 3) == (slice(0, 5), slice(0, 5))
    assert slab_bounds(np.zeros(12), 0) == (slice(2, 2 + SLAB), slice(2, 2 + SLAB))


def test_band_noise_lies_inside_the_band_and_is_seeded():
    kmax = (1.0, 0.5, 0.5)
    noise = band_noise((16, 32, 32), kmax, torch.Generator().manual_seed(1), torch.device("cpu"))
    spectrum = fftc(noise.to(torch.complex64), (0, 1, 2)).abs()
    assert float(spectrum[:, :, :8].max()) < 1e-3 * float(spectrum.max())  # phase (x) beyond the band
    assert float(spectrum[:4].max()) < 1e-3 * float(spectrum.max())  # slice beyond the band
    again = band_noise((16, 32, 32), kmax, torch.Generator().manual_seed(1), torch.device("cpu"))
    assert torch.equal(noise, again)


def test_each_noise_level_gets_the_coefficients_of_its_own_region():
    data = torch.from_numpy(_clean()) + _noise(1)
    network = _smoother(2.5, 1.2)
    measured = measure_volume_calibration(data, _noise_sd(), KMAX, 0, network)
    assert measured is not None and measured.slices == (0, SHAPE[0]) and measured.voxels >= BINS * MIN_VOXELS
    table = measured.calibration
    assert table.noise_sd.shape == (1, BINS)
    # the quiet bins are the strongly smoothed half: far less noise passes the network there
    quiet, noisy = table.coefficients(KMAX[0] * KMAX[1], np.array([QUIET, NOISY]))[0]
    assert quiet < 0.5 * noisy
    # and each is the smoother's own pseudo-replica moment, measured on independent noise
    for half, a in (("left", quiet), ("right", noisy)):
        d_y = (_noise(5) - _noise(6))
        d_x = network(d_y, d_y)
        region = _square(half)
        assert a == pytest.approx(float(d_x[region].var() / d_y[region].var()), rel=0.1)


@pytest.mark.parametrize("factor", [1.5, 2.0, 3.0])
def test_the_knob_delivers_the_factor_in_the_quiet_and_the_noisy_region(factor):
    clean = torch.from_numpy(_clean())
    network = _smoother(2.5, 1.2)
    first = clean + _noise(1)
    measured = measure_volume_calibration(first, _noise_sd(), KMAX, 0, network)
    outputs, inputs = [], []
    for seed in (11, 12):
        y = clean + _noise(seed)
        result = reduce_noise(y, network(y, y), _noise_sd(), KMAX, factor, measured.calibration)
        outputs.append(result.image)
        inputs.append(y)
    for half in ("left", "right"):
        region = _square(half)
        achieved = float((inputs[0] - inputs[1])[region].std() / (outputs[0] - outputs[1])[region].std())
        assert achieved == pytest.approx(factor, rel=0.1), half


def test_a_network_that_adds_noise_is_reported_and_left_out():
    """A sharpening "network" amplifies the noise: no α reaches the factor, the least-noise one is
    used and the achieved factor says so (here about 1: the output is the input)."""
    clean = torch.from_numpy(_clean())

    def sharpen(slab: torch.Tensor, _sd: torch.Tensor, slices: range | None = None) -> torch.Tensor:
        out = 2 * slab - torch.from_numpy(ndimage.gaussian_filter(slab.numpy(), (0, 1.0, 1.0)))
        return out[slice(slices.start, slices.stop) if slices else slice(None)]

    measured = measure_volume_calibration(clean + _noise(1), _noise_sd(), KMAX, 0, sharpen)
    outputs, inputs, achieved = [], [], []
    for seed in (11, 12):
        y = clean + _noise(seed)
        result = reduce_noise(y, sharpen(y, y), _noise_sd(), KMAX, 3.0, measured.calibration)
        outputs.append(result.image)
        inputs.append(y)
        achieved.append(result.achieved)
    assert achieved[0] < 1.1 and achieved[0] == pytest.approx(achieved[1], rel=1e-6)
    region = _square("left")
    measured_factor = float((inputs[0] - inputs[1])[region].std() / (outputs[0] - outputs[1])[region].std())
    assert measured_factor == pytest.approx(achieved[0], rel=0.1)


def test_too_little_homogeneous_tissue_leaves_the_model_card_s_table():
    data = torch.rand(2, 32, 32)
    assert measure_volume_calibration(data, torch.full(data.shape, 0.05), KMAX, 0, _smoother(1.0, 1.0)) is None


def test_enhance_records_where_its_calibration_came_from_and_is_deterministic():
    rng = np.random.default_rng(0)
    clean = _clean()[:, :128, :128] * 1000
    volume = Volume(clean + rng.normal(0, 30, clean.shape).astype(np.float32), spacing=(1.0, 1.0, 3.0))
    settings = EnhanceSettings(noise_reduction=2.0, device="cpu")
    first, second = (enhance(volume, settings, ScanContext()) for _ in range(2))
    assert np.array_equal(first.data, second.data)
    record = first.metadata["enhancement"]["noise_reduction_calibration"]
    assert record["source"] == "this volume" and record["voxels"] >= MIN_VOXELS and record["slices"] == [0, SHAPE[0]]
    small = volume.with_data(volume.data[:1, :48, :48])
    assert enhance(small, settings, ScanContext()).metadata["enhancement"]["noise_reduction_calibration"] == {
        "source": "model card"}
    unit = enhance(volume, EnhanceSettings(noise_reduction=1.0, device="cpu"), ScanContext())
    assert unit.metadata["enhancement"]["noise_reduction_calibration"]["source"].startswith("none")


def test_the_network_estimates_only_the_slices_asked_reading_their_neighbours(tiny_models):
    """The calibration's passes estimate the measured slices only: the same values as the whole
    slab's estimate there (the 3D model reads 3 neighbours on each side)."""
    from mrdeeprecon.inference import _load_network, _run_network
    from mrdeeprecon.model import context_vector

    settings = EnhanceSettings(device="cpu", model_path=tiny_models["3d"], model_kind="3d")
    context = ScanContext(acquisition="3D")
    model, _, _ = _load_network(settings, context, torch.device("cpu"))
    data = torch.rand(10, 40, 36)
    sd = torch.full(data.shape, 0.05)
    vector = context_vector.encode(context.on_output_grid(settings.super_resolution))
    with torch.inference_mode():
        whole = _run_network(model.eval(), data, vector, settings, torch.device("cpu"), None, None, sd)
        part = _run_network(model, data, vector, settings, torch.device("cpu"), None, None, sd, range(2, 7))
    assert part.shape == (5, 40, 36)
    torch.testing.assert_close(part, whole[2:7])


@pytest.mark.parametrize("pad", [0, 3])
def test_a_band_limited_slice_axis_is_measured_over_the_slices_read(pad):
    """A network that removes everything (estimate 0): its residual is the whole perturbation,
    in band, so D = 1 and A = C = 0, also when the slice axis is band-limited and the network
    reads neighbours (the band is then taken over all the slices read)."""
    kmax = (1.0, 0.75, 0.5)
    data = torch.from_numpy(_clean()[:, :96, :96].copy()).repeat(2, 1, 1)  # 16 slices

    def zero(slab: torch.Tensor, _sd: torch.Tensor, slices: range | None = None) -> torch.Tensor:
        return torch.zeros_like(slab[slice(slices.start, slices.stop) if slices else slice(None)])

    table = measure_volume_calibration(data, torch.full(data.shape, 0.05), kmax, pad, zero).calibration
    np.testing.assert_allclose(table.d, 1.0, atol=1e-4)
    np.testing.assert_allclose(table.a, 0.0, atol=1e-12)
    np.testing.assert_allclose(table.c, 0.0, atol=1e-12)
