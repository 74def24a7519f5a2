"""Sharpness recovery per encoding axis: oracle (clean) recovers 1 without overshoot, identity 0,
a Gaussian blur less than 0; an axis the degradation leaves sharp has no recovery; plumbing with a
tiny model; JSON and PNG output."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from scipy import ndimage

from conftest import shared_path
from mrdeeprecon.context import ScanContext
from mrdeeprecon.evaluation.sharpness_recovery import (
    measure_sharpness_recovery,
    plot_sharpness_recovery,
)
from mrdeeprecon.io import load_volume
from mrdeeprecon.kspace.degrade import DegradationSpec
from mrdeeprecon.settings import EnhanceSettings

CONTEXT_3D = ScanContext(acquisition="3D", phase_axis=1)
ALL_AXES = DegradationSpec(kmax=(0.3, 0.3, 0.3))


@pytest.fixture(scope="module")
def clean():
    """24 axial slices of the held-out seg3D head (232 × 160 in-plane)."""
    volume = load_volume(shared_path("volumes/seg3D_MR.nii.gz"))
    return volume.with_data(np.ascontiguousarray(volume.data[64:88]))


def _by_axis(result):
    return {a.axis: a for a in result.axes}


def test_oracle_recovers_everything_without_overshoot(clean):
    result = measure_sharpness_recovery(
        clean, CONTEXT_3D, spec=ALL_AXES, enhancer=lambda volume, settings, context: clean
    )
    for axis in result.axes:
        assert axis.profiles >= 3
        assert axis.degraded_ratio < 0.95  # the degradation blurred every axis
        assert axis.recovery == pytest.approx(1.0)
        assert axis.overshoot == pytest.approx(0.0)
        assert axis.recovered and axis.within_overshoot
    assert result.all_recovered and result.all_within_overshoot
    json.dumps(dataclasses.asdict(result))


def test_identity_recovers_nothing_and_blur_goes_backwards(clean):
    identity = measure_sharpness_recovery(
        clean, CONTEXT_3D, spec=ALL_AXES, enhancer=lambda volume, settings, context: volume
    )
    blurred = measure_sharpness_recovery(
        clean,
        CONTEXT_3D,
        spec=ALL_AXES,
        enhancer=lambda volume, settings, context: volume.with_data(
            ndimage.gaussian_filter(volume.data, 1.0)
        ),
    )
    for axis in identity.axes:
        assert axis.recovery == pytest.approx(0.0, abs=1e-9)
        assert not axis.recovered
    for axis in blurred.axes:
        assert axis.recovery < 0
        assert axis.overshoot < 0
    assert not blurred.all_recovered


def test_axis_left_sharp_has_no_recovery(clean):
    """A 2D acquisition degraded in-plane only: the slice axis keeps its sharpness."""
    result = measure_sharpness_recovery(
        clean,
        ScanContext(acquisition="2D", phase_axis=1),
        spec=DegradationSpec(kmax=(0.3, 1.0, 1.0)),
        enhancer=lambda volume, settings, context: volume,
    )
    axes = _by_axis(result)
    assert axes["frequency"].recovery == pytest.approx(0.0, abs=1e-9)
    for name in ("phase", "slice"):
        assert axes[name].recovery is None and axes[name].recovered is None
        assert "no recovery" in axes[name].note
        assert axes[name].overshoot is not None


def test_tiny_model_plumbing_json_and_plot(clean, tiny_models, tmp_path):
    settings = EnhanceSettings(noise_reduction=1.0, model_path=tiny_models["3d"], device="cpu")
    result = measure_sharpness_recovery(clean, CONTEXT_3D, settings, spec=ALL_AXES)
    assert [a.axis for a in result.axes] == ["frequency", "phase", "slice"]
    assert all(np.isfinite(a.recovery) for a in result.axes)
    assert list(result.degradation["kmax"]) == [0.3, 0.3, 0.3]
    json.dumps(dataclasses.asdict(result))
    path = plot_sharpness_recovery(result, tmp_path / "sharpness.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
