"""Volume input/output: DICOM (read), NIfTI and NRRD (read and write), and the scan context.

Dispatch by path: a folder, a ``.dcm``/``.dicom``/``.ima`` file or any file without a
NIfTI/NRRD suffix (GE ``i123.MRDC.4``, extensionless exports) is read as DICOM; ``.nii``,
``.nii.gz``, ``.nrrd`` and ``.nhdr`` go through SimpleITK.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from ..context import ScanContext
from ..errors import MRDeepReconError
from ..volume import Volume
from .dicom import read_dicom
from .itk import itk_format, read_itk, write_itk

__all__ = ["load_volume", "save_volume", "load_context", "default_context"]


def load_volume(
    path: str | Path,
    series_uid: str | None = None,
    echo: int | None = None,
    image_type: str | None = None,
) -> Volume:
    """Read a DICOM file/folder or a NIfTI/NRRD file into a :class:`Volume`.

    Args:
        path: the file or folder.
        series_uid: DICOM only: the series to read when a folder holds several.
        echo, image_type: DICOM only: the image set to read when the series holds several
            (:func:`.dicom.read_dicom`).

    Raises:
        MRDeepReconError: naming the path for a missing path or any reading problem.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise MRDeepReconError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    path = Path(path)
    if not path.exists():
        raise MRDeepReconError("no such file or folder", path)
    if path.is_file() and itk_format(path) is not None:
        return read_itk(path)
    return read_dicom(path, series_uid=series_uid, echo=echo, image_type=image_type)


def save_volume(volume: Volume, path: str | Path) -> Path:
    """Write ``volume`` as NIfTI (``.nii``, ``.nii.gz``) or NRRD (``.nrrd``, ``.nhdr``).

    Voxels are stored as float32 (int16 data stay int16); see :func:`.itk.write_itk`.
    """
    if not isinstance(volume, Volume):
        raise MRDeepReconError(f"volume must be a mrdeeprecon.Volume, got {type(volume).__name__}")
    if not isinstance(path, (str, os.PathLike)):
        raise MRDeepReconError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    return write_itk(volume, path)


def default_context() -> ScanContext:
    """A :class:`ScanContext` with default values, every field's source ``"default"``."""
    names = [f.name for f in dataclasses.fields(ScanContext) if f.name != "sources"]
    return ScanContext(sources={name: "default" for name in names})


def load_context(path_or_volume: str | Path | Volume, series_uid: str | None = None) -> ScanContext:
    """The scan context of a volume (its ``metadata["scan_context"]``) or of a file/folder.

    NIfTI/NRRD carry no acquisition parameters: they give :func:`default_context` (the CLI then
    applies the user's flags with :meth:`ScanContext.with_overrides`).
    """
    if isinstance(path_or_volume, Volume):
        context = path_or_volume.metadata.get("scan_context")
        return context if context is not None else default_context()
    path = Path(path_or_volume)
    if not path.exists():
        raise MRDeepReconError("no such file or folder", path)
    if path.is_file() and itk_format(path) is not None:
        return default_context()
    return load_context(read_dicom(path, series_uid=series_uid))
