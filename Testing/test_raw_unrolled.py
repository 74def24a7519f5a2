"""The unrolled SENSE network (issue 12 point 3): shapes, data-consistency steps, exact resume of
``train-recon``, its flags, and the bundled model against zero-filled on a held-out slice."""

from __future__ import annotations

import dataclasses
import json
import importlib.util

import numpy as np
import pytest
import torch

from mrdeeprecon.kspace.coils import coil_sensitivities
from mrdeeprecon.kspace.fft import fftc
from mrdeeprecon.metrics import psnr
from mrdeeprecon.raw.operators import SenseOperator
from mrdeeprecon.raw.unrolled import UnrolledConfig, UnrolledSense

needs_sigpy = pytest.mark.skipif(importlib.util.find_spec("sigpy") is None, reason="sigpy is not installed")
COILS, SLICES, NY, NX = 4, 2, 30, 22


def _maps(ny: int = NY, nx: int = NX) -> torch.Tensor:
    """Coil maps ``(coils, 1, y, x)`` with ``Σ_c |S_c|² = 1``."""
    maps = coil_sensitivities((ny, nx), COILS, frequency_axis=1, phase_axis=0).to(torch.complex64)
    return (maps / torch.sqrt(torch.sum(maps.abs() ** 2, 0))).unsqueeze(1)


def _random_problem(seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    maps = _maps().expand(COILS, SLICES, NY, NX).contiguous()
    mask = torch.rand((SLICES, NY, NX), generator=generator) < 0.3
    kspace = torch.complex(torch.randn((COILS, SLICES, NY, NX), generator=generator),
                           torch.randn((COILS, SLICES, NY, NX), generator=generator)) * mask
    return kspace, maps, mask, generator


def test_forward_gives_one_complex_image_per_slice():
    kspace, maps, mask, _ = _random_problem()
    model = UnrolledSense(UnrolledConfig(cascades=2, channels=4))
    with torch.no_grad():
        image = model(kspace, maps, mask)
    assert image.shape == (SLICES, NY, NX) and image.dtype == torch.complex64
    assert torch.isfinite(torch.view_as_real(image)).all()


def test_each_data_consistency_step_reduces_the_residual_at_initialisation():
    kspace, maps, mask, generator = _random_problem(1)
    model = UnrolledSense(UnrolledConfig(cascades=3, channels=4))
    operator = SenseOperator(maps, mask)
    image = torch.complex(torch.randn((SLICES, NY, NX), generator=generator), torch.randn((SLICES, NY, NX), generator=generator))
    with torch.no_grad():
        for k in range(model.config.cascades):
            before = torch.linalg.vector_norm(operator.forward(image) - kspace)
            image = image - model.data_consistency(k, image, operator, kspace)
            after = torch.linalg.vector_norm(operator.forward(image) - kspace)
            assert after < before, (k, float(before), float(after))


@needs_sigpy
def test_cg_sense_iterates_as_sigpys_sense_recon():
    import sigpy.mri.app

    from mrdeeprecon.raw.operators import cg_sense

    kspace, maps, mask, _ = _random_problem(2)
    image = cg_sense(SenseOperator(maps, mask), kspace, 1e-2, 5)
    for s in range(SLICES):
        reference = sigpy.mri.app.SenseRecon(kspace[:, s].numpy(), maps[:, s].numpy(), lamda=1e-2,
                                             weights=mask[s].numpy().astype(np.float32), max_iter=5, show_pbar=False).run()
        assert np.abs(image[s].numpy() - reference).max() <= 1e-4 * np.abs(reference).max()


@needs_sigpy
def test_the_sense_start_is_cg_sense_at_the_baselines_setting():
    """With no cascade, a "sense" network is CG-SENSE at each slice's acceleration (here two
    slices sampled at different R), whatever the data's scale; an "adjoint" one is Aᴴy."""
    from mrdeeprecon.raw.baselines import sense_settings_for
    from mrdeeprecon.raw.operators import cg_sense

    kspace, maps, mask, generator = _random_problem(3)
    mask[1] = torch.rand((NY, NX), generator=generator) < 0.6
    kspace = kspace * mask * 1e3
    with torch.no_grad():
        started = UnrolledSense(UnrolledConfig(cascades=0, start="sense"))(kspace, maps, mask)
        adjoint = UnrolledSense(UnrolledConfig(cascades=0))(kspace, maps, mask)
    for s in range(SLICES):
        lamda, iterations = sense_settings_for(float(mask[s].numel() / mask[s].sum()))
        expected = cg_sense(SenseOperator(maps[:, s : s + 1], mask[s : s + 1]), kspace[:, s : s + 1], lamda, iterations)[0]
        assert torch.allclose(started[s], expected, rtol=1e-4, atol=1e-4 * float(expected.abs().max()))
    assert torch.allclose(adjoint, SenseOperator(maps, mask).adjoint(kspace), atol=1e-3)
    assert sense_settings_for(float(mask[0].numel() / mask[0].sum())) != sense_settings_for(float(mask[1].numel() / mask[1].sum()))
    with pytest.raises(ValueError, match="unknown start"):
        UnrolledConfig(start="zero")


def test_the_sense_start_keeps_the_settings_it_was_made_with(monkeypatch):
    """A "sense" model records the CG-SENSE table of its making (and its card gives it back):
    retuning the baseline afterwards changes neither its settings nor its output."""
    from mrdeeprecon.raw import baselines

    config = UnrolledConfig(cascades=0, start="sense")
    assert config.sense_start == tuple((r, lam, n) for r, (lam, n) in baselines.SENSE_SETTINGS_BY_ACCELERATION.items())
    assert UnrolledConfig(**json.loads(json.dumps(dataclasses.asdict(config)))) == config
    assert UnrolledConfig(cascades=0).sense_start == ()
    kspace, maps, mask, _ = _random_problem(5)
    with torch.no_grad():
        before = UnrolledSense(config)(kspace, maps, mask)
        monkeypatch.setattr(baselines, "SENSE_SETTINGS_BY_ACCELERATION", {1.0: (1.0, 1)})
        after = UnrolledSense(config)(kspace, maps, mask)
        retuned = UnrolledSense(UnrolledConfig(cascades=0, start="sense"))(kspace, maps, mask)
    assert torch.equal(before, after) and not torch.allclose(before, retuned, atol=1e-3)


def test_a_cg_cascade_solves_its_penalised_normal_equations():
    """With the regulariser at zero (its initialisation), a "cg" cascade returns the minimiser of
    ‖Ax − y‖² + μ‖x − z‖² (z the cascade's input): the gradient Aᴴ(Ax − y) + μ(x − z) vanishes."""
    kspace, maps, mask, _ = _random_problem(6)
    model = UnrolledSense(UnrolledConfig(cascades=1, channels=4, data_consistency="cg", cg_iterations=60))
    operator = SenseOperator(maps, mask)
    prior = operator.adjoint(kspace)
    penalty = torch.nn.functional.softplus(model.penalties[0]).detach()
    assert float(penalty) == pytest.approx(UnrolledConfig.initial_penalty, rel=1e-5)
    with torch.no_grad():
        image = model.conjugate_gradient_step(0, prior, operator, operator.adjoint(kspace))
        gradient = operator.adjoint(operator.forward(image) - kspace) + penalty * (image - prior)
    assert float(gradient.abs().max()) < 1e-4 * float(prior.abs().max())
    assert "steps" not in dict(model.named_parameters())


def test_the_final_projection_keeps_what_was_measured():
    """Fully sampled: the projected network output is Aᴴy whatever the cascades did; consistent
    data (y = A x): the true image is left as it is."""
    kspace, maps, mask, generator = _random_problem(4)
    operator = SenseOperator(maps, mask)
    truth = torch.complex(torch.randn((SLICES, NY, NX), generator=generator), torch.randn((SLICES, NY, NX), generator=generator))
    truth = truth * (torch.sum(maps.abs() ** 2, 0) > 0.5)
    assert torch.allclose(operator.project(truth, operator.forward(truth)), truth, atol=1e-4)
    full = torch.ones_like(mask)
    model = UnrolledSense(UnrolledConfig(cascades=2, channels=4, final_projection=True))
    for regulariser in model.regularisers:  # cascades that change the image
        torch.nn.init.normal_(regulariser.out.weight, std=0.1)
    with torch.no_grad():
        projected = model(kspace, maps, full)
        plain = UnrolledSense(UnrolledConfig(cascades=2, channels=4))
        plain.load_state_dict(model.state_dict())
        unprojected = plain(kspace, maps, full)
    expected = SenseOperator(maps, full).adjoint(kspace)
    assert torch.allclose(projected, expected, atol=1e-4)
    assert not torch.allclose(unprojected, expected, atol=1e-2)


def _template(path):
    """A fully sampled 8-coil ``.npy`` raw file (1 slice, 128 × 112: Poisson-disc masks at R 8 need
    room beside the 24 × 24 calibration) of an ellipse with noise."""
    ny, nx = 128, 112
    y, x = np.mgrid[:ny, :nx]
    image = ((((y - ny / 2) / 50) ** 2 + ((x - nx / 2) / 40) ** 2) < 1).astype(np.float32)
    maps = coil_sensitivities((ny, nx), 8, frequency_axis=1, phase_axis=0).numpy()
    kspace = fftc(maps * image, (-2, -1))
    rng = np.random.default_rng(0)
    kspace = kspace + 0.01 * (rng.normal(size=kspace.shape) + 1j * rng.normal(size=kspace.shape))
    np.save(path, kspace.astype(np.complex64))
    return path


@needs_sigpy
def test_train_recon_resumes_exactly(tmp_path):
    """2 steps, then 2 more from the checkpoint = 4 steps in one go: the same weights."""
    from safetensors.torch import load_file

    from mrdeeprecon.training.train_unrolled import ReconTrainConfig, train_recon

    rng = np.random.default_rng(0)
    volumes = tmp_path / "volumes.npz"
    np.savez(volumes, a=rng.random((12, 40, 36)).astype(np.float32))
    template = _template(tmp_path / "template.npy")
    common = dict(data=[volumes], template=template, steps=4, cascades=2, channels=4, batch_size=1, log_every=1, threads=1)
    train_recon(ReconTrainConfig(out_dir=tmp_path / "split", stop_at=2, **common), log=lambda m: None)
    train_recon(ReconTrainConfig(out_dir=tmp_path / "split", resume=True, **common), log=lambda m: None)
    train_recon(ReconTrainConfig(out_dir=tmp_path / "whole", **common), log=lambda m: None)
    split = load_file(str(tmp_path / "split" / "unrolled_sense.safetensors"))
    whole = load_file(str(tmp_path / "whole" / "unrolled_sense.safetensors"))
    assert split.keys() == whole.keys()
    for name in whole:
        assert torch.equal(split[name], whole[name]), name
    assert not (tmp_path / "split" / "unrolled_sense.checkpoint.json").exists()  # the schedule finished


@needs_sigpy
def test_train_recon_fine_tunes_from_other_weights(tmp_path):
    """``init_weights``: an adjoint-start, gradient-step model's weights start a CG-SENSE-start, CG
    data-consistency run (the CG penalties start fresh); its card joins the lineage, and weights of
    another size are refused."""
    from mrdeeprecon.errors import MRDeepReconError
    from mrdeeprecon.raw.unrolled import load_unrolled
    from mrdeeprecon.training.train_unrolled import ReconTrainConfig, train_recon

    rng = np.random.default_rng(0)
    volumes = tmp_path / "volumes.npz"
    np.savez(volumes, a=rng.random((12, 40, 36)).astype(np.float32))
    common = dict(data=[volumes], template=_template(tmp_path / "template.npy"), steps=1, cascades=2, channels=4,
                  batch_size=1, log_every=1, threads=1)
    first = train_recon(ReconTrainConfig(out_dir=tmp_path / "adjoint", start="adjoint", data_consistency="gradient", **common),
                        log=lambda m: None)
    tuned = train_recon(ReconTrainConfig(out_dir=tmp_path / "tuned", init_weights=first, **common), log=lambda m: None)
    model, card = load_unrolled(tuned)
    source, source_card = load_unrolled(first)
    assert (model.config.start, source.config.start) == ("sense", "adjoint")
    assert (model.config.data_consistency, source.config.data_consistency) == ("cg", "gradient")
    assert card["lineage"][0]["fresh_parameters"] == ["penalties"]  # the CG penalties start fresh, the rest is the source's
    assert card["lineage"][0]["fine_tuned_from"] == first.name and card["lineage"][0]["sha256"] == source_card["sha256"]
    assert len(card["lineage"]) == 2
    with pytest.raises(MRDeepReconError, match="do not fit"):
        train_recon(ReconTrainConfig(out_dir=tmp_path / "wide", init_weights=first, **{**common, "channels": 6}), log=lambda m: None)


def test_train_recon_flags_are_the_config_fields():
    from mrdeeprecon.cli import build_parser
    from mrdeeprecon.training.train_unrolled import ReconTrainConfig

    parser = build_parser()._subparsers._group_actions[0].choices["train-recon"]
    assert {f.name for f in dataclasses.fields(ReconTrainConfig)} == {a.dest for a in parser._actions} - {"help"}


@needs_sigpy
def test_train_recon_takes_the_pair_recipe_from_its_flags(tmp_path):
    """Target and mask shares reach the pairs and the card (so an older lineage run can be rerun);
    shares that do not add up are refused before any work."""
    import json

    from mrdeeprecon.errors import MRDeepReconError
    from mrdeeprecon.training.train_unrolled import ReconTrainConfig, train_recon

    rng = np.random.default_rng(0)
    volumes = tmp_path / "volumes.npz"
    np.savez(volumes, a=rng.random((12, 40, 36)).astype(np.float32))
    common = dict(data=[volumes], template=_template(tmp_path / "template.npy"), steps=1, cascades=1, channels=4,
                  batch_size=1, threads=1)
    path = train_recon(ReconTrainConfig(out_dir=tmp_path / "old", target="clean", poisson_share=0.5,
                                        random_line_share=0.0, **common), log=lambda m: None)
    pairs = json.loads(path.with_suffix(".json").read_text())["training"]["pair_config"]
    assert (pairs["target"], pairs["p_poisson"], pairs["p_random"]) == ("clean", 0.5, 0.0)
    with pytest.raises(MRDeepReconError, match="mask shares"):
        train_recon(ReconTrainConfig(out_dir=tmp_path / "bad", poisson_share=0.7, random_line_share=0.5, **common),
                    log=lambda m: None)
    assert not (tmp_path / "bad").exists()


@needs_sigpy
def test_the_fully_sampled_target_is_the_clean_one_plus_the_pairs_own_noise(tmp_path):
    """Same seed, same input k-space; the "fully_sampled" target differs from the "clean" one by the
    pair's noise combined over the coils: zero mean, SD of the order of the template's per-coil
    noise (times the drawn factor, 0.5-2)."""
    from mrdeeprecon.training.raw_pairs import RawPairConfig, RawPairSampler
    from mrdeeprecon.training.train_unrolled import template_of

    maps, covariance, level = template_of(_template(tmp_path / "template.npy"))
    volume = np.random.default_rng(1).random((12, 64, 56)).astype(np.float32) + 1.0
    pairs = {target: RawPairSampler([volume], maps, covariance, level, RawPairConfig(target=target), seed=5).batch(1)
             for target in ("clean", "fully_sampled")}
    assert torch.equal(pairs["clean"].kspace, pairs["fully_sampled"].kspace)
    inside = torch.sum(pairs["clean"].maps.abs() ** 2, 0) > 0.5
    noise = (pairs["fully_sampled"].target - pairs["clean"].target)[inside]
    per_coil_sd = float(np.sqrt(np.mean(np.diag(covariance).real)))
    assert abs(complex(noise.mean())) < 0.1 * float(noise.abs().std())
    assert 0.4 * per_coil_sd < float(noise.abs().pow(2).mean().sqrt()) < 2.5 * per_coil_sd
    with pytest.raises(ValueError, match="unknown target"):
        RawPairConfig(target="noisy")


@needs_sigpy
def test_random_line_masks_sample_whole_lines_at_the_drawn_acceleration(tmp_path):
    from mrdeeprecon.training.raw_pairs import ACS_LINES, RawPairConfig, RawPairSampler
    from mrdeeprecon.training.train_unrolled import template_of

    maps, covariance, level = template_of(_template(tmp_path / "template.npy"))
    volume = np.random.default_rng(1).random((12, 64, 56)).astype(np.float32) + 1.0
    config = RawPairConfig(acceleration=(4.0, 4.0), p_poisson=0.0, p_random=1.0)
    masks = RawPairSampler([volume], maps, covariance, level, config, seed=9).batch(24).mask
    ny = masks.shape[1]
    assert torch.equal(masks, masks[:, :, :1].expand_as(masks)), "whole ky lines"
    assert masks[:, ny // 2 - ACS_LINES // 2 : ny // 2 + ACS_LINES // 2].all()
    assert float(masks.float().mean()) == pytest.approx(0.25, abs=0.02)
    assert len({m[:, 0].numpy().tobytes() for m in masks}) == 24, "a new draw per pair"


@needs_sigpy
def test_bundled_model_beats_zero_filled_on_a_held_out_slice():
    """Pairs simulated (as in training) from the held-out seg3D_MR at R 4: the bundled network's
    magnitude is closer to the target (the coil-combined fully sampled image) than the zero-filled
    one's."""
    from conftest import shared_path
    from mrdeeprecon.io import load_volume
    from mrdeeprecon.raw.unrolled import load_unrolled
    from mrdeeprecon.training.raw_pairs import RawPairConfig, RawPairSampler
    from mrdeeprecon.training.train_unrolled import template_of

    volume = load_volume(shared_path("volumes/seg3D_MR.nii.gz")).data
    maps, covariance, level = template_of(shared_path("kspace/espirit_full.cfl"))
    sampler = RawPairSampler([volume], maps, covariance, level, RawPairConfig(acceleration=(4.0, 4.0)), seed=123)
    batch = sampler.batch(2)
    model, card = load_unrolled()
    with torch.no_grad():
        network = model(batch.kspace, batch.maps, batch.mask).abs().numpy()
    zero_filled = SenseOperator(batch.maps, batch.mask).adjoint(batch.kspace).abs().numpy()
    truth = batch.target.abs().numpy()
    gain = psnr(truth, network) - psnr(truth, zero_filled)
    assert gain > 3.0, (gain, card["training"]["steps"])
