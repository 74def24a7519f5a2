"""Original-vs-enhanced comparison in Slicer's views: layout, linked navigation, thick-slab MIP,
3D MIP volume rendering and a difference volume.

Imports only ``slicer``'s MRML classes, ``slicer.util`` array helpers, vtk and numpy. Everything
works on the objects passed to :class:`Comparison`, so the same code drives the Slicer application
and, with the ``slicer-core`` wheel, plain pytest::

    # inside Slicer
    comparison = Comparison(
        slicer.mrmlScene,
        slicer.app.applicationLogic(),
        slicer.app.layoutManager().layoutLogic().GetLayoutNode(),
        slicer.modules.volumerendering.logic(),
    )
    comparison.show(original_node, enhanced_node)
    comparison.set_slab_mip(True, 10.0)
    comparison.set_3d_mip(True)
    difference_node = comparison.show_difference(True)

The layout (id :data:`COMPARISON_LAYOUT_ID` and three variants, see :func:`comparison_layout_id`)
has one column per volume — ``Original`` on the left, ``Enhanced`` to its right, ``Difference``
on request — and one row per orientation: the slice views are named
``<Column><Orientation>`` (``OriginalAxial``, ``EnhancedSagittal``, ``DifferenceCoronal``, …).
The 3D MIP adds a bottom row with the 3D views ``OriginalMIP`` and ``EnhancedMIP``. All these views
are in view group :data:`COMPARISON_VIEW_GROUP`, so linking them leaves the application's usual
Red/Yellow/Green views (group 0) alone. The layout node and Slicer's layout logic create the view
nodes; the slice logics are the ones the application logic knows for them (Slicer's layout
manager makes them with the view widgets).
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import slicer
import vtk
from slicer.util import arrayFromVolume, arrayFromVTKMatrix, updateVolumeFromArray
from vtk.util.numpy_support import vtk_to_numpy

COMPARISON_LAYOUT_ID = 2601
"""Layout id of the slice-only comparison; +1 with the 3D MIP row, +2 with the difference column."""

COMPARISON_VIEW_GROUP = 26
"""View group of every comparison view (slice and 3D): linking acts inside one group."""

ORIENTATIONS = ("Axial", "Sagittal", "Coronal")
ORIGINAL, ENHANCED, DIFFERENCE = "Original", "Enhanced", "Difference"

DEFAULT_SLAB_THICKNESS_MM = 10.0

DIFFERENCE_COLOR_NODE_NAMES = ("DivergingBlueRed", "ColdToHotRainbow")
"""Slicer's default diverging colour tables, in order of preference (the application loads them;
slicer-core has neither). Without them the difference uses :data:`FALLBACK_DIFFERENCE_COLOR_NAME`."""

FALLBACK_DIFFERENCE_COLOR_NAME = "MRDeepReconDifference"

MIP_DISPLAY_ATTRIBUTE = "MRDeepRecon.Comparison3DMIP"
"""Attribute marking the volume rendering display nodes this module creates for the 3D MIP."""

DIFFERENCE_ATTRIBUTE = "MRDeepRecon.DifferenceOf"
"""Attribute of a difference volume: ``"<enhanced node ID> <original node ID>"``."""

_ORIENTATION_COLORS = {"Axial": "#F34A33", "Sagittal": "#EDD54C", "Coronal": "#6EB04B"}
_DIFFERENCE_WINDOW_PERCENTILE = 99.5


def slice_view_name(column: str, orientation: str) -> str:
    """Layout name (singleton tag) of a comparison slice view, e.g. ``"OriginalAxial"``."""
    return f"{column}{orientation}"


def mip_view_name(column: str) -> str:
    """Layout name (singleton tag) of a comparison 3D view, ``"OriginalMIP"`` or ``"EnhancedMIP"``."""
    return f"{column}MIP"


def comparison_layout_id(with_3d: bool = False, with_difference: bool = False) -> int:
    """Layout id: :data:`COMPARISON_LAYOUT_ID` + 1 with the 3D MIP row + 2 with the difference column."""
    return COMPARISON_LAYOUT_ID + int(with_3d) + 2 * int(with_difference)


def comparison_layout_xml(with_3d: bool = False, with_difference: bool = False) -> str:
    """Slicer layout description: columns Original | Enhanced (| Difference), rows Axial,
    Sagittal, Coronal (and the 3D MIP views under the Original and Enhanced columns)."""

    def slice_view(column: str, orientation: str) -> str:
        return (
            f'<item><view class="vtkMRMLSliceNode" singletontag="{slice_view_name(column, orientation)}">'
            f'<property name="orientation" action="default">{orientation}</property>'
            f'<property name="viewlabel" action="default">{column[0]}{orientation[0]}</property>'
            f'<property name="viewcolor" action="default">{_ORIENTATION_COLORS[orientation]}</property>'
            f'<property name="viewgroup" action="default">{COMPARISON_VIEW_GROUP}</property>'
            "</view></item>"
        )

    def mip_view(column: str) -> str:
        return (
            f'<item><view class="vtkMRMLViewNode" singletontag="{mip_view_name(column)}" type="secondary">'
            f'<property name="viewlabel" action="default">{column[0]}M</property>'
            f'<property name="viewgroup" action="default">{COMPARISON_VIEW_GROUP}</property>'
            "</view></item>"
        )

    columns = [ORIGINAL, ENHANCED] + ([DIFFERENCE] if with_difference else [])
    items = []
    for column in columns:
        views = [slice_view(column, orientation) for orientation in ORIENTATIONS]
        if with_3d and column != DIFFERENCE:
            views.append(mip_view(column))
        items.append(f'<item><layout type="vertical">{"".join(views)}</layout></item>')
    return f'<layout type="horizontal">{"".join(items)}</layout>'


def register_comparison_layouts(layout_node: "slicer.vtkMRMLLayoutNode") -> None:
    """Add (or refresh) the four comparison layout descriptions on the layout node."""
    for with_3d in (False, True):
        for with_difference in (False, True):
            layout_id = comparison_layout_id(with_3d, with_difference)
            xml = comparison_layout_xml(with_3d, with_difference)
            if layout_node.IsLayoutDescription(layout_id):
                layout_node.SetLayoutDescription(layout_id, xml)
            else:
                layout_node.AddLayoutDescription(layout_id, xml)


def copy_window_level(
    source: "slicer.vtkMRMLScalarVolumeNode", target: "slicer.vtkMRMLScalarVolumeNode"
) -> None:
    """Show ``target`` as ``source`` is shown: same window/level (fixed, no auto), colour table
    and interpolation. Creates display nodes that are missing."""
    for node in (source, target):
        if node.GetDisplayNode() is None:
            node.CreateDefaultDisplayNodes()
    shown, display = source.GetDisplayNode(), target.GetDisplayNode()
    wasModifying = display.StartModify()
    display.SetAutoWindowLevel(False)
    display.SetWindowLevel(shown.GetWindow(), shown.GetLevel())
    display.SetAndObserveColorNodeID(shown.GetColorNodeID())
    display.SetInterpolate(shown.GetInterpolate())
    display.EndModify(wasModifying)


def _ijk_to_ras_matrix(node: "slicer.vtkMRMLVolumeNode") -> vtk.vtkMatrix4x4:
    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    return matrix


def _ijk_to_ras(node: "slicer.vtkMRMLVolumeNode") -> np.ndarray:
    """4×4 voxel index ``(i, j, k, 1)`` → RAS mm."""
    return arrayFromVTKMatrix(_ijk_to_ras_matrix(node))


def resample_for_display(
    moving: "slicer.vtkMRMLScalarVolumeNode", reference: "slicer.vtkMRMLScalarVolumeNode"
) -> np.ndarray:
    """Values of ``moving`` at the voxel centres of ``reference``, by physical (RAS) position, as
    Slicer's slice views show them: for the difference volume.

    Purpose: the difference shows the voxels the user compares side by side. Where the grids'
    voxel centres coincide (the engine's super-resolution grid keeps every original centre) it
    takes the enhanced voxels themselves, detail beyond the original's resolution included, and
    between them it interpolates linearly, as the views do. The engine's
    :func:`mrdeeprecon.qa.grid.resample_like` does not fit here: it is for measurements and
    projects a refined volume onto the original's k-space band (or windowed-sinc interpolates),
    which would hide that detail, and it needs engine volumes copied out of the nodes.

    Trilinear interpolation with ``vtkImageReslice`` on the index grids: output index
    ``(i, j, k)`` of the reference is mapped to the moving volume's continuous index by
    ``inverse(IJKToRAS_moving) · IJKToRAS_reference``, so grids of any spacing, origin and direction
    (a super-resolved enhanced volume on a refined grid included) are compared at the same points.
    Points more than half a voxel outside the moving volume get 0. Parent transforms are not
    applied (both volumes are taken as they are in RAS).

    Returns:
        float32 array of the reference's shape ``(k, j, i)`` = ``(z, y, x)``.
    """
    index_map = np.linalg.inv(_ijk_to_ras(moving)) @ _ijk_to_ras(reference)
    axes = vtk.vtkMatrix4x4()
    axes.DeepCopy(index_map.ravel().tolist())

    # MRML image data carry the geometry in the node: give the reslice a pure index grid.
    index_grid = vtk.vtkImageChangeInformation()
    index_grid.SetInputData(moving.GetImageData())
    index_grid.SetOutputOrigin(0.0, 0.0, 0.0)
    index_grid.SetOutputSpacing(1.0, 1.0, 1.0)

    reslice = vtk.vtkImageReslice()
    reslice.SetInputConnection(index_grid.GetOutputPort())
    reslice.SetResliceAxes(axes)
    reslice.SetInterpolationModeToLinear()
    reslice.SetOutputScalarType(vtk.VTK_FLOAT)
    reslice.SetOutputOrigin(0.0, 0.0, 0.0)
    reslice.SetOutputSpacing(1.0, 1.0, 1.0)
    reslice.SetOutputExtent(reference.GetImageData().GetExtent())
    reslice.SetBackgroundLevel(0.0)
    reslice.Update()
    shape = arrayFromVolume(reference).shape
    return vtk_to_numpy(reslice.GetOutput().GetPointData().GetScalars()).reshape(shape).copy()


def difference_color_node(scene: "slicer.vtkMRMLScene") -> "slicer.vtkMRMLColorNode":
    """Slicer's diverging colour table (``DivergingBlueRed`` or ``ColdToHotRainbow``) when the
    scene has it, otherwise a procedural blue–white–red node (created once, reused)."""
    for name in DIFFERENCE_COLOR_NODE_NAMES + (FALLBACK_DIFFERENCE_COLOR_NAME,):
        found = scene.GetNodesByClassByName("vtkMRMLColorNode", name)
        if found.GetNumberOfItems():
            return found.GetItemAsObject(0)
    node = scene.CreateNodeByClass("vtkMRMLProceduralColorNode")
    node.SetName(FALLBACK_DIFFERENCE_COLOR_NAME)
    node.SetAttribute("Category", "MRDeepRecon")
    transfer = node.GetColorTransferFunction()
    transfer.AddRGBPoint(-1.0, 0.0, 0.25, 1.0)
    transfer.AddRGBPoint(0.0, 1.0, 1.0, 1.0)
    transfer.AddRGBPoint(1.0, 1.0, 0.1, 0.0)
    scene.AddNode(node)
    return node


def difference_volume(
    scene: "slicer.vtkMRMLScene",
    original: "slicer.vtkMRMLScalarVolumeNode",
    enhanced: "slicer.vtkMRMLScalarVolumeNode",
) -> "slicer.vtkMRMLScalarVolumeNode":
    """``enhanced − original`` on the original's grid, as the scalar volume ``<enhanced>_minus_<original>``.

    The enhanced volume is resampled at the original's voxel centres (:func:`resample_for_display`),
    so a super-resolved result is compared point for point. A node of that name made earlier by
    this function is updated instead of adding another. The display is the diverging
    :func:`difference_color_node` with level 0 and a symmetric window of twice the 99.5th
    percentile of ``|difference|`` (in the volumes' intensity units).
    """
    values = resample_for_display(enhanced, original) - arrayFromVolume(original).astype(np.float32)
    name = f"{enhanced.GetName()}_minus_{original.GetName()}"
    node = next(
        (candidate for candidate in _nodes(scene, "vtkMRMLScalarVolumeNode")
         if candidate.GetName() == name and candidate.GetAttribute(DIFFERENCE_ATTRIBUTE)),
        None,
    )
    if node is None:
        node = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", name)
    node.SetAttribute(DIFFERENCE_ATTRIBUTE, f"{enhanced.GetID()} {original.GetID()}")
    node.SetIJKToRASMatrix(_ijk_to_ras_matrix(original))
    updateVolumeFromArray(node, values)
    if node.GetDisplayNode() is None:
        node.CreateDefaultDisplayNodes()
    display = node.GetDisplayNode()
    half_window = float(np.percentile(np.abs(values), _DIFFERENCE_WINDOW_PERCENTILE)) or 1.0
    wasModifying = display.StartModify()
    display.SetAndObserveColorNodeID(difference_color_node(scene).GetID())
    display.SetAutoWindowLevel(False)
    display.SetWindowLevel(2.0 * half_window, 0.0)
    display.EndModify(wasModifying)
    return node


def _nodes(scene: "slicer.vtkMRMLScene", class_name: str) -> list:
    count = scene.GetNumberOfNodesByClass(class_name)
    return [scene.GetNthNodeByClass(index, class_name) for index in range(count)]


class Comparison:
    """The comparison views of one scene: what the module's widget drives.

    Args:
        scene: the MRML scene (``slicer.mrmlScene``).
        application_logic: the application logic holding the views' slice logics
            (``slicer.app.applicationLogic()``).
        layout_node: the scene's layout node, observed by Slicer's layout logic
            (``slicer.app.layoutManager().layoutLogic().GetLayoutNode()``).
        volume_rendering_logic: Slicer's volume rendering logic
            (``slicer.modules.volumerendering.logic()``); only :meth:`set_3d_mip` needs it.

    Attributes:
        original, enhanced: the volumes shown by the last :meth:`show`.
        difference: the ``enhanced − original`` volume while the difference column is shown.
    """

    def __init__(
        self,
        scene: "slicer.vtkMRMLScene",
        application_logic: "slicer.vtkMRMLApplicationLogic",
        layout_node: "slicer.vtkMRMLLayoutNode",
        volume_rendering_logic: Optional["slicer.vtkSlicerVolumeRenderingLogic"] = None,
    ) -> None:
        self.scene = scene
        self.application_logic = application_logic
        self.layout_node = layout_node
        self.volume_rendering_logic = volume_rendering_logic
        self.original: Optional["slicer.vtkMRMLScalarVolumeNode"] = None
        self.enhanced: Optional["slicer.vtkMRMLScalarVolumeNode"] = None
        self.difference: Optional["slicer.vtkMRMLScalarVolumeNode"] = None
        self._with_3d = False

    # -- views ---------------------------------------------------------------------------------

    @property
    def shows_3d_mip(self) -> bool:
        """Whether the 3D MIP views are part of the layout."""
        return self._with_3d

    @property
    def layout_id(self) -> int:
        """The comparison layout the current toggles call for."""
        return comparison_layout_id(self._with_3d, self.difference is not None)

    def slice_logic(self, view_name: str) -> "slicer.vtkMRMLSliceLogic":
        """The slice logic of a comparison slice view (see :func:`slice_view_name`)."""
        node = self.scene.GetSingletonNode(view_name, "vtkMRMLSliceNode")
        logic = self.application_logic.GetSliceLogic(node) if node is not None else None
        if logic is None:
            raise RuntimeError(f"no slice view {view_name!r}: the comparison layout has no view for it")
        return logic

    def mip_view_node(self, column: str) -> "slicer.vtkMRMLViewNode":
        """The 3D view node of ``ORIGINAL`` or ``ENHANCED`` (exists once the 3D MIP layout was shown)."""
        node = self.scene.GetSingletonNode(mip_view_name(column), "vtkMRMLViewNode")
        if node is None:
            raise RuntimeError(f"no 3D view {mip_view_name(column)!r}: the 3D MIP layout was not shown")
        return node

    def slice_view_names(self, columns: tuple[str, ...] = (ORIGINAL, ENHANCED)) -> list[str]:
        """Slice view names of ``columns``, column by column, rows Axial, Sagittal, Coronal."""
        return [slice_view_name(column, orientation) for column in columns for orientation in ORIENTATIONS]

    # -- the comparison ------------------------------------------------------------------------

    def show(
        self, original: "slicer.vtkMRMLScalarVolumeNode", enhanced: "slicer.vtkMRMLScalarVolumeNode"
    ) -> None:
        """Show ``original`` (left) and ``enhanced`` (right) in linked axial/sagittal/coronal views.

        The enhanced volume gets the original's window/level, colour table and interpolation; every
        view is fitted to the original volume and the two views of an orientation share their
        slice position, orientation and field of view. The slice composite nodes are linked
        (navigation in one view moves the other views of its orientation) and do not take volumes
        loaded later (``DoPropagateVolumeSelection`` off). An open 3D MIP or difference view is
        rebuilt for the new pair.
        """
        self.original, self.enhanced = original, enhanced
        copy_window_level(original, enhanced)
        if self.difference is not None:
            self.difference = difference_volume(self.scene, original, enhanced)
        self._arrange()
        for column, volume in self._columns():
            self._show_column(column, volume)
        for orientation in ORIENTATIONS:
            logic = self.slice_logic(slice_view_name(ORIGINAL, orientation))
            width, height = logic.GetSliceNode().GetDimensions()[:2]
            logic.FitSliceToVolume(original, width, height)
        self._match_to_original([column for column, _ in self._columns() if column != ORIGINAL])
        if self._with_3d:
            self._show_3d_mip()
        self._update_mip_display_nodes()

    def set_slab_mip(self, enabled: bool, thickness_mm: float = DEFAULT_SLAB_THICKNESS_MM) -> None:
        """Thick-slab maximum intensity projection in the six original/enhanced slice views.

        Sets Slicer's slab reconstruction on their slice nodes (type ``VTK_IMAGE_SLAB_MAX``,
        thickness ``thickness_mm``, the number Slicer's slice controller shows as the slab
        thickness), or switches it off; the difference views keep plain slices (a maximum of
        signed differences means nothing).

        What Slicer (5.13) then projects: ``N = int(thickness / s)`` planes, ``s`` being the
        volume's spacing along the view normal (mm), centred on the slice and ``s / 2`` *slice
        steps* apart (the oversampling factor 2 divides a length in mm but the reslice takes it as
        a fraction of a step) — about ``(N − 1) · s² / 2`` mm in all, i.e. roughly half the
        thickness for 1 mm slices and more than it for thick slices.
        """
        if enabled and not thickness_mm > 0:
            raise ValueError(f"slab thickness must be positive (mm), got {thickness_mm}")
        self._volumes()
        for view_name in self.slice_view_names():
            node = self.slice_logic(view_name).GetSliceNode()
            wasModifying = node.StartModify()
            node.SetSlabReconstructionEnabled(bool(enabled))
            if enabled:
                node.SetSlabReconstructionType(vtk.VTK_IMAGE_SLAB_MAX)
                node.SetSlabReconstructionThickness(float(thickness_mm))
            node.EndModify(wasModifying)

    def set_3d_mip(self, enabled: bool) -> None:
        """Show (or hide) both volumes as maximum intensity projections in two linked 3D views.

        Each volume gets a volume rendering display node of the logic's default rendering method,
        visible only in its own 3D view, whose volume property follows the volume's display: a
        grey ramp (opacity and colour 0 → 1) over its window, so the projection uses the same
        window/level as the slices. The 3D views use the ``MaximumIntensityProjection`` ray-cast
        technique, orthographic projection, a black background, linked cameras (view group
        :data:`COMPARISON_VIEW_GROUP`), and look from anterior at the original's centre with the
        whole original volume in view.
        """
        self._volumes()
        if enabled and self.volume_rendering_logic is None:
            raise ValueError("the 3D MIP needs Slicer's volume rendering logic")
        self._with_3d = bool(enabled)
        self._arrange()
        if enabled:
            self._show_3d_mip()
        self._update_mip_display_nodes()

    def show_difference(self, visible: bool) -> Optional["slicer.vtkMRMLScalarVolumeNode"]:
        """Add (or remove) a third column with ``enhanced − original`` (see :func:`difference_volume`).

        The difference views share position, orientation and field of view with the original's
        views and are linked with them. Returns the difference volume node when shown.
        """
        original, enhanced = self._volumes()
        self.difference = difference_volume(self.scene, original, enhanced) if visible else None
        self._arrange()
        if self.difference is not None:
            self._show_column(DIFFERENCE, self.difference)
            self._match_to_original([DIFFERENCE])
        return self.difference

    # -- internals -----------------------------------------------------------------------------

    def _volumes(self) -> tuple["slicer.vtkMRMLScalarVolumeNode", "slicer.vtkMRMLScalarVolumeNode"]:
        if self.original is None or self.enhanced is None:
            raise RuntimeError("call show(original, enhanced) first")
        return self.original, self.enhanced

    def _columns(self) -> list[tuple[str, "slicer.vtkMRMLScalarVolumeNode"]]:
        columns = [(ORIGINAL, self.original), (ENHANCED, self.enhanced)]
        if self.difference is not None:
            columns.append((DIFFERENCE, self.difference))
        return columns

    def _arrange(self) -> None:
        register_comparison_layouts(self.layout_node)
        self.layout_node.SetViewArrangement(self.layout_id)

    def _show_column(self, column: str, volume: "slicer.vtkMRMLScalarVolumeNode") -> None:
        for orientation in ORIENTATIONS:
            logic = self.slice_logic(slice_view_name(column, orientation))
            node = logic.GetSliceNode()
            node.SetViewGroup(COMPARISON_VIEW_GROUP)
            node.SetOrientation(orientation)
            composite = logic.GetSliceCompositeNode()
            wasModifying = composite.StartModify()
            composite.SetBackgroundVolumeID(volume.GetID())
            composite.SetForegroundVolumeID(None)
            composite.SetLabelVolumeID(None)
            composite.SetLinkedControl(True)
            composite.SetDoPropagateVolumeSelection(False)
            composite.EndModify(wasModifying)

    def _match_to_original(self, columns: list[str]) -> None:
        """Give the views of ``columns`` the slice geometry of the original's view of their orientation."""
        for orientation in ORIENTATIONS:
            source = self.slice_logic(slice_view_name(ORIGINAL, orientation)).GetSliceNode()
            for column in columns:
                target = self.slice_logic(slice_view_name(column, orientation)).GetSliceNode()
                width, height = target.GetDimensions()[:2]
                field = source.GetFieldOfView()
                wasModifying = target.StartModify()
                target.GetSliceToRAS().DeepCopy(source.GetSliceToRAS())
                target.SetXYZOrigin(*source.GetXYZOrigin())
                target.SetFieldOfView(field[0], field[0] * height / max(width, 1), field[2])
                target.UpdateMatrices()
                target.EndModify(wasModifying)

    def _show_3d_mip(self) -> None:
        bounds = [0.0] * 6
        self.original.GetRASBounds(bounds)
        low, high = np.array(bounds[0::2]), np.array(bounds[1::2])
        centre, extent = (low + high) / 2, high - low
        # Orthographic half-height (mm) showing the original's R and S extent with a 10 % margin;
        # Slicer's view displayable manager takes the parallel scale from the view's field of view.
        half_height = 0.55 * float(max(extent[0], extent[2]))
        for column in (ORIGINAL, ENHANCED):
            view = self.mip_view_node(column)
            wasModifying = view.StartModify()
            view.SetViewGroup(COMPARISON_VIEW_GROUP)
            view.SetLinkedControl(True)
            view.SetRaycastTechnique(slicer.vtkMRMLViewNode.MaximumIntensityProjection)
            view.SetRenderMode(slicer.vtkMRMLViewNode.Orthographic)
            view.SetBackgroundColor(0.0, 0.0, 0.0)
            view.SetBackgroundColor2(0.0, 0.0, 0.0)
            view.SetBoxVisible(False)
            view.SetAxisLabelsVisible(False)
            view.SetFieldOfView(half_height)
            view.EndModify(wasModifying)
            camera = self._camera_node(view)
            wasModifying = camera.StartModify()
            camera.SetFocalPoint(*centre)
            camera.SetPosition(*(centre + np.array([0.0, 2.0 * float(np.linalg.norm(extent)), 0.0])))
            camera.SetViewUp(0.0, 0.0, 1.0)
            camera.SetParallelProjection(True)
            camera.SetParallelScale(half_height)
            camera.EndModify(wasModifying)

    def _camera_node(self, view: "slicer.vtkMRMLViewNode") -> "slicer.vtkMRMLCameraNode":
        """The camera of a 3D view; created (as the view's camera displayable manager would) when
        no view widget has made it yet."""
        camera = self.scene.GetSingletonNode(view.GetLayoutName(), "vtkMRMLCameraNode")
        if camera is None:
            camera = self.scene.CreateNodeByClass("vtkMRMLCameraNode")
            camera.SetLayoutName(view.GetLayoutName())
            camera.SetName(f"Camera{view.GetLayoutName()}")
            self.scene.AddNode(camera)
        return camera

    def _update_mip_display_nodes(self) -> None:
        """One MIP display node per shown volume, visible only in its own 3D view while the 3D MIP
        is on; MIP display nodes of volumes no longer compared are hidden."""
        wanted = {}
        if self._with_3d:
            for column, volume in ((ORIGINAL, self.original), (ENHANCED, self.enhanced)):
                wanted[volume.GetID()] = self.mip_view_node(column).GetID()
                if self._mip_display_node(volume) is None:
                    self._add_mip_display_node(volume)
        for display in _nodes(self.scene, "vtkMRMLVolumeRenderingDisplayNode"):
            if display.GetAttribute(MIP_DISPLAY_ATTRIBUTE) is None:
                continue
            view_id = wanted.get(display.GetVolumeNodeID())
            wasModifying = display.StartModify()
            if view_id is not None:
                display.SetViewNodeIDs([view_id])
            display.SetVisibility(view_id is not None)
            display.EndModify(wasModifying)

    @staticmethod
    def _mip_display_node(
        volume: "slicer.vtkMRMLScalarVolumeNode",
    ) -> Optional["slicer.vtkMRMLVolumeRenderingDisplayNode"]:
        for index in range(volume.GetNumberOfDisplayNodes()):
            display = volume.GetNthDisplayNode(index)
            if display is not None and display.GetAttribute(MIP_DISPLAY_ATTRIBUTE) is not None:
                return display
        return None

    def _add_mip_display_node(
        self, volume: "slicer.vtkMRMLScalarVolumeNode"
    ) -> "slicer.vtkMRMLVolumeRenderingDisplayNode":
        logic = self.volume_rendering_logic
        display = logic.CreateVolumeRenderingDisplayNode(None)
        display.SetName(f"{volume.GetName()} MIP")
        display.SetAttribute(MIP_DISPLAY_ATTRIBUTE, "1")
        display.SetFollowVolumeDisplayNode(True)
        display.SetIgnoreVolumeDisplayNodeThreshold(True)
        display.SetVisibility(False)
        self.scene.AddNode(display)
        volume.AddAndObserveDisplayNodeID(display.GetID())
        logic.UpdateDisplayNodeFromVolumeNode(display, volume, None, None, False)
        return display
