"""Scalar volume node ⇄ engine :class:`~mrdeeprecon.Volume`, geometry exact.

A volume node keeps its geometry as ``Spacing`` (mm, ordered i, j, k), ``Origin`` (RAS mm of the
centre of voxel (0, 0, 0)) and ``IJKToRASDirections`` (3×3, column ``c`` = RAS unit vector of
index axis ``c``). The engine keeps the same three in LPS (:mod:`mrdeeprecon.volume`). Slicer's
RAS is ``diag(-1, -1, 1)`` applied to LPS, so the conversion only negates the first two rows of
the direction matrix and the first two origin coordinates: exact in floating point, oblique
stacks included. Voxels are ``(z, y, x)`` = ``(k, j, i)`` arrays on both sides
(``slicer.util.arrayFromVolume`` / ``updateVolumeFromArray``).
"""

from __future__ import annotations

import numpy as np
import slicer
import vtk

from mrdeeprecon import MRDeepReconError, Volume

#: Multiplies RAS ⇄ LPS (its own inverse).
RAS_FROM_LPS = np.diag([-1.0, -1.0, 1.0])


def volume_from_node(node: "slicer.vtkMRMLScalarVolumeNode") -> Volume:
    """A copy of the node's voxels and geometry as an engine :class:`~mrdeeprecon.Volume`.

    Data keep the node's voxel type, shape ``(z, y, x)``; ``spacing``/``origin``/``direction`` are
    LPS mm ordered (i, j, k); metadata ``format`` (``"mrml"``) and ``node_name``. Parent
    transforms are not applied (the node's own IJK→RAS is used, as Slicer's DICOM export does).

    Raises:
        MRDeepReconError: the node has no image data or is not a 3D scalar volume.
    """
    image = node.GetImageData()
    if image is None:
        raise MRDeepReconError(f"volume {node.GetName()!r} has no image data")
    if image.GetNumberOfScalarComponents() != 1:
        raise MRDeepReconError(f"volume {node.GetName()!r} is not a scalar volume")
    directions = vtk.vtkMatrix4x4()
    node.GetIJKToRASDirectionMatrix(directions)
    ras = slicer.util.arrayFromVTKMatrix(directions)[:3, :3]
    return Volume(
        data=np.array(slicer.util.arrayFromVolume(node), copy=True),
        spacing=node.GetSpacing(),
        origin=RAS_FROM_LPS @ np.asarray(node.GetOrigin(), dtype=np.float64),
        direction=RAS_FROM_LPS @ ras,
        metadata={"format": "mrml", "node_name": node.GetName()},
    )


def update_node_from_volume(node: "slicer.vtkMRMLScalarVolumeNode", volume: Volume) -> None:
    """Replace the node's voxels (as float32) and geometry by ``volume``'s.

    float32 is what the engine computes and what Slicer displays without a conversion; a float64
    node would double the memory for no precision the result has.
    """
    directions = vtk.vtkMatrix4x4()
    directions.Identity()
    ras = RAS_FROM_LPS @ volume.direction
    for row in range(3):
        for column in range(3):
            directions.SetElement(row, column, float(ras[row, column]))
    slicer.util.updateVolumeFromArray(node, np.ascontiguousarray(volume.data, dtype=np.float32))
    node.SetSpacing(*volume.spacing)
    node.SetOrigin(*(RAS_FROM_LPS @ np.asarray(volume.origin)))
    node.SetIJKToRASDirectionMatrix(directions)
