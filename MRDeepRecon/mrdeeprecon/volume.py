"""The one image type the engine passes around.

Axis order and geometry conventions (used everywhere in the engine):

* ``data`` is a numpy array of shape ``(nk, nj, ni)`` = ``(slice, row, column)`` = ``(z, y, x)``,
  the order of ``SimpleITK.GetArrayFromImage`` and of Slicer's ``arrayFromVolume``.
* ``spacing``, ``origin`` and ``direction`` follow ITK/DICOM and are ordered by the voxel index
  ``(i, j, k)`` = ``(column, row, slice)``: ``spacing[0]`` is the distance between columns (mm).
* Physical space is DICOM patient space **LPS** in millimetres. ``origin`` is the centre of voxel
  ``(i, j, k) = (0, 0, 0)``; column ``c`` of the 3×3 ``direction`` matrix is the unit LPS vector
  of index axis ``c``. Slicer's RAS is ``diag(-1, -1, 1)`` applied to LPS.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Largest voxel spacing accepted from a file (mm): MR voxels are well below 1 cm in-plane and
#: slices are under 10 cm apart; larger is a damaged header.
MAX_SPACING_MM = 100.0


@dataclass
class Volume:
    """A 3D scalar image with exact patient-space geometry.

    Attributes:
        data: voxel values, shape ``(z, y, x)``; float32 for engine results, any real dtype on input.
        spacing: voxel size in mm along ``(i, j, k)``.
        origin: LPS position (mm) of the centre of voxel ``(0, 0, 0)``.
        direction: 3×3 matrix whose columns are the LPS unit vectors of the ``i``, ``j``, ``k`` axes.
        metadata: where the volume came from (``source_path``, ``format``, DICOM UIDs, ...).
    """

    data: np.ndarray
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.data = np.asarray(self.data)
        if self.data.ndim != 3:
            raise ValueError(f"Volume data must be 3D (z, y, x), got shape {self.data.shape}")
        self.spacing = tuple(float(s) for s in self.spacing)  # type: ignore[assignment]
        self.origin = tuple(float(o) for o in self.origin)  # type: ignore[assignment]
        self.direction = np.asarray(self.direction, dtype=np.float64).reshape(3, 3)

    @property
    def shape(self) -> tuple[int, int, int]:
        """Array shape ``(z, y, x)``."""
        return tuple(self.data.shape)  # type: ignore[return-value]

    def ijk_to_lps(self) -> np.ndarray:
        """4×4 homogeneous matrix mapping voxel index ``(i, j, k, 1)`` to LPS mm."""
        m = np.eye(4)
        m[:3, :3] = self.direction * np.asarray(self.spacing)[None, :]
        m[:3, 3] = self.origin
        return m

    def ijk_to_ras(self) -> np.ndarray:
        """4×4 homogeneous matrix mapping voxel index ``(i, j, k, 1)`` to RAS mm (Slicer)."""
        return np.diag([-1.0, -1.0, 1.0, 1.0]) @ self.ijk_to_lps()

    def with_data(self, data: np.ndarray, **changes: Any) -> "Volume":
        """A copy with new voxel data and optionally new geometry; metadata is copied shallowly."""
        changes.setdefault("metadata", dict(self.metadata))
        return dataclasses.replace(self, data=data, **changes)
