"""fastMRI ``.h5`` → :class:`RawKSpace`, through h5py.

fastMRI stores ``kspace`` as (slices, coils, readout, phase) — multi-coil — or (slices, readout,
phase) — single-coil — with the 2× readout oversampling of the scanner, the ``ismrmrd_header`` XML
and, in the challenge's test sets, ``mask`` (one flag per phase-encoding line). Here the axes become
(coils, slices, ky, kx) and the readout oversampling is removed (to the header's reconstructed
x; without a header nothing is cropped). The mask is the file's, else the lines (slice, ky) where
any coil holds a non-zero sample; it is a line mask (slices or 1, ky, 1).

Geometry (position, direction) is not in a fastMRI file: None.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mrdeeprecon.errors import MRDeepReconError, one_line
from mrdeeprecon.raw.ismrmrd_header import parse_encoding
from mrdeeprecon.raw.kspace_data import RawHeader, RawKSpace, complex_four_axes
from mrdeeprecon.raw.readouts import remove_readout_oversampling


def read_fastmri(path: Path) -> RawKSpace:
    """Read a fastMRI file (``kspace``, ``ismrmrd_header`` where present, ``mask`` where present)."""
    import h5py

    try:
        with h5py.File(path, "r") as file:
            if "kspace" not in file:
                raise MRDeepReconError("the HDF5 file has no 'kspace' dataset (fastMRI) nor 'dataset/data' (ISMRMRD)", path)
            kspace = file["kspace"][()]
            xml = file["ismrmrd_header"][()] if "ismrmrd_header" in file else None
            file_mask = np.asarray(file["mask"][()]) if "mask" in file else None
    except MRDeepReconError:
        raise
    except Exception as exc:  # h5py OSError / KeyError on a damaged file
        raise MRDeepReconError(f"the fastMRI k-space cannot be read: {one_line(exc)}", path) from None
    kspace = complex_four_axes(kspace, "'kspace'", "(slices, coils, readout, phase) or (slices, readout, phase)", path)
    data = np.ascontiguousarray(kspace.transpose(1, 0, 3, 2), dtype=np.complex64)  # (coils, slices, ky, kx)
    slices, ny, nx_encoded = data.shape[1:]
    if file_mask is not None:
        if file_mask.ndim != 1 or file_mask.shape[0] != ny:
            raise MRDeepReconError(f"'mask' has shape {file_mask.shape}; expected one flag per phase line ({ny})", path)
        mask = (file_mask != 0)[None, :, None]
    else:
        mask = np.any(data != 0, axis=(0, 3))[:, :, None]

    facts = parse_encoding(xml, path) if xml is not None else None
    if facts is not None:
        data = remove_readout_oversampling(data, facts.recon_matrix[0])
    fov = None
    if facts is not None and facts.encoded_fov_mm is not None:
        fx, fy, fz = facts.encoded_fov_mm
        fov = (fx * data.shape[-1] / nx_encoded, fy, fz * slices)
    header = RawHeader(
        matrix=(data.shape[3], ny, slices),
        fov_mm=fov if fov is not None and all(f > 0 for f in fov) else None,
        acquisition="2D",
        te_ms=facts.te_ms if facts else None,
        tr_ms=facts.tr_ms if facts else None,
        field_strength_t=facts.field_strength_t if facts else None,
        source_format="fastmri",
    )
    return RawKSpace(data, mask, header, source_path=path)
