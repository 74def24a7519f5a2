"""BART ``.cfl``/``.hdr`` → :class:`RawKSpace`.

BART has no PyPI package; its format is a text header (``# Dimensions`` followed by one line of
sizes, BART's 16 axes: 0 read, 1 phase 1, 2 phase 2, 3 coils, …, 13 slices) and the samples as raw
complex64 in Fortran order. numpy is the library here: ``np.fromfile`` of exactly the header's
count, reshaped in Fortran order.

Axes (coils, slices, ky, kx): a BART array (x, y, 1, coils[, …, slices]) is 2D k-space (ky = y,
kx = x, BART's slice axis 13 = slices); an array with a singleton readout (1, y, z, coils) — a y–z
plane of a 3D acquisition after the readout FFT, the layout of the ESPIRiT examples — is one plane
with ky = y, kx = z; (x, y, z, coils) with all three > 1 is 3D (axis 1 = kz). Any other axis above
one (maps, echoes, time, averages …) is refused. The mask is where any coil holds a non-zero
sample (per k-space point: BART's masks are often 2D Poisson discs). No header facts besides the
matrix: BART files carry none.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mrdeeprecon.errors import MRDeepReconError, one_line
from mrdeeprecon.raw.kspace_data import RawHeader, RawKSpace
from mrdeeprecon.raw.readouts import mask_where_nonzero

_READ, _PHASE1, _PHASE2, _COILS, _SLICES = 0, 1, 2, 3, 13


def bart_dimensions(header: Path) -> tuple[int, ...]:
    """The sizes on the line after ``# Dimensions`` of a BART ``.hdr``."""
    try:
        lines = header.read_text(encoding="ascii").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise MRDeepReconError(f"the BART header cannot be read: {one_line(exc)}", header) from None
    for at, line in enumerate(lines[:-1]):
        if line.strip() == "# Dimensions":
            try:
                dims = tuple(int(word) for word in lines[at + 1].split())
            except ValueError:
                break
            if dims and all(d >= 1 for d in dims):
                return dims
            break
    raise MRDeepReconError("the BART header has no '# Dimensions' line followed by positive sizes", header)


def read_bart(path: Path) -> RawKSpace:
    """Read ``base.cfl`` with its ``base.hdr`` (``path`` may name either, or the base)."""
    base = path.with_suffix("") if path.suffix in (".cfl", ".hdr") else path
    header_path, data_path = base.with_suffix(".hdr"), base.with_suffix(".cfl")
    for needed in (header_path, data_path):
        if not needed.is_file():
            raise MRDeepReconError(f"the BART pair is incomplete: {needed.name} is missing", needed)
    stated = bart_dimensions(header_path)
    dims = stated + (1,) * (16 - len(stated))
    count = int(np.prod(dims))
    size = data_path.stat().st_size
    if size != 8 * count:
        raise MRDeepReconError(
            f"the .cfl holds {size} bytes but its .hdr dimensions {' '.join(map(str, stated))} "
            f"need {8 * count} (complex64): " + ("the .cfl is truncated" if size < 8 * count else "the header does not belong to it"),
            data_path,
        )
    extra = [axis for axis, n in enumerate(dims) if n > 1 and axis not in (_READ, _PHASE1, _PHASE2, _COILS, _SLICES)]
    if extra:
        raise MRDeepReconError(f"BART axes {extra} have sizes {[dims[a] for a in extra]}; only read, phase, coil and slice axes are read", data_path)
    x, y, z, coils, slices = dims[_READ], dims[_PHASE1], dims[_PHASE2], dims[_COILS], dims[_SLICES]
    if z > 1 and slices > 1:
        raise MRDeepReconError("a 3D array (x, y, z > 1) with several slices on BART axis 13 is not read", data_path)
    array = np.fromfile(data_path, np.complex64, count=count).reshape(dims[:16], order="F")
    if z > 1 and x > 1:  # 3D: (coils, kz, ky, kx)
        data, acquisition = array[:, :, :, :, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0].transpose(3, 2, 1, 0), "3D"
    elif z > 1:  # a y–z plane, readout singleton: (coils, 1, ky = y, kx = z)
        data, acquisition = array[0, :, :, :, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0].transpose(2, 0, 1)[:, None], "2D"
    else:  # 2D (coils, slices, ky = y, kx = x)
        data, acquisition = array[:, :, 0, :, 0, 0, 0, 0, 0, 0, 0, 0, 0, :, 0, 0].transpose(2, 3, 1, 0), "2D"
    data = np.ascontiguousarray(data)
    header = RawHeader(matrix=(data.shape[3], data.shape[2], data.shape[1]), fov_mm=None, acquisition=acquisition, source_format="bart")
    return RawKSpace(data, mask_where_nonzero(data), header, source_path=data_path)
