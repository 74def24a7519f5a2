"""Physical coordinates of voxels and resampling of one volume onto another's grid.

Conventions of :class:`~mrdeeprecon.volume.Volume`: continuous indices are ``(i, j, k)`` =
``(x, y, z)`` (voxel centres at integers), points are LPS millimetres, arrays are ``(z, y, x)``.

Resampling (:func:`resample_like`) brings one volume onto another's grid to measure them voxel by
voxel (QA change map and consistency, the vendor-pair evaluation). It picks the most faithful
method the two grids allow:

* ``"identity"`` — the grids are the same (shape, spacing, origin, direction).
* ``"k-space"`` — the grids share direction and field of view along every axis
  (``n · spacing`` equal) and their k-space centres coincide (the LPS point of index ``n // 2``
  is the same on both), as for a field-of-view-preserving refinement made by
  :func:`mrdeeprecon.enhance` (see :meth:`~mrdeeprecon.standardize.StandardizeRecord.working_grid`).
  Centred k-space cropping or zero-padding (:func:`mrdeeprecon.standardize.resample_kspace`, the
  resampler that makes the working grid) is then the exact band-limited (periodic sinc)
  resampling: a refined image that holds no detail beyond the reference's Nyquist frequency comes
  back sample for sample, and finer detail is removed by an ideal low-pass filter instead of
  aliasing.
* ``"windowed-sinc"`` — any other geometry: SimpleITK's Hamming-windowed sinc interpolation at the
  reference's voxel centres; points outside the moving volume get 0, and ``covered`` marks the
  reference voxels inside it (:meth:`Resampled.filled` replaces the others).

Slicer's difference volume (``MRDeepReconLib.comparison.resample_for_display``) resamples
linearly instead: it shows the enhanced voxels as the viewer shows them, where this module
estimates the band-limited image for measurements.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from ..io.itk import image_from_volume
from ..standardize import resample_kspace
from ..volume import Volume

#: Relative tolerance on field of view and spacing when comparing grids.
FOV_TOLERANCE = 1e-4
#: Tolerance on positions, as a fraction of the smaller voxel size.
POSITION_TOLERANCE = 1e-3
#: Tolerance on direction-matrix entries.
DIRECTION_TOLERANCE = 1e-6


def index_to_lps(volume: Volume, ijk: np.ndarray) -> np.ndarray:
    """LPS points (mm), shape ``(..., 3)``, of continuous indices ``(i, j, k)`` of ``volume``."""
    ijk = np.asarray(ijk, dtype=np.float64)
    matrix = volume.ijk_to_lps()
    return ijk @ matrix[:3, :3].T + matrix[:3, 3]


def lps_to_index(volume: Volume, points: np.ndarray) -> np.ndarray:
    """Continuous indices ``(i, j, k)``, shape ``(..., 3)``, of LPS points (mm) in ``volume``."""
    points = np.asarray(points, dtype=np.float64)
    matrix = volume.ijk_to_lps()
    return np.linalg.solve(matrix[:3, :3], (points - matrix[:3, 3]).reshape(-1, 3).T).T.reshape(
        points.shape
    )


def voxel_volume(volume: Volume) -> float:
    """Volume of one voxel in mm³."""
    return float(np.prod(volume.spacing))


def same_direction(a: Volume, b: Volume) -> bool:
    """Whether both grids have the same axis directions."""
    return bool(np.allclose(a.direction, b.direction, atol=DIRECTION_TOLERANCE))


def same_grid(a: Volume, b: Volume) -> bool:
    """Whether both volumes sample the same points (shape, spacing, origin and direction)."""
    tolerance = POSITION_TOLERANCE * min(min(a.spacing), min(b.spacing))
    return (
        a.shape == b.shape
        and same_direction(a, b)
        and np.allclose(a.spacing, b.spacing, rtol=FOV_TOLERANCE)
        and np.allclose(a.origin, b.origin, atol=tolerance)
    )


def shares_field_of_view(a: Volume, b: Volume) -> bool:
    """Whether ``a`` and ``b`` share direction, field of view and k-space centre along every axis
    (the condition for exact k-space resampling, see the module docstring)."""
    if not same_direction(a, b):
        return False
    sizes_a = np.asarray(a.shape[::-1], dtype=np.float64)  # (i, j, k) sizes
    sizes_b = np.asarray(b.shape[::-1], dtype=np.float64)
    fov_a, fov_b = sizes_a * np.asarray(a.spacing), sizes_b * np.asarray(b.spacing)
    if not np.allclose(fov_a, fov_b, rtol=FOV_TOLERANCE):
        return False
    centre_a = index_to_lps(a, np.floor(sizes_a / 2))
    centre_b = index_to_lps(b, np.floor(sizes_b / 2))
    tolerance = POSITION_TOLERANCE * min(min(a.spacing), min(b.spacing))
    return bool(np.allclose(centre_a, centre_b, atol=tolerance))


@dataclass(frozen=True, eq=False)
class Resampled:
    """A volume's voxel values on another volume's grid.

    Attributes:
        data: float32 ``(z, y, x)`` array of the reference's shape.
        method: ``"identity"``, ``"k-space"`` or ``"windowed-sinc"`` (module docstring).
        covered: boolean ``(z, y, x)``: reference voxels whose centres lie inside the resampled
            volume's voxel cells (all, except for ``"windowed-sinc"`` between grids of different
            extent).
    """

    data: np.ndarray
    method: str
    covered: np.ndarray

    @property
    def coverage(self) -> float:
        """Fraction of the reference's voxels that are covered."""
        return float(self.covered.mean())

    def filled(self, fallback: np.ndarray) -> np.ndarray:
        """``data`` where covered, ``fallback`` (same shape) elsewhere; float32."""
        return np.where(self.covered, self.data, fallback).astype(np.float32)


def _float_image(volume: Volume) -> sitk.Image:
    return image_from_volume(volume, np.asarray(volume.data, dtype=np.float32))


def _covered(moving: Volume, reference: Volume) -> np.ndarray:
    """Boolean ``(z, y, x)`` on the reference grid: voxel centres inside ``moving``'s cells."""
    nz, ny, nx = reference.shape
    j, i = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
    sizes = np.asarray(moving.shape[::-1])
    covered = np.empty(reference.shape, dtype=bool)
    for k in range(nz):  # slice by slice keeps the coordinate arrays small
        ijk = np.stack([i.ravel(), j.ravel(), np.full(i.size, k)], axis=1)
        index = lps_to_index(moving, index_to_lps(reference, ijk))
        covered[k] = np.all((index >= -0.5) & (index <= sizes - 0.5), axis=1).reshape(ny, nx)
    return covered


def resample_like(moving: Volume, reference: Volume) -> Resampled:
    """``moving``'s values at ``reference``'s voxel centres, for measuring one against the other
    (identity, exact k-space or windowed sinc: see the module docstring)."""
    everywhere = np.ones(reference.shape, dtype=bool)
    if same_grid(moving, reference):
        return Resampled(np.asarray(moving.data, dtype=np.float32), "identity", everywhere)
    if shares_field_of_view(moving, reference):
        return Resampled(resample_kspace(moving.data, reference.shape), "k-space", everywhere)
    resampler = sitk.ResampleImageFilter()
    resampler.SetReferenceImage(_float_image(reference))
    resampler.SetInterpolator(sitk.sitkHammingWindowedSinc)
    resampler.SetDefaultPixelValue(0.0)
    data = sitk.GetArrayFromImage(resampler.Execute(_float_image(moving))).astype(np.float32)
    return Resampled(data, "windowed-sinc", _covered(moving, reference))
