"""MRDeepReconLib.context_display: the scan-context table of the panel, on contexts read from real
DICOM series in a real MRML scene (slicer-core) and on a volume without DICOM tags."""

from __future__ import annotations

import numpy as np
import pytest

slicer = pytest.importorskip("slicer", reason="slicer-core (a test dependency) is not installed")

from mrdeeprecon import ScanContext  # noqa: E402
from mrdeeprecon.io import default_context  # noqa: E402
from MRDeepReconLib import scan_context_for_node  # noqa: E402
from MRDeepReconLib.context_display import (  # noqa: E402
    ROW_FIELDS,
    context_rows,
    context_table_html,
    read_from_dicom,
)
from slicer_scene import new_scene, scene_with_series  # noqa: E402

LABELS = {field: f"<{field}>" for field in ROW_FIELDS}


def test_rows_of_a_full_context_in_table_order():
    context = ScanContext(
        acquisition="3D", phase_axis=2, kmax=(1.0, 0.75, 0.5), partial_fourier=(0.625, 1.0),
        acceleration=(2.0, 1.0), undersampling="uniform", acquired_matrix=(256, 192),
        displayed_matrix=(512, 512), slice_thickness=1.2, slice_spacing=0.6, manufacturer="Philips",
    )
    assert context_rows(context) == [
        ("acquisition", "3D"),
        ("phase_axis", "ROW (x)"),
        ("kmax", "1 × 0.75 × 0.5"),
        ("partial_fourier", "0.625 × 1"),
        ("acceleration", "2 × 1 (uniform)"),
        ("acquired_matrix", "256 × 192"),
        ("displayed_matrix", "512 × 512"),
        ("slice_thickness", "1.2 / 0.6 mm"),
        ("manufacturer", "Philips"),
    ]
    assert [field for field, _ in context_rows(context)] == list(ROW_FIELDS)


def test_unknown_fields_have_no_row():
    rows = dict(context_rows(ScanContext()))
    assert list(rows) == ["acquisition", "phase_axis", "kmax", "partial_fourier", "acceleration"]
    assert rows["phase_axis"] == "COL (y)"
    # a thickness without spacing shows spacing 0
    assert dict(context_rows(ScanContext(slice_thickness=3.0)))["slice_thickness"] == "3 / 0 mm"


def test_table_has_the_panels_labels_bold_values_and_sources():
    context = ScanContext(sources={"acquisition": "MRAcquisitionType", "kmax": "default"})
    html = context_table_html(context, LABELS)
    assert html.startswith("<table cellspacing='4'>") and html.endswith("</table>")
    assert "<tr><td><acquisition></td><td><b>2D</b></td><td><small>MRAcquisitionType</small></td></tr>" in html
    assert "<tr><td><kmax></td><td><b>1 × 1 × 1</b></td><td><small>default</small></td></tr>" in html
    assert "<tr><td><phase_axis></td><td><b>COL (y)</b></td><td><small></small></td></tr>" in html
    assert html.count("<tr>") == 5


def test_only_a_dicom_node_with_read_fields_counts_as_read_from_dicom():
    read = ScanContext(sources={"acquisition": "MRAcquisitionType", "kmax": "default"})
    assert read_from_dicom(read, "1.2.3 1.2.4")
    assert not read_from_dicom(read, None) and not read_from_dicom(read, "")
    assert not read_from_dicom(default_context(), "1.2.3")
    assert not read_from_dicom(ScanContext(), "1.2.3")  # no sources at all


def test_a_real_series_node_is_read_from_dicom(philips_enhanced_dir):
    world, series = scene_with_series(philips_enhanced_dir, "T1W_TSE")
    context = scan_context_for_node(series.node, file_for_instance=series.file_for_instance)
    assert read_from_dicom(context, series.node.GetAttribute("DICOM.instanceUIDs"))
    html = context_table_html(context, LABELS)
    assert "<tr><td><acquisition></td><td><b>2D</b></td><td><small>MRAcquisitionType</small></td></tr>" in html
    assert "<tr><td><phase_axis></td><td><b>ROW (x)</b></td><td><small>InPlanePhaseEncodingDirection</small>" in html
    assert "<tr><td><acquired_matrix></td><td><b>256 × 203</b>" in html
    assert "<tr><td><slice_thickness></td><td><b>4 / 5 mm</b></td><td><small>SliceThickness</small>" in html
    assert "<tr><td><manufacturer></td><td><b>Philips</b>" in html


def test_a_volume_without_dicom_tags_shows_the_defaults():
    world = new_scene()
    node = slicer.util.addVolumeFromArray(np.zeros((4, 8, 8), np.float32), name="plain")
    context = scan_context_for_node(node)
    assert not read_from_dicom(context, node.GetAttribute("DICOM.instanceUIDs"))
    assert "<td><b>2D</b></td><td><small>default</small>" in context_table_html(context, LABELS)
    assert world.scene is slicer.mrmlScene
