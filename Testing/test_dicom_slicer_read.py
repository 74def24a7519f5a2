"""A derived series loads in Slicer: slicer-core's archetype reader gives the enhanced volume's IJK→RAS.

Slicer's DICOM module hands the scalar-volume plugin's sorted file list to
``vtkMRMLVolumeArchetypeStorageNode``; this test does the same with the real MRML classes of the
``slicer-core`` wheel (no Qt, no DICOM database): the files are added in slice order, as the
plugin sorts them, and the loaded node must carry the enhanced volume's geometry and values.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import shared_path
from mrdeeprecon import EnhanceSettings, enhance, load_volume
from mrdeeprecon.io.dicom_write import DerivedSeriesOptions, write_derived_series

slicer = pytest.importorskip("slicer", reason="slicer-core (a test dependency) is not installed")


@pytest.fixture(scope="module")
def enhanced_ge(tmp_path_factory) -> tuple[object, object]:
    """The oblique GE 3D series, cropped to 16 slices, enhanced ×2 along the slice by the 3D model."""
    source = load_volume(shared_path("dicom/ge_mprage_headers"))
    crop = source.with_data(source.data[40:56], origin=tuple((source.ijk_to_lps() @ [0, 0, 40, 1.0])[:3]))
    crop.metadata["sop_instance_uids"] = source.metadata["sop_instance_uids"][40:56]
    crop.metadata["frame_numbers"] = source.metadata["frame_numbers"][40:56]
    result = enhance(crop, EnhanceSettings(noise_reduction=2, super_resolution=(1, 1, 2), device="cpu"))
    series = write_derived_series(result, tmp_path_factory.mktemp("dicom") / "derived")
    return result, series


def _read_with_archetype_reader(files: list[Path]):
    scene = slicer.vtkMRMLScene()
    node = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "derived")
    storage = scene.AddNewNodeByClass("vtkMRMLVolumeArchetypeStorageNode")
    storage.ResetFileNameList()
    storage.SetFileName(str(files[0]))
    for path in files:
        storage.AddFileName(str(path))
    storage.SetSingleFile(0)
    assert storage.ReadData(node), "the archetype reader failed on the derived series"
    return node


def test_slicer_reads_the_derived_series_with_the_enhanced_geometry(enhanced_ge):
    import vtk

    result, series = enhanced_ge
    assert len(series.files) == result.shape[0] == 32
    node = _read_with_archetype_reader(series.files)

    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    ijk_to_ras = slicer.util.arrayFromVTKMatrix(matrix)
    assert not np.allclose(result.direction, np.eye(3), atol=1e-3), "the GE series is oblique"
    np.testing.assert_allclose(ijk_to_ras, result.ijk_to_ras(), atol=1e-3)

    # The reader applies RescaleSlope/Intercept itself (GDCM through ITK) and gives real values.
    voxels = slicer.util.arrayFromVolume(node)
    assert voxels.shape == result.shape
    assert np.max(np.abs(voxels - result.data)) <= series.rescale_slope / 2 * (1 + 1e-6)
