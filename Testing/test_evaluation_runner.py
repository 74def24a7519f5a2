"""run_evaluation and write_evaluation_report on a real crop with tiny models (plumbing, not scores)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from conftest import shared_path
from test_evaluation_baselines import require_bm4d

from mrdeeprecon.errors import MRDeepReconError
from mrdeeprecon.evaluation import baselines, report
from mrdeeprecon.evaluation.runner import METHODS, EvaluationResult, run_evaluation
from mrdeeprecon.io import load_volume
from mrdeeprecon.kspace.degrade import DegradationSpec
from mrdeeprecon.volume import Volume


@pytest.fixture(scope="module")
def brain() -> Volume:
    """10 slices × 64 × 64 of the held-out seg3D_MR (brain centre)."""
    volume = load_volume(shared_path("volumes/seg3D_MR.nii.gz"))
    return volume.with_data(np.ascontiguousarray(volume.data[70:80, 80:144, 48:112], dtype=np.float32))


@pytest.fixture(scope="module")
def denoising(brain, tiny_models) -> EvaluationResult:
    """Noise 6 %, every available method, slices 1:9."""
    return run_evaluation(
        brain, DegradationSpec(noise=0.06), slices=(1, 9), model_path=tiny_models["2d"], seed=1
    )


def test_every_available_method_has_a_row_in_order(denoising, brain):
    require_bm4d()
    assert [row.method for row in denoising.rows] == list(METHODS)
    assert denoising.skipped == {}
    assert denoising.reference.shape == (8, 64, 64) and denoising.slices == (1, 9)
    np.testing.assert_array_equal(denoising.reference.data, brain.data[1:9])
    for row in denoising.rows:
        assert set(row.scores) == set(row.foreground) == {"psnr_db", "ssim", "nmse", "hfen"}
        assert all(np.isfinite(v) for v in (*row.scores.values(), *row.foreground.values()))
        assert denoising.outputs[row.method].shape == (8, 64, 64)
        assert row.seconds >= 0


def test_rows_say_what_they_did(denoising):
    scenario = denoising.scenario
    zerofill = denoising.row("zerofill")
    np.testing.assert_array_equal(denoising.outputs["zerofill"], scenario.degraded.data)
    # Full band, no k_max: the acquired matrix is the reference grid, so interpolation is identity.
    assert scenario.low_resolution.shape == denoising.reference.shape
    for kind in ("cubic", "lanczos"):
        np.testing.assert_allclose(denoising.outputs[kind], scenario.degraded.data, atol=1e-3)
    for denoiser in ("nlm", "gaussian"):
        row = denoising.row(denoiser)
        assert "oracle" in row.parameter and row.tuning_seconds >= row.seconds
        assert row.foreground["psnr_db"] > zerofill.foreground["psnr_db"]
    assert f"{scenario.noise_sd:.4g}" in denoising.row("wavelet").parameter
    assert denoising.model["name"] == "tiny 2d" and len(denoising.model["sha256"]) == 64
    assert "NR 5" in denoising.row("ours").parameter


def test_json_content_is_strict_and_complete(denoising):
    content = json.loads(json.dumps(denoising.to_dict(), allow_nan=False))
    assert content["reference"]["band_zyx"] == [1.0, 1.0, 1.0]
    assert content["reference"]["perfect_denoiser_psnr_db"] > 30
    assert content["degradation"]["requested"]["noise"] == 0.06
    assert content["degradation"]["seed"] == 1 and content["degradation"]["acquisition"] == "2D"
    assert content["degradation"]["noise_sd_image"] == pytest.approx(denoising.scenario.noise_sd)
    assert [m["method"] for m in content["methods"]] == [r.method for r in denoising.rows]


def test_the_seed_fixes_the_noise(brain, denoising):
    again = run_evaluation(brain, DegradationSpec(noise=0.06), ["zerofill"], slices=(1, 9), seed=1)
    other = run_evaluation(brain, DegradationSpec(noise=0.06), ["zerofill"], slices=(1, 9), seed=2)
    assert again.row("zerofill").scores == denoising.row("zerofill").scores
    assert other.row("zerofill").scores != denoising.row("zerofill").scores


def test_super_resolution_without_noise_skips_the_denoisers(brain, tiny_models):
    result = run_evaluation(
        brain, DegradationSpec(kmax=(0.5, 0.5, 1.0)), model_path=tiny_models["2d"], slices=(0, 4)
    )
    assert [r.method for r in result.rows] == ["ours", "gaussian", "lanczos", "cubic", "zerofill"]
    assert set(result.skipped) == {"bm4d", "nlm", "wavelet"}
    assert result.scenario.low_resolution.shape == (4, 32, 32)
    assert result.scenario.context.kmax == (0.5, 0.5, 1.0)
    assert result.row("lanczos").scores != result.row("zerofill").scores


def test_slice_super_resolution_uses_the_3d_model(brain, tiny_models):
    result = run_evaluation(
        brain,
        DegradationSpec(kmax=(1.0, 1.0, 0.5)),
        ["ours", "cubic"],
        acquisition="3D",
        model_path=tiny_models["3d"],
    )
    assert result.model["name"] == "tiny 3d"
    assert result.scenario.low_resolution.shape == (5, 64, 64)
    assert result.outputs["cubic"].shape == (10, 64, 64)
    with pytest.raises(MRDeepReconError, match="3D acquisition"):
        run_evaluation(brain, DegradationSpec(kmax=(1.0, 1.0, 0.5)), ["cubic"], acquisition="2D")


def test_method_selection_errors(brain, monkeypatch):
    with pytest.raises(MRDeepReconError, match="unknown method"):
        run_evaluation(brain, DegradationSpec(noise=0.05), ["ours", "median"])
    monkeypatch.setattr(baselines, "module_available", lambda name: False)
    with pytest.raises(MRDeepReconError, match="bm4d"):
        run_evaluation(brain, DegradationSpec(noise=0.05), ["bm4d"])
    result = run_evaluation(brain, DegradationSpec(noise=0.05), None, slices=(0, 2))
    assert "bm4d" in result.skipped and "wavelet" in result.skipped
    assert "bm4d" not in [r.method for r in result.rows]


def test_report_folder(denoising, tmp_path):
    out = tmp_path / "report"
    written = report.write_evaluation_report(denoising, out)
    assert [p.name for p in written] == ["results.json", "results.csv", "results.md", "planes.png", "differences.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]  # no staging folder left
    assert json.loads((out / "results.json").read_text()) == json.loads(json.dumps(denoising.to_dict()))
    with (out / "results.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert [r["method"] for r in rows] == [r.method for r in denoising.rows]
    assert float(rows[0]["psnr_db_foreground"]) == pytest.approx(denoising.rows[0].foreground["psnr_db"])
    markdown = (out / "results.md").read_text()
    for fact in ("slices 1:9", "band", "perfect-denoiser PSNR", "seed 1", "tiny 2d", denoising.model["sha256"]):
        assert fact in markdown
    assert all((out / name).read_bytes()[:4] == b"\x89PNG" for name in report.PLOT_NAMES)
    with pytest.raises(MRDeepReconError, match="not an empty folder"):
        report.write_evaluation_report(denoising, out)


def test_report_failure_leaves_nothing(denoising, tmp_path, monkeypatch):
    def broken(result, folder):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report, "_write_plots", broken)
    with pytest.raises(MRDeepReconError, match="No space left"):
        report.write_evaluation_report(denoising, tmp_path / "report")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "empty").mkdir()
    monkeypatch.undo()
    report.write_evaluation_report(denoising, tmp_path / "empty")  # an empty folder is fine
    assert (tmp_path / "empty" / "results.md").is_file()
