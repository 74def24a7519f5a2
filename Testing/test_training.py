"""Training pairs and the training loop: physics of the targets, checkpoints, resume."""

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from mrdeeprecon.errors import Cancelled
from mrdeeprecon.io import load_volume
from mrdeeprecon.model import context_vector
from mrdeeprecon.progress import CancelToken
from mrdeeprecon.training.pairs import STACK, PairConfig, PairSampler
from mrdeeprecon.training.train import TrainConfig, train


@pytest.fixture(scope="module")
def stroke_volume() -> np.ndarray:
    from conftest import shared_path

    return load_volume(shared_path("volumes/stroke_T1.nii.gz")).data


@pytest.mark.parametrize("kind, slices", [("2d", 1), ("3d", STACK)])
@pytest.mark.parametrize("noise_map", [False, True])
def test_batches_have_the_model_layout(stroke_volume, kind, slices, noise_map):
    config = PairConfig(kind=kind, patch=64, noise_map=noise_map, p_coil_noise=0.5)
    sampler = PairSampler([stroke_volume], config, seed=3)
    batch = sampler.batch(4)
    assert batch.inputs.shape == (4, slices + int(noise_map), 64, 64) == (4, config.input_channels, 64, 64)
    assert batch.targets.shape == (4, 1, 64, 64)
    assert batch.context.shape == (4, context_vector.SIZE)
    assert batch.inputs.dtype == batch.targets.dtype == np.float32
    assert np.isfinite(batch.inputs).all() and np.isfinite(batch.targets).all()
    nr_inverse = batch.context[:, context_vector.FIELDS.index("inverse_noise_reduction")]
    assert ((nr_inverse >= 0.1) & (nr_inverse <= 1.0)).all()
    if kind == "2d":
        assert (batch.context[:, context_vector.FIELDS.index("kmax_slice")] == 1).all()
    if noise_map:
        maps = batch.inputs[:, -1]
        assert (maps >= 0).all() and maps.max() > 0


def test_normalised_coil_noise_divides_the_noise_by_a_smooth_field_and_keeps_the_signal():
    from mrdeeprecon.training.pairs import normalised_coil_noise

    rng = np.random.default_rng(4)
    noise_free = np.full((1, 96, 96), 2.0, np.float32)
    noise = rng.normal(0.0, 0.1, noise_free.shape).astype(np.float32)
    out = normalised_coil_noise(noise_free + noise, noise_free, np.random.default_rng(9), 0.6)
    field = noise / (out - noise_free)  # the field the function drew
    assert field.min() == pytest.approx(0.4, abs=0.02) or field.max() == pytest.approx(1.6, abs=0.02)
    assert np.abs(np.diff(field, axis=2)).max() < 0.05  # smooth
    local = [np.std(out[0, :, i : i + 16] - 2.0) for i in range(0, 96, 16)]
    expected = [0.1 / np.mean(field[0, :, i : i + 16]) for i in range(0, 96, 16)]
    np.testing.assert_allclose(local, expected, rtol=0.15)
    np.testing.assert_allclose(np.mean(out), 2.0, atol=0.02)


def _weights(path: Path) -> dict:
    return load_file(str(path))


def test_training_runs_checkpoints_and_resumes_exactly(tmp_path):
    from conftest import shared_path

    data = [shared_path("volumes/stroke_T1.nii.gz")]
    common = dict(kind="2d", data=data, holdout=None, steps=4, batch_size=2, patch=48,
                  base_channels=8, depth=2, checkpoint_every=2, device="cpu", log_every=1)
    straight = train(TrainConfig(out_dir=tmp_path / "a", **common), log=lambda *_: None)

    token = CancelToken()

    def stop_after_three(fraction, message):
        if fraction >= 0.75:
            token.cancel()

    with pytest.raises(Cancelled):
        train(TrainConfig(out_dir=tmp_path / "b", **common), progress=stop_after_three, cancel=token, log=lambda *_: None)
    assert (tmp_path / "b" / "ce_unet_2d.checkpoint.safetensors").exists()
    assert not (tmp_path / "b" / "ce_unet_2d.safetensors").exists()
    resumed = train(TrainConfig(out_dir=tmp_path / "b", resume=True, **common), log=lambda *_: None)

    a, b = _weights(straight), _weights(resumed)
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
    assert not (tmp_path / "b" / "ce_unet_2d.checkpoint.safetensors").exists()


@pytest.mark.slow
def test_short_training_learns_to_denoise_a_held_out_subject(tmp_path):
    """A few minutes of CPU training already beats the noisy input on a subject it never saw."""
    from conftest import shared_path
    from mrdeeprecon.context import ScanContext
    from mrdeeprecon.inference import enhance
    from mrdeeprecon.kspace.degrade import DegradationSpec
    from mrdeeprecon.settings import EnhanceSettings
    from mrdeeprecon.simulate import score, simulate_acquisition

    config = TrainConfig(kind="2d", out_dir=tmp_path, data=[shared_path("volumes/stroke_T1.nii.gz")],
                         holdout=None, steps=1500, batch_size=8, patch=64, device="cpu")
    model = train(config, log=lambda *_: None)
    reference = load_volume(shared_path("volumes/seg3D_MR.nii.gz"))
    reference = reference.with_data(reference.data[70:80].astype(np.float32))
    degraded, context = simulate_acquisition(reference, DegradationSpec(noise=0.10), ScanContext(), seed=2)
    enhanced = enhance(degraded, EnhanceSettings(noise_reduction=5.0, model_path=model), context=context)
    assert score(reference.data, enhanced.data)["psnr_db"] > score(reference.data, degraded.data)["psnr_db"] + 1.5


def test_3d_model_seeded_from_2d_computes_what_the_2d_model_does(tmp_path):
    from mrdeeprecon.model.ce_unet import CEUNet, CEUNetConfig
    from mrdeeprecon.model.weights import save_model
    from mrdeeprecon.training.train import initialise_from

    torch.manual_seed(0)
    two_d = CEUNet(CEUNetConfig(in_slices=1, base_channels=8, depth=2))
    for p in two_d.parameters():  # non-trivial modulation and head
        torch.nn.init.normal_(p, std=0.05)
    save_model(two_d, tmp_path / "m2d.safetensors", {"name": "2d"})
    three_d = CEUNet(CEUNetConfig(in_slices=7, base_channels=8, depth=2))
    initialise_from(three_d, tmp_path / "m2d.safetensors")
    x = torch.randn(2, 7, 40, 36)
    c = torch.rand(2, context_vector.SIZE)
    with torch.no_grad():
        torch.testing.assert_close(three_d(x, c), two_d(x[:, 3:4], c))


def test_noise_map_models_seeded_from_plain_and_from_noise_map_models(tmp_path):
    """A plain 2D model seeds a noise-map 2D model (map channel ignored at first); a noise-map 2D
    model seeds a noise-map 3D model (middle slice and map carried over)."""
    from mrdeeprecon.errors import MRDeepReconError
    from mrdeeprecon.model.ce_unet import CEUNet, CEUNetConfig
    from mrdeeprecon.model.weights import save_model
    from mrdeeprecon.training.train import initialise_from

    torch.manual_seed(1)
    plain = CEUNet(CEUNetConfig(in_slices=1, base_channels=8, depth=2))
    for p in plain.parameters():
        torch.nn.init.normal_(p, std=0.05)
    save_model(plain, tmp_path / "plain.safetensors", {"name": "plain"})
    mapped_2d = CEUNet(CEUNetConfig(in_slices=1, base_channels=8, depth=2, noise_map=True))
    initialise_from(mapped_2d, tmp_path / "plain.safetensors")
    x = torch.randn(2, 2, 40, 36)
    c = torch.rand(2, context_vector.SIZE)
    with torch.no_grad():
        torch.testing.assert_close(mapped_2d(x, c), plain(x[:, :1], c))
        mapped_2d.stem.conv1.weight[:, 1].normal_(std=0.05)  # the map now matters
    save_model(mapped_2d, tmp_path / "mapped.safetensors", {"name": "mapped"})
    mapped_3d = CEUNet(CEUNetConfig(in_slices=7, base_channels=8, depth=2, noise_map=True))
    initialise_from(mapped_3d, tmp_path / "mapped.safetensors")
    x3 = torch.randn(2, 8, 40, 36)
    with torch.no_grad():
        torch.testing.assert_close(mapped_3d(x3, c), mapped_2d(x3[:, [3, 7]], c))
    with pytest.raises(MRDeepReconError, match="noise-map model"):
        initialise_from(CEUNet(CEUNetConfig(in_slices=7, base_channels=8, depth=2)), tmp_path / "mapped.safetensors")
