"""QA report: run_qa + write_qa_report on a real volume with a real (super-resolving) enhancement;
the files, their documented content, atomic writing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_path

from mrdeeprecon import enhance
from mrdeeprecon.context import ScanContext
from mrdeeprecon.errors import MRDeepReconError
from mrdeeprecon.io import load_volume
from mrdeeprecon.kspace.degrade import DegradationSpec
from mrdeeprecon.qa import BoxROI, LineSegment, QAReport, run_qa, write_qa_report
from mrdeeprecon.settings import EnhanceSettings
from mrdeeprecon.simulate import simulate_acquisition

JSON_KEYS = {
    "original",
    "enhanced",
    "scan_context",
    "requested_noise_reduction",
    "roi_source",
    "rois",
    "noise_reduction",
    "sharpness",
    "change",
    "consistency",
    "data_consistency",
    "methods",
}
FILES = [
    "qa.json",
    "qa.md",
    "profiles.png",
    "noise_reduction.png",
    "change_map.png",
    "consistency.png",
]


@pytest.fixture(scope="module")
def report() -> QAReport:
    """stroke_T1 (oblique), 16 slices, noise 3 %, enhanced with noise reduction 2 and phase
    super-resolution 2 (output grid refined along y)."""
    volume = load_volume(shared_path("volumes/stroke_T1.nii.gz"))
    clean = volume.with_data(volume.data[62:78].astype(np.float32))
    original, context = simulate_acquisition(
        clean, DegradationSpec(noise=0.03), ScanContext(phase_axis=1), seed=2
    )
    settings = EnhanceSettings(
        noise_reduction=2.0, super_resolution=(1.0, 2.0, 1.0), model_kind="2d", device="cpu"
    )
    enhanced = enhance(original, settings, context)
    return run_qa(original, enhanced, context)


def test_run_qa_measures_every_part(report: QAReport) -> None:
    assert report.requested_noise_reduction == 2.0  # from the enhancement's metadata
    assert report.enhanced["shape_zyx"][1] == 2 * report.original["shape_zyx"][1]
    assert report.roi_source == "auto" and len(report.rois) == 1
    roi = report.rois[0]
    assert roi.enhanced.voxels > roi.original.voxels  # the refined grid has more voxels in the box
    assert roi.measured_noise_reduction > 1.0
    assert [a.axis for a in report.sharpness] == ["frequency", "phase", "slice"]
    assert all(a.profiles > 0 for a in report.sharpness)
    assert report.change.resampling == report.consistency.resampling
    assert report.change.resampling in ("k-space", "windowed-sinc")
    assert len(report.consistency.residuals) == report.original["shape_zyx"][0]


def test_report_files_and_content(report: QAReport, tmp_path: Path) -> None:
    out = tmp_path / "qa"
    written = write_qa_report(report, out)
    assert written == [out / name for name in FILES]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["qa"]  # no staging folder left

    data = json.loads((out / "qa.json").read_text())
    assert set(data) == JSON_KEYS
    assert data["noise_reduction"]["requested"] == 2.0
    assert data["rois"][0]["measured_noise_reduction"] == pytest.approx(
        report.rois[0].measured_noise_reduction
    )
    assert [a["axis"] for a in data["sharpness"]["axes"]] == ["frequency", "phase", "slice"]
    assert {"edge_components", "blob_components", "structured_energy_fraction"} <= set(
        data["change"]
    )
    assert len(data["consistency"]["residuals"]) == report.original["shape_zyx"][0]
    assert data["consistency"]["flagged"] == list(report.consistency.flagged)

    markdown = (out / "qa.md").read_text()
    for heading in (
        "## Noise in ROIs",
        "## Relative edge sharpness",
        "## Change map",
        "## Low-frequency k-space consistency",
    ):
        assert heading in markdown
    assert "| ROI | voxels orig / enh |" in markdown
    assert "| direction | array axis | profiles | median ratio |" in markdown
    assert "| frequency | 2 |" in markdown and "| phase | 1 |" in markdown

    from matplotlib.image import imread

    for name in FILES[2:]:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        image = imread(out / name)
        assert image.ndim == 3 and min(image.shape[:2]) > 100


def test_user_rois_and_lines(report: QAReport, tmp_path: Path) -> None:
    # rebuild the pair cheaply from a synthetic volume: the user's ROI and line are used as given
    from mrdeeprecon.volume import Volume

    data = np.zeros((12, 40, 40), dtype=np.float32)
    data[2:10, 8:32, 8:32] = 100.0
    rng = np.random.default_rng(0)
    original = Volume(data + rng.normal(0, 4, data.shape).astype(np.float32))
    enhanced = Volume(data + rng.normal(0, 2, data.shape).astype(np.float32))
    roi = BoxROI.from_indices(original, (12, 12, 3), (28, 28, 9), name="flat")
    line = LineSegment.from_indices(original, (2, 20, 6), (20, 20, 6), name="left edge")
    result = run_qa(
        original, enhanced, ScanContext(), rois=[roi], lines=[line], requested_noise_reduction=2.0
    )
    assert result.roi_source == "user" and result.rois[0].roi["name"] == "flat"
    assert result.rois[0].relative_error == pytest.approx(0.0, abs=0.05)
    assert result.lines[0].segment.name == "left edge"
    markdown = write_qa_report(result, tmp_path / "user")[1].read_text()
    assert "| flat (box) |" in markdown and "| left edge |" in markdown


def test_failure_leaves_no_folder(
    report: QAReport, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for module in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(MRDeepReconError, match="matplotlib"):
        write_qa_report(report, tmp_path / "qa")
    assert list(tmp_path.iterdir()) == []


def test_existing_folder_gets_the_files_others_kept(report: QAReport, tmp_path: Path) -> None:
    out = tmp_path / "qa"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "qa.json").write_text("old")
    write_qa_report(report, out)
    assert (out / "notes.txt").read_text() == "mine"
    assert json.loads((out / "qa.json").read_text())["roi_source"] == "auto"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["qa"]
    with pytest.raises(MRDeepReconError, match="does not exist"):
        write_qa_report(report, tmp_path / "missing" / "qa")
