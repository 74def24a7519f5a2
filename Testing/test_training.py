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
def test_batches_have_the_model_layout(stroke_volume, kind, slices):
    sampler = PairSampler([stroke_volume], PairConfig(kind=kind, patch=64), seed=3)
    batch = sampler.batch(4)
    assert batch.inputs.shape == (4, slices, 64, 64)
    assert batch.targets.shape == (4, 1, 64, 64)
    assert batch.context.shape == (4, context_vector.SIZE)
    assert batch.inputs.dtype == batch.targets.dtype == np.float32
    assert np.isfinite(batch.inputs).all() and np.isfinite(batch.targets).all()
    nr_inverse = batch.context[:, context_vector.FIELDS.index("inverse_noise_reduction")]
    assert ((nr_inverse >= 0.2) & (nr_inverse <= 1.0)).all()
    if kind == "2d":
        assert (batch.context[:, context_vector.FIELDS.index("kmax_slice")] == 1).all()


def test_same_seed_same_pairs_different_seed_different(stroke_volume):
    a = PairSampler([stroke_volume], PairConfig(patch=48), seed=5).batch(3)
    b = PairSampler([stroke_volume], PairConfig(patch=48), seed=5).batch(3)
    c = PairSampler([stroke_volume], PairConfig(patch=48), seed=6).batch(3)
    np.testing.assert_array_equal(a.inputs, b.inputs)
    np.testing.assert_array_equal(a.targets, b.targets)
    assert not np.array_equal(a.inputs, c.inputs)


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
