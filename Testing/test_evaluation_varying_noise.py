"""Spatially varying noise by pseudo-replica: the SENSE (g-factor) input really has a noisier
region, an oracle keeps 1/NR of the noise in both thirds, a region-blind enhancer is caught;
tiny-model plumbing, JSON and PNG output."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from conftest import shared_path
from mrdeeprecon.context import ScanContext
from mrdeeprecon.errors import MRDeepReconError
from mrdeeprecon.evaluation.tunable import replicas
from mrdeeprecon.evaluation.varying_noise import (
    DEFAULT_SPEC,
    local_noise_sd,
    measure_varying_noise,
    plot_varying_noise,
)
from mrdeeprecon.io import load_volume
from mrdeeprecon.kspace.degrade import DegradationSpec
from mrdeeprecon.tissue import tissue_mask
from mrdeeprecon.settings import EnhanceSettings
from mrdeeprecon.simulate import degrade_with_reference

CONTEXT = ScanContext(acquisition="2D", phase_axis=1)
SEED = 5


@pytest.fixture(scope="module")
def clean():
    """Eight axial slices of the held-out seg3D head (232 × 160 in-plane)."""
    volume = load_volume(shared_path("volumes/seg3D_MR.nii.gz"))
    return volume.with_data(np.ascontiguousarray(volume.data[76:84]))


@pytest.fixture(scope="module")
def reference(clean):
    """Noise-free version of the default degradation."""
    return replicas(clean, DEFAULT_SPEC, CONTEXT, SEED).noise_free.data


def _oracle(reference, weights=None):
    """Keeps exactly 1/NR of the input's noise (``weights(noise, NR)`` overrides the 1/NR)."""

    def enhancer(volume, settings, context):
        noise = volume.data - reference
        scale = 1.0 / settings.noise_reduction if weights is None else weights(noise, settings)
        return volume.with_data((reference + noise * scale).astype(np.float32))

    return enhancer


def test_gfactor_noise_varies_and_oracle_holds_in_both_thirds(clean, reference):
    result = measure_varying_noise(
        clean, CONTEXT, EnhanceSettings(noise_reduction=3.0), seed=SEED,
        enhancer=_oracle(reference),
    )
    assert result.input_noise_ratio > 1.3
    regions = {r.name: r for r in result.regions}
    assert set(regions) == {"quietest third", "middle third", "noisiest third", "tissue"}
    assert regions["quietest third"].local_sd_range[1] <= regions["noisiest third"].local_sd_range[0]
    for region in result.regions:
        assert region.achieved == pytest.approx(3.0, rel=1e-4)
        assert region.within_tolerance
    assert result.evenness == pytest.approx(1.0, rel=1e-4) and result.bar_met
    json.dumps(dataclasses.asdict(result))


def test_enhancer_blind_to_the_noisy_region_is_caught(clean, reference):
    def quiet_half_only(noise, settings):
        inside = tissue_mask(clean.data)
        level = local_noise_sd(noise, inside, clean.spacing, 4.0)
        cut = np.median(level[inside])
        return np.where(level <= cut, 1.0 / settings.noise_reduction, 1.0)

    result = measure_varying_noise(
        clean, CONTEXT, EnhanceSettings(noise_reduction=3.0), seed=SEED,
        enhancer=_oracle(reference, quiet_half_only),
    )
    regions = {r.name: r for r in result.regions}
    assert regions["quietest third"].achieved == pytest.approx(3.0, rel=0.1)
    assert regions["noisiest third"].achieved < 1.2
    assert not regions["noisiest third"].within_tolerance and not result.bar_met
    assert result.evenness < 0.5


def test_local_noise_sd_of_white_noise():
    rng = np.random.default_rng(0)
    noise = rng.normal(0.0, 2.0, (12, 40, 40))
    noise[:, :, 20:] *= 3.0
    inside = np.ones(noise.shape, dtype=bool)
    level = local_noise_sd(noise, inside, (1.0, 1.0, 1.0), 3.0)
    assert np.median(level[:, 8:32, 2:10]) == pytest.approx(2.0, rel=0.1)
    assert np.median(level[:, 8:32, 30:38]) == pytest.approx(6.0, rel=0.1)
    inside[:, :, :5] = False
    assert np.all(local_noise_sd(noise, inside, (1.0, 1.0, 1.0), 3.0)[:, :, :5] == 0)


def test_refusals(clean):
    with pytest.raises(MRDeepReconError, match="noise > 0"):
        measure_varying_noise(clean, CONTEXT, spec=DegradationSpec(undersample_uniform=2))
    with pytest.raises(MRDeepReconError, match="3D acquisition"):
        degrade_with_reference(clean, DegradationSpec(noise=0.1, kmax=(1, 1, 0.5)), CONTEXT)


def test_tiny_model_plumbing_json_and_plot(clean, tiny_models, tmp_path):
    settings = EnhanceSettings(noise_reduction=2.0, model_path=tiny_models["2d"], device="cpu")
    result = measure_varying_noise(clean, CONTEXT, settings, seed=SEED)
    assert result.requested == 2.0
    assert all(np.isfinite(r.achieved) and r.achieved > 0 for r in result.regions)
    assert len(result.input_map) == -(-clean.shape[1] // result.map_step)
    json.dumps(dataclasses.asdict(result))
    path = plot_varying_noise(result, tmp_path / "varying_noise.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
