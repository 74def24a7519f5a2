"""The Slicer glue on a real MRML scene (slicer-core): node ⇄ volume, scan context from the DICOM
database, and MRDeepReconLogic.process with real DICOM series and tiny random models."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

slicer = pytest.importorskip("slicer", reason="slicer-core (a test dependency) is not installed")

import vtk  # noqa: E402

from mrdeeprecon import (  # noqa: E402
    Cancelled,
    CancelToken,
    EnhanceSettings,
    MRDeepReconError,
    ScanContext,
    load_context,
    load_volume,
)
from mrdeeprecon.inference import enhance  # noqa: E402
from mrdeeprecon.io import default_context  # noqa: E402
from MRDeepReconLib import (  # noqa: E402
    MRDeepReconLogic,
    ProcessParameters,
    scan_context_for_node,
    source_files,
    source_volume,
    update_node_from_volume,
    volume_from_node,
)
from MRDeepReconLib import logic as logic_module  # noqa: E402
from slicer_scene import new_scene, scene_with_series  # noqa: E402

GE_CROP = slice(40, 56)


def _ijk_to_ras(node) -> np.ndarray:
    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    return slicer.util.arrayFromVTKMatrix(matrix)


@pytest.fixture
def philips(philips_enhanced_dir):
    return scene_with_series(philips_enhanced_dir, "T1W_TSE")


@pytest.fixture
def ge_crop(ge_mprage_dir):
    return scene_with_series(ge_mprage_dir, "MPRAGE", GE_CROP)


# ------------------------------------------------------------------------------ node ⇄ volume


def test_oblique_volume_round_trips_exactly_through_a_node(ge_mprage_dir: Path) -> None:
    volume = load_volume(ge_mprage_dir)
    assert not np.allclose(volume.direction, np.eye(3), atol=1e-3), "the GE series is oblique"
    world = new_scene()
    node = world.scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "oblique")
    update_node_from_volume(node, volume.with_data(volume.data.astype(np.float64)))

    np.testing.assert_array_equal(_ijk_to_ras(node), volume.ijk_to_ras())
    back = volume_from_node(node)
    assert back.data.dtype == np.float32, "nodes get float32, never float64"
    np.testing.assert_array_equal(back.data, volume.data)
    assert back.spacing == volume.spacing and back.origin == volume.origin
    np.testing.assert_array_equal(back.direction, volume.direction)
    assert back.data.base is None, "a copy, not a view of the node's memory"


def test_node_read_by_slicer_is_the_engine_volume(ge_crop, ge_mprage_dir: Path) -> None:
    _, series = ge_crop
    engine = load_volume(ge_mprage_dir)
    origin = (engine.ijk_to_lps() @ [0, 0, GE_CROP.start, 1.0])[:3]
    expected = engine.with_data(engine.data[GE_CROP], origin=tuple(origin))
    volume = volume_from_node(series.node)
    np.testing.assert_array_equal(volume.data, expected.data)
    # ITK derives the slice direction from the positions, the engine from the orientation cosines.
    np.testing.assert_allclose(volume.ijk_to_ras(), expected.ijk_to_ras(), atol=1e-4)
    np.testing.assert_allclose(_ijk_to_ras(series.node), volume.ijk_to_ras(), atol=1e-12)


# ------------------------------------------------------------------------------ DICOM source


def test_scan_context_from_the_database_equals_the_engines(philips, philips_enhanced_dir: Path) -> None:
    _, series = philips
    assert source_files(series.node, series.file_for_instance) == series.files
    context = scan_context_for_node(series.node, series.file_for_instance)
    assert context == load_context(philips_enhanced_dir)
    assert context.sources["kmax"] != "default", "the header's acquisition matrix was read"


def test_scan_context_without_dicom_is_the_default(philips) -> None:
    world, series = philips
    assert scan_context_for_node(series.node) == default_context(), "no lookup: defaults"
    plain = world.scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "plain")
    update_node_from_volume(plain, volume_from_node(series.node))
    assert scan_context_for_node(plain, series.file_for_instance) == default_context()
    with pytest.raises(MRDeepReconError, match="not in the database"):
        scan_context_for_node(series.node, {}.get)


def test_source_volume_reads_only_the_nodes_files(ge_crop) -> None:
    _, series = ge_crop
    source = source_volume(series.node, series.file_for_instance)
    assert source.shape[0] == len(series.files) == GE_CROP.stop - GE_CROP.start, "not the whole folder"
    np.testing.assert_array_equal(source.data, volume_from_node(series.node).data)
    assert source.metadata["source_path"] == str(series.files[0].parent)
    assert source.metadata["dicom_header"].SeriesDescription


# ------------------------------------------------------------------------------ parameters


def test_parameters_round_trip_json_and_build_settings_and_context(tiny_models) -> None:
    parameters = ProcessParameters(
        noise_reduction=3,
        super_resolution=(1.5, 1, 1),
        artifact_correction=False,
        device="cpu",
        model_path=str(tiny_models["2d"]),
        context_overrides={"acquisition": "3D", "kmax": (1.0, 0.5, 1.0)},
    )
    assert ProcessParameters.from_dict(json.loads(json.dumps(parameters.to_dict()))) == parameters
    settings = parameters.to_settings()
    assert settings.noise_reduction == 3.0 and settings.super_resolution == (1.5, 1.0, 1.0)
    assert settings.model_path == tiny_models["2d"]

    base = ScanContext(partial_fourier=(0.625, 1.0))
    context = parameters.scan_context(base)
    assert (context.acquisition, context.kmax, context.partial_fourier) == ("3D", (1.0, 0.5, 1.0), (1.0, 1.0))
    assert ProcessParameters().scan_context(base).partial_fourier == (0.625, 1.0), "artifact correction keeps it"
    with pytest.raises(MRDeepReconError, match="super-resolution factor along slice"):
        ProcessParameters(super_resolution=(1, 1, 3)).to_settings()
    with pytest.raises(MRDeepReconError, match="unknown parameter"):
        ProcessParameters.from_dict({"noise": 2})


def test_parameters_are_the_engines_settings_and_the_panels_own_fields() -> None:
    """ProcessParameters re-declares nothing of EnhanceSettings: same fields and defaults, plus
    the panel's scan-context choices; to_settings keeps only the engine's part."""
    engine = {f.name for f in dataclasses.fields(EnhanceSettings)}
    own = {f.name for f in dataclasses.fields(ProcessParameters)} - engine
    assert own == {"artifact_correction", "context_overrides"}
    assert ProcessParameters().to_settings() == EnhanceSettings()
    assert ProcessParameters(model_path="").model_path is None, "the parameter node's '' is the bundled model"


# ------------------------------------------------------------------------------ process


def test_process_puts_the_engines_result_beside_the_input(philips, tiny_models) -> None:
    world, series = philips
    node = series.node
    node.GetDisplayNode().SetAutoWindowLevel(False)
    node.GetDisplayNode().SetWindowLevel(600.0, 300.0)
    before = slicer.util.arrayFromVolume(node).copy()
    parameters = ProcessParameters(noise_reduction=3, device="cpu", model_path=str(tiny_models["2d"]))
    context = scan_context_for_node(node, series.file_for_instance)

    output = MRDeepReconLogic(world.scene).process(node, None, parameters, context=context)

    assert output.GetName() == "T1W_TSE_DLR"
    assert world.scene.GetNodeByID(output.GetID()) is output
    np.testing.assert_array_equal(_ijk_to_ras(output), _ijk_to_ras(node))
    expected = enhance(volume_from_node(node), parameters.to_settings(), context=parameters.scan_context(context))
    voxels = slicer.util.arrayFromVolume(output)
    assert voxels.dtype == np.float32
    np.testing.assert_array_equal(voxels, expected.data)
    np.testing.assert_array_equal(slicer.util.arrayFromVolume(node), before)

    display = output.GetDisplayNode()
    assert (display.GetWindow(), display.GetLevel(), display.GetAutoWindowLevel()) == (600.0, 300.0, 0)
    assert display.GetColorNodeID() == node.GetDisplayNode().GetColorNodeID() == "vtkMRMLColorTableNodeGrey"

    hierarchy = world.hierarchy
    item = hierarchy.GetItemByDataNode(output)
    assert item and hierarchy.GetItemParent(item) == series.study_item
    series_uid = hierarchy.GetItemUID(hierarchy.GetItemByDataNode(node), "DICOM")
    card = json.loads(tiny_models["2d"].with_suffix(".json").read_text())
    expected_attributes = {
        "MRDeepRecon.sourceSeriesInstanceUID": series_uid,
        "MRDeepRecon.sourceNodeID": node.GetID(),
        "MRDeepRecon.modelName": "tiny 2d",
        "MRDeepRecon.modelSha256": card["sha256"],
    }
    for name, value in expected_attributes.items():
        assert output.GetAttribute(name) == value, name
        assert hierarchy.GetItemAttribute(item, name) == value, name
    assert ProcessParameters.from_dict(json.loads(output.GetAttribute("MRDeepRecon.parameters"))) == parameters
    record = json.loads(output.GetAttribute("MRDeepRecon.enhancement"))
    assert (record["noise_reduction"], record["device"]) == (3.0, "cpu")
    # The tiny untrained model passes the noise through (its estimate is about its input), which the
    # calibration on the volume measures: the panel says the request was not reached.
    assert record["noise_reduction_achieved"] == pytest.approx(1.0, abs=0.05)
    assert record["noise_reduction_calibration"]["source"] == "this volume"
    summary = logic_module.noise_reduction_summary(output)
    assert summary.startswith("Noise reduction: requested 3, achieved 1.0") and "least-noise" in summary
    assert "Adapting it to this scan first (Advanced → Adapt to this scan) may reach more." in summary
    first, stop = record["noise_reduction_calibration"]["slices"]
    assert summary.endswith(f"Calibrated on slices {first + 1}-{stop} of this volume.")
    assert output.GetNodeReference(logic_module.SOURCE_REFERENCE_ROLE) is node
    assert output.GetAttribute("DICOM.instanceUIDs") is None


def test_the_summary_says_when_the_network_ran_along_three_planes() -> None:
    node = slicer.vtkMRMLScalarVolumeNode()
    for planes, said in ((1, False), (3, True)):
        record = {"noise_reduction": 2.0, "noise_reduction_achieved": 2.0, "planes": planes,
                  "noise_reduction_calibration": {"source": "model card"}}
        node.SetAttribute(logic_module.ATTRIBUTE_ENHANCEMENT, json.dumps(record))
        assert ("three planes" in logic_module.noise_reduction_summary(node)) is said
    record["noise_reduction_calibration"]["measured_with"] = "one plane"
    node.SetAttribute(logic_module.ATTRIBUTE_ENHANCEMENT, json.dumps(record))
    assert logic_module.noise_reduction_summary(node).endswith(
        "Those were measured with one plane, so with three the achieved factor is an estimate.")


def test_the_summary_says_whether_the_network_was_adapted_to_the_scan() -> None:
    node = slicer.vtkMRMLScalarVolumeNode()
    record = {"noise_reduction": 2.0, "noise_reduction_achieved": 2.0, "noise_reduction_calibration": {"source": "none"}}
    node.SetAttribute(logic_module.ATTRIBUTE_ENHANCEMENT, json.dumps(record))
    assert "scan" not in logic_module.noise_reduction_summary(node)
    record["scan_adaptation"] = {"steps_run": 1500, "kept_step": 500, "held_out_loss": [[0, 1.0], [500, 0.97], [1500, 0.98]],
                                 "stopped": "1000 steps without a lower held-out loss", "seconds": 80.0}
    node.SetAttribute(logic_module.ATTRIBUTE_ENHANCEMENT, json.dumps(record))
    assert "Adapted to this scan: the weights of step 500 of 1500" in logic_module.noise_reduction_summary(node)
    record["noise_reduction_achieved"] = 1.6  # short of the request, adapted already: no advice to adapt
    node.SetAttribute(logic_module.ATTRIBUTE_ENHANCEMENT, json.dumps(record))
    summary = logic_module.noise_reduction_summary(node)
    assert "least-noise" in summary and "may reach more" not in summary


def test_process_refines_the_slice_grid_of_a_3d_series(ge_crop, tiny_models) -> None:
    world, series = ge_crop
    node = series.node
    parameters = ProcessParameters(super_resolution=(1, 1, 2), device="cpu", model_path=str(tiny_models["3d"]))
    context = scan_context_for_node(node, series.file_for_instance)
    assert context.acquisition == "3D"

    output = MRDeepReconLogic(world.scene).process(node, None, parameters, context=context)

    expected = enhance(volume_from_node(node), parameters.to_settings(), context=parameters.scan_context(context))
    result = volume_from_node(output)
    assert result.shape == (32, 256, 256)
    assert result.spacing[:2] == node.GetSpacing()[:2]
    assert result.spacing[2] == pytest.approx(node.GetSpacing()[2] / 2, rel=1e-12)
    np.testing.assert_allclose(_ijk_to_ras(output), expected.ijk_to_ras(), atol=1e-9)
    np.testing.assert_array_equal(result.data, expected.data)


def test_process_into_an_existing_node_replaces_its_voxels(philips, tiny_models) -> None:
    world, series = philips
    existing = world.scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "previous")
    update_node_from_volume(existing, volume_from_node(series.node).with_data(np.zeros((2, 3, 4))))
    parameters = ProcessParameters(device="cpu", model_path=str(tiny_models["2d"]))
    output = MRDeepReconLogic(world.scene).process(series.node, existing, parameters)
    assert output is existing and output.GetName() == "previous"
    assert slicer.util.arrayFromVolume(existing).shape == (12, 256, 256)
    assert world.hierarchy.GetItemParent(world.hierarchy.GetItemByDataNode(existing)) == series.study_item


@pytest.mark.parametrize("into_existing", [False, True])
def test_cancel_leaves_the_scene_as_it_was(philips, tiny_models, into_existing: bool) -> None:
    world, series = philips
    existing = None
    if into_existing:
        existing = world.scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "previous")
        update_node_from_volume(existing, volume_from_node(series.node).with_data(np.full((2, 3, 4), 7.0)))
    state = world.state()
    token = CancelToken()
    fractions = []

    def progress(fraction: float, message: str) -> None:
        fractions.append(fraction)
        if fraction > 0.05:  # after the first batch of slices
            token.cancel()

    parameters = ProcessParameters(device="cpu", model_path=str(tiny_models["2d"]))
    with pytest.raises(Cancelled):
        MRDeepReconLogic(world.scene).process(series.node, existing, parameters, progress=progress, cancel=token)
    assert max(fractions) < 1.0
    assert world.state() == state
    assert world.scene.GetFirstNodeByName("T1W_TSE_DLR") is None
    if existing is not None:
        np.testing.assert_array_equal(slicer.util.arrayFromVolume(existing), np.full((2, 3, 4), 7.0))


def test_errors_leave_the_scene_as_it_was(philips, tiny_models, tmp_path: Path, monkeypatch) -> None:
    world, series = philips
    state = world.state()
    logic = MRDeepReconLogic(world.scene)
    with pytest.raises(MRDeepReconError, match="model file not found"):
        missing = ProcessParameters(device="cpu", model_path=str(tmp_path / "none.safetensors"))
        logic.process(series.node, None, missing)
    with pytest.raises(MRDeepReconError, match="must not be the input"):
        logic.process(series.node, series.node, ProcessParameters(device="cpu"))
    assert world.state() == state

    def broken(*args):
        raise RuntimeError("the hierarchy failed")

    monkeypatch.setattr(logic, "_place_in_hierarchy", broken)
    with pytest.raises(RuntimeError, match="hierarchy failed"):
        logic.process(series.node, None, ProcessParameters(device="cpu", model_path=str(tiny_models["2d"])))
    assert world.state() == state, "the node created for the result was removed with its display node"


def _result_of(scene, input_node, name: str = "result"):
    """A node marked as MRDeepRecon's result of ``input_node`` (attributes as store_result sets them)."""
    output = slicer.util.addVolumeFromArray(np.zeros((2, 4, 4), np.float32), name=name)
    output.SetAttribute(logic_module.ATTRIBUTE_ENHANCEMENT, json.dumps({"noise_reduction": 2.0}))
    output.SetAttribute(logic_module.ATTRIBUTE_SOURCE_NODE_ID, input_node.GetID())
    output.SetAttribute(logic_module.ATTRIBUTE_PARAMETERS, json.dumps(ProcessParameters(noise_reduction=3.0).to_dict()))
    return output


def test_results_are_told_from_inputs() -> None:
    world = new_scene()
    first = slicer.util.addVolumeFromArray(np.ones((2, 4, 4), np.float32), name="first")
    second = slicer.util.addVolumeFromArray(np.ones((2, 4, 4), np.float32), name="second")
    result = _result_of(world.scene, first)
    assert logic_module.is_result_of(result, first) and not logic_module.is_result_of(result, second)
    assert not logic_module.is_result_of(None, first) and not logic_module.is_result_of(first, first)
    assert logic_module.computed_from_other(result, second) and not logic_module.computed_from_other(result, first)
    assert not logic_module.computed_from_other(second, first)  # not a result: names no source
    assert not logic_module.computed_from_other(None, first) and not logic_module.computed_from_other(result, None)
    assert logic_module.recorded_parameters(result) == ProcessParameters(noise_reduction=3.0)
    assert logic_module.recorded_parameters(first) is None
    result.SetAndObserveImageData(None)
    assert not logic_module.is_result_of(result, first)  # a result without voxels is none


def test_default_input_skips_results_difference_volumes_and_label_maps() -> None:
    world = new_scene()
    assert logic_module.default_input(world.scene) is None
    source = slicer.util.addVolumeFromArray(np.ones((2, 4, 4), np.float32), name="source")
    _result_of(world.scene, source)
    labels = world.scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "labels")
    slicer.util.updateVolumeFromArray(labels, np.ones((2, 4, 4), np.uint8))
    world.scene.RemoveNode(source)
    difference = slicer.util.addVolumeFromArray(np.ones((2, 4, 4), np.float32), name="difference")
    difference.SetAttribute(logic_module.DIFFERENCE_ATTRIBUTE, source.GetID())
    assert not logic_module.is_usable_input(labels) and logic_module.is_usable_input(difference)
    assert logic_module.default_input(world.scene) is None
    plain = slicer.util.addVolumeFromArray(np.ones((2, 4, 4), np.float32), name="plain")
    later = slicer.util.addVolumeFromArray(np.ones((2, 4, 4), np.float32), name="later")
    assert logic_module.default_input(world.scene) is plain and later is not plain
