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

import contextlib
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np
import SimpleITK as sitk

from ..errors import MRDeepReconError, one_line
from ..volume import MAX_SPACING_MM, Volume

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


#: The largest image read, in voxels (8 GiB as float32): a header declaring more is refused
#: before anything is allocated.
MAX_VOXELS = 2**31


def _nifti_header(path: Path):
    """The NIfTI-1 or NIfTI-2 header of ``path`` as stored (nibabel, not "fixed"); raises naming
    the file for what nibabel diagnoses, for dimensions that are not positive or exceed
    :data:`MAX_VOXELS`, for a voxel size (pixdim) that is zero or not a number, and for a qform or
    sform that is not finite. These are refused here, before ITK's NIfTI library prints its own
    complaints to the terminal."""
    import zlib

    import nibabel
    from nibabel.openers import ImageOpener

    try:
        with ImageOpener(str(path)) as stream:
            block = stream.read(540)
    except (OSError, EOFError, zlib.error) as exc:
        raise MRDeepReconError(f"unreadable NIfTI file ({one_line(exc)})", path) from exc
    sizes = {int.from_bytes(block[:4], order, signed=True) for order in ("little", "big")}
    kind = nibabel.Nifti1Header if 348 in sizes else nibabel.Nifti2Header if 540 in sizes else None
    if kind is None or len(block) < kind.template_dtype.itemsize:
        raise MRDeepReconError("not a NIfTI file: its header size is neither 348 (NIfTI-1) nor 540 (NIfTI-2)", path)
    raw = block[: kind.template_dtype.itemsize]
    problems = kind.diagnose_binaryblock(raw)
    if problems:
        raise MRDeepReconError(f"damaged NIfTI header ({'; '.join(problems.splitlines())[:200]})", path)
    header = kind(raw, check=False)
    dim = [int(d) for d in header["dim"]]
    shape = dim[1 : 1 + dim[0]]
    if not 1 <= dim[0] <= 7 or min(shape) < 1:
        raise MRDeepReconError(f"damaged NIfTI header: dimensions {dim[: 1 + max(0, min(dim[0], 7))]} are not positive", path)
    if int(np.prod(shape, dtype=np.float64)) > MAX_VOXELS:
        raise MRDeepReconError(f"the header declares {'x'.join(map(str, shape))} voxels, more than {MAX_VOXELS}", path)
    pixdim = np.asarray(header["pixdim"][1 : 1 + min(3, dim[0])], dtype=np.float64)
    if not np.all(np.isfinite(pixdim)) or np.any(pixdim == 0):
        raise MRDeepReconError(f"the header's voxel size (pixdim) {pixdim.tolist()} is zero or not a number", path)
    transforms = [header.get_sform()] if header["sform_code"] > 0 else []
    if header["qform_code"] > 0:
        transforms.append(np.array([header[k] for k in ("quatern_b", "quatern_c", "quatern_d", "qoffset_x", "qoffset_y", "qoffset_z")], dtype=np.float64))
    if not all(np.all(np.isfinite(t)) for t in transforms):
        raise MRDeepReconError("the header's position or orientation (qform / sform) is not a number", path)
    return header


def _check_nrrd_header(path: Path) -> None:
    """Raise naming the file for an NRRD header that pynrrd cannot read, with sizes that are not
    positive or exceed :data:`MAX_VOXELS`, or spacings / space directions that are not finite
    and positive (ITK reads a NaN spacing as 1 mm without a word)."""
    import nrrd

    try:
        header = nrrd.read_header(str(path))
    except Exception as exc:  # pynrrd raises NRRDError, ValueError, UnicodeDecodeError ...
        raise MRDeepReconError(f"unreadable NRRD header ({one_line(exc)})", path) from exc
    sizes = np.asarray(header.get("sizes", []), dtype=np.float64)
    if sizes.size == 0 or np.any(sizes < 1):
        raise MRDeepReconError(f"damaged NRRD header: sizes {sizes.astype(int).tolist()} are not positive", path)
    if float(np.prod(sizes)) > MAX_VOXELS:
        raise MRDeepReconError(f"the header declares {'x'.join(str(int(n)) for n in sizes)} voxels, more than {MAX_VOXELS}", path)
    steps = []
    if "spacings" in header:
        steps = [float(v) for v in np.asarray(header["spacings"], dtype=np.float64)]
    if "space directions" in header:
        directions = np.asarray(header["space directions"], dtype=np.float64)
        steps = [float(np.linalg.norm(row)) for row in directions if not np.all(np.isnan(row))]  # "none" rows are NaN
        if not np.all(np.isfinite(directions[~np.all(np.isnan(directions), axis=1)])):
            steps.append(float("nan"))
    if not all(np.isfinite(v) and v != 0 for v in steps):
        raise MRDeepReconError(f"the header's voxel spacing {steps} is zero or not a number", path)


def _warn_if_sheared(header, path: Path) -> None:
    """A sform with shear cannot be an image grid of Slicer's: ITK (and so Slicer) then use the
    qform, or the nearest orthogonal frame; say so."""
    if header["sform_code"] <= 0:
        return
    axes = header.get_sform()[:3, :3]
    norms = np.linalg.norm(axes, axis=0)
    if np.any(norms == 0):
        return  # singular: ITK refuses it
    cosines = axes.T @ axes / np.outer(norms, norms)
    if np.abs(cosines - np.eye(3)).max() > 1e-4:
        warnings.warn(f"{path}: the sform has shear, which an image grid cannot hold; the geometry is that ITK and Slicer read (the qform where there is one)", stacklevel=3)


@contextlib.contextmanager
def _quiet_itk() -> Iterator[None]:
    """ITK's warnings off while inside (they go straight to the terminal, several lines each)."""
    shown = sitk.ProcessObject.GetGlobalWarningDisplay()
    sitk.ProcessObject.SetGlobalWarningDisplay(False)
    try:
        yield
    finally:
        sitk.ProcessObject.SetGlobalWarningDisplay(shown)


def _nifti_voxels(path: Path) -> np.ndarray:
    """The voxels of a NIfTI file, ``(z, y, x)``, read by nibabel.

    SimpleITK's reader replaces NaN / Inf voxels by 0 and zero-fills a truncated file without a
    word, so the voxels come from nibabel (which reads exactly what the file holds and raises on
    a short file), the geometry from SimpleITK. The file's type is kept; a scaled image
    (``scl_slope``, ``scl_inter``) becomes float32.
    """
    import nibabel

    try:
        with nibabel.imageglobals.LoggingOutputSuppressor():
            image = nibabel.load(str(path))
        raw = np.asanyarray(image.dataobj.get_unscaled())
    except Exception as exc:  # short file: "Expected N bytes, got M bytes", gzip EOFError, zlib.error
        raise MRDeepReconError(f"truncated or damaged NIfTI file ({one_line(exc)})", path) from exc
    slope, inter = float(image.dataobj.slope), float(image.dataobj.inter)
    if (slope, inter) != (1.0, 0.0):
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused as Inf below
            raw = raw.astype(np.float32) * np.float32(slope) + np.float32(inter)
    return np.ascontiguousarray(raw.T)


def _itk_reason(exc: BaseException) -> str:
    """The last line of an ITK exception's message (where it puts the reason), at most 200
    characters."""
    text = str(exc).strip().splitlines()
    return (text[-1] if text else type(exc).__name__)[:200]


def _check_geometry(spacing, origin, direction, path: Path) -> None:
    spacing, origin, direction = (np.asarray(v, dtype=np.float64) for v in (spacing, origin, direction))
    if not (np.all(np.isfinite(spacing)) and np.all(spacing > 0) and np.all(spacing <= MAX_SPACING_MM)):
        raise MRDeepReconError(f"voxel spacing {spacing.tolist()} mm (above 0 and up to {MAX_SPACING_MM:g} mm accepted)", path)
    if not (np.all(np.isfinite(origin)) and np.all(np.isfinite(direction))):
        raise MRDeepReconError("the image's position or orientation is not a number", path)
    if abs(np.linalg.det(direction.reshape(3, 3))) < 1e-6:
        raise MRDeepReconError("the image's orientation matrix is singular", path)


def read_itk(path: str | Path) -> Volume:
    """Read a 3D scalar NIfTI or NRRD image.

    Returns:
        A :class:`Volume` whose ``data`` (shape ``(z, y, x)``) keeps the file's voxel type (float32
        for a scaled NIfTI image), with LPS geometry and metadata ``source_path`` and ``format``
        (``"nifti"`` or ``"nrrd"``).

    Raises:
        MRDeepReconError: naming the file for a missing, unreadable, truncated or damaged file, an
            unknown suffix, an image that is not 3D scalar (2D, 4D, vector or complex), a header
            declaring more than :data:`MAX_VOXELS` voxels, zero / non-finite spacing, a
            non-finite or singular orientation, or NaN/Inf voxels.
    """
    path = Path(path)
    kind = _require_format(path)
    if not path.is_file():
        raise MRDeepReconError("no such file" if not path.exists() else "not a regular file", path)
    header = None
    if kind == "nifti":
        header = _nifti_header(path)
    else:
        _check_nrrd_header(path)
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        with _quiet_itk():
            reader.ReadImageInformation()
    except RuntimeError as exc:
        raise MRDeepReconError(f"unreadable {kind} file ({_itk_reason(exc)})", path) from exc
    if header is not None:
        _warn_if_sheared(header, path)
    if reader.GetDimension() != 3:
        raise MRDeepReconError(f"expected a 3D image, got {reader.GetDimension()}D", path)
    if reader.GetNumberOfComponents() != 1 or reader.GetPixelID() in COMPLEX_PIXEL_IDS:
        raise MRDeepReconError(f"expected scalar voxels, got {sitk.GetPixelIDValueAsString(reader.GetPixelID())}", path)
    spacing, origin, direction = reader.GetSpacing(), reader.GetOrigin(), reader.GetDirection()
    _check_geometry(spacing, origin, direction, path)
    if kind == "nifti":
        data = _nifti_voxels(path)
    else:
        if int(np.prod(reader.GetSize(), dtype=np.float64)) > MAX_VOXELS:
            raise MRDeepReconError(f"the header declares {'x'.join(map(str, reader.GetSize()))} voxels, more than {MAX_VOXELS}", path)
        try:
            with _quiet_itk():
                data = sitk.GetArrayFromImage(reader.Execute())
        except RuntimeError as exc:
            raise MRDeepReconError(f"unreadable {kind} file ({_itk_reason(exc)})", path) from exc
    if data.shape != tuple(reversed(reader.GetSize())):
        raise MRDeepReconError(f"the voxels ({data.shape}) do not match the header's size {reader.GetSize()}", path)
    _check_finite(data, path)
    return Volume(
        data=data,
        spacing=spacing,
        origin=origin,
        direction=np.asarray(direction, dtype=np.float64).reshape(3, 3),
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
    if not os.access(path.parent, os.W_OK):
        raise MRDeepReconError("the output folder is not writable", path)
    if source_path is not None:
        source, target = Path(os.path.realpath(source_path)), Path(os.path.realpath(path))  # never raises, even on a link loop
        if source == target:
            raise MRDeepReconError("refusing to overwrite the input file", path)
        if source.is_dir() and source in target.parents:
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

    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder))
    except OSError as exc:
        raise MRDeepReconError(f"cannot write in the output folder ({exc.strerror})", path) from exc
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
