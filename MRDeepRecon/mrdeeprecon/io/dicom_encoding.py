"""Float voxel values → 16-bit stored DICOM pixels with RescaleSlope / RescaleIntercept.

Scheme (zero-preserving, full 16 bits of the larger magnitude):

* all values ≥ 0 → ``uint16`` (PixelRepresentation 0), stored range ``[0, 65535]``;
  any value < 0 → ``int16`` (PixelRepresentation 1), stored range ``[-32767, 32767]``.
* ``RescaleIntercept`` is ``0``, so a voxel of value 0 (air, zero-filled borders) is stored as 0
  exactly, and ``RescaleSlope = max|value| / 65535`` (unsigned) or ``/ 32767`` (signed): the
  largest magnitude uses the whole stored range. Against a full-range intercept this gives up at
  most one bit for signed data, in exchange for exact zeros and no offset to carry around.
* A constant-zero image gets slope 1 (a slope is never 0).
* Where the source stored whole numbers with an identity rescale and the values fit, they stay
  whole numbers with slope 1 (``whole_numbers``): the source's own scale and pixel type.

``RescaleSlope`` and ``RescaleIntercept`` are Decimal Strings of at most 16 characters, so the
slope is formatted first and the pixels are quantised with the value the DS string parses back
to: ``stored · float(slope_ds) + float(intercept_ds)`` is then within ``slope / 2`` of every
input voxel (plus float64 rounding).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.valuerep import format_number_as_ds

UINT16_MAX = 65535
INT16_MAX = 32767


def format_ds(value: float) -> str:
    """``value`` as a DICOM Decimal String of at most 16 characters (no value is lost beyond
    the ~12 significant digits that fit)."""
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"a DS cannot hold {value}")
    return format_number_as_ds(value)


@dataclass(frozen=True)
class Quantised:
    """Stored 16-bit pixels and the rescale that maps them back to the float values.

    Attributes:
        stored: ``uint16`` or ``int16`` array, same shape (and axis order) as the input.
        slope_ds: ``RescaleSlope`` exactly as written (DS, ≤ 16 characters).
        intercept_ds: ``RescaleIntercept`` exactly as written (always ``"0"``).
    """

    stored: np.ndarray
    slope_ds: str
    intercept_ds: str

    @property
    def slope(self) -> float:
        """The written slope as a number: the size of one quantisation step (value units)."""
        return float(self.slope_ds)

    @property
    def intercept(self) -> float:
        return float(self.intercept_ds)

    @property
    def signed(self) -> bool:
        """True for ``int16`` pixels (DICOM PixelRepresentation 1)."""
        return self.stored.dtype == np.int16

    def decode(self) -> np.ndarray:
        """``stored · slope + intercept`` as float64 (what a DICOM reader computes)."""
        return self.stored.astype(np.float64) * self.slope + self.intercept


def quantise(data: np.ndarray, whole_numbers: bool = False) -> Quantised:
    """Quantise finite real values (any non-empty shape, any real dtype) to 16-bit stored pixels.

    Args:
        data: the values.
        whole_numbers: the source stored whole numbers with an identity rescale (most MR
            scanners): keep that scale (slope 1, values rounded to integers: no finer than the
            source's own steps) where the range fits 16 bits; else the full-range slope.

    Raises:
        ValueError: for NaN or infinite values (the engine never produces them).
    """
    values = np.asarray(data, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError("cannot quantise NaN or infinite values")
    largest = float(np.abs(values).max())
    signed = bool(values.min() < 0)
    top, dtype = (INT16_MAX, np.int16) if signed else (UINT16_MAX, np.uint16)
    if whole_numbers and np.rint(largest) <= top:
        stored = np.rint(values).astype(dtype)
        return Quantised(stored=stored, slope_ds="1", intercept_ds="0")

    # A DS keeps >= 10 significant digits, so the written slope differs from the exact one by
    # < 1e-9 relative: the largest magnitude still stores within ``top + 0.5`` and the clip
    # below only absorbs that rounding.
    slope_ds = format_ds(largest / top if largest > 0 else 1.0)
    slope = float(slope_ds)
    stored = np.clip(np.rint(values / slope), -top if signed else 0, top).astype(dtype)
    return Quantised(stored=stored, slope_ds=slope_ds, intercept_ds="0")
