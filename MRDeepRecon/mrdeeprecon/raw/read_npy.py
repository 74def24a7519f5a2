"""``.npy`` → :class:`RawKSpace`: a complex array (coils, ky, kx) — one slice, sigpy's layout — or
(coils, slices, ky, kx), read with ``np.load`` (no pickles). complex128 is narrowed to complex64.
The mask is where any coil holds a non-zero sample (per k-space point). No header facts besides the
matrix."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mrdeeprecon.errors import MRDeepReconError, one_line
from mrdeeprecon.raw.kspace_data import RawHeader, RawKSpace, complex_four_axes
from mrdeeprecon.raw.readouts import mask_where_nonzero


def read_npy(path: Path) -> RawKSpace:
    """Read a complex (coils, [slices,] ky, kx) ``.npy`` file."""
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise MRDeepReconError(f"not a readable .npy array: {one_line(exc)}", path) from None
    array = complex_four_axes(array, "the array", "(coils, ky, kx) or (coils, slices, ky, kx)", path)
    data = np.ascontiguousarray(array, dtype=np.complex64)
    header = RawHeader(matrix=(data.shape[3], data.shape[2], data.shape[1]), fov_mm=None, acquisition="2D", source_format="npy")
    return RawKSpace(data, mask_where_nonzero(data), header, source_path=path)
