"""Tunable-denoising accuracy: oracle enhancements of known noise reduction measure what they do;
the definition ignores a constant offset but reports it as mean change; automatic ROIs; plumbing
with a tiny model; JSON and PNG output."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from conftest import shared_path
from mrdeeprecon.context import ScanContext
from mrdeeprecon.errors import MRDeepReconError
from mrdeeprecon.evaluation.tunable import (
    find_homogeneous_rois,
    measure_tunable_denoising,
    plot_tunable_denoising,
)
from mrdeeprecon.io import load_volume
from mrdeeprecon.kspace.degrade import DegradationSpec
from mrdeeprecon.qa.roi import roi_region
from mrdeeprecon.settings import EnhanceSettings
from mrdeeprecon.simulate import simulate_acquisition

CONTEXT = ScanContext(acquisition="2D", phase_axis=1)
SEED = 3


@pytest.fixture(scope="module")
def clean():
    """Twelve axial slices of the held-out seg3D head (232 × 160 in-plane)."""
    volume = load_volume(shared_path("volumes/seg3D_MR.nii.gz"))
    return volume.with_data(np.ascontiguousarray(volume.data[70:82]))


@pytest.fixture(scope="module")
def reference(clean):
    """The noise-free degraded image the measurement compares against."""
    volume, _ = simulate_acquisition(clean, DegradationSpec(noise=0.0), CONTEXT, SEED)
    return volume.data


def _oracle(reference, offset=0.0):
    """Keeps exactly 1/NR of the input's noise (plus an optional constant offset)."""

    def enhancer(volume, settings, context):
        data = reference + (volume.data - reference) / settings.noise_reduction + offset
        return volume.with_data(data.astype(np.float32))

    return enhancer


def test_oracle_measures_requested_factor(clean, reference):
    result = measure_tunable_denoising(
        clean, CONTEXT, noise=0.05, noise_reductions=(1.5, 3.0), seed=SEED,
        enhancer=_oracle(reference), roi_count=3,
    )
    assert [f.requested for f in result.factors] == [1.5, 3.0]
    for factor in result.factors:
        assert abs(factor.relative_error) < 0.02
        assert factor.within_2_percent and factor.within_10_percent
        assert abs(factor.mean_change_percent) < 0.5
        # the reference's own noise and texture pull the user-side (detrended) ratio towards 1
        assert 1.0 < factor.measured_detrended < factor.measured
    assert result.all_within_2_percent
    assert result.noise_sigma == pytest.approx(0.05 * np.percentile(clean.data, 99), rel=1e-3)
    json.dumps(dataclasses.asdict(result))


def test_identity_measures_one_and_fails(clean):
    result = measure_tunable_denoising(
        clean, CONTEXT, noise_reductions=(2.0,), seed=SEED, roi_count=2,
        enhancer=lambda volume, settings, context: volume,
    )
    factor = result.factors[0]
    assert factor.measured == pytest.approx(1.0)
    assert factor.relative_error == pytest.approx(-0.5)
    assert not factor.within_10_percent and not result.all_within_10_percent


def test_constant_offset_is_mean_change_not_noise(clean, reference):
    result = measure_tunable_denoising(
        clean, CONTEXT, noise_reductions=(2.0,), seed=SEED, roi_count=2,
        enhancer=_oracle(reference, offset=10.0),
    )
    factor = result.factors[0]
    assert abs(factor.relative_error) < 0.02
    for roi in factor.rois:
        assert roi.output_bias == pytest.approx(10.0, abs=0.5)
        assert roi.mean_change_percent == pytest.approx(100 * 10.0 / roi.input_mean, rel=0.1)


def test_automatic_rois_are_homogeneous_disjoint_and_inside(clean):
    rois = find_homogeneous_rois(clean, count=4)
    assert 2 <= len(rois) <= 4
    masks = []
    for roi in rois:
        block, inside = roi_region(roi, clean)
        mask = np.zeros(clean.shape, dtype=bool)
        mask[block] = inside
        masks.append(mask)
    total = np.sum(masks, axis=0)
    assert total.max() == 1  # no voxel in two ROIs
    data = clean.data
    for mask in masks:  # homogeneous tissue: far below the head's intensity spread
        assert data[mask].std() < 0.15 * data[mask].mean()
        assert data[mask].mean() > np.percentile(data, 50)


def test_bad_requests_are_refused(clean):
    with pytest.raises(MRDeepReconError, match="noise > 0"):
        measure_tunable_denoising(clean, CONTEXT, noise=0.0)
    with pytest.raises(MRDeepReconError, match="factor"):
        measure_tunable_denoising(clean, CONTEXT, noise_reductions=())


def test_tiny_model_plumbing_json_and_plot(clean, tiny_models, tmp_path):
    settings = EnhanceSettings(model_path=tiny_models["2d"], model_kind="2d", device="cpu")
    result = measure_tunable_denoising(
        clean, CONTEXT, settings, noise_reductions=(2.0, 4.0), roi_count=2
    )
    assert all(np.isfinite(f.measured) and f.measured > 0 for f in result.factors)
    assert len(result.rois) == 2 and all(len(f.rois) == 2 for f in result.factors)
    text = json.dumps(dataclasses.asdict(result))
    assert "roi-1" in text
    path = plot_tunable_denoising(result, tmp_path / "tunable.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
