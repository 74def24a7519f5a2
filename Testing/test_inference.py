"""enhance(): geometry, invariance, tiling, progress/cancel, determinism, input validation.

Uses small randomly initialised CE U-Nets saved with ``save_model`` (no trained model needed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mrdeeprecon.context import ScanContext
from mrdeeprecon.errors import Cancelled, MRDeepReconError
from mrdeeprecon.inference import enhance, select_device
from mrdeeprecon.model.ce_unet import CEUNet, CEUNetConfig
from mrdeeprecon.model.weights import save_model
from mrdeeprecon.progress import CancelToken
from mrdeeprecon.settings import EnhanceSettings
from mrdeeprecon.standardize import intensity_range
from mrdeeprecon.volume import Volume

from conftest import test_card


def _save_random_model(folder: Path, in_slices: int, noise_input: str = "blind") -> Path:
    torch.manual_seed(in_slices)
    model = CEUNet(CEUNetConfig(in_slices=in_slices, base_channels=4, depth=2, context_hidden=8, noise_input=noise_input))
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if ".film." in name:
                parameter.normal_(0, 0.1)
    path = folder / f"random_{in_slices}_{noise_input}.safetensors"
    save_model(model, path, test_card(f"random-{in_slices}"))
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("models")
    return {"2d": _save_random_model(folder, 1), "3d": _save_random_model(folder, 7)}


def _volume(shape: tuple[int, int, int] = (2, 24, 32), seed: int = 0) -> Volume:
    rng = np.random.default_rng(seed)
    z, y, x = np.meshgrid(*(np.linspace(-1, 1, n) for n in shape), indexing="ij")
    data = 400 + 300 * np.exp(-4 * (x**2 + y**2 + z**2)) + rng.normal(0, 20, shape)
    direction = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    return Volume(
        data=data.astype(np.float32),
        spacing=(0.8, 0.9, 3.0),
        origin=(-10.0, 5.0, 20.0),
        direction=direction,
        metadata={"source_path": "test"},
    )


def _settings(model: Path, **changes) -> EnhanceSettings:
    return EnhanceSettings(device="cpu", model_path=model, **changes)


@pytest.mark.parametrize(
    ("kind", "sr", "phase_axis", "shape", "spacing"),
    [
        ("2d", (1.0, 1.0, 1.0), 2, (2, 24, 32), (0.8, 0.9, 3.0)),
        ("2d", (1.0, 2.0, 1.0), 1, (2, 48, 32), (0.8, 0.45, 3.0)),
        ("2d", (1.0, 2.0, 1.0), 2, (2, 24, 64), (0.4, 0.9, 3.0)),
        ("2d", (1.5, 1.0, 1.0), 1, (2, 24, 48), (0.8 / 1.5, 0.9, 3.0)),
        ("3d", (1.0, 1.0, 2.0), 1, (4, 24, 32), (0.8, 0.9, 1.5)),
    ],
)
def test_output_geometry(models, kind, sr, phase_axis, shape, spacing) -> None:
    volume = _volume()
    context = ScanContext(acquisition="3D" if kind == "3d" else "2D", phase_axis=phase_axis)
    settings = _settings(models[kind], super_resolution=sr, noise_reduction=3.0)
    out = enhance(volume, settings, context)
    assert out.data.shape == shape and out.data.dtype == np.float32
    assert out.spacing == pytest.approx(spacing)
    assert out.origin == volume.origin
    np.testing.assert_array_equal(out.direction, volume.direction)
    assert out.metadata["source_path"] == "test"
    record = out.metadata["enhancement"]
    assert record["model_name"] == ("random-7" if kind == "3d" else "random-1")
    assert len(record["model_sha256"]) == 64
    assert record["noise_reduction"] == 3.0 and record["super_resolution"] == list(sr)


def test_odd_size_moves_the_origin_by_the_resampling_shift(models) -> None:
    """Centred resampling of 25 rows ×2 puts output row 0 half an input row before input row 0."""
    volume = _volume((2, 25, 32))
    settings = _settings(models["2d"], super_resolution=(1.0, 2.0, 1.0))
    out = enhance(volume, settings, ScanContext(phase_axis=1))
    assert out.data.shape == (2, 50, 32)
    assert out.spacing == pytest.approx((0.8, 0.45, 3.0))
    expected = np.asarray(volume.origin) - 0.5 * 0.9 * volume.direction[:, 1]
    assert out.origin == pytest.approx(tuple(expected))


def test_context_from_metadata_and_default(models) -> None:
    volume = _volume()
    volume.metadata["scan_context"] = ScanContext(phase_axis=2)
    settings = _settings(models["2d"], super_resolution=(1.0, 2.0, 1.0))
    assert enhance(volume, settings).data.shape == (2, 24, 64)
    del volume.metadata["scan_context"]
    assert enhance(volume, settings).data.shape == (2, 48, 32)  # default phase axis 1


def test_invariant_to_linear_rescaling(models) -> None:
    volume = _volume()
    settings = _settings(models["2d"], super_resolution=(1.5, 1.0, 1.0))
    reference = enhance(volume, settings).data.astype(np.float64)
    a, b = 2.5, -130.0
    rescaled = enhance(volume.with_data(volume.data * a + b), settings).data
    span = np.ptp(reference) * a
    assert np.abs(rescaled - (reference * a + b)).max() < 1e-4 * span


def test_tiled_equals_untiled(models) -> None:
    volume = _volume((1, 160, 160), seed=2)
    untiled = enhance(volume, _settings(models["2d"], tile_size=512)).data
    tiled = enhance(volume, _settings(models["2d"], tile_size=64, batch_size=4)).data
    assert np.abs(tiled - untiled).max() < 1e-3 * np.ptp(untiled)


def test_progress_is_monotonic_and_ends_at_one(models) -> None:
    calls: list[tuple[float, str]] = []
    enhance(
        _volume((3, 24, 32)),
        _settings(models["2d"], batch_size=1),
        progress=lambda f, m: calls.append((f, m)),
    )
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert sum("batch" in m for _, m in calls) == 3


def test_cancel_raises_and_leaves_the_input_unchanged(models) -> None:
    volume = _volume((3, 24, 32))
    original = volume.data.copy()
    token = CancelToken()

    def progress(fraction: float, message: str) -> None:
        if message.startswith("batch"):
            token.cancel()

    with pytest.raises(Cancelled):
        enhance(volume, _settings(models["2d"], batch_size=1), progress=progress, cancel=token)
    np.testing.assert_array_equal(volume.data, original)


def test_deterministic_and_input_untouched(models) -> None:
    volume = _volume((9, 24, 32))
    original = volume.data.copy()
    settings = _settings(models["3d"], batch_size=4)
    first = enhance(volume, settings, ScanContext(acquisition="3D"))
    second = enhance(volume, settings, ScanContext(acquisition="3D"))
    np.testing.assert_array_equal(first.data, second.data)
    np.testing.assert_array_equal(volume.data, original)
    assert "enhancement" not in volume.metadata


def test_integer_input_with_zero_borders(models) -> None:
    volume = _volume((2, 24, 32))
    data = np.zeros((2, 32, 32), dtype=np.int16)
    data[:, 4:28] = np.round(volume.data)
    out = enhance(volume.with_data(data), _settings(models["2d"], super_resolution=(2.0, 1.0, 1.0)))
    assert out.data.shape == (2, 32, 64)  # default phase along y: frequency (x) refined
    assert (out.data[:, :4] == 0).all() and (out.data[:, 28:] == 0).all()


def test_bad_inputs_and_settings(models) -> None:
    volume = _volume()
    with pytest.raises(MRDeepReconError, match="slice direction needs the 3D model"):
        enhance(volume, _settings(models["2d"], super_resolution=(1.0, 1.0, 2.0)))
    with pytest.raises(MRDeepReconError, match="slice direction needs the 3D model"):
        enhance(volume, EnhanceSettings(device="cpu", super_resolution=(1.0, 1.0, 2.0)))
    with pytest.raises(MRDeepReconError, match="model kind 3d was requested"):
        enhance(volume, _settings(models["2d"], model_kind="3d"))
    nan = volume.data.copy()
    nan[0, 0, 0] = np.nan
    with pytest.raises(MRDeepReconError, match="NaN"):
        enhance(volume.with_data(nan), _settings(models["2d"]))
    settings = _settings(models["2d"])
    settings.noise_reduction = 12.0
    with pytest.raises(MRDeepReconError, match="noise reduction"):
        enhance(volume, settings)
    with pytest.raises(MRDeepReconError, match="only .safetensors"):
        enhance(volume, _settings(models["2d"].with_suffix(".pt")))


def test_select_device() -> None:
    assert select_device("cpu") == torch.device("cpu")
    assert select_device("auto").type in ("cuda", "mps", "cpu")
    with pytest.raises(MRDeepReconError, match="unknown device"):
        select_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(MRDeepReconError, match="not available"):
            select_device("cuda")


@pytest.mark.parametrize("in_slices", [1, 7])
def test_a_noise_map_model_sees_the_local_noise_of_each_slice(tmp_path, monkeypatch, in_slices):
    """The map channel the network receives is the local noise SD of the middle slice: high where
    the image is noisy, 0 where it is not; the slices come first, in order."""
    model = CEUNet(CEUNetConfig(in_slices=in_slices, base_channels=4, depth=2, context_hidden=8, noise_input="map"))
    path = tmp_path / "mapped.safetensors"
    save_model(model, path, test_card("mapped"))
    rng = np.random.default_rng(0)
    ramp = np.broadcast_to(np.linspace(50.0, 150.0, 64, dtype=np.float32)[None, :, None], (9, 64, 64))
    data = ramp.copy()
    data[:, :, 32:] += rng.normal(0, 20.0, (9, 64, 32)).astype(np.float32)  # noisy right half
    received = []
    forward = CEUNet.forward

    def recording(self, x, context):
        received.append(x.detach().clone())
        return forward(self, x, context)

    monkeypatch.setattr(CEUNet, "forward", recording)
    settings = EnhanceSettings(model_path=path, device="cpu", model_kind="2d" if in_slices == 1 else "3d")
    volume = Volume(data=data, spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0), direction=np.eye(3))
    assert enhance(volume, settings, ScanContext(phase_axis=2)).data.shape == data.shape
    inputs = torch.cat(received)
    assert inputs.shape[1] == in_slices + 1
    lo, hi = intensity_range(data)
    noise_map = inputs[:, -1].numpy() * (hi - lo)  # back to image units
    assert np.median(noise_map[:, 8:56, 44:60]) == pytest.approx(20.0, rel=0.25)
    assert np.all(noise_map[:, :, :24] == 0)
    middle = inputs[:, in_slices // 2].numpy()
    assert np.all(np.diff(middle[:, :, 4:24], axis=1) > 0)  # the ramp, in its own channel


def test_magnitude_output_is_never_negative(models) -> None:
    """Magnitude in, magnitude out: a random network rings below zero; the output is clipped.
    A volume with negative voxels (no DICOM image set says what it is) is not clipped."""
    volume = _volume((2, 32, 32), seed=3)
    volume = volume.with_data(volume.data - 380)  # a dark background close to zero, all >= 0
    volume = volume.with_data(np.maximum(volume.data, 0))
    settings = _settings(models["2d"])
    output = enhance(volume, settings).data
    assert output.min() == 0.0 and (output == 0).sum() > 0
    shifted = enhance(volume.with_data(volume.data - 1000), settings).data
    assert shifted.min() < -1000  # not clipped: a signed image keeps its sign


def test_wrong_argument_types_are_one_clear_error(models) -> None:
    """The Python API refuses None, strings and numbers where objects are due, naming what was
    expected, instead of an AttributeError or TypeError deep inside."""
    from mrdeeprecon.io import load_volume

    settings = _settings(models["2d"])
    cases = [
        (lambda: enhance(None, settings), "volume must be a mrdeeprecon.Volume, got NoneType"),
        (lambda: enhance(_volume(), None), "settings must be an EnhanceSettings, got NoneType"),
        (lambda: EnhanceSettings(noise_reduction="abc"), "noise reduction must be a number"),
        (lambda: EnhanceSettings(noise_reduction=None), "noise reduction must be a number"),
        (lambda: load_volume(None), "path must be a str or os.PathLike, got NoneType"),
        (lambda: load_volume(3), "path must be a str or os.PathLike, got int"),
    ]
    for call, message in cases:
        with pytest.raises(MRDeepReconError, match=message):
            call()
    assert EnhanceSettings(noise_reduction="2").noise_reduction == 2.0  # a number as text is fine
