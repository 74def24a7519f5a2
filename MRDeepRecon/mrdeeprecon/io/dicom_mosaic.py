"""Siemens mosaic images: several slices of one volume tiled into one classic 2D image.

Siemens writes EPI (fMRI, DWI, ASL) as *mosaics*: ``ImageType`` holds ``MOSAIC``, the image is an
``m × m`` grid of tiles, ``m = ceil(sqrt(n))`` for ``n`` slices, filled row by row; unused tiles
are blank. ``n`` is the CSA image header's ``NumberOfImagesInMosaic``, read with nibabel's
maintained CSA reader (:mod:`nibabel.nicom.csareader`).

Geometry (LPS mm): the mosaic's ``ImagePositionPatient`` is the corner of an image as large as the
mosaic centred on the slices, so tile 0's corner is that position moved by half the difference
of the mosaic and tile sizes along the row and column cosines. Tile ``t`` lies ``t`` slice
distances further along the slice normal: ``row × column`` with the sign of the CSA
``SliceNormalVector`` (tiles run along it, which for sagittal mosaics is usually
``−row × column``). Without the CSA header the slice order is unknown and the mosaic is refused.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pydicom

from ..errors import MRDeepReconError

#: |cos| between the CSA slice normal and ``row × column`` below which they are not parallel.
NORMAL_PARALLEL_COS = 0.99


def _csareader():
    with warnings.catch_warnings():  # nibabel.nicom warns that its *other* readers are experimental
        warnings.simplefilter("ignore")
        from nibabel.nicom import csareader
    return csareader


def is_mosaic(ds: pydicom.Dataset) -> bool:
    """Whether a classic object is a Siemens mosaic (``MOSAIC`` in ``ImageType``)."""
    image_type = ds.get("ImageType") or []
    return "MOSAIC" in [str(v).upper() for v in image_type] and "NumberOfFrames" not in ds


@dataclass(frozen=True)
class Mosaic:
    """How one mosaic image is tiled, and where its slices are.

    Attributes:
        tiles_per_side: ``m``: the mosaic is ``m × m`` tiles.
        tile_rows, tile_columns: the matrix of one slice.
        positions: (n_slices, 3) LPS mm, the ``ImagePositionPatient`` of each slice in tile order.
    """

    tiles_per_side: int
    tile_rows: int
    tile_columns: int
    positions: np.ndarray

    def tile(self, image: np.ndarray, index: int) -> np.ndarray:
        """Slice ``index`` (tile order) of the mosaic ``image`` (Rows, Columns)."""
        r, c = divmod(index, self.tiles_per_side)
        return image[
            r * self.tile_rows : (r + 1) * self.tile_rows,
            c * self.tile_columns : (c + 1) * self.tile_columns,
        ]


def mosaic_of(
    ds: pydicom.Dataset,
    position: np.ndarray,
    row: np.ndarray,
    column: np.ndarray,
    pixel_spacing: np.ndarray,
    slice_distance: float | None,
) -> Mosaic:
    """The tiling and slice positions of the mosaic ``ds``, whose ``ImagePositionPatient`` is
    ``position``, unit row and column cosines ``row`` and ``column``, ``PixelSpacing``
    ``pixel_spacing`` (row spacing, column spacing; mm) and slice distance ``slice_distance``
    (mm; ``SpacingBetweenSlices``, else ``SliceThickness``; ``None`` when neither is given).

    Raises:
        MRDeepReconError: naming the file: no CSA image header (slice count and order unknown),
            a slice count that does not tile the image, a CSA slice normal not perpendicular to
            the image, or several slices without a slice distance.
    """
    csareader = _csareader()
    try:
        csa = csareader.get_csa_header(ds, "image")
        n = None if csa is None else csareader.get_n_mosaic(csa)
        vector = None if csa is None else csareader.get_slice_normal(csa)
    except (csareader.CSAError, KeyError, TypeError, ValueError):
        n = vector = None
    if n is None or vector is None:
        raise MRDeepReconError(
            "Siemens mosaic without a readable CSA image header (NumberOfImagesInMosaic, "
            "SliceNormalVector): the number and order of its slices are unknown",
            ds.filename,
        )
    n = int(n)
    m = math.ceil(math.sqrt(n)) if n > 0 else 0
    rows, columns = int(ds.Rows), int(ds.Columns)
    if n < 1 or rows % m or columns % m:
        raise MRDeepReconError(
            f"Siemens mosaic of {rows}x{columns} cannot hold {n} slices in equal tiles", ds.filename
        )
    normal = np.cross(row, column)
    cosine = float(np.dot(normal, vector) / (np.linalg.norm(vector) or 1.0))
    if abs(cosine) < NORMAL_PARALLEL_COS:
        raise MRDeepReconError(
            f"Siemens mosaic whose CSA SliceNormalVector {list(vector)} is not perpendicular to "
            "its ImageOrientationPatient",
            ds.filename,
        )
    normal = normal if cosine > 0 else -normal
    if n > 1 and not slice_distance:
        raise MRDeepReconError(
            "Siemens mosaic without SpacingBetweenSlices or SliceThickness", ds.filename
        )
    tile_rows, tile_columns = rows // m, columns // m
    first = (
        position
        + row * pixel_spacing[1] * (columns - tile_columns) / 2
        + column * pixel_spacing[0] * (rows - tile_rows) / 2
    )
    positions = first + np.arange(n)[:, None] * (slice_distance or 0.0) * normal
    return Mosaic(m, tile_rows, tile_columns, positions)
