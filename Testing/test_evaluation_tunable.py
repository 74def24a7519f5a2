"""Tunable-denoising accuracy by pseudo-replica: oracle enhancements of known noise reduction
measure what they do, in the plain and the band-limited (interpolated) case; anatomy, offsets and
deterministic errors cancel; the identity fails; refusals; tiny-model plumbing; JSON and PNG."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from conftest import shared_path
from mrdeeprecon.context import ScanContext
from mrdeeprecon.errors import MRDeepReconError
from mrdeeprecon.evaluation.tunable import measure_tunable_denoising, plot_tunable_denoising, replicas
from mrdeeprecon.io import load_volume
from mrdeeprecon.kspace.degrade import DegradationSpec
from mrdeeprecon.tissue import homogeneous_tissue
from mrdeeprecon.settings import EnhanceSettings

CONTEXT = ScanContext(acquisition="2D", phase_axis=1)
SEED = 3


@pytest.fixture(scope="module")
def clean():
    """Twelve axial slices of the held-out seg3D head (232 × 160 in-plane)."""
    volume = load_volume(shared_path("volumes/seg3D_MR.nii.gz"))
    return volume.with_data(np.ascontiguousarray(volume.data[70:82]))


def _oracle(noise_free, offset=0.0, blur=False):
    """Keeps exactly 1/NR of the input's noise, plus an offset or a fixed smoothing of the anatomy
    (deterministic errors, which pseudo-replica must not count as noise)."""
    from scipy import ndimage

    anatomy = ndimage.gaussian_filter(noise_free, (0, 1.5, 1.5)) if blur else noise_free

    def enhancer(volume, settings, context):
        data = anatomy + (volume.data - noise_free) / settings.noise_reduction + offset
        return volume.with_data(data.astype(np.float32))

    return enhancer


@pytest.mark.parametrize("kmax", [(1.0, 1.0, 1.0), (0.5, 0.5, 1.0)])
def test_oracle_measures_the_requested_factor(clean, kmax):
    noise_free = replicas(clean, DegradationSpec(noise=0.1, kmax=kmax), CONTEXT, SEED).noise_free.data
    result = measure_tunable_denoising(clean, CONTEXT, noise=0.1, noise_reductions=(1.5, 3.0), kmax=kmax,
                                       seed=SEED, enhancer=_oracle(noise_free, blur=True))
    assert [f.requested for f in result.factors] == [1.5, 3.0]
    for factor in result.factors:
        assert factor.measured == pytest.approx(factor.requested, rel=1e-4)
        assert factor.within_2_percent and factor.within_10_percent
        assert factor.reported is None  # an oracle reports nothing
    assert result.voxels == int(homogeneous_tissue(clean.data).sum()) > 1000
    assert result.noise_sigma == pytest.approx(0.1 * np.percentile(clean.data, 99), rel=1e-3)
    # band-limited noise is weaker per voxel: σ·sqrt(k_f·k_p) (plus the reference's own noise)
    expected = result.noise_sigma * np.sqrt(kmax[0] * kmax[1])
    assert result.input_noise_sd == pytest.approx(expected, rel=0.1)
    json.dumps(dataclasses.asdict(result))


def test_the_two_realisations_differ_only_by_their_noise(clean):
    pair = replicas(clean, DegradationSpec(noise=0.05), CONTEXT, SEED)
    difference = (pair.a.data - pair.b.data)[homogeneous_tissue(clean.data)]
    assert abs(np.corrcoef(pair.a.data.ravel(), pair.b.data.ravel())[0, 1]) > 0.9
    assert abs(difference.mean()) < 0.05 * difference.std()
    with pytest.raises(MRDeepReconError, match="only randomness"):
        replicas(clean, DegradationSpec(noise=0.05, bias_field=0.2), CONTEXT, SEED)


def test_identity_measures_one_and_an_offset_is_a_mean_change(clean):
    identity = measure_tunable_denoising(clean, CONTEXT, noise_reductions=(2.0,), seed=SEED,
                                         enhancer=lambda volume, settings, context: volume)
    factor = identity.factors[0]
    assert factor.measured == pytest.approx(1.0) and factor.relative_error == pytest.approx(-0.5)
    assert not factor.within_10_percent and not identity.bar_met
    noise_free = replicas(clean, DegradationSpec(noise=0.1), CONTEXT, SEED).noise_free.data
    shifted = measure_tunable_denoising(clean, CONTEXT, noise_reductions=(2.0,), seed=SEED,
                                        enhancer=_oracle(noise_free, offset=0.05 * float(np.percentile(clean.data, 99))))
    factor = shifted.factors[0]
    assert factor.within_2_percent and factor.mean_change_percent > 2.0
    assert not factor.mean_within_2_percent and not shifted.bar_met


def test_bad_requests_are_refused(clean):
    with pytest.raises(MRDeepReconError, match="noise > 0"):
        measure_tunable_denoising(clean, CONTEXT, noise=0.0)
    with pytest.raises(MRDeepReconError, match="factor"):
        measure_tunable_denoising(clean, CONTEXT, noise_reductions=())


def test_tiny_model_plumbing_json_and_plot(clean, tiny_models, tmp_path):
    settings = EnhanceSettings(model_path=tiny_models["2d"], model_kind="2d", device="cpu")
    result = measure_tunable_denoising(clean, CONTEXT, settings, noise_reductions=(2.0, 4.0))
    assert all(np.isfinite(f.measured) and f.measured > 0 for f in result.factors)
    assert all(f.reported is not None for f in result.factors)
    json.dumps(dataclasses.asdict(result))
    path = plot_tunable_denoising({"seg3D": result}, tmp_path / "tunable.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
