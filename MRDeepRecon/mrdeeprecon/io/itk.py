"""NIfTI (``.nii``, ``.nii.gz``) and NRRD (``.nrrd``, ``.nhdr``) volumes through SimpleITK.

SimpleITK works in LPS like :class:`~mrdeeprecon.volume.Volume`: its ``GetSpacing``/``GetOrigin``
are ordered (i, j, k), its ``GetDirection`` is the 3×3 direction matrix flattened row by row
(columns = axis directions, the same matrix as ``Volume.direction``), and
``GetArrayFromImage`` returns the voxels as ``(z, y, x)``. The conversion is therefore exact;
NIfTI itself stores the geometry in float32 (≈ 1e-7 relative), NRRD as decimal text.

Writing stores float32, or int16 when the volume's data are int16; float64 and every other type
become float32. The file is written into a temporary folder beside the target and moved into
place at the end, so a failure leaves nothing behind (for ``.nhdr`` the detached data file moves
with its header).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ..errors import MRDeepReconError
from ..volume import Volume

NIFTI_SUFFIXES = (".nii", ".nii.gz")
NRRD_SUFFIXES = (".nrrd", ".nhdr")
ITK_SUFFIXES = NIFTI_SUFFIXES + NRRD_SUFFIXES
COMPLEX_PIXEL_IDS = (sitk.sitkComplexFloat32, sitk.sitkComplexFloat64)


def itk_format(path: str | Path) -> str | None:
    """``"nifti"``, ``"nrrd"`` or ``None`` from the file name's suffix (case-insensitive)."""
    name = Path(path).name.lower()
    if name.endswith(NIFTI_SUFFIXES):
        return "nifti"
    if name.endswith(NRRD_SUFFIXES):
        return "nrrd"
    return None


def _require_format(path: Path) -> str:
    kind = itk_format(path)
    if kind is None:
        expected = ", ".join(ITK_SUFFIXES)
        raise MRDeepReconError(f"not a NIfTI or NRRD file name (expected {expected})", path)
    return kind


def _check_finite(data: np.ndarray, path: Path) -> None:
    if np.issubdtype(data.dtype, np.floating) and not np.all(np.isfinite(data)):
        raise MRDeepReconError("the image contains NaN or infinite values", path)


def _check_complete_nifti(path: Path) -> None:
    """Raise when a NIfTI file holds fewer voxel bytes than its header declares: SimpleITK reads
    a truncated ``.nii`` or ``.nii.gz`` without a word, zero-filling what is missing.

    The header is read with nibabel; a ``.nii`` must be at least the data offset + voxel bytes
    long, and so must a ``.nii.gz``'s decompressed stream (decompressed up to that length: a
    fraction of a second for a brain volume).
    """
    import gzip

    import nibabel

    try:
        header = nibabel.load(str(path)).header
    except Exception as exc:  # nibabel raises many types for damaged headers
        raise MRDeepReconError(f"unreadable NIfTI header ({exc})", path) from exc
    voxels = int(np.prod(header.get_data_shape())) * header.get_data_dtype().itemsize
    expected = int(header.get_data_offset()) + voxels
    if path.name.lower().endswith(".gz"):
        try:
            with gzip.open(path, "rb") as stream:
                stream.seek(expected - 1)
                complete = len(stream.read(1)) == 1
        except (OSError, EOFError):  # "Compressed file ended before the end-of-stream marker"
            complete = False
    else:
        complete = path.stat().st_size >= expected
    if not complete:
        raise MRDeepReconError(
            f"truncated NIfTI file: the header declares {expected} bytes of image", path
        )


def read_itk(path: str | Path) -> Volume:
    """Read a 3D scalar NIfTI or NRRD image.

    Returns:
        A :class:`Volume` whose ``data`` (shape ``(z, y, x)``) keeps the file's voxel type, with
        LPS geometry and metadata ``source_path`` and ``format`` (``"nifti"`` or ``"nrrd"``).

    Raises:
        MRDeepReconError: naming the file for a missing or unreadable file, an unknown suffix,
            a truncated NIfTI file, an image that is not 3D scalar (2D, 4D, vector or complex) or
            NaN/Inf voxels.
    """
    path = Path(path)
    kind = _require_format(path)
    if not path.is_file():
        raise MRDeepReconError("no such file", path)
    if kind == "nifti":
        _check_complete_nifti(path)
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        reason = str(exc).strip().splitlines()[-1]
        raise MRDeepReconError(f"unreadable {kind} file ({reason})", path) from exc
    if image.GetDimension() != 3:
        raise MRDeepReconError(f"expected a 3D image, got {image.GetDimension()}D", path)
    if image.GetNumberOfComponentsPerPixel() != 1 or image.GetPixelID() in COMPLEX_PIXEL_IDS:
        raise MRDeepReconError(
            f"expected scalar voxels, got {image.GetPixelIDTypeAsString()}", path
        )
    data = sitk.GetArrayFromImage(image)
    _check_finite(data, path)
    return Volume(
        data=data,
        spacing=image.GetSpacing(),
        origin=image.GetOrigin(),
        direction=np.asarray(image.GetDirection(), dtype=np.float64).reshape(3, 3),
        metadata={"source_path": str(path), "format": kind},
    )


def _storage_array(volume: Volume, path: Path) -> np.ndarray:
    data = volume.data
    if np.iscomplexobj(data):
        raise MRDeepReconError("cannot write complex voxels", path)
    _check_finite(data, path)
    if data.dtype == np.int16:
        return data
    return data.astype(np.float32)


def image_from_volume(volume: Volume, data: np.ndarray) -> sitk.Image:
    """A SimpleITK image of ``data`` ((z, y, x), the volume's shape) with ``volume``'s LPS geometry."""
    image = sitk.GetImageFromArray(data, isVector=False)
    image.SetSpacing(tuple(float(s) for s in volume.spacing))
    image.SetOrigin(tuple(float(o) for o in volume.origin))
    image.SetDirection(tuple(float(d) for d in np.asarray(volume.direction).ravel()))
    return image


def check_itk_target(path: str | Path, source_path: str | Path | None) -> Path:
    """Raise now what :func:`write_itk` would refuse for this target: an unknown suffix, a
    missing folder, the source file itself, or a place inside the source folder (a DICOM series'
    folder gains no file of ours). Returns the path."""
    path = Path(path)
    _require_format(path)
    if not path.parent.is_dir():
        raise MRDeepReconError("the output folder does not exist", path)
    if source_path is not None:
        source = Path(source_path).resolve()
        if source == path.resolve():
            raise MRDeepReconError("refusing to overwrite the input file", path)
        if source.is_dir() and source in path.resolve().parents:
            raise MRDeepReconError("refusing to write into the source folder", path)
    return path


def write_itk(volume: Volume, path: str | Path) -> Path:
    """Write ``volume`` as NIfTI or NRRD (by suffix) atomically; returns the written path.

    Raises:
        MRDeepReconError: naming the file for what :func:`check_itk_target` refuses, NaN/Inf
            voxels or a write failure.
    """
    path = check_itk_target(path, volume.metadata.get("source_path"))
    folder = path.parent

    image = image_from_volume(volume, _storage_array(volume, path))

    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder))
    try:
        sitk.WriteImage(image, str(staging / path.name))
        written = sorted(staging.iterdir(), key=lambda p: p.name == path.name)  # header last
        for item in written:
            os.replace(item, folder / item.name)
    except (RuntimeError, OSError) as exc:
        raise MRDeepReconError(f"could not write the image ({exc})", path) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path
