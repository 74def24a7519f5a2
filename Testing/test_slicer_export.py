"""From result nodes to files on a real MRML scene: the derived DICOM series and the QA report."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pydicom
import pytest

slicer = pytest.importorskip("slicer", reason="slicer-core (a test dependency) is not installed")

from mrdeeprecon import MRDeepReconError  # noqa: E402
from mrdeeprecon.io.dicom import read_dicom  # noqa: E402
from mrdeeprecon.io.dicom_write import DerivedSeriesOptions  # noqa: E402
from MRDeepReconLib import (  # noqa: E402
    MRDeepReconLogic,
    ProcessParameters,
    export_derived_series,
    qa_for_nodes,
    scan_context_for_node,
    update_node_from_volume,
    volume_from_node,
)
from MRDeepReconLib.export import derived_series_options, qa_summary_html  # noqa: E402
from slicer_scene import scene_with_series  # noqa: E402

from test_qa_report import JSON_KEYS as QA_KEYS  # noqa: E402  (the keys of qa.json, declared there)


@pytest.fixture(scope="module")
def enhanced_ge(tiny_models):
    """The oblique GE 3D series cropped to 16 slices, enhanced ×2 along the slice in the scene."""
    from conftest import shared_path

    world, series = scene_with_series(shared_path("dicom/ge_mprage_headers"), "MPRAGE", slice(40, 56))
    parameters = ProcessParameters(
        noise_reduction=2, super_resolution=(1, 1, 2), device="cpu", model_path=str(tiny_models["3d"])
    )
    context = parameters.scan_context(scan_context_for_node(series.node, series.file_for_instance))
    output = MRDeepReconLogic(world.scene).process(series.node, None, parameters, context=context)
    return world, series, output, context


def test_result_node_becomes_a_derived_dicom_series(enhanced_ge, tmp_path: Path) -> None:
    world, series, output, _ = enhanced_ge
    progress = []
    written = export_derived_series(
        output, series.node, tmp_path / "derived", DerivedSeriesOptions(),
        file_for_instance=series.file_for_instance, progress=lambda f, m: progress.append(f),
    )  # fmt: skip
    assert len(written.files) == 32 and progress[-1] == 1.0

    back = read_dicom(written.folder)
    node_volume = volume_from_node(output)
    np.testing.assert_allclose(back.ijk_to_ras(), node_volume.ijk_to_ras(), atol=1e-3)
    float32_rounding = 2 * np.finfo(np.float32).eps * float(np.abs(node_volume.data).max())
    assert np.max(np.abs(back.data - node_volume.data)) <= written.rescale_slope / 2 + float32_rounding

    source = pydicom.dcmread(series.files[0], stop_before_pixels=True)
    first = pydicom.dcmread(written.files[0], stop_before_pixels=True)
    assert first.SeriesDescription == f"{source.SeriesDescription} DLR NR2 SR1x1x2"
    assert list(first.ImageType[:2]) == ["DERIVED", "SECONDARY"]
    assert first.StudyInstanceUID == source.StudyInstanceUID
    assert first.SeriesInstanceUID not in (source.SeriesInstanceUID, "")
    assert first.ReferencedSeriesSequence[0].SeriesInstanceUID == source.SeriesInstanceUID
    referenced = {
        item.ReferencedSOPInstanceUID
        for path in written.files
        for item in pydicom.dcmread(path, stop_before_pixels=True).SourceImageSequence
    }
    assert referenced == set(series.files_by_uid), "every source slice of the node, none outside it"
    assert "tiny 3d" in first.DerivationDescription


def test_export_refusals(enhanced_ge, tmp_path: Path) -> None:
    world, series, output, _ = enhanced_ge
    with pytest.raises(MRDeepReconError, match="its files are needed"):
        export_derived_series(output, series.node, tmp_path / "a")
    with pytest.raises(MRDeepReconError, match="not an MRDeepRecon result"):
        export_derived_series(series.node, series.node, tmp_path / "b", file_for_instance=series.file_for_instance)
    other = world.scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "other")
    update_node_from_volume(other, volume_from_node(series.node))
    with pytest.raises(MRDeepReconError, match="was computed from"):
        export_derived_series(output, other, tmp_path / "c", file_for_instance=series.file_for_instance)
    assert not any(tmp_path.iterdir()), "nothing written"


def test_non_dicom_input_exports_with_a_research_placeholder(
    philips_enhanced_dir: Path, tiny_models, tmp_path: Path
) -> None:
    world, series = scene_with_series(philips_enhanced_dir, "T1W_TSE")
    plain = world.scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "phantom")
    update_node_from_volume(plain, volume_from_node(series.node))
    parameters = ProcessParameters(device="cpu", model_path=str(tiny_models["2d"]))
    output = MRDeepReconLogic(world.scene).process(plain, None, parameters)
    with pytest.raises(MRDeepReconError, match="no patient or study"):
        export_derived_series(output, plain, tmp_path / "refused")
    options = DerivedSeriesOptions(research_placeholder=True, enhanced=True)
    written = export_derived_series(output, plain, tmp_path / "derived", options)
    back = read_dicom(written.folder)
    np.testing.assert_allclose(back.ijk_to_ras(), volume_from_node(output).ijk_to_ras(), atol=1e-3)
    header = pydicom.dcmread(written.files[0], stop_before_pixels=True)
    assert header.PatientName == "RESEARCH^PLACEHOLDER" and "RESEARCH" in header.SeriesDescription


def test_qa_report_from_nodes(philips_enhanced_dir: Path, tiny_models, tmp_path: Path) -> None:
    world, series = scene_with_series(philips_enhanced_dir, "T1W_TSE")
    parameters = ProcessParameters(
        noise_reduction=3, super_resolution=(1.5, 1, 1), device="cpu", model_path=str(tiny_models["2d"])
    )
    context = parameters.scan_context(scan_context_for_node(series.node, series.file_for_instance))
    output = MRDeepReconLogic(world.scene).process(series.node, None, parameters, context=context)

    report = qa_for_nodes(series.node, output, context, out_dir=tmp_path / "qa")
    data = report.to_dict()
    assert set(data) == QA_KEYS
    assert data["requested_noise_reduction"] == 3.0, "the factor recorded on the result node"
    assert data["original"]["shape_zyx"] == [12, 256, 256]
    assert data["enhanced"]["shape_zyx"] == list(volume_from_node(output).shape) != [12, 256, 256]
    assert data["scan_context"] == json.loads(json.dumps(context.to_dict()))
    assert json.loads((tmp_path / "qa" / "qa.json").read_text()).keys() == QA_KEYS
    assert {p.name for p in (tmp_path / "qa").iterdir()} >= {"qa.json", "qa.md", "profiles.png", "change_map.png"}


def test_derived_series_options_as_the_panel_sets_them() -> None:
    options = derived_series_options("  Denoised T1  ", multiframe=True, from_dicom=True)
    assert (options.series_description, options.enhanced, options.research_placeholder) == ("Denoised T1", True, False)
    blank = derived_series_options(" ", multiframe=False, from_dicom=False)
    assert (blank.series_description, blank.enhanced, blank.research_placeholder) == (None, False, True)
    assert blank == DerivedSeriesOptions(research_placeholder=True)


QA_SENTENCES = {
    "requested": "measured {m:.2f} of {r:.2f} ({e:+.0%})",
    "measured": "measured {m:.2f}",
    "flagged": "flagged {slices}",
    "none_flagged": "none flagged",
    "report": "in {folder}",
}


def _qa_report(summary: dict, flagged: list[int]) -> SimpleNamespace:
    """What qa_summary_html reads of a QAReport."""
    return SimpleNamespace(noise_reduction_summary=lambda: summary, consistency=SimpleNamespace(flagged=flagged))


def test_qa_summary_html_says_measured_against_requested_and_the_flagged_slices() -> None:
    report = _qa_report({"measured": 1.9, "requested": 2.0, "relative_error": -0.05}, [3, 7])
    assert qa_summary_html(report, "/tmp/qa", QA_SENTENCES) == "measured 1.90 of 2.00 (-5%)<br>flagged 3, 7<br>in /tmp/qa"
    report = _qa_report({"measured": 1.5, "requested": None}, [])
    assert qa_summary_html(report, Path("qa"), QA_SENTENCES) == "measured 1.50<br>none flagged<br>in qa"
