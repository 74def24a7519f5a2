"""Three planes: the network along each axis of a 3D acquisition, averaged (mrdeeprecon.planes)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from mrdeeprecon.context import ScanContext
from mrdeeprecon.errors import MRDeepReconError
from mrdeeprecon.inference import enhance
from mrdeeprecon.noise_reduction import band_limit
from mrdeeprecon.planes import VIEW_ORDERS, check_planes, mean_of_views, view_sampling
from mrdeeprecon.sampling import KSpaceSampling
from mrdeeprecon.settings import EnhanceSettings
from mrdeeprecon.volume import Volume

from test_inference import _save_random_model

SAMPLING = KSpaceSampling(acquisition="3D", phase_axis=2, kmax=(0.5, 0.7, 0.8))


def _band_limited(shape: tuple[int, int, int], kmax: tuple[float, float, float]) -> torch.Tensor:
    """Noise in the band ``kmax`` (frequency = axis 1, phase = axis 2, slice = axis 0)."""
    noise = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    return band_limit(band_limit(noise, kmax[:2], (1, 2)), kmax[2:], (0,))


def test_each_view_states_the_band_its_data_has():
    """A volume band-limited as SAMPLING says, turned into each view, is already inside the band
    that view's sampling states (projecting it again changes nothing) and not inside a narrower one."""
    volume = _band_limited((24, 32, 40), SAMPLING.kmax)
    for axis, order in enumerate(VIEW_ORDERS):
        view = volume.permute(*order)
        stated = view_sampling(SAMPLING, axis).kmax
        again = band_limit(band_limit(view, stated[:2], (1, 2)), stated[2:], (0,))
        torch.testing.assert_close(again, view, atol=1e-5, rtol=0)
        for index in range(3):
            narrower = list(stated)
            narrower[index] *= 0.6
            cut = band_limit(band_limit(view, narrower[:2], (1, 2)), narrower[2:], (0,))
            assert float((cut - view).abs().max()) > 0.05, (axis, index)


def test_a_view_moves_only_the_k_space_extent():
    assert view_sampling(SAMPLING, 0) == SAMPLING
    for axis in (1, 2):
        moved = view_sampling(SAMPLING, axis)
        assert dataclasses.replace(moved, kmax=SAMPLING.kmax) == SAMPLING and moved.kmax != SAMPLING.kmax


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"acquisition": "2D"}, "need a 3D acquisition"),
        ({"partial_fourier": (0.75, 1.0)}, r"partial Fourier 0.75 / 1 \(phase / slice\)"),
        ({"partial_fourier": (1.0, 0.75)}, r"partial Fourier 1 / 0.75"),
        ({"acceleration": (2.0, 1.0), "undersampling": "uniform"}, "uniform undersampling R 2 x 1"),
        ({"acceleration": (3.0, 1.0), "undersampling": "random"}, "random undersampling R 3 x 1"),
        ({"elliptical": True}, "elliptical k-space corners"),
    ],
)
def test_samplings_a_view_cannot_describe_are_refused(change, message):
    with pytest.raises(MRDeepReconError, match=message):
        check_planes(dataclasses.replace(SAMPLING, **change))


def test_fewer_slices_than_an_image_needs_are_refused():
    check_planes(SAMPLING, (8, 32, 32))
    with pytest.raises(MRDeepReconError, match="at least 8 slices .*got 4"):
        check_planes(SAMPLING, (4, 32, 32))


def test_the_mean_of_views_turns_each_estimate_back():
    """Each view's estimate is turned back to the input's layout before the mean; only the asked
    slices are returned, and each view is told its own sampling."""
    data = torch.arange(8 * 5 * 6, dtype=torch.float32).reshape(8, 5, 6)
    told = {}

    def estimate(axis, view, sampling, slices):
        told[axis] = (tuple(view.shape), sampling, slices)
        rows = slice(None) if slices is None else slice(slices.start, slices.stop)
        return (axis + 1) * view[rows]

    torch.testing.assert_close(mean_of_views(estimate, data, SAMPLING), 2 * data)
    assert told[1][0] == (5, 8, 6) and told[2][0] == (6, 5, 8)
    assert all(told[axis][1] == view_sampling(SAMPLING, axis) for axis in range(3))
    torch.testing.assert_close(mean_of_views(estimate, data, SAMPLING, range(1, 3)), 2 * data[1:3])
    assert told[0][2] == range(1, 3) and told[1][2] is None


def _volume() -> Volume:
    z, y, x = np.meshgrid(*(np.linspace(-1, 1, n) for n in (40, 64, 64)), indexing="ij")
    data = 400 + 300 * np.exp(-3 * (x**2 + y**2 + z**2)) + np.random.default_rng(0).normal(0, 30, z.shape)
    return Volume(data=data.astype(np.float32), spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0), direction=np.eye(3))


@pytest.mark.parametrize("in_slices", [1, 7])
def test_enhance_with_three_planes(tmp_path, in_slices):
    """Three planes run both models on a 3D acquisition, calibrate the knob on the volume, record
    the setting, and give another output than one plane (outside the acquired band, where the
    output is the network's estimate)."""
    model = _save_random_model(tmp_path, in_slices)
    volume, context = _volume(), ScanContext(acquisition="3D", phase_axis=2, kmax=(0.6, 0.6, 0.6))
    outputs = {planes: enhance(volume, EnhanceSettings(device="cpu", model_path=model, planes=planes), context)
               for planes in (1, 3)}
    record = outputs[3].metadata["enhancement"]
    assert record["planes"] == 3 and outputs[1].metadata["enhancement"]["planes"] == 1
    assert record["noise_reduction_calibration"]["source"] == "this volume"
    assert outputs[3].shape == volume.shape and outputs[3].data.dtype == np.float32
    assert np.isfinite(outputs[3].data).all()
    assert float(np.abs(outputs[3].data - outputs[1].data).max()) > 0.01


@pytest.mark.parametrize(("context", "message"), [
    (ScanContext(acquisition="2D"), "need a 3D acquisition"),
    (ScanContext(acquisition="3D", partial_fourier=(0.625, 1.0)), "partial Fourier 0.625"),
])
def test_three_planes_are_refused_before_any_work(tmp_path, context, message):
    model = _save_random_model(tmp_path, 1)
    reports = []
    with pytest.raises(MRDeepReconError, match=message):
        enhance(_volume(), EnhanceSettings(device="cpu", model_path=model, planes=3), context,
                progress=lambda fraction, text: reports.append(text))
    assert reports == []


def test_the_calibration_tells_each_view_the_input_s_noise(tmp_path, monkeypatch):
    """The calibration's two perturbed passes of each view are told the same noise map, the
    input's (not one measured on the perturbed slab)."""
    from mrdeeprecon import inference

    told = []
    run = inference._run_network

    def spy(model, data, context, settings, device, progress, cancel, noise_sd, slices=None):
        told.append(noise_sd.clone())
        return run(model, data, context, settings, device, progress, cancel, noise_sd, slices)

    monkeypatch.setattr(inference, "_run_network", spy)
    model = _save_random_model(tmp_path, 1)
    enhance(_volume(), EnhanceSettings(device="cpu", model_path=model, planes=3), ScanContext(acquisition="3D"))
    assert len(told) == 9  # three views of the volume, then three of the slab plus and minus the perturbation
    for axis in range(3):
        torch.testing.assert_close(told[3 + axis], told[6 + axis], rtol=0, atol=0)


def test_a_scalar_model_is_told_the_same_level_per_view_slice_by_the_calibration(tmp_path, monkeypatch):
    """A model told a scalar reads each view slice's median. The calibration's passes of the views
    across the slices hold only the slab's rows of each view slice; with noise that grows along
    the slices, their own median would tell another level than the enhancement's."""
    from mrdeeprecon import inference
    from mrdeeprecon.noise_map import noise_channel

    told = []
    run = inference._run_network

    def spy(model, data, context, settings, device, progress, cancel, noise_sd, slices=None):
        told.append(noise_channel(noise_sd, "scalar")[:, 0, 0].clone())
        return run(model, data, context, settings, device, progress, cancel, noise_sd, slices)

    monkeypatch.setattr(inference, "_run_network", spy)
    volume = _volume()
    rng = np.random.default_rng(1)
    growing = np.linspace(10, 60, volume.shape[0], dtype=np.float32)[:, None, None]
    volume = volume.with_data(volume.data + rng.normal(0, 1, volume.shape).astype(np.float32) * growing)
    model = _save_random_model(tmp_path, 1, noise_input="scalar")
    enhance(volume, EnhanceSettings(device="cpu", model_path=model, planes=3, noise_reduction=2.0),
            ScanContext(acquisition="3D"))
    assert len(told) == 9
    for axis in (1, 2):
        for calibration_pass in (3 + axis, 6 + axis):
            torch.testing.assert_close(told[calibration_pass], told[axis], rtol=1e-6, atol=0)


def test_three_planes_count_the_slices_left_once_the_empty_border_is_cropped(tmp_path):
    volume = _volume()
    data = np.zeros_like(volume.data)
    data[10:15] = volume.data[10:15]  # 40 slices, 5 with signal
    model = _save_random_model(tmp_path, 1)
    with pytest.raises(MRDeepReconError, match="at least 8 slices with signal.*5 remain"):
        enhance(volume.with_data(data), EnhanceSettings(device="cpu", model_path=model, planes=3),
                ScanContext(acquisition="3D"))


def test_the_card_s_one_plane_calibration_is_said_to_be_one_plane(tmp_path, monkeypatch):
    from mrdeeprecon import inference

    monkeypatch.setattr(inference, "measure_volume_calibration", lambda *arguments, **keywords: None)
    model = _save_random_model(tmp_path, 1)
    records = {planes: enhance(_volume(), EnhanceSettings(device="cpu", model_path=model, planes=planes,
                                                          noise_reduction=2.0), ScanContext(acquisition="3D"))
               .metadata["enhancement"]["noise_reduction_calibration"] for planes in (1, 3)}
    assert records == {1: {"source": "model card"}, 3: {"source": "model card", "measured_with": "one plane"}}


@pytest.mark.parametrize("planes", [2, 3.0, True])
def test_planes_must_be_one_or_three(planes):
    with pytest.raises(MRDeepReconError, match=r"planes must be one of \(1, 3\)"):
        EnhanceSettings(planes=planes)
