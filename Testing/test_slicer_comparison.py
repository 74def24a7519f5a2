"""Original-vs-enhanced comparison views on a real MRML scene (slicer-core, no Qt).

``HeadlessSlicer`` plays the part of Slicer's application and layout manager (application logic,
layout logic, a slice logic per slice view); everything else is the comparison code as Slicer runs
it. Volumes are real MR data: seg3D_MR (axial-aligned, 1 × 0.898 × 0.898 mm), a Gaussian-smoothed
copy as a stand-in "enhanced" volume, and the Philips enhanced multi-frame T1 series with the
bundled engine's real output.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

slicer = pytest.importorskip("slicer", reason="slicer-core (a test dependency) is not installed")

# Offscreen OpenGL without a display (Mesa llvmpipe); read when the first render window is made.
os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

import vtk  # noqa: E402
from scipy.ndimage import gaussian_filter  # noqa: E402
from vtk.util.numpy_support import vtk_to_numpy  # noqa: E402

from conftest import shared_path  # noqa: E402
from mrdeeprecon import EnhanceSettings, enhance, load_volume  # noqa: E402
from MRDeepReconLib.comparison import (  # noqa: E402
    COMPARISON_LAYOUT_ID,
    COMPARISON_VIEW_GROUP,
    DIFFERENCE,
    ENHANCED,
    FALLBACK_DIFFERENCE_COLOR_NAME,
    ORIENTATIONS,
    ORIGINAL,
    comparison_layout_id,
    difference_color_node,
    difference_volume,
    slice_view_name,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))  # the README-picture tool
from comparison_screenshot import TILE_GAP, HeadlessSlicer, render_comparison_png  # noqa: E402

VIEW = 192  # slice view size in pixels


@pytest.fixture(scope="module")
def seg3d():
    """seg3D_MR: RAS-aligned (IJK→RAS diagonal), array (z, y, x) = (160, 232, 160)."""
    return load_volume(shared_path("volumes/seg3D_MR.nii.gz"))


def add_volume(headless: HeadlessSlicer, array: np.ndarray, ijk_to_ras: np.ndarray, name: str):
    """A scalar volume node with a default display (what ``slicer.util.addVolumeFromArray`` does,
    on this scene)."""
    node = headless.scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", name)
    matrix = vtk.vtkMatrix4x4()
    matrix.DeepCopy(np.asarray(ijk_to_ras, float).ravel().tolist())
    node.SetIJKToRASMatrix(matrix)
    slicer.util.updateVolumeFromArray(node, np.ascontiguousarray(array))
    node.CreateDefaultDisplayNodes()
    return node


@pytest.fixture(scope="module")
def smoothed(seg3d) -> np.ndarray:
    """seg3D_MR blurred (Gaussian, σ = 1.5 voxels): a stand-in enhanced volume on the same grid."""
    return gaussian_filter(seg3d.data, 1.5).astype(np.float32)


@pytest.fixture
def shown(seg3d, smoothed):
    """A comparison of seg3D_MR (original) and its smoothed copy (enhanced), shown."""
    headless = HeadlessSlicer((VIEW, VIEW))
    original = add_volume(headless, seg3d.data, seg3d.ijk_to_ras(), "seg3D")
    enhanced = add_volume(headless, smoothed, seg3d.ijk_to_ras(), "seg3D_smooth")
    comparison = headless.comparison()
    comparison.show(original, enhanced)
    return headless, comparison


def _matrix(vtk_matrix) -> np.ndarray:
    return slicer.util.arrayFromVTKMatrix(vtk_matrix)


def test_layout_has_original_left_enhanced_right_with_linked_views(shown):
    headless, comparison = shown
    layout = headless.layout_node
    assert layout.GetViewArrangement() == COMPARISON_LAYOUT_ID == 2601
    for layout_id in range(2601, 2605):
        assert layout.IsLayoutDescription(layout_id)
    columns = layout.GetLayoutRootElement()
    assert columns.GetAttribute("type") == "horizontal" and columns.GetNumberOfNestedElements() == 2

    original, enhanced = comparison.original, comparison.enhanced
    for orientation in ORIENTATIONS:
        left = comparison.slice_logic(slice_view_name(ORIGINAL, orientation))
        right = comparison.slice_logic(slice_view_name(ENHANCED, orientation))
        for logic, volume in ((left, original), (right, enhanced)):
            node, composite = logic.GetSliceNode(), logic.GetSliceCompositeNode()
            assert node.GetOrientation() == orientation
            assert node.GetViewGroup() == COMPARISON_VIEW_GROUP
            assert composite.GetBackgroundVolumeID() == volume.GetID()
            assert composite.GetForegroundVolumeID() is None
            assert composite.GetLinkedControl() and not composite.GetDoPropagateVolumeSelection()
        # Same plane, same position, same field of view on both sides.
        np.testing.assert_allclose(_matrix(left.GetSliceNode().GetSliceToRAS()), _matrix(right.GetSliceNode().GetSliceToRAS()))
        np.testing.assert_allclose(left.GetSliceNode().GetFieldOfView(), right.GetSliceNode().GetFieldOfView())
        assert left.GetSliceOffset() == pytest.approx(right.GetSliceOffset())

    # The views pass through the original's centre (to half a voxel: Slicer fits to a voxel centre).
    bounds = [0.0] * 6
    original.GetRASBounds(bounds)
    centre = (np.array(bounds[0::2]) + np.array(bounds[1::2])) / 2
    axial = comparison.slice_logic("OriginalAxial").GetSliceNode()
    assert _matrix(axial.GetSliceToRAS())[2, 3] == pytest.approx(centre[2], abs=original.GetSpacing()[2] / 2 + 1e-6)

    shown_display, enhanced_display = original.GetDisplayNode(), enhanced.GetDisplayNode()
    assert enhanced_display.GetWindow() == pytest.approx(shown_display.GetWindow())
    assert enhanced_display.GetLevel() == pytest.approx(shown_display.GetLevel())
    assert not enhanced_display.GetAutoWindowLevel()
    assert enhanced_display.GetColorNodeID() == shown_display.GetColorNodeID() == "vtkMRMLColorTableNodeGrey"


def test_navigating_one_view_moves_the_linked_view_of_its_orientation(shown):
    _, comparison = shown
    axial = comparison.slice_logic("OriginalAxial")
    offset = axial.GetSliceOffset()
    sagittal_offset = comparison.slice_logic("EnhancedSagittal").GetSliceOffset()

    # What the slice view does when the user scrolls: an interaction on the slice node.
    axial.StartSliceNodeInteraction(slicer.vtkMRMLSliceNode.SliceToRASFlag)
    axial.SetSliceOffset(offset + 12.0)
    axial.EndSliceNodeInteraction()

    assert axial.GetSliceOffset() == pytest.approx(offset + 12.0)
    assert comparison.slice_logic("EnhancedAxial").GetSliceOffset() == pytest.approx(offset + 12.0)
    assert comparison.slice_logic("EnhancedSagittal").GetSliceOffset() == pytest.approx(sagittal_offset)


def _align_pixels_with_voxels(logic, volume) -> np.ndarray:
    """Make the view's pixels the volume's voxels in-plane (one pixel per voxel, centres on voxel
    centres, slice through voxel centres); returns the 4×4 matrix pixel (x, y, z) → voxel (i, j, k)."""
    node = logic.GetSliceNode()
    ijk_to_ras = volume.ijk_to_ras()
    nz, ny, nx = volume.shape
    logic.ResizeSliceNode(nx, ny)
    node.SetFieldOfView(nx * volume.spacing[0], ny * volume.spacing[1], volume.spacing[2])
    node.UpdateMatrices()
    xy_to_ijk = np.linalg.inv(ijk_to_ras) @ _matrix(node.GetXYToRAS())
    # Pixel (0, 0) onto the first voxel of each in-plane axis (the last one where the axis runs
    # against x or y), the slice onto the nearest voxel centre.
    first = [(n - 1 if xy_to_ijk[axis, axis] < 0 else 0) for axis, n in enumerate((nx, ny))]
    shift = np.array([*first, np.round(xy_to_ijk[2, 3])]) - xy_to_ijk[:3, 3]
    slice_to_ras = _matrix(node.GetSliceToRAS())
    slice_to_ras[:3, 3] += ijk_to_ras[:3, :3] @ shift
    node.GetSliceToRAS().DeepCopy(slice_to_ras.ravel().tolist())
    node.UpdateMatrices()
    xy_to_ijk = np.linalg.inv(ijk_to_ras) @ _matrix(node.GetXYToRAS())
    np.testing.assert_allclose(xy_to_ijk[:3, :3], np.diag([-1.0, 1.0, 1.0]), atol=1e-9)
    np.testing.assert_allclose(xy_to_ijk[:3, 3], np.round(xy_to_ijk[:3, 3]), atol=1e-6)
    return xy_to_ijk


def test_thick_slab_mip_is_the_numpy_mip_of_the_slab_and_switches_off(shown, seg3d):
    _, comparison = shown
    comparison.set_slab_mip(True, 8.0)
    for view_name in comparison.slice_view_names():
        node = comparison.slice_logic(view_name).GetSliceNode()
        assert node.GetSlabReconstructionEnabled()
        assert node.GetSlabReconstructionType() == vtk.VTK_IMAGE_SLAB_MAX
        assert node.GetSlabReconstructionThickness() == 8.0

    # Nearest-neighbour sampling and pixels on voxel centres: the slab output is exactly a maximum
    # over whole voxels, which numpy can compute.
    comparison.original.GetDisplayNode().SetInterpolate(False)
    logic = comparison.slice_logic("OriginalAxial")
    xy_to_ijk = _align_pixels_with_voxels(logic, seg3d)
    reslice = logic.GetBackgroundLayer().GetReslice()
    reslice.Update()
    output = reslice.GetOutput()
    width, height = output.GetDimensions()[:2]
    shown_mip = vtk_to_numpy(output.GetPointData().GetScalars()).reshape(height, width)

    # The slab Slicer samples: N = int(thickness / slice spacing) slices, SlabSliceSpacingFraction
    # apart in the view's z unit (one voxel along k here), centred on the slice.
    count, step = reslice.GetSlabNumberOfSlices(), reslice.GetSlabSliceSpacingFraction()
    assert count == int(8.0 / seg3d.spacing[2])
    k_centre = int(round(xy_to_ijk[2, 3]))
    offsets = (np.arange(count) - (count - 1) / 2) * step * xy_to_ijk[2, 2]
    slab = sorted({int(np.floor(k_centre + offset + 0.5)) for offset in offsets})
    assert len(slab) >= 3 and k_centre in slab
    expected = seg3d.data[slab].max(axis=0)  # (y, x) = (j, i)
    i_of_x = (xy_to_ijk[0, 3] + xy_to_ijk[0, 0] * np.arange(width)).round().astype(int)
    j_of_y = (xy_to_ijk[1, 3] + xy_to_ijk[1, 1] * np.arange(height)).round().astype(int)
    np.testing.assert_array_equal(shown_mip, expected[np.ix_(j_of_y, i_of_x)])
    assert not np.array_equal(shown_mip, seg3d.data[k_centre][np.ix_(j_of_y, i_of_x)])

    comparison.set_slab_mip(False)
    for view_name in comparison.slice_view_names():
        assert not comparison.slice_logic(view_name).GetSliceNode().GetSlabReconstructionEnabled()
    reslice.Update()
    assert reslice.GetSlabNumberOfSlices() == 1
    with pytest.raises(ValueError, match="positive"):
        comparison.set_slab_mip(True, 0.0)


def test_3d_mip_shows_each_volume_only_in_its_own_linked_view(shown):
    headless, comparison = shown
    comparison.set_3d_mip(True)
    assert headless.layout_node.GetViewArrangement() == comparison_layout_id(with_3d=True) == 2602

    views = {column: comparison.mip_view_node(column) for column in (ORIGINAL, ENHANCED)}
    for column, volume in ((ORIGINAL, comparison.original), (ENHANCED, comparison.enhanced)):
        view = views[column]
        other = views[ENHANCED if column == ORIGINAL else ORIGINAL]
        assert view.GetRaycastTechnique() == slicer.vtkMRMLViewNode.MaximumIntensityProjection
        assert view.GetLinkedControl() and view.GetViewGroup() == COMPARISON_VIEW_GROUP
        displays = [volume.GetNthDisplayNode(i) for i in range(volume.GetNumberOfDisplayNodes())]
        rendering = [d for d in displays if d.IsA("vtkMRMLVolumeRenderingDisplayNode")]
        assert len(rendering) == 1
        display = rendering[0]
        assert display.GetVisibility()
        assert display.GetViewNodeIDs() == (view.GetID(),)
        assert display.IsDisplayableInView(view.GetID()) and not display.IsDisplayableInView(other.GetID())

        # Grey ramp over the (shared) window: transparent black at its bottom, opaque white at its top.
        shown_display = comparison.original.GetDisplayNode()
        low, high = shown_display.GetWindowLevelMin(), shown_display.GetWindowLevelMax()
        prop = display.GetVolumePropertyNode().GetVolumeProperty()
        assert prop.GetScalarOpacity().GetValue(low) == pytest.approx(0.0)
        assert prop.GetScalarOpacity().GetValue(high) == pytest.approx(1.0)
        assert prop.GetRGBTransferFunction().GetColor(low) == pytest.approx((0.0, 0.0, 0.0), abs=0.01)
        assert prop.GetRGBTransferFunction().GetColor(high) == pytest.approx((1.0, 1.0, 1.0), abs=0.01)
        assert prop.GetRGBTransferFunction().GetColor((low + high) / 2) == pytest.approx((0.5, 0.5, 0.5), abs=0.01)

    # Cameras: both frame the original from anterior; rotating one rotates the other (view link logic).
    cameras = {column: headless.scene.GetSingletonNode(views[column].GetLayoutName(), "vtkMRMLCameraNode") for column in views}
    assert cameras[ORIGINAL].GetFocalPoint() == pytest.approx(cameras[ENHANCED].GetFocalPoint())
    source = cameras[ORIGINAL]
    source.SetInteractionFlags(slicer.vtkMRMLCameraNode.CameraInteractionFlag)
    source.InteractingOn()
    source.GetCamera().Azimuth(30.0)
    source.Modified()
    source.InteractingOff()
    assert cameras[ENHANCED].GetPosition() == pytest.approx(source.GetPosition())

    comparison.set_3d_mip(False)
    assert headless.layout_node.GetViewArrangement() == COMPARISON_LAYOUT_ID
    for volume in (comparison.original, comparison.enhanced):
        rendering = [volume.GetNthDisplayNode(i) for i in range(volume.GetNumberOfDisplayNodes())]
        assert not any(d.GetVisibility() for d in rendering if d.IsA("vtkMRMLVolumeRenderingDisplayNode"))


def test_difference_column_is_enhanced_minus_original(shown, seg3d):
    headless, comparison = shown
    difference = comparison.show_difference(True)
    assert headless.layout_node.GetViewArrangement() == comparison_layout_id(with_difference=True) == 2603
    assert difference.GetName() == "seg3D_smooth_minus_seg3D"
    expected = slicer.util.arrayFromVolume(comparison.enhanced) - seg3d.data
    np.testing.assert_allclose(slicer.util.arrayFromVolume(difference), expected, atol=1e-3)
    display = difference.GetDisplayNode()
    assert display.GetLevel() == 0.0 and display.GetWindow() > 0
    assert display.GetColorNode().GetName() == FALLBACK_DIFFERENCE_COLOR_NAME

    original_axial = comparison.slice_logic("OriginalAxial").GetSliceNode()
    for orientation in ORIENTATIONS:
        logic = comparison.slice_logic(slice_view_name(DIFFERENCE, orientation))
        assert logic.GetSliceCompositeNode().GetBackgroundVolumeID() == difference.GetID()
        assert logic.GetSliceCompositeNode().GetLinkedControl()
    np.testing.assert_allclose(
        _matrix(comparison.slice_logic("DifferenceAxial").GetSliceNode().GetSliceToRAS()),
        _matrix(original_axial.GetSliceToRAS()),
    )

    nodes = headless.scene.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode")
    assert comparison.show_difference(True) is difference  # recomputed in place
    assert headless.scene.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode") == nodes
    assert comparison.show_difference(False) is None
    assert headless.layout_node.GetViewArrangement() == COMPARISON_LAYOUT_ID


def test_difference_of_a_result_refined_twice_along_the_slice_axis(seg3d):
    """Enhanced grid: half the slice spacing, same origin (the engine's super-resolution grid), so
    refined slice 2k lies on original slice k."""
    headless = HeadlessSlicer((VIEW, VIEW))
    crop = seg3d.data[60:100]
    original = add_volume(headless, crop, seg3d.ijk_to_ras(), "original")
    rng = np.random.default_rng(7)
    refined = rng.normal(200.0, 50.0, size=(2 * crop.shape[0], *crop.shape[1:])).astype(np.float32)
    refined_ijk_to_ras = seg3d.ijk_to_ras() @ np.diag([1.0, 1.0, 0.5, 1.0])
    enhanced = add_volume(headless, refined, refined_ijk_to_ras, "refined")
    difference = difference_volume(headless.scene, original, enhanced)
    np.testing.assert_allclose(slicer.util.arrayFromVolume(difference), refined[::2] - crop, atol=2e-3)
    np.testing.assert_allclose(_ijk_to_ras(difference), seg3d.ijk_to_ras())


def _ijk_to_ras(node) -> np.ndarray:
    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    return _matrix(matrix)


def test_difference_of_the_engine_super_resolved_dicom_series(philips_enhanced_dir):
    """The bundled model super-resolves a real Philips series ×2 along the phase axis (x, i); the difference on the
    original grid takes the refined voxels that coincide with the original ones."""
    source = load_volume(philips_enhanced_dir)
    crop = source.with_data(source.data[4:8], origin=tuple((source.ijk_to_lps() @ [0, 0, 4, 1.0])[:3]))
    result = enhance(crop, EnhanceSettings(noise_reduction=2, super_resolution=(1, 2, 1), device="cpu"))
    assert result.shape == (4, 256, 512) and result.spacing[0] == pytest.approx(crop.spacing[0] / 2)

    headless = HeadlessSlicer((VIEW, VIEW))
    original = add_volume(headless, crop.data, crop.ijk_to_ras(), "T1W_TSE")
    enhanced = add_volume(headless, result.data, result.ijk_to_ras(), "T1W_TSE_DLR")
    comparison = headless.comparison()
    comparison.show(original, enhanced)
    difference = comparison.show_difference(True)
    assert difference.GetName() == "T1W_TSE_DLR_minus_T1W_TSE"
    np.testing.assert_allclose(
        slicer.util.arrayFromVolume(difference), result.data[:, :, ::2] - crop.data, atol=1e-3 * float(crop.data.max())
    )


def test_difference_uses_slicers_diverging_table_when_the_scene_has_it(shown):
    headless, _ = shown
    assert difference_color_node(headless.scene).GetName() == FALLBACK_DIFFERENCE_COLOR_NAME
    assert difference_color_node(headless.scene) is difference_color_node(headless.scene)
    diverging = headless.scene.AddNewNodeByClass("vtkMRMLColorTableNode", "DivergingBlueRed")
    assert difference_color_node(headless.scene) is diverging


def test_comparison_needs_show_and_the_volume_rendering_logic(seg3d):
    headless = HeadlessSlicer((VIEW, VIEW))
    comparison = headless.comparison()
    with pytest.raises(RuntimeError, match="show"):
        comparison.set_slab_mip(True)
    node = add_volume(headless, seg3d.data[:8], seg3d.ijk_to_ras(), "v")
    without_rendering = type(comparison)(headless.scene, headless.application_logic, headless.layout_node)
    without_rendering.show(node, node)
    with pytest.raises(ValueError, match="volume rendering"):
        without_rendering.set_3d_mip(True)


def test_offscreen_picture_of_the_comparison(shown, tmp_path):
    _, comparison = shown
    comparison.set_slab_mip(True, 6.0)
    comparison.set_3d_mip(True)
    path = render_comparison_png(comparison, tmp_path / "comparison.png")

    reader = vtk.vtkPNGReader()
    reader.SetFileName(str(path))
    reader.Update()
    image = reader.GetOutput()
    width, height = image.GetDimensions()[:2]
    assert (width, height) == (2 * VIEW + 2 * TILE_GAP, 4 * VIEW + 3 * TILE_GAP)
    picture = vtk_to_numpy(image.GetPointData().GetScalars()).reshape(height, width, -1)[::-1].astype(float)
    left, right = picture[:, :VIEW], picture[:, VIEW + 2 * TILE_GAP:]
    for half in (left, right):
        for row in range(4):  # axial, sagittal, coronal, 3D MIP: each shows an image
            tile = half[row * (VIEW + TILE_GAP):row * (VIEW + TILE_GAP) + VIEW]
            assert tile.std() > 20 and tile.max() > 150
    assert np.abs(left - right).mean() > 2.0  # the smoothed volume looks different
