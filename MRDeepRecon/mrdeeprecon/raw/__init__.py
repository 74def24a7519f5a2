"""Raw multi-coil k-space: one data type (:class:`RawKSpace`), the readers and pre-whitening.

``read_raw(path)`` reads ISMRMRD/MRD and fastMRI ``.h5`` (told apart by content: ``kspace`` →
fastMRI, ``dataset`` → ISMRMRD), BART ``.cfl``/``.hdr``, Siemens twix ``.dat`` and ``.npy``; a
noise scan, when the file has one, is applied by :func:`prewhiten`. Every bad or partial file is
one :class:`~mrdeeprecon.errors.MRDeepReconError` naming the file and the problem.
"""

from __future__ import annotations

from pathlib import Path

from mrdeeprecon.errors import MRDeepReconError, one_line
from mrdeeprecon.raw.kspace_data import RawHeader, RawKSpace
from mrdeeprecon.raw.whitening import prewhiten

__all__ = ["RawHeader", "RawKSpace", "prewhiten", "read_raw", "RAW_SUFFIXES"]

#: File name endings ``read_raw`` reads.
RAW_SUFFIXES = (".h5", ".hdf5", ".mrd", ".cfl", ".hdr", ".dat", ".npy")


def read_raw(path: str | Path) -> RawKSpace:
    """Read a raw k-space file; a noise scan in it is applied (pre-whitened)."""
    path = Path(path)
    if path.is_dir():
        raise MRDeepReconError("is a folder, not a raw k-space file", path)
    suffix = path.suffix.lower()
    bart = suffix in (".cfl", ".hdr") or (suffix == "" and path.with_suffix(".cfl").is_file())
    if not bart:
        if not path.is_file():
            raise MRDeepReconError("no such file", path)
        if path.stat().st_size == 0:
            raise MRDeepReconError("the file is empty", path)
    if bart:
        from mrdeeprecon.raw.read_bart import read_bart

        raw = read_bart(path)
    elif suffix == ".npy":
        from mrdeeprecon.raw.read_npy import read_npy

        raw = read_npy(path)
    elif suffix == ".dat":
        from mrdeeprecon.raw.read_twix import read_twix

        raw = read_twix(path)
    elif suffix in (".h5", ".hdf5", ".mrd"):
        raw = _read_hdf5(path)
    else:
        raise MRDeepReconError(f"unknown raw k-space format {suffix or '(no suffix)'}; expected one of {', '.join(RAW_SUFFIXES)}", path)
    return prewhiten(raw) if raw.noise is not None else raw


def _read_hdf5(path: Path) -> RawKSpace:
    """fastMRI (a ``kspace`` dataset) or ISMRMRD (a ``dataset`` group), told apart by content."""
    import h5py

    try:
        with h5py.File(path, "r") as file:
            ismrmrd = "kspace" not in file and "dataset" in file
    except Exception as exc:  # h5py OSError on a file that is not HDF5
        raise MRDeepReconError(f"not a readable HDF5 file: {one_line(exc)}", path) from None
    if ismrmrd:
        from mrdeeprecon.raw.read_ismrmrd import read_ismrmrd

        return read_ismrmrd(path)
    from mrdeeprecon.raw.read_fastmri import read_fastmri

    return read_fastmri(path)
