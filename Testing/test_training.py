"""Training pairs and the training loop: physics of the targets, checkpoints, resume."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from mrdeeprecon.errors import Cancelled, MRDeepReconError
from mrdeeprecon.io import load_volume
from mrdeeprecon.model import context_vector
from mrdeeprecon.model.weights import load_model
from mrdeeprecon.progress import CancelToken
from mrdeeprecon.training.pairs import PairConfig, PairSampler
from mrdeeprecon.training.train import TrainConfig, train


@pytest.fixture(scope="module")
def stroke_volume() -> np.ndarray:
    from conftest import shared_path

    return load_volume(shared_path("volumes/stroke_T1.nii.gz")).data


@pytest.mark.parametrize("slices", [1, 7])
@pytest.mark.parametrize("noise_input", ["blind", "map", "scalar"])
def test_batches_have_the_model_layout(stroke_volume, slices, noise_input):
    config = PairConfig(in_slices=slices, patch=64, noise_input=noise_input, p_coil_noise=0.5, group=2)
    sampler = PairSampler([stroke_volume], config, seed=3)
    batch = sampler.batch(5)
    channels = slices + int(noise_input != "blind")
    assert batch.inputs.shape == (5, channels, 64, 64) == (5, config.input_channels, 64, 64)
    assert batch.targets.shape == (5, 1, 64, 64)
    assert batch.context.shape == (5, context_vector.SIZE)
    assert batch.inputs.dtype == batch.targets.dtype == torch.float32
    assert torch.isfinite(batch.inputs).all() and torch.isfinite(batch.targets).all()
    if slices == 1:
        assert (batch.context[:, context_vector.FIELDS.index("kmax_slice")] == 1).all()
    if noise_input != "blind":
        maps = batch.inputs[:, -1]
        assert (maps >= 0).all() and maps.max() > 0
    if noise_input == "scalar":
        assert (maps == maps[:, :1, :1]).all()  # one level per pair


def test_a_2d_stack_is_degraded_slice_by_slice_at_a_drawn_spacing(stroke_volume, monkeypatch):
    """2.5D pairs: 3 slices, each a 2D acquisition (context says 2D, no slice truncation; the
    slices' noise is independent), read at a spacing of 1-2 stored slices: neighbours differ
    from the middle more than adjacent stored slices do."""
    from mrdeeprecon.training import pairs

    scenario = (pairs.DegradationSpec(noise=0.05), pairs.KSpaceSampling())
    monkeypatch.setattr(pairs, "random_degradation", lambda draw, is_3d, config: scenario)
    stacked = PairConfig(in_slices=3, slab="2D", patch=64, p_coil_noise=0.0, slice_spacing=(2.0, 2.0))
    assert not stacked.is_3d and stacked.depth == 3
    sampler = PairSampler([stroke_volume], stacked, seed=4)
    batch = sampler.batch(8)
    assert batch.inputs.shape == (8, 4, 64, 64)
    assert (batch.context[:, context_vector.FIELDS.index("kmax_slice")] == 1).all()
    noise = batch.inputs[:, :3] - batch.targets  # the middle slice's noise; neighbours: noise + anatomy
    tissue = batch.targets[:, 0] > 0.3
    correlation = np.corrcoef(noise[:, 1][tissue].numpy(), noise[:, 0][tissue].numpy())[0, 1]
    assert abs(correlation) < 0.5  # the neighbours carry their own noise
    adjacent = PairSampler([stroke_volume], dataclasses.replace(stacked, slice_spacing=(1.0, 1.0)), seed=4)
    fields_wide = torch.stack([sampler.field() for _ in range(16)])
    fields_near = torch.stack([adjacent.field() for _ in range(16)])
    step = lambda f: float((f[:, 0] - f[:, 1]).abs().mean())  # noqa: E731
    assert step(fields_wide) > 1.3 * step(fields_near)
    with pytest.raises(ValueError, match="slice_spacing"):
        PairConfig(in_slices=3, slab="2D", slice_spacing=(0.5, 1.0))


def test_pairs_are_reproducible_and_the_generator_state_resumes_them(stroke_volume):
    config = PairConfig(patch=48)
    first = PairSampler([stroke_volume], config, seed=5)
    first.batch(4)
    state = first.generator.get_state()
    expected = first.batch(4)
    second = PairSampler([stroke_volume], config, seed=5)
    second.generator.set_state(state)
    again = second.batch(4)
    torch.testing.assert_close(again.inputs, expected.inputs, rtol=0, atol=0)
    torch.testing.assert_close(again.targets, expected.targets, rtol=0, atol=0)
    assert not torch.equal(PairSampler([stroke_volume], config, seed=6).batch(4).inputs, expected.inputs)


def test_clean_and_noise_free_targets(stroke_volume):
    """The clean target is the field itself (full band, no noise); the noise-free target keeps
    the scenario's band limit: equal on a noise- and truncation-free group, different otherwise."""
    draws = {}
    for target in ("clean", "noise_free"):
        sampler = PairSampler([stroke_volume], PairConfig(patch=64, target=target, group=1, p_coil_noise=0.0), seed=11)
        draws[target] = [sampler.batch(1) for _ in range(12)]
    differs = [not torch.allclose(a.targets, b.targets, atol=1e-4) for a, b in zip(draws["clean"], draws["noise_free"])]
    truncated = [bool((a.context[0, :2] < 1).any()) for a in draws["clean"]]
    assert any(differs)
    assert all(d for d, t in zip(differs, truncated) if t)  # a band limit changes the target


def test_input_noise_follows_the_drawn_level_and_the_map_measures_it(stroke_volume, monkeypatch):
    """Pairs degraded with σ = 8 % noise only: in tissue, the input's noise SD (against the clean
    target) is what the noise map says, pair by pair (both scale with the pair's random gain)."""
    from mrdeeprecon.training import pairs

    scenario = (pairs.DegradationSpec(noise=0.08), pairs.KSpaceSampling())
    monkeypatch.setattr(pairs, "random_degradation", lambda draw, is_3d, config: scenario)
    batch = PairSampler([stroke_volume], PairConfig(patch=96, group=4, p_coil_noise=0.0), seed=2).batch(8)
    ratios = []
    for image, level, target in zip(batch.inputs[:, 0], batch.inputs[:, 1], batch.targets[:, 0]):
        tissue = target > 0.5 * target.max()
        ratios.append(float((image - target)[tissue].std() / level[tissue].median()))
    assert np.median(ratios) == pytest.approx(1.0, rel=0.25)


def test_normalised_coil_noise_divides_the_noise_by_a_smooth_field_and_keeps_the_signal():
    from mrdeeprecon.kspace.recon import bias_field
    from mrdeeprecon.training.pairs import normalised_coil_noise

    generator = torch.Generator().manual_seed(4)
    noise_free = torch.full((1, 1, 96, 96), 2.0)
    noise = 0.1 * torch.randn(noise_free.shape, generator=generator)
    field = bias_field((96, 96), 0.6, generator)[:, None]
    out = normalised_coil_noise(noise_free + noise, noise_free, field)
    assert float(field.min()) == pytest.approx(0.4, abs=0.02) or float(field.max()) == pytest.approx(1.6, abs=0.02)
    local = [float((out[0, 0, :, i : i + 16] - 2.0).std()) for i in range(0, 96, 16)]
    expected = [0.1 / float(field[0, 0, :, i : i + 16].mean()) for i in range(0, 96, 16)]
    np.testing.assert_allclose(local, expected, rtol=0.15)
    assert float(out.mean()) == pytest.approx(2.0, abs=0.02)


def test_field_centres_are_tissue_pixels_drawn_uniformly_nine_times_in_ten():
    """Rejection sampling (a few scalar reads) and, after its misses, the scan of the slice draw
    the same thing: a tissue pixel, uniformly, 9 times in 10; else any pixel."""
    from mrdeeprecon.training.pairs import TISSUE_LEVEL

    sampler = PairSampler([np.ones((4, 32, 32), np.float32)], PairConfig(), seed=3)
    section = torch.zeros(64, 64)
    section[:, :16] = 1.0  # a quarter of the slice: rejection finds it in a few tries
    draws = np.array([sampler._centre_pixel(section) for _ in range(4000)])
    inside = draws[:, 1] < 16
    assert inside.mean() == pytest.approx(0.9 + 0.1 * 0.25, abs=0.015)
    columns = np.bincount(draws[inside, 1], minlength=16)
    assert columns.min() > 0.65 * columns.mean() and columns.max() < 1.35 * columns.mean()  # 5 SD of a bin
    assert 0.45 < (draws[inside, 0] < 32).mean() < 0.55
    single = torch.zeros(64, 64)
    single[40, 7] = 2 * TISSUE_LEVEL  # one tissue pixel: rejection misses it, the scan finds it
    draws = [sampler._centre_pixel(single) for _ in range(500)]
    assert sum(d == (40, 7) for d in draws) / len(draws) == pytest.approx(0.9, abs=0.06)  # 4.5 SD
    empty = np.array([sampler._centre_pixel(torch.zeros(64, 64)) for _ in range(300)])  # no tissue: anywhere
    assert empty.min() >= 0 and empty.max() < 64 and (empty.std(axis=0) > 15).all()


def _weights(path: Path) -> dict:
    return load_file(str(path))


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_training_runs_checkpoints_and_resumes_exactly(tmp_path, precision):
    from conftest import shared_path

    data = [shared_path("volumes/stroke_T1.nii.gz")]
    common = dict(kind="2d", data=data, steps=4, batch_size=2, patch=48, base_channels=8, depth=2,
                  checkpoint_every=2, device="cpu", log_every=1, calibrate=False, precision=precision)
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



def test_a_checkpoint_from_another_device_resumes_with_a_fresh_pair_stream(tmp_path):
    """A CUDA generator's state cannot seed a CPU one (nor back): resuming a GPU session's
    checkpoint on the CPU keeps weights and optimiser and says that the pairs start anew. Another
    recipe than the checkpoint's is refused."""
    from conftest import shared_path

    common = dict(kind="2d", data=[shared_path("volumes/stroke_T1.nii.gz")], steps=3, stop_at=2, batch_size=2,
                  patch=48, base_channels=8, depth=2, checkpoint_every=1, device="cpu", log_every=1, calibrate=False,
                  out_dir=tmp_path)
    train(TrainConfig(**common), log=lambda *_: None)
    state_file = tmp_path / "ce_unet_2d.checkpoint.json"
    state = json.loads(state_file.read_text())
    assert state["sampler_device"] == "cpu"
    state_file.write_text(json.dumps({**state, "sampler_device": "cuda"}))
    with pytest.raises(MRDeepReconError, match=r"another recipe.*pairs.p_interpolated 0.0 \(asked 0.5\)"):
        train(TrainConfig(**{**common, "stop_at": None}, resume=True, p_interpolated=0.5), log=lambda *_: None)
    messages: list[str] = []
    train(TrainConfig(**{**common, "stop_at": None}, resume=True), log=messages.append)
    assert any("pairs continue from seed 2" in m and "cuda" in m for m in messages)
    assert any("resumed" in m and "at step 2" in m for m in messages)


def test_a_time_budget_ends_the_session_like_stop_at(tmp_path):
    from conftest import shared_path

    out = train(TrainConfig(kind="2d", data=[shared_path("volumes/stroke_T1.nii.gz")], steps=1000, time_budget_s=0.0,
                            batch_size=2, patch=48, base_channels=8, depth=2, device="cpu", calibrate=False,
                            out_dir=tmp_path), log=lambda *_: None)
    _, card = load_model(out)
    assert card["training"]["steps"] == 1 and card["training"]["schedule_steps"] == 1000
    state = json.loads((tmp_path / "ce_unet_2d.checkpoint.json").read_text())
    assert state["step"] == 1


@pytest.mark.slow
def test_short_training_learns_to_denoise_a_held_out_subject(tmp_path):
    """A few minutes of CPU training already beats the noisy input on a subject it never saw."""
    from conftest import shared_path
    from mrdeeprecon.context import ScanContext
    from mrdeeprecon.inference import enhance
    from mrdeeprecon.kspace.degrade import DegradationSpec
    from mrdeeprecon.metrics import score
    from mrdeeprecon.settings import EnhanceSettings
    from mrdeeprecon.simulate import simulate_acquisition

    config = TrainConfig(kind="2d", out_dir=tmp_path, data=[shared_path("volumes/stroke_T1.nii.gz")],
                         steps=1500, batch_size=8, patch=64, device="cpu")
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
    mapped_2d = CEUNet(CEUNetConfig(in_slices=1, base_channels=8, depth=2, noise_input="map"))
    initialise_from(mapped_2d, tmp_path / "plain.safetensors")
    x = torch.randn(2, 2, 40, 36)
    c = torch.rand(2, context_vector.SIZE)
    with torch.no_grad():
        torch.testing.assert_close(mapped_2d(x, c), plain(x[:, :1], c))
        mapped_2d.stem.conv1.weight[:, 1].normal_(std=0.05)  # the map now matters
    save_model(mapped_2d, tmp_path / "mapped.safetensors", {"name": "mapped"})
    mapped_3d = CEUNet(CEUNetConfig(in_slices=7, base_channels=8, depth=2, noise_input="map"))
    initialise_from(mapped_3d, tmp_path / "mapped.safetensors")
    x3 = torch.randn(2, 8, 40, 36)
    with torch.no_grad():
        torch.testing.assert_close(mapped_3d(x3, c), mapped_2d(x3[:, [3, 7]], c))
    with pytest.raises(MRDeepReconError, match="noise input"):
        initialise_from(CEUNet(CEUNetConfig(in_slices=7, base_channels=8, depth=2)), tmp_path / "mapped.safetensors")


def test_calibration_of_a_model_that_returns_its_input(stroke_volume):
    """A CE U-Net with a zero head returns its input: it keeps all the noise (A = 1) and its
    residual is 0 (C = D = 0), at every band and level; the map levels rise with the noise."""
    from mrdeeprecon.model.ce_unet import CEUNet, CEUNetConfig
    from mrdeeprecon.training.calibration import BANDS, NOISE_LEVELS, measure_calibration

    model = CEUNet(CEUNetConfig(base_channels=4, depth=2, noise_input="map"))
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.zero_()
    table = measure_calibration(model, [stroke_volume], PairConfig(noise_input="map"), seed=1)
    assert table["band_fractions"] == sorted(table["band_fractions"]) == [kf * kp for kf, kp in BANDS]
    np.testing.assert_allclose(table["a"], 1.0, atol=1e-6)
    np.testing.assert_allclose(table["c"], 0.0, atol=1e-6)
    np.testing.assert_allclose(table["d"], 0.0, atol=1e-6)
    for row in table["noise_sd"]:
        assert len(row) == len(NOISE_LEVELS) and row == sorted(row) and row[-1] > 2 * row[0]


def test_losses_prefer_the_target():
    from mrdeeprecon.training.losses import LOSSES, ssim

    generator = torch.Generator().manual_seed(0)
    target = torch.rand(2, 1, 32, 32, generator=generator)
    noisy = (target + 0.3 * torch.randn(target.shape, generator=generator)).requires_grad_()
    assert float(ssim(target, target)) == pytest.approx(1.0, abs=1e-6)
    assert float(ssim(noisy.detach(), target)) < 0.9
    for loss in LOSSES.values():
        assert float(loss(target, target)) == pytest.approx(0.0, abs=1e-6)
        value = loss(noisy, target)
        value.backward()
        assert float(value.detach()) > 0 and torch.isfinite(noisy.grad).all()
        noisy.grad = None


def test_sessions_add_up_stop_at_writes_the_model_and_keeps_the_checkpoint(tmp_path):
    """Two sessions (stop at step 3, then resume) give the straight run's weights; the card's
    lineage lists both sessions; the held-out curve is recorded in the history."""
    from conftest import shared_path

    data = [shared_path("volumes/stroke_T1.nii.gz")]
    common = dict(kind="2d", data=data, steps=5, batch_size=2, patch=48, base_channels=8, depth=2,
                  checkpoint_every=100, device="cpu", log_every=1, calibrate=False)
    straight = train(TrainConfig(out_dir=tmp_path / "a", **common), log=lambda *_: None)
    first = train(TrainConfig(out_dir=tmp_path / "b", stop_at=3, curve_every=3, **common), log=lambda *_: None)
    assert (tmp_path / "b" / "ce_unet_2d.checkpoint.safetensors").exists()
    _, card = load_model(first)
    assert card["training"]["steps"] == 3 and [s["steps"] for s in card["lineage"]] == [[0, 3]]
    assert [h["step"] for h in card["training"]["loss_history"] if "tissue_psnr_db" in h] == [3]
    resumed = train(TrainConfig(out_dir=tmp_path / "b", resume=True, **common), log=lambda *_: None)
    a, b = _weights(straight), _weights(resumed)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
    _, card = load_model(resumed)
    assert [s["steps"] for s in card["lineage"]] == [[0, 3], [3, 5]]
    assert [s["schedule_steps"] for s in card["lineage"]] == [5, 5]
    assert sum(s["patches"] for s in card["lineage"]) == 5 * 2
    assert not (tmp_path / "b" / "ce_unet_2d.checkpoint.safetensors").exists()


def test_a_3d_model_s_curve_reads_the_held_out_slab_as_a_3d_acquisition(tmp_path):
    """The curve describes the held-out slab to a model of several slices of one 3D k-space as the
    3D acquisition it is (a single-slice model is told 2D, as its earlier curves were measured),
    and training goes on after a curve point (scoring once left the weights as inference tensors)."""
    from conftest import shared_path

    data = [shared_path("volumes/stroke_T1.nii.gz")]
    common = dict(data=data, steps=2, batch_size=4, patch=32, base_channels=8, depth=2, checkpoint_every=100,
                  device="cpu", log_every=1, calibrate=False, curve_every=1)
    names = {}
    for kind in ("2d", "3d"):
        _, card = load_model(train(TrainConfig(kind=kind, out_dir=tmp_path / kind, **common), log=lambda *_: None))
        names[kind] = [h["curve"] for h in card["training"]["loss_history"] if "curve" in h]
    assert len(names["2d"]) == len(names["3d"]) == 2
    assert names["3d"][0].endswith(", as a 3D acquisition") and "acquisition" not in names["2d"][0]


def test_held_out_volumes_are_refused_as_training_data():
    from conftest import shared_path
    from mrdeeprecon.errors import MRDeepReconError

    with pytest.raises(MRDeepReconError, match="held out"):
        TrainConfig(data=[shared_path("volumes/seg3D_MR.nii.gz")]).validate()
    with pytest.raises(MRDeepReconError, match="held out"):
        TrainConfig(data=[shared_path("dicom/philips_phantom") / "anything"]).validate()


def test_training_volumes_from_an_archive_and_a_bad_archive(tmp_path):
    """A GPU machine reads .npz archives (no SimpleITK, no pydicom): every 3D member is a volume."""
    from mrdeeprecon.errors import MRDeepReconError
    from mrdeeprecon.training.volumes import load_training_volumes

    rng = np.random.default_rng(0)
    np.savez_compressed(tmp_path / "set.npz", a=rng.random((4, 8, 8)), b=rng.random((5, 6, 7)))
    volumes = load_training_volumes([tmp_path / "set.npz"])
    assert [v.name for v in volumes] == ["set.npz:a", "set.npz:b"]
    assert volumes[1].data.shape == (5, 6, 7) and volumes[0].spacing is None and len(volumes[0].sha256) == 64
    np.savez(tmp_path / "flat.npz", image=np.zeros((8, 8)))
    with pytest.raises(MRDeepReconError, match="not a 3D volume"):
        load_training_volumes([tmp_path / "flat.npz"])
    (tmp_path / "broken.npz").write_bytes(b"not an archive")
    with pytest.raises(MRDeepReconError, match="unreadable training archive"):
        load_training_volumes([tmp_path / "broken.npz"])


def test_every_train_config_field_has_a_flag_and_min_noise_reaches_the_pairs(tmp_path, monkeypatch):
    """`mrdeeprecon train --min-noise` (high-SNR scans) ends up in the pairs and the card; the
    command keeps freed memory in the process (``mrdeeprecon.training.allocator``)."""
    import dataclasses
    import json

    from conftest import shared_path
    from mrdeeprecon.training import allocator
    from mrdeeprecon.cli import build_parser, main

    retained = []
    monkeypatch.setattr(allocator, "retain_freed_memory", lambda: retained.append(True) or True)

    train_parser = build_parser()._subparsers._group_actions[0].choices["train"]
    assert {f.name for f in dataclasses.fields(TrainConfig)} == {a.dest for a in train_parser._actions} - {"help"}
    out = tmp_path / "model"
    args = ["train", "--kind", "2d", "--out", str(out), "--data", str(shared_path("volumes/stroke_T1.nii.gz")),
            "--steps", "1", "--batch-size", "2", "--patch", "48", "--base-channels", "8", "--depth", "2",
            "--device", "cpu", "--no-calibrate", "--curve-every", "0", "--min-noise", "0.001"]
    assert main(args) == 0
    assert retained == [True]
    card = json.loads((out / "ce_unet_2d.json").read_text())
    assert card["training"]["pair_config"]["min_noise"] == 0.001


def test_two_torchrun_processes_train_like_one(tmp_path):
    """DistributedDataParallel over 2 CPU processes (gloo), the same seed and global batch: the
    same initial weights, each process its own pairs for half the batch; the logged loss (the
    whole batch's) follows the one-process curve, and rank 0 alone writes the model."""
    import os
    import subprocess
    import sys

    from conftest import REPO, shared_path

    args = ["train", "--kind", "2d", "--data", str(shared_path("volumes/stroke_T1.nii.gz")), "--steps", "40", "--batch-size", "8",
            "--patch", "48", "--base-channels", "8", "--depth", "2", "--device", "cpu", "--log-every", "10",
            "--checkpoint-every", "1000", "--no-calibrate", "--threads", "1"]
    env = dict(os.environ, PYTHONPATH=str(REPO / "MRDeepRecon"), OMP_NUM_THREADS="1")
    one = subprocess.run([sys.executable, "-m", "mrdeeprecon.cli", *args, "--out", str(tmp_path / "one")], env=env, capture_output=True, text=True)
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "mrdeeprecon.cli",
                          *args, "--out", str(tmp_path / "two")], env=env, capture_output=True, text=True)
    assert one.returncode == 0, one.stderr
    assert two.returncode == 0, two.stderr
    assert two.stdout.count("wrote ") == 1 and sorted(p.name for p in (tmp_path / "two").iterdir()) == ["ce_unet_2d.json", "ce_unet_2d.safetensors"]
    cards = [json.loads((tmp_path / name / "ce_unet_2d.json").read_text()) for name in ("one", "two")]
    curves = [[point["l1"] for point in card["training"]["loss_history"] if "l1" in point] for card in cards]
    assert len(curves[0]) == len(curves[1]) == 4
    assert curves[1][0] == pytest.approx(curves[0][0], rel=0.1)  # the same start
    for a, b in zip(*curves):
        assert b == pytest.approx(a, rel=0.4)
    assert curves[1][-1] < 0.5 * curves[1][0]  # it learns
    assert cards[1]["lineage"][-1]["processes"] == 2 and cards[0]["lineage"][-1]["processes"] == 1


def test_gradient_clipping_bounds_each_step_s_gradient_and_is_recorded(tmp_path, monkeypatch):
    from conftest import shared_path

    norms = []
    step = torch.optim.Adam.step

    def spy(self, *arguments, **keywords):
        grads = [p.grad.flatten() for group in self.param_groups for p in group["params"] if p.grad is not None]
        norms.append(float(torch.cat(grads).norm()))
        return step(self, *arguments, **keywords)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    common = dict(kind="2d", data=[shared_path("volumes/stroke_T1.nii.gz")], steps=2, batch_size=2, patch=48,
                  base_channels=8, depth=2, device="cpu", calibrate=False)
    train(TrainConfig(out_dir=tmp_path / "free", **common), log=lambda *_: None)
    assert min(norms) > 1e-3  # unclipped, the gradients are larger than the bound below
    norms.clear()
    _, card = load_model(train(TrainConfig(out_dir=tmp_path / "clipped", clip_grad_norm=1e-3, **common),
                               log=lambda *_: None))
    assert len(norms) == 2 and max(norms) <= 1e-3 * (1 + 1e-4)
    assert card["lineage"][-1]["clip_grad_norm"] == 1e-3
    assert card["training"]["optimizer"].endswith("gradient norm clipped to 0.001")
    with pytest.raises(MRDeepReconError, match="clip_grad_norm must be > 0"):
        TrainConfig(clip_grad_norm=0.0).validate()


def test_precision_resolves_to_bf16_only_where_the_device_computes_it_natively(monkeypatch):
    from mrdeeprecon import precision

    cpu = torch.device("cpu")
    probes = [getattr(torch.cpu, name, lambda: False)() for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    assert precision.native_bfloat16(cpu) is any(probes)
    assert precision.native_bfloat16(torch.device("meta")) is False
    assert precision.resolve_precision("float32", cpu) == "float32"
    assert precision.resolve_precision("bfloat16", cpu) == "bfloat16"
    for native in (True, False):
        monkeypatch.setattr(precision, "native_bfloat16", lambda device, native=native: native)
        assert precision.resolve_precision("auto", cpu) == ("bfloat16" if native else "float32")
    with pytest.raises(ValueError, match="precision must be one of"):
        precision.resolve_precision("float16", cpu)
    with pytest.raises(ValueError, match="resolve the precision first"):
        precision.forward_precision("auto", cpu)
    with pytest.raises(MRDeepReconError, match="precision must be one of"):
        TrainConfig(precision="float16").validate()


@pytest.mark.parametrize("asked", ["float32", "bfloat16"])
def test_the_forward_pass_runs_in_the_precision_asked_the_loss_in_float32(tmp_path, monkeypatch, asked):
    """Every training convolution (and transposed convolution) computes in the asked precision
    (bf16 autocast on the CPU here, whatever the CPU), on channels-last weights and input; the loss
    is computed in float32 outside the autocast region; the weights stay float32 and the session's
    lineage segment names the precision."""
    from conftest import shared_path

    from mrdeeprecon.training import train as train_module

    seen, inputs, losses = [], [], []
    for layer in (torch.nn.Conv2d, torch.nn.ConvTranspose2d):
        def spy(self, x, *rest, forward=layer.forward):
            out = forward(self, x, *rest)
            if torch.is_grad_enabled():  # the training step, not the held-out evaluation
                seen.append((out.dtype, self.weight.dtype, self.weight.is_contiguous(memory_format=torch.channels_last)))
                if self.in_channels == 2:  # the stem reads the network input: slice + noise level
                    inputs.append(x.is_contiguous(memory_format=torch.channels_last))
            return out

        monkeypatch.setattr(layer, "forward", spy)
    l1 = train_module.LOSSES["l1"]

    def loss_spy(output, target):
        losses.append((output.dtype, torch.is_autocast_enabled("cpu")))
        return l1(output, target)

    monkeypatch.setitem(train_module.LOSSES, "l1", loss_spy)
    out = train(TrainConfig(kind="2d", data=[shared_path("volumes/stroke_T1.nii.gz")], steps=2, batch_size=2, patch=48,
                            base_channels=8, depth=2, device="cpu", calibrate=False, precision=asked,
                            out_dir=tmp_path), log=lambda *_: None)
    computed = torch.bfloat16 if asked == "bfloat16" else torch.float32
    from mrdeeprecon.model.ce_unet import CEUNet, CEUNetConfig

    layers = CEUNet(CEUNetConfig(base_channels=8, depth=2, noise_input=TrainConfig().noise_input)).modules()
    per_pass = sum(isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)) for m in layers)
    assert len(seen) == 2 * per_pass and {entry[0] for entry in seen} == {computed}
    assert {entry[1:] for entry in seen} == {(torch.float32, True)} and inputs == [True, True]
    assert losses == [(torch.float32, False)] * 2
    _, card = load_model(out)
    assert card["lineage"][-1]["precision"] == asked
    assert all(t.dtype == torch.float32 for t in _weights(out).values())


def test_resumed_adam_moments_take_their_parameters_layout(tmp_path):
    """Moments are saved contiguous; restored, they take the channels-last layout of their
    parameters again, as a fresh run's have (foreach and fused Adam steps need matching strides)."""
    from mrdeeprecon.training.checkpoint import load_checkpoint, save_checkpoint

    def layer():
        conv = torch.nn.Conv2d(3, 4, 3).to(memory_format=torch.channels_last)
        return conv, torch.optim.Adam(conv.parameters())

    conv, optimizer = layer()
    conv(torch.randn(2, 3, 8, 8)).sum().backward()
    optimizer.step()
    save_checkpoint(tmp_path / "c", conv, optimizer, {"step": 1})
    restored, restored_optimizer = layer()
    load_checkpoint(tmp_path / "c", restored, restored_optimizer)
    moments = restored_optimizer.state[restored.weight]
    assert restored.weight.stride() != torch.empty(restored.weight.shape).stride()  # channels-last indeed
    for key in ("exp_avg", "exp_avg_sq"):
        assert moments[key].stride() == restored.weight.stride()
        torch.testing.assert_close(moments[key], optimizer.state[conv.weight][key], rtol=0, atol=0)
