"""The panel's raw k-space input without Qt: ``recon`` in the background process, the volume in
the scene under a study named after the file; cancel leaves the scene unchanged; the
reconstruction is then enhanced, checked and exported like any volume, its data consistency in
the QA report."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest

slicer = pytest.importorskip("slicer", reason="slicer-core (a test dependency) is not installed")

from mrdeeprecon import MRDeepReconError  # noqa: E402
from MRDeepReconLib.dicom_source import scan_context_for_node  # noqa: E402
from MRDeepReconLib.export import derived_series_options, export_derived_series, qa_for_nodes  # noqa: E402
from MRDeepReconLib.logic import MRDeepReconLogic  # noqa: E402
from MRDeepReconLib.parameters import ProcessParameters  # noqa: E402
from MRDeepReconLib.raw_input import (  # noqa: E402
    ATTRIBUTE_DATA_CONSISTENCY,
    BackgroundReconstruction,
    ReconstructionRun,
    data_consistency_of_node,
    reconstruction_record,
)
from slicer_scene import new_scene  # noqa: E402
from test_raw_recon import SIZE, _phantom, _raw, needs_sigpy  # noqa: E402

MODULE_DIR = Path(__file__).resolve().parents[1] / "MRDeepRecon"
TIMEOUT_S = 300

pytestmark = needs_sigpy


def _raw_file(tmp_path: Path, slices: int = 1) -> Path:
    path = tmp_path / "knee ksp.npy"
    np.save(path, np.repeat(_raw(_phantom(), 2, noise_scan=False).data, slices, axis=1))
    return path


def test_reconstruction_lands_under_a_study_named_after_the_file(tmp_path) -> None:
    world = new_scene()
    job = BackgroundReconstruction()
    job.start(_raw_file(tmp_path), "sense", sys.executable, MODULE_DIR)
    status = job.wait(TIMEOUT_S)
    assert (status.running, status.error) == (False, None), status.log_lines
    node = job.finish(world.scene)
    assert slicer.util.arrayFromVolume(node).shape == (1, SIZE, SIZE) and node.GetName() == "knee ksp_sense"
    assert node.GetAttribute(ATTRIBUTE_DATA_CONSISTENCY).startswith("data consistency (sense): residual")
    hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(world.scene)
    study = hierarchy.GetItemParent(hierarchy.GetItemByDataNode(node))
    assert hierarchy.GetItemName(study) == "knee ksp.npy"
    assert job.folder is None


def test_cancel_leaves_the_scene_unchanged(tmp_path) -> None:
    world = new_scene()
    state = world.state()
    job = BackgroundReconstruction()
    job.start(_raw_file(tmp_path, slices=40), "l1wavelet", sys.executable, MODULE_DIR)
    folder = job.folder
    deadline = time.monotonic() + TIMEOUT_S
    while (status := job.poll()).running and status.fraction <= 0.0:
        assert time.monotonic() < deadline, "no progress line arrived"
        time.sleep(0.01)
    assert status.running, "the run must still be going when it is cancelled"
    job.cancel()
    assert (job.poll().error, folder.exists()) == ("cancelled", False)
    assert world.state() == state
    with pytest.raises(MRDeepReconError, match="cancelled"):
        job.finish(world.scene)


def test_a_bad_raw_file_is_the_runs_one_line_error(tmp_path) -> None:
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"not numpy")
    job = BackgroundReconstruction()
    job.start(bad, "sense", sys.executable, MODULE_DIR)
    status = job.wait(TIMEOUT_S)
    assert "not a readable .npy array" in status.error and "\n" not in status.error


def test_the_reconstruction_is_enhanced_checked_and_exported_like_any_volume(tmp_path, tiny_models) -> None:
    world = new_scene()
    job = BackgroundReconstruction()
    job.start(_raw_file(tmp_path, slices=3), "zerofill", sys.executable, MODULE_DIR)
    run = ReconstructionRun(job, "zerofill")
    job.wait(TIMEOUT_S)
    update = run.poll(world.scene)
    assert (update.running, update.failure) == (False, None), update.detail
    recon = update.output_node
    record = reconstruction_record(recon)
    assert record["method"] == "zerofill" and data_consistency_of_node(recon) == record["consistency"]
    plain = slicer.util.addVolumeFromArray(np.ones((2, 4, 4), np.float32), name="plain")
    assert (reconstruction_record(plain), data_consistency_of_node(plain)) == (None, None)

    parameters = ProcessParameters(noise_reduction=2, device="cpu", model_path=str(tiny_models["2d"]))
    context = parameters.scan_context(scan_context_for_node(recon))
    enhanced = MRDeepReconLogic(world.scene).process(recon, None, parameters, context=context)
    report = qa_for_nodes(recon, enhanced, context, out_dir=tmp_path / "qa")
    assert report.data_consistency == record["consistency"], "the QA report carries the raw data's consistency"
    assert '"data_consistency": {' in (tmp_path / "qa" / "qa.json").read_text()
    written = export_derived_series(
        enhanced, recon, tmp_path / "dicom", derived_series_options("", multiframe=False, from_dicom=False))
    assert len(written.files) == 3
