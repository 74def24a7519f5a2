"""One image set of a mixed series, chosen on a real MRML scene (the panel's choice).

The Philips dual-echo series (magnitude and phase at two echoes) loaded as one node, as Slicer
may load it; the Siemens field-map phase series as a node that must not be enhanced.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

slicer = pytest.importorskip("slicer", reason="slicer-core (a test dependency) is not installed")

from conftest import shared_path  # noqa: E402
from mrdeeprecon import MRDeepReconError  # noqa: E402
from mrdeeprecon.io.dicom import read_dicom  # noqa: E402
from MRDeepReconLib import (  # noqa: E402
    MRDeepReconLogic,
    ProcessParameters,
    export_derived_series,
    image_sets_for_node,
    load_image_set,
    refusal,
    scan_context_for_node,
    volume_from_node,
)
from slicer_scene import load_series, new_scene  # noqa: E402

DUAL_ECHO = "dicom/real_world/philips_dual_echo"


@pytest.fixture(scope="module")
def mixed_node():
    """The dual-echo series' echo-1 files (magnitude and phase at 30 positions) as one node."""
    folder = shared_path(DUAL_ECHO)
    files = [
        path for path in sorted(folder.iterdir())
        if int(pydicom.dcmread(path, stop_before_pixels=True).EchoNumbers) == 1
    ]  # fmt: skip
    world = new_scene()
    return world, load_series(world, files, "Dual-echo")


def test_the_node_lists_its_image_sets_and_needs_a_choice(mixed_node) -> None:
    world, series = mixed_node
    sets = image_sets_for_node(series.node, series.file_for_instance)
    assert [(s.echo_number, s.component, n) for s, n in sets] == [(1, "magnitude", 30), (1, "phase", 30)]
    assert "2 image sets" in refusal(sets, 0.0)


def test_loading_one_set_gives_a_plain_node_that_keeps_its_choice(mixed_node, tiny_models, tmp_path: Path) -> None:
    world, series = mixed_node
    sets = image_sets_for_node(series.node, series.file_for_instance)
    magnitude = sets[0][0]
    node = load_image_set(world.scene, series.node, series.file_for_instance, magnitude)
    assert node.GetName() == "Dual-echo E1 magnitude"
    expected = read_dicom(shared_path(DUAL_ECHO), echo=1, image_type="magnitude")
    np.testing.assert_array_equal(volume_from_node(node).data, expected.data)
    np.testing.assert_allclose(volume_from_node(node).ijk_to_lps(), expected.ijk_to_lps(), atol=1e-4)
    assert node.GetAttribute("DICOM.instanceUIDs").split() == expected.metadata["sop_instance_uids"]
    own = image_sets_for_node(node, series.file_for_instance)
    assert [(s.component, n) for s, n in own] == [("magnitude", 30)]
    assert refusal(own, float(volume_from_node(node).data.min())) is None
    hierarchy = world.hierarchy
    item, source_item = hierarchy.GetItemByDataNode(node), hierarchy.GetItemByDataNode(series.node)
    assert hierarchy.GetItemParent(item) == hierarchy.GetItemParent(source_item)
    assert hierarchy.GetItemUID(item, "DICOM") == hierarchy.GetItemUID(source_item, "DICOM")

    parameters = ProcessParameters(noise_reduction=2, device="cpu", model_path=str(tiny_models["2d"]))
    context = parameters.scan_context(scan_context_for_node(node, series.file_for_instance))
    output = MRDeepReconLogic(world.scene).process(node, None, parameters, context=context)
    assert slicer.util.arrayFromVolume(output).min() >= 0
    written = export_derived_series(output, node, tmp_path / "derived", file_for_instance=series.file_for_instance)
    ds = pydicom.dcmread(written.files[0], stop_before_pixels=True)
    assert "source images echo 1 (TE 7 ms), magnitude" in ds.DerivationDescription
    assert len(written.files) == 30


def test_the_phase_set_is_refused() -> None:
    folder = shared_path("dicom/real_world/siemens_fieldmap_phase")
    world = new_scene()
    series = load_series(world, sorted(folder.iterdir()), "field map phase")
    sets = image_sets_for_node(series.node, series.file_for_instance)
    assert [(s.component, n) for s, n in sets] == [("phase", 36)]
    assert refusal(sets, -4096.0).startswith("phase image (echo 2 (TE 7.65 ms), phase")


def test_process_refuses_what_the_panel_refuses(mixed_node, tiny_models) -> None:
    """A script calling the logic with the DICOM lookup gets the same refusals as the panel."""
    parameters = ProcessParameters(noise_reduction=2, device="cpu", model_path=str(tiny_models["2d"]))
    world, series = mixed_node
    logic = MRDeepReconLogic(world.scene)
    with pytest.raises(MRDeepReconError, match="2 image sets"):
        logic.process(series.node, None, parameters, file_for_instance=series.file_for_instance)
    phase_world = new_scene()
    folder = shared_path("dicom/real_world/siemens_fieldmap_phase")
    phase = load_series(phase_world, sorted(folder.iterdir()), "field map phase")
    nodes_before = phase_world.scene.GetNumberOfNodes()
    with pytest.raises(MRDeepReconError, match="phase image"):
        MRDeepReconLogic(phase_world.scene).process(
            phase.node, None, parameters, file_for_instance=phase.file_for_instance
        )
    assert phase_world.scene.GetNumberOfNodes() == nodes_before
