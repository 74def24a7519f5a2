"""The shipped models do what their cards say, on a subject they never saw.

These run the real bundled weights (MRDeepRecon/Resources/models) on a crop of the held-out volume
(``seg3D_MR``: a different subject and scanner from every training volume).
"""

import json

import numpy as np
import pytest

from conftest import shared_path
from mrdeeprecon.context import ScanContext
from mrdeeprecon.inference import enhance
from mrdeeprecon.io import load_volume
from mrdeeprecon.kspace.degrade import DegradationSpec
from mrdeeprecon.metrics import score
from mrdeeprecon.model.weights import bundled_model_path, load_model
from mrdeeprecon.settings import EnhanceSettings
from mrdeeprecon.simulate import simulate_acquisition


@pytest.fixture(scope="module")
def holdout():
    volume = load_volume(shared_path("volumes/seg3D_MR.nii.gz"))
    return volume.with_data(volume.data[60:84].astype(np.float32))


@pytest.mark.parametrize("kind", ["2d", "3d"])
def test_model_card_is_complete_and_matches_the_weights(kind):
    path = bundled_model_path(kind)
    assert path.stat().st_size <= 50 * 2**20
    model, card = load_model(path)  # verifies the SHA-256
    assert "volumes/seg3D_MR.nii.gz" in card["training"]["held_out"]
    assert all(d["file"] not in ("seg3D_MR.nii.gz", "philips_phantom") for d in card["training"]["data"])
    assert card["parameters"] == sum(p.numel() for p in model.parameters())
    assert card["output"] == "clean" and card["calibration"]["band_fractions"]
    sessions = [s for s in card["lineage"] if "patches" in s]
    assert sessions and sum(s["patches"] for s in sessions) >= card["training"]["patches_seen"] > 0
    # The shipped weights are the ones benchmarks/quality.py measured.
    assert card["scores_history"][-1]["sha256"] == card["sha256"]


def test_2d_model_beats_the_degraded_input(holdout):
    """σ = 10 % noise and k_max 0.5 along phase (the model card's acceptance setting)."""
    context = ScanContext(acquisition="2D", phase_axis=1)
    degraded, ctx = simulate_acquisition(holdout, DegradationSpec(noise=0.10, kmax=(1.0, 0.5, 1.0)), context, seed=7)
    enhanced = enhance(degraded, EnhanceSettings(noise_reduction=5.0, model_kind="2d"), context=ctx)
    before, after = score(holdout.data, degraded.data), score(holdout.data, enhanced.data)
    assert after["psnr_db"] >= before["psnr_db"] + 3.0
    assert after["ssim"] > before["ssim"]


def test_noise_reduction_factor_orders_the_residual_noise(holdout):
    """A larger requested factor leaves less noise: the output moves monotonically toward smooth."""
    context = ScanContext(acquisition="2D", phase_axis=1)
    degraded, ctx = simulate_acquisition(holdout, DegradationSpec(noise=0.08), context, seed=8)
    roughness = []
    for factor in (1.0, 2.0, 4.0):
        out = enhance(degraded, EnhanceSettings(noise_reduction=factor, model_kind="2d"), context=ctx).data
        roughness.append(float(np.abs(np.diff(out, axis=2)).mean()))
    assert roughness[0] > roughness[1] > roughness[2]


def test_3d_model_restores_slice_resolution(holdout):
    """k_max 0.5 along slice (thick partitions) plus noise: the 3D model recovers detail through slices."""
    context = ScanContext(acquisition="3D", phase_axis=1)
    spec = DegradationSpec(noise=0.05, kmax=(1.0, 1.0, 0.5))
    degraded, ctx = simulate_acquisition(holdout, spec, context, seed=9)
    enhanced = enhance(degraded, EnhanceSettings(noise_reduction=3.0, model_kind="3d"), context=ctx)
    core = slice(4, -4)  # slab ends wrap around in the simulator's slice FFT
    before = score(holdout.data[core], degraded.data[core])
    after = score(holdout.data[core], enhanced.data[core])
    assert after["psnr_db"] > before["psnr_db"] + 1.0
    assert after["ssim"] > before["ssim"]


def test_enhance_real_dicom_doubles_its_phase_axis(tmp_path):
    """Philips enhanced multi-frame TSE: phase encoding along ROW (x), so --sr-phase 2 doubles x."""
    from mrdeeprecon.cli import main

    folder = shared_path("dicom/philips_phantom/201_T1W_TSE_Sno_CSno_CSAIno")
    out = tmp_path / "phantom_sr.nii.gz"
    assert main(["enhance", str(folder), str(out), "--noise-reduction", "2", "--sr-phase", "2", "--quiet"]) == 0
    source, result = load_volume(folder), load_volume(out)
    z, y, x = source.shape
    assert result.shape == (z, y, 2 * x)
    np.testing.assert_allclose(result.spacing, (source.spacing[0] / 2, source.spacing[1], source.spacing[2]), rtol=1e-6)
    np.testing.assert_allclose(result.origin, source.origin, atol=1e-3)
    np.testing.assert_allclose(result.direction, source.direction, atol=1e-6)
    # Intensity scale kept: mean signal inside the phantom within 5 %.
    inside = source.data > np.percentile(source.data, 75)
    upsampled_inside = np.repeat(inside, 2, axis=2)
    assert result.data[upsampled_inside].mean() == pytest.approx(source.data[inside].mean(), rel=0.05)
