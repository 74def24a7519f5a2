"""Offscreen picture of the comparison views, without Qt (the README's picture; a developer tool,
not shipped in the Slicer extension).

:func:`render_comparison_png` draws what the comparison's views show, tiled like the layout —
columns Original | Enhanced (| Difference), rows axial, sagittal, coronal (and the 3D MIP views):

* a slice view's tile is its slice logic's output, the blended and window/levelled RGBA image that
  Slicer draws in that view, at the view's size in pixels (no OpenGL involved);
* a 3D MIP view's tile is rendered offscreen by Slicer's own displayable managers (camera, view,
  volume rendering) in a VTK render window of the slice tiles' size. Without a display, set
  ``VTK_DEFAULT_OPENGL_WINDOW=vtkEGLRenderWindow`` before rendering (Mesa's llvmpipe works).

:class:`HeadlessSlicer` provides, with the ``slicer-core`` wheel, the application pieces the
comparison uses: application logic with the default colour tables, layout logic and node, volume
rendering logic, and — what Slicer's layout manager does when it makes the view widgets — a slice
logic for every slice view of each arrangement. The command line renders two volume files::

    VTK_DEFAULT_OPENGL_WINDOW=vtkEGLRenderWindow \\
        python benchmarks/comparison_screenshot.py ORIGINAL.nii.gz ENHANCED.nii.gz OUT.png --mip-3d

``Resources/Screenshots/comparison.png`` shows stroke_T2 (shared data) degraded by the simulator
(original, left) and the bundled model's result (enhanced, right)::

    mrdeeprecon degrade stroke_T2.nii.gz degraded.nii.gz --noise 0.1 --kmax-phase 0.5 --seed 1
    mrdeeprecon enhance degraded.nii.gz enhanced.nii.gz --context degraded.json \\
        --noise-reduction 3 --device cpu
    VTK_DEFAULT_OPENGL_WINDOW=vtkEGLRenderWindow \\
        python benchmarks/comparison_screenshot.py degraded.nii.gz enhanced.nii.gz comparison.png --mip-3d --size 240
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import slicer
import vtk
from vtk.util.numpy_support import numpy_to_vtk, vtk_to_numpy

from common import use_repository_engine

use_repository_engine()  # MRDeepReconLib of this checkout

from MRDeepReconLib.comparison import (  # noqa: E402
    DIFFERENCE,
    ENHANCED,
    ORIENTATIONS,
    ORIGINAL,
    Comparison,
    slice_view_name,
)

TILE_GAP = 4
"""Pixels of black between tiles; the Original and Enhanced halves are separated by twice this."""

_THREE_D_DISPLAYABLE_MANAGERS = (
    "vtkMRMLCameraDisplayableManager",
    "vtkMRMLViewDisplayableManager",
    "vtkMRMLVolumeRenderingDisplayableManager",
)


class HeadlessSlicer:
    """A scene with the Slicer application pieces the comparison needs, for use without Qt.

    Args:
        view_size: size ``(width, height)`` in pixels given to every slice view.

    Attributes:
        scene, application_logic, layout_logic, layout_node, volume_rendering_logic.
    """

    def __init__(self, view_size: tuple[int, int] = (256, 256)) -> None:
        self.view_size = view_size
        self.scene = slicer.vtkMRMLScene()
        self.application_logic = slicer.vtkSlicerApplicationLogic()
        self.application_logic.SetMRMLScene(self.scene)
        colors = self.application_logic.GetColorLogic()
        colors.SetMRMLScene(self.scene)
        colors.AddDefaultColorNodes()
        self.application_logic.SetSliceLogics(vtk.vtkCollection())
        self.application_logic.SetViewLogics(vtk.vtkCollection())
        slicer.vtkMRMLSliceNode.AddDefaultSliceOrientationPresets(self.scene, True)
        self.volume_rendering_logic = slicer.vtkSlicerVolumeRenderingLogic()
        self.volume_rendering_logic.SetMRMLApplicationLogic(self.application_logic)
        self.volume_rendering_logic.SetMRMLScene(self.scene)
        self.layout_logic = slicer.vtkMRMLLayoutLogic()
        self.layout_logic.SetMRMLScene(self.scene)
        self.layout_node = self.layout_logic.GetLayoutNode()
        # The layout logic observes with priority 10, so its view nodes exist when this runs.
        self.layout_node.AddObserver(vtk.vtkCommand.ModifiedEvent, self._add_slice_logics)

    def comparison(self) -> Comparison:
        """A :class:`~MRDeepReconLib.comparison.Comparison` on this scene."""
        return Comparison(self.scene, self.application_logic, self.layout_node, self.volume_rendering_logic)

    def load_volume(self, path: Path, name: Optional[str] = None) -> "slicer.vtkMRMLScalarVolumeNode":
        """Read a NIfTI/NRRD file with Slicer's volume reader into a scalar volume node with a
        default (auto window/level, grey) display."""
        node = self.scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", name or Path(path).name.split(".")[0])
        storage = self.scene.AddNewNodeByClass("vtkMRMLVolumeArchetypeStorageNode")
        storage.SetFileName(str(path))
        if not storage.ReadData(node):
            raise OSError(f"{path}: Slicer's volume reader could not read it")
        node.SetAndObserveStorageNodeID(storage.GetID())
        node.CreateDefaultDisplayNodes()
        return node

    def _add_slice_logics(self, layout_node: "slicer.vtkMRMLLayoutNode", event: str) -> None:
        views = self.layout_logic.GetViewNodes()
        for index in range(views.GetNumberOfItems()):
            node = views.GetItemAsObject(index)
            if not node.IsA("vtkMRMLSliceNode") or self.application_logic.GetSliceLogic(node) is not None:
                continue
            logic = slicer.vtkMRMLSliceLogic()
            logic.SetMRMLApplicationLogic(self.application_logic)
            logic.SetMRMLScene(self.scene)
            logic.SetSliceNode(node)
            logic.ResizeSliceNode(*self.view_size)
            self.application_logic.GetSliceLogics().AddItem(logic)


def slice_view_image(logic: "slicer.vtkMRMLSliceLogic") -> np.ndarray:
    """What a slice view shows: ``(height, width, 4)`` uint8 RGBA, top row first."""
    connection = logic.GetImageDataConnection()
    producer = connection.GetProducer()
    producer.Update()
    image = producer.GetOutputDataObject(connection.GetIndex())
    width, height = image.GetDimensions()[:2]
    rgba = vtk_to_numpy(image.GetPointData().GetScalars()).reshape(height, width, -1)
    return np.ascontiguousarray(rgba[::-1])


def render_3d_view(
    application_logic: "slicer.vtkMRMLApplicationLogic",
    view_node: "slicer.vtkMRMLViewNode",
    size: tuple[int, int],
) -> np.ndarray:
    """Render a 3D view offscreen with Slicer's displayable managers (camera, view, volume
    rendering) into a ``size`` = ``(width, height)`` window: ``(height, width, 3)`` uint8 RGB,
    top row first."""
    window = vtk.vtkRenderWindow()
    window.SetOffScreenRendering(True)
    window.SetSize(*size)
    renderer = vtk.vtkRenderer()
    window.AddRenderer(renderer)
    interactor = vtk.vtkRenderWindowInteractor()  # the displayable managers need an initialised one
    interactor.SetRenderWindow(window)
    interactor.Initialize()
    factory = slicer.vtkMRMLThreeDViewDisplayableManagerFactory.GetInstance()
    factory.SetMRMLApplicationLogic(application_logic)
    for name in _THREE_D_DISPLAYABLE_MANAGERS:
        if not factory.IsDisplayableManagerRegistered(name):
            factory.RegisterDisplayableManager(name)
    group = factory.InstantiateDisplayableManagers(renderer)
    group.SetMRMLDisplayableNode(view_node)
    renderer.ResetCameraClippingRange()
    window.Render()
    grab = vtk.vtkWindowToImageFilter()
    grab.SetInput(window)
    grab.SetInputBufferTypeToRGB()
    grab.Update()
    image = grab.GetOutput()
    width, height = image.GetDimensions()[:2]
    rgb = vtk_to_numpy(image.GetPointData().GetScalars()).reshape(height, width, 3)
    group.SetMRMLDisplayableNode(None)
    window.Finalize()
    return np.ascontiguousarray(rgb[::-1])


def _over_black(rgba: np.ndarray) -> np.ndarray:
    """RGB of an RGBA image drawn on black (a slice view's background; outside every volume the
    slice image is transparent)."""
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    return np.round(rgba[..., :3] * alpha).astype(np.uint8)


def comparison_tiles(comparison: Comparison) -> list[list[Optional[np.ndarray]]]:
    """The views' pictures as ``tiles[column][row]`` (RGB uint8, top row first), columns
    Original, Enhanced (, Difference), rows Axial, Sagittal, Coronal (, 3D MIP; ``None`` where the
    layout has no view)."""
    columns = [ORIGINAL, ENHANCED] + ([DIFFERENCE] if comparison.difference is not None else [])
    tiles: list[list[Optional[np.ndarray]]] = []
    for column in columns:
        tiles.append([
            _over_black(slice_view_image(comparison.slice_logic(slice_view_name(column, orientation))))
            for orientation in ORIENTATIONS
        ])
    if comparison.shows_3d_mip:
        height = max(tile.shape[0] for column in tiles for tile in column)
        width = max(tile.shape[1] for column in tiles for tile in column)
        for column, column_tiles in zip(columns, tiles):
            if column == DIFFERENCE:
                column_tiles.append(None)
                continue
            view = comparison.mip_view_node(column)
            column_tiles.append(render_3d_view(comparison.application_logic, view, (width, height)))
    return tiles


def compose(tiles: list[list[Optional[np.ndarray]]]) -> np.ndarray:
    """One RGB picture of ``tiles[column][row]`` on black, :data:`TILE_GAP` pixels apart (twice
    that between the first two columns), each tile centred in its cell."""
    cells = [tile for column in tiles for tile in column if tile is not None]
    cell_h, cell_w = max(tile.shape[0] for tile in cells), max(tile.shape[1] for tile in cells)
    rows = max(len(column) for column in tiles)
    lefts = [c * (cell_w + TILE_GAP) + (TILE_GAP if c >= 1 else 0) for c in range(len(tiles))]
    picture = np.zeros((rows * cell_h + (rows - 1) * TILE_GAP, lefts[-1] + cell_w, 3), np.uint8)
    for column, left in zip(tiles, lefts):
        for row, tile in enumerate(column):
            if tile is None:
                continue
            top = row * (cell_h + TILE_GAP) + (cell_h - tile.shape[0]) // 2
            x = left + (cell_w - tile.shape[1]) // 2
            picture[top:top + tile.shape[0], x:x + tile.shape[1]] = tile
    return picture


def write_png(picture: np.ndarray, path: Path) -> Path:
    """Write an ``(height, width, 3)`` uint8 RGB array (top row first) as a PNG."""
    height, width = picture.shape[:2]
    image = vtk.vtkImageData()
    image.SetDimensions(width, height, 1)
    scalars = numpy_to_vtk(np.ascontiguousarray(picture[::-1]).reshape(-1, 3), deep=True)
    image.GetPointData().SetScalars(scalars)
    writer = vtk.vtkPNGWriter()
    writer.SetCompressionLevel(9)
    writer.SetFileName(str(path))
    writer.SetInputData(image)
    writer.Write()
    return Path(path)


def render_comparison_png(comparison: Comparison, path: Path) -> Path:
    """Picture of the comparison's current views (see the module docstring) written to ``path``."""
    return write_png(compose(comparison_tiles(comparison)), path)



def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("original", type=Path, help="original volume (NIfTI or NRRD)")
    parser.add_argument("enhanced", type=Path, help="enhanced volume (NIfTI or NRRD)")
    parser.add_argument("output", type=Path, help="PNG to write")
    parser.add_argument("--size", type=int, default=256, help="slice view size in pixels (square)")
    parser.add_argument("--slab", type=float, metavar="MM", help="thick-slab MIP of this thickness (mm)")
    parser.add_argument("--mip-3d", action="store_true", help="add the two 3D MIP views")
    parser.add_argument("--difference", action="store_true", help="add the enhanced − original column")
    args = parser.parse_args(argv)

    headless = HeadlessSlicer((args.size, args.size))
    comparison = headless.comparison()
    original = headless.load_volume(args.original, "original")
    enhanced = headless.load_volume(args.enhanced, "enhanced")
    comparison.show(original, enhanced)
    if args.slab:
        comparison.set_slab_mip(True, args.slab)
    if args.mip_3d:
        comparison.set_3d_mip(True)
    if args.difference:
        comparison.show_difference(True)
    render_comparison_png(comparison, args.output)
    print(args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
