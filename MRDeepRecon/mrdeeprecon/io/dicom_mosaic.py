"""Siemens mosaic images: several slices of one volume tiled into one classic 2D image.

Siemens writes EPI (fMRI, DWI, ASL) as *mosaics*: ``ImageType`` holds ``MOSAIC``, the image is an
``m × m`` grid of tiles, ``m = ceil(sqrt(n))`` for ``n`` slices, filled row by row; unused tiles
are blank. ``n`` is the CSA image header's ``NumberOfImagesInMosaic``, read with nibabel's
maintained CSA reader (:mod:`nibabel.nicom.csareader`), else the private element (0019,100A) of
the ``SIEMENS MR HEADER`` block.

Geometry (LPS mm): the mosaic's ``ImagePositionPatient`` is the corner of an image as large as the
mosaic centred on the slices, so tile 0's corner is that position moved by half the difference
of the mosaic and tile sizes along the row and column cosines. Tile ``t`` lies ``t`` slice
distances further along the CSA ``SliceNormalVector`` (else ``row × column``); the distance is
``SpacingBetweenSlices``, else ``SliceThickness``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pydicom

from ..errors import MRDeepReconError

_SIEMENS_MR_HEADER = "SIEMENS MR HEADER"
_IMAGES_IN_MOSAIC_ELEMENT = 0x0A  # (0019,100A)


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
        n_slices: slices in the mosaic.
        tiles_per_side: ``m``: the mosaic is ``m × m`` tiles.
        tile_rows, tile_columns: the matrix of one slice.
        positions: (n_slices, 3) LPS mm, the ``ImagePositionPatient`` of each slice in tile order.
    """

    n_slices: int
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


def _n_slices(ds: pydicom.Dataset, csa) -> int:
    csareader = _csareader()
    try:
        if csa is not None:
            return int(csareader.get_n_mosaic(csa))
    except (csareader.CSAError, KeyError, TypeError, ValueError):
        pass
    try:
        return int(ds.private_block(0x0019, _SIEMENS_MR_HEADER)[_IMAGES_IN_MOSAIC_ELEMENT].value)
    except (KeyError, TypeError, ValueError):
        raise MRDeepReconError(
            "Siemens mosaic without NumberOfImagesInMosaic (no CSA image header and no "
            "(0019,100A)): cannot unpack it",
            ds.filename,
        ) from None


def mosaic_of(
    ds: pydicom.Dataset,
    position: np.ndarray,
    row: np.ndarray,
    column: np.ndarray,
    pixel_spacing: np.ndarray,
) -> Mosaic:
    """The tiling and slice positions of the mosaic ``ds``, whose ``ImagePositionPatient`` is
    ``position``, unit row and column cosines ``row`` and ``column`` and ``PixelSpacing``
    ``pixel_spacing`` (row spacing, column spacing; mm)."""
    csareader = _csareader()
    try:
        csa = csareader.get_csa_header(ds, "image")
    except csareader.CSAError:
        csa = None
    n = _n_slices(ds, csa)
    m = math.ceil(math.sqrt(n)) if n > 0 else 0
    rows, columns = int(ds.Rows), int(ds.Columns)
    if n < 1 or rows % m or columns % m:
        raise MRDeepReconError(
            f"Siemens mosaic of {rows}x{columns} cannot hold {n} slices in equal tiles", ds.filename
        )
    tile_rows, tile_columns = rows // m, columns // m
    normal = None
    if csa is not None:
        vector = csareader.get_slice_normal(csa)
        if vector is not None and np.linalg.norm(vector) > 0:
            normal = np.asarray(vector, np.float64) / np.linalg.norm(vector)
    if normal is None:
        normal = np.cross(row, column)
    distance = 0.0
    for keyword in ("SpacingBetweenSlices", "SliceThickness"):
        value = ds.get(keyword)
        if value not in (None, "") and float(value) > 0:
            distance = float(value)
            break
    if distance <= 0 and n > 1:
        raise MRDeepReconError(
            "Siemens mosaic without SpacingBetweenSlices or SliceThickness", ds.filename
        )
    first = (
        position
        + row * pixel_spacing[1] * (columns - tile_columns) / 2
        + column * pixel_spacing[0] * (rows - tile_rows) / 2
    )
    positions = first + np.arange(n)[:, None] * distance * normal
    return Mosaic(n, m, tile_rows, tile_columns, positions)
