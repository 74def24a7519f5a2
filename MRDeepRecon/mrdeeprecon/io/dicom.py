"""Read a DICOM file or folder (classic or enhanced multi-frame MR) into a :class:`Volume`.

What is read:

* a single file, or the files directly inside a folder (not recursive). Files that are not
  DICOM are ignored in a folder; objects without pixel data or of non-image storage classes
  (Philips *Raw Data Storage*, MR spectroscopy, presentation states, ...) are ignored too.
* image objects are grouped by ``SeriesInstanceUID``; with several series the caller must pick
  one (``series_uid``, CLI ``--series UID``).
* within a series, images are grouped into image sets (echo and magnitude / phase / real /
  imaginary / map, :mod:`.dicom_image_type`); with several sets the caller must pick one
  (``echo``, ``image_type``; CLI ``--echo N``, ``--image-type TYPE``).
* Siemens mosaics are unpacked into their slices (:mod:`.dicom_mosaic`).

Geometry (LPS mm, see :mod:`mrdeeprecon.volume`): every slice (a classic file or one frame of an
enhanced object) has a position ``ImagePositionPatient`` (IPP), an orientation
``ImageOrientationPatient`` (IOP: row cosine, then column cosine) and ``PixelSpacing``
(row spacing, column spacing). Enhanced objects carry them per frame in the Plane Position,
Plane Orientation and Pixel Measures functional groups, falling back to the shared groups.
Slices are sorted by their distance along the slice normal ``n = row × col``
(``IPP · n``, ascending), never by file name or ``InstanceNumber``. The volume's

* ``origin`` is the IPP of the first sorted slice,
* ``direction`` columns are the row cosine (``i``), the column cosine (``j``) and ``n`` (``k``;
  sorting ascending makes ``origin + k · spacing_k · n`` the position of slice ``k``),
* ``spacing`` is (``PixelSpacing[1]``, ``PixelSpacing[0]``, measured slice distance); a single
  slice uses ``SpacingBetweenSlices``, else ``SliceThickness``, else 1 mm.

Voxel values are ``stored · RescaleSlope + RescaleIntercept`` (per frame for enhanced objects,
from the Pixel Value Transformation group), as float32. Vendor-private scalings (Philips
"scale slope" (2005,100E)) are not applied.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

from ..errors import MRDeepReconError, one_line
from ..volume import MAX_SPACING_MM, Volume
from .dicom_context import context_from_dicom
from .dicom_image_type import COMPONENTS, ImageSet, image_set_of, number_echoes
from .dicom_mosaic import Mosaic, is_mosaic, mosaic_of
from .dicom_values import as_list, as_number

MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
ENHANCED_MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4.1"
LEGACY_CONVERTED_ENHANCED_MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4.4"
#: The storage classes of MR images: anything else (a screenshot as Secondary Capture, a CT
#: object that says MR) is not read as MR whatever its Modality.
MR_IMAGE_SOP_CLASSES = (
    MR_IMAGE_STORAGE,
    ENHANCED_MR_IMAGE_STORAGE,
    LEGACY_CONVERTED_ENHANCED_MR_IMAGE_STORAGE,
)
PIXEL_DATA_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
#: Elements larger than this are not loaded while scanning a folder (pixel data is read later).
DEFER_SIZE = "64 KB"
#: Cosines of two slices' orientations may differ by this much and still count as equal.
ORIENTATION_TOLERANCE = 1e-4
#: Relative tolerance between the pixel spacings of two slices.
PIXEL_SPACING_RTOL = 1e-4
#: Positions closer than this along the normal (mm) are the same slice position (4D data).
DUPLICATE_POSITION_MM = 1e-2
#: A slice distance may deviate from the mean by ABS + REL · mean (mm) and still be uniform;
#: the same tolerance bounds the in-plane offset of a slice from the stack axis.
POSITION_TOLERANCE_ABS_MM = 1e-2
POSITION_TOLERANCE_REL = 1e-3
#: Largest Rows or Columns accepted: larger is a damaged header, not an MR image (and would ask
#: for gigabytes before the pixel data are even read).
MAX_MATRIX = 8192


@dataclass(frozen=True)
class SeriesInfo:
    """One image series found in a DICOM file or folder.

    Attributes:
        series_instance_uid: ``SeriesInstanceUID``.
        description: ``SeriesDescription`` (empty when absent).
        images: number of 2D images (classic files plus enhanced frames).
        files: the files holding the series.
    """

    series_instance_uid: str
    description: str
    images: int
    files: tuple[Path, ...]


@dataclass(frozen=True)
class _Slice:
    """One 2D image of a series: a classic file, or one frame of an enhanced object."""

    dataset: pydicom.Dataset
    path: Path
    frame: int | None  # 0-based frame index in a multi-frame object, None for classic files
    position: np.ndarray  # IPP, LPS mm
    orientation: np.ndarray  # IOP: row cosine (3), column cosine (3)
    pixel_spacing: np.ndarray  # (row spacing, column spacing) mm
    slope: float
    intercept: float
    image_set: ImageSet
    mosaic: Mosaic | None = None  # the tiling, for one tile of a Siemens mosaic
    tile: int | None = None  # 0-based tile (slice) index in the mosaic

    @property
    def matrix(self) -> tuple[int, int]:
        """(rows, columns) of this slice."""
        if self.mosaic is not None:
            return self.mosaic.tile_rows, self.mosaic.tile_columns
        return int(self.dataset.Rows), int(self.dataset.Columns)

    def where(self) -> str:
        if self.tile is not None:
            return f" (mosaic slice {self.tile + 1})"
        return "" if self.frame is None else f" (frame {self.frame + 1})"


#: Bytes 128-131 of a DICOM Part 10 file: a file with them that cannot be read is a damaged
#: DICOM file (refused), one without them in a folder is some other file (skipped, and named).
DICOM_MAGIC = b"DICM"


def _has_dicom_magic(path: Path) -> bool:
    with open(path, "rb") as stream:
        stream.seek(128)
        return stream.read(4) == DICOM_MAGIC


def _read(path: Path, in_folder: bool) -> pydicom.Dataset | None:
    """The dataset (large elements deferred, every other element decoded), or ``None`` for a file
    in a folder that is not DICOM.

    pydicom's warnings about values that break their VR or character set are silenced: the values
    this reader uses are checked where they are used, and one error names what is wrong.
    """
    if not path.is_file():
        raise MRDeepReconError("not a regular file (a pipe, device or broken link?)", path)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module="pydicom")
            ds = pydicom.dcmread(path, defer_size=DEFER_SIZE)
            for part in (ds.get("file_meta"), ds):  # decode every element now, under this filter
                if part is not None:
                    part.walk(lambda dataset, element: None)
            return ds
    except InvalidDicomError:
        if in_folder and not _has_dicom_magic(path):
            return None
        raise MRDeepReconError("not a DICOM file" if not in_folder else "damaged DICOM file", path) from None
    except Exception as exc:  # pydicom raises many types for damaged files
        raise MRDeepReconError(f"unreadable DICOM file ({one_line(exc, first_line=True)})", path) from exc


def _is_image(ds: pydicom.Dataset) -> bool:
    sop_class = str(ds.get("SOPClassUID", ""))
    has_pixels = any(keyword in ds for keyword in PIXEL_DATA_KEYWORDS)
    if sop_class in (MR_IMAGE_STORAGE, ENHANCED_MR_IMAGE_STORAGE):
        return has_pixels
    return has_pixels and bool(ds.get("Rows")) and bool(ds.get("Columns"))


def _image_datasets(path: Path, skipped: list[Path] | None = None) -> list[pydicom.Dataset]:
    """Image objects in ``path`` (a file or a folder), each with ``ds.filename`` set; the files
    of a folder that are not DICOM are appended to ``skipped`` when it is given."""
    if not path.exists():
        raise MRDeepReconError("no such file or folder", path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file())
        skipped_entries = sorted(p for p in path.iterdir() if not p.is_file() and not p.is_dir())
        if not files:
            if any(p.is_dir() for p in path.iterdir()):
                problem = "no files directly in the folder (sub-folders are not searched)"
                raise MRDeepReconError(problem, path)
            raise MRDeepReconError("the folder is empty", path)
        read = [(p, _read(p, in_folder=True)) for p in files]
        datasets = [ds for _, ds in read if ds is not None]
        if skipped is not None:
            skipped.extend(sorted([p for p, ds in read if ds is None] + skipped_entries))
        if not datasets:
            raise MRDeepReconError("the folder contains no DICOM files", path)
    else:
        datasets = [_read(path, in_folder=False)]  # type: ignore[list-item]
    for ds in datasets:
        classes = {str(ds.get("SOPClassUID", "") or ""), str(getattr(ds.get("file_meta"), "MediaStorageSOPClassUID", "") or "")} - {""}
        if not classes:
            raise MRDeepReconError("damaged DICOM file: no SOP Class UID", ds.filename)
        if classes & set(MR_IMAGE_SOP_CLASSES) and not any(keyword in ds for keyword in PIXEL_DATA_KEYWORDS):
            raise MRDeepReconError("damaged DICOM file: an MR image without pixel data (truncated?)", ds.filename)
    images = [ds for ds in datasets if _is_image(ds)]
    if not images:
        kinds = sorted({str(getattr(ds.get("SOPClassUID"), "name", "unknown")) for ds in datasets})
        raise MRDeepReconError(f"no image series (only {', '.join(kinds)})", path)
    return images


def _n_frames(ds: pydicom.Dataset) -> int:
    """``NumberOfFrames`` (1 where absent); raises naming the file for a value that is not a
    positive whole number."""
    value = ds.get("NumberOfFrames")
    if value is None or value == "":
        return 1
    number = as_number(value)
    if number is None or number < 1 or number != int(number):
        raise MRDeepReconError(f"invalid NumberOfFrames {value!r}", ds.filename)
    return int(number)


def _group_by_series(datasets: Iterable[pydicom.Dataset]) -> dict[str, list[pydicom.Dataset]]:
    groups: dict[str, list[pydicom.Dataset]] = defaultdict(list)
    for ds in datasets:
        groups[str(ds.get("SeriesInstanceUID", ""))].append(ds)
    return dict(groups)


def _series_info(uid: str, datasets: list[pydicom.Dataset]) -> SeriesInfo:
    return SeriesInfo(
        series_instance_uid=uid,
        description=str(datasets[0].get("SeriesDescription", "")),
        images=sum(_n_frames(ds) for ds in datasets),
        files=tuple(Path(ds.filename) for ds in datasets),
    )


def list_series(path: str | Path) -> list[SeriesInfo]:
    """The image series in a DICOM file or folder, sorted by UID."""
    groups = _group_by_series(_image_datasets(Path(path)))
    return [_series_info(uid, groups[uid]) for uid in sorted(groups)]


def series_image_sets(
    path: str | Path, series_uid: str | None = None
) -> tuple[tuple[ImageSet, int], ...]:
    """The image sets (echoes, magnitude / phase ...) of one series in a DICOM file or folder and
    their image counts (mosaic slices counted), in echo then component order.

    Raises:
        MRDeepReconError: as :func:`read_dicom` (several series without ``series_uid``, unreadable
            files, missing geometry of the chosen series).
    """
    path = Path(path)
    datasets = _select_series(_group_by_series(_image_datasets(path)), series_uid, path)
    return _count_image_sets([s.image_set for s in _slices(datasets)])


def _count_image_sets(sets: list[ImageSet]) -> tuple[tuple[ImageSet, int], ...]:
    """Each distinct image set (by :attr:`ImageSet.key`, the first one's image type text) and
    its number of images, sorted by echo and component."""
    first: dict[tuple, ImageSet] = {}
    counts: dict[tuple, int] = defaultdict(int)
    for s in sets:
        first.setdefault(s.key, s)
        counts[s.key] += 1

    def order(key: tuple) -> tuple:
        number, time, component, flavour = key
        return (number or 0, time or 0.0, COMPONENTS.index(component), flavour)

    return tuple((first[k], counts[k]) for k in sorted(first, key=order))


def _describe(infos: list[SeriesInfo]) -> str:
    return "; ".join(
        f"{i.series_instance_uid} '{i.description}' ({i.images} images)" for i in infos
    )


def _select_series(
    groups: dict[str, list[pydicom.Dataset]], series_uid: str | None, path: Path
) -> list[pydicom.Dataset]:
    infos = [_series_info(uid, groups[uid]) for uid in sorted(groups)]
    if series_uid is not None:
        if series_uid not in groups:
            raise MRDeepReconError(
                f"series {series_uid} not found; available: {_describe(infos)}", path
            )
        return groups[series_uid]
    if len(groups) > 1:
        raise MRDeepReconError(
            f"{len(groups)} image series, choose one with series_uid (--series UID): "
            f"{_describe(infos)}",
            path,
        )
    return next(iter(groups.values()))


def _functional_item(ds: pydicom.Dataset, frame: int, sequence: str) -> pydicom.Dataset | None:
    """First item of ``sequence`` in the frame's per-frame group, else in the shared group."""
    for groups_keyword, index in (
        ("PerFrameFunctionalGroupsSequence", frame),
        ("SharedFunctionalGroupsSequence", 0),
    ):
        groups = ds.get(groups_keyword)
        if groups and len(groups) > index:
            items = groups[index].get(sequence)
            if items:
                return items[0]
    return None


def _value(ds: pydicom.Dataset, frame: int | None, sequence: str, keyword: str) -> Any:
    """``keyword`` of a classic file (top level) or of one frame (functional group ``sequence``)."""
    if frame is None:
        return ds.get(keyword)
    item = _functional_item(ds, frame, sequence)
    return None if item is None else item.get(keyword)


def _required(
    ds: pydicom.Dataset, frame: int | None, sequence: str, keyword: str, n: int
) -> np.ndarray:
    """A geometry attribute as ``n`` floats; raises naming the file when it is missing."""
    raw = _value(ds, frame, sequence, keyword)
    values = as_list(raw)
    where = "" if frame is None else f" (frame {frame + 1})"
    if raw is None or raw == "":
        raise MRDeepReconError(f"missing geometry: no {keyword}{where}", ds.filename)
    numbers = [as_number(v) for v in values]
    if len(values) != n or None in numbers:
        raise MRDeepReconError(f"invalid {keyword} {values} (expected {n} numbers){where}", ds.filename)
    return np.asarray(numbers, dtype=np.float64)


def _rescale(ds: pydicom.Dataset, frame: int | None) -> tuple[float, float]:
    """(slope, intercept): the frame's Pixel Value Transformation group, else the top level;
    (1, 0) where absent."""
    source = ds
    if frame is not None:
        item = _functional_item(ds, frame, "PixelValueTransformationSequence")
        if item is not None and "RescaleSlope" in item:
            source = item
    out = []
    for keyword, default in (("RescaleSlope", 1.0), ("RescaleIntercept", 0.0)):
        value = source.get(keyword)
        number = default if value is None or value == "" else as_number(value)
        if number is None:
            raise MRDeepReconError(f"invalid {keyword} {value!r}", ds.filename)
        out.append(number)
    return out[0], out[1]


def _check_supported(ds: pydicom.Dataset) -> None:
    for keyword in ("Rows", "Columns"):
        value = ds.get(keyword)
        if value is None or value == "":
            raise MRDeepReconError(f"missing {keyword}", ds.filename)
        if not 0 < int(value) <= MAX_MATRIX:
            raise MRDeepReconError(
                f"implausible {keyword} {int(value)} (1 to {MAX_MATRIX} accepted)", ds.filename
            )
    if int(ds.get("SamplesPerPixel") or 1) != 1:
        raise MRDeepReconError("unsupported: colour images (SamplesPerPixel > 1)", ds.filename)
    if str(ds.get("PhotometricInterpretation", "MONOCHROME2")) == "MONOCHROME1":
        raise MRDeepReconError("unsupported: inverted grey scale (MONOCHROME1)", ds.filename)


def _slices(datasets: list[pydicom.Dataset]) -> list[_Slice]:
    slices = []
    for ds in datasets:
        _check_supported(ds)
        enhanced = any(
            k in ds for k in ("PerFrameFunctionalGroupsSequence", "SharedFunctionalGroupsSequence")
        )
        n_frames = _n_frames(ds)
        if not enhanced and n_frames > 1:
            raise MRDeepReconError(
                "missing geometry: multi-frame object without functional groups", ds.filename
            )
        for frame in range(n_frames) if enhanced else [None]:
            slope, intercept = _rescale(ds, frame)
            position = _required(ds, frame, "PlanePositionSequence", "ImagePositionPatient", 3)
            orientation = _required(
                ds, frame, "PlaneOrientationSequence", "ImageOrientationPatient", 6
            )
            spacing = _required(ds, frame, "PixelMeasuresSequence", "PixelSpacing", 2)
            if not np.all((spacing > 0) & (spacing <= MAX_SPACING_MM)):
                where = "" if frame is None else f" (frame {frame + 1})"
                raise MRDeepReconError(
                    f"invalid PixelSpacing {spacing.tolist()}{where} (above 0 and up to "
                    f"{MAX_SPACING_MM:g} mm accepted)",
                    ds.filename,
                )
            image_set = image_set_of(
                ds,
                None if frame is None else _functional_item(ds, frame, "MRImageFrameTypeSequence"),
                None if frame is None else _functional_item(ds, frame, "MREchoSequence"),
            )
            s = _Slice(
                ds, Path(ds.filename), frame, position, orientation, spacing, slope, intercept,
                image_set,
            )
            if frame is None and is_mosaic(ds):
                row, col, _ = _unit_axes(s)
                mosaic = mosaic_of(ds, position, row, col, spacing, _slice_distance(s))
                slices.extend(
                    replace(s, position=p, mosaic=mosaic, tile=t)
                    for t, p in enumerate(mosaic.positions)
                )
            else:
                slices.append(s)
    numbered = number_echoes([s.image_set for s in slices])
    return [replace(s, image_set=n) for s, n in zip(slices, numbered)]


def _select_image_set(
    slices: list[_Slice], echo: int | None, image_type: str | None, path: Path
) -> list[_Slice]:
    """The slices of the one image set chosen by ``echo`` (echo number) and ``image_type``
    (:meth:`ImageSet.matches`); raises listing the sets when the choice is missing or matches
    none."""
    chosen = [s for s in slices if s.image_set.chosen_by(echo, image_type)]
    sets = _count_image_sets([s.image_set for s in slices])
    listing = "; ".join(f"{s.describe()}: {n} images" for s, n in sets)
    if not chosen:
        asked = ", ".join(
            text
            for text in (
                None if echo is None else f"echo {echo}",
                None if image_type is None else f"image type {image_type!r}",
            )
            if text
        )
        raise MRDeepReconError(f"no images match {asked}; the series holds: {listing}", path)
    remaining = _count_image_sets([s.image_set for s in chosen])
    if len(remaining) > 1:
        raise MRDeepReconError(
            f"the series holds {len(remaining)} image sets; choose one with echo / image_type "
            f"(--echo N, --image-type TYPE): {listing}",
            path,
        )
    return chosen


def _unit_axes(s: _Slice) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit row cosine, column cosine and slice normal of a slice's IOP."""
    row, col = s.orientation[:3], s.orientation[3:]
    if (
        abs(np.linalg.norm(row) - 1) > 1e-3
        or abs(np.linalg.norm(col) - 1) > 1e-3
        or abs(row @ col) > 1e-3
    ):
        raise MRDeepReconError(
            f"invalid ImageOrientationPatient {s.orientation.tolist()}{s.where()}", s.path
        )
    row = row / np.linalg.norm(row)
    col = col / np.linalg.norm(col)
    normal = np.cross(row, col)
    return row, col, normal / np.linalg.norm(normal)


def _check_consistent(slices: list[_Slice]) -> None:
    first = slices[0]
    matrix = first.matrix
    for s in slices[1:]:
        here = s.matrix
        if here != matrix:
            raise MRDeepReconError(
                f"inconsistent matrix between slices: {matrix[0]}x{matrix[1]} and "
                f"{here[0]}x{here[1]}{s.where()}",
                s.path,
            )
        if np.max(np.abs(s.orientation - first.orientation)) > ORIENTATION_TOLERANCE:
            raise MRDeepReconError(
                f"inconsistent orientation between slices: {first.orientation.tolist()} and "
                f"{s.orientation.tolist()}{s.where()}",
                s.path,
            )
        if not np.allclose(s.pixel_spacing, first.pixel_spacing, rtol=PIXEL_SPACING_RTOL, atol=0):
            raise MRDeepReconError(
                f"inconsistent PixelSpacing between slices: {first.pixel_spacing.tolist()} and "
                f"{s.pixel_spacing.tolist()}{s.where()}",
                s.path,
            )


def _slice_distance(s: _Slice) -> float | None:
    """``SpacingBetweenSlices``, else ``SliceThickness`` (mm) of a slice; ``None`` if neither."""
    for keyword in ("SpacingBetweenSlices", "SliceThickness"):
        value = _value(s.dataset, s.frame, "PixelMeasuresSequence", keyword)
        if value is None and s.frame is not None:
            value = s.dataset.get(keyword)
        number = as_number(value)
        if number is not None and number > 0:
            return number
    return None


def _single_slice_spacing(s: _Slice) -> float:
    """The slice spacing of a one-slice volume: :func:`_slice_distance`, else 1 mm."""
    return _slice_distance(s) or 1.0


def _sort_and_measure(
    slices: list[_Slice], normal: np.ndarray, path: Path
) -> tuple[list[_Slice], float | None]:
    """Slices sorted along ``normal`` and the uniform slice distance (None for one slice)."""
    distances = np.array([s.position @ normal for s in slices])
    order = np.argsort(distances, kind="stable")
    slices = [slices[i] for i in order]
    distances = distances[order]
    if len(slices) == 1:
        return slices, None
    steps = np.diff(distances)
    duplicates = int(np.sum(steps < DUPLICATE_POSITION_MM))
    if duplicates:
        unique = len(slices) - duplicates
        volumes = (
            f"{len(slices) // unique} volumes of {unique} slices"
            if len(slices) % unique == 0
            else f"{len(slices)} images at only {unique} slice positions"
        )
        raise MRDeepReconError(
            f"4D series: {volumes} (dynamics, diffusion directions or temporal positions of one "
            "echo and image type); export a single 3D volume",
            path,
        )
    spacing = float((distances[-1] - distances[0]) / (len(slices) - 1))
    tolerance = POSITION_TOLERANCE_ABS_MM + POSITION_TOLERANCE_REL * spacing
    if np.max(np.abs(steps - spacing)) > tolerance:
        raise MRDeepReconError(
            f"non-uniform slice spacing: distances from {steps.min():.4g} to {steps.max():.4g} mm "
            "(missing slices or a mixed series)",
            path,
        )
    offsets = np.array([s.position - slices[0].position for s in slices])
    lateral = np.linalg.norm(offsets - np.outer(offsets @ normal, normal), axis=1)
    extent = distances[-1] - distances[0]
    if np.max(lateral) > POSITION_TOLERANCE_ABS_MM + POSITION_TOLERANCE_REL * extent:
        raise MRDeepReconError(
            "unsupported: slices are not stacked along their normal (gantry tilt or sheared stack)",
            path,
        )
    return slices, spacing


def _pixels(slices: list[_Slice]) -> np.ndarray:
    """Rescaled voxel values, float32, shape (slices, rows, columns)."""
    frames: dict[int, np.ndarray] = {}
    out = np.empty((len(slices),) + slices[0].matrix, np.float32)
    for k, s in enumerate(slices):
        key = id(s.dataset)
        if key not in frames:
            try:
                with warnings.catch_warnings():  # pydicom's doubts about the data: checked below
                    warnings.filterwarnings("ignore", module="pydicom")
                    array = s.dataset.pixel_array
            except Exception as exc:  # missing decoder plugins, truncated data, ...
                uid = s.dataset.file_meta.get("TransferSyntaxUID")
                syntax = f"{getattr(uid, 'name', 'unknown')} ({uid})"
                reason = one_line(exc, None)  # pydicom lists plugins line by line
                raise MRDeepReconError(
                    f"cannot decode pixel data of transfer syntax {syntax}: {reason}", s.path
                ) from exc
            shape = (_n_frames(s.dataset), int(s.dataset.Rows), int(s.dataset.Columns))
            if array.size != int(np.prod(shape)):
                raise MRDeepReconError(
                    f"the pixel data hold {array.size} values, not the {' x '.join(map(str, shape))} "
                    "(frames x rows x columns) of the header",
                    s.path,
                )
            frames[key] = array.reshape(shape)
        stored = frames[key][0 if s.frame is None else s.frame]
        if s.mosaic is not None:
            stored = s.mosaic.tile(stored, s.tile)  # type: ignore[arg-type]
        out[k] = stored.astype(np.float64) * s.slope + s.intercept
    return out


def read_dicom(
    path: str | Path,
    series_uid: str | None = None,
    echo: int | None = None,
    image_type: str | None = None,
) -> Volume:
    """Read one MR image series (one image set of it) from a DICOM file or folder.

    Args:
        path: a DICOM file, or a folder whose files (not sub-folders) hold the series.
        series_uid: the ``SeriesInstanceUID`` to read; required when the folder holds several
            image series.
        echo: the echo number to read; with ``image_type``, required when the series holds
            several image sets (:mod:`.dicom_image_type`).
        image_type: a component (:data:`~.dicom_image_type.COMPONENTS`) or an ``ImageType`` value
            from the third on (``M``, ``P``, ``M_FFE``, ``PHASE MAP``, Dixon ``W`` ...), any case.

    Returns:
        A :class:`Volume` with float32 ``data`` of shape ``(slices, Rows, Columns)``, exact LPS
        geometry (module docstring) and metadata ``source_path``, ``format`` (``"dicom"``),
        ``series_instance_uid``, ``study_instance_uid``, ``sop_instance_uids`` and
        ``frame_numbers`` (1-based frame of each sorted slice in its object),
        ``image_set`` (:class:`~.dicom_image_type.ImageSet`: echo, component, image type),
        ``image_sets_in_series`` (how many the series holds),
        ``series_description``,
        ``modality``, ``manufacturer``, ``scan_context`` (:class:`~mrdeeprecon.context.ScanContext`),
        ``dicom_header`` (the first sorted slice's object without pixel data) and
        ``skipped_files`` (paths of the folder's entries that are not DICOM files and were
        skipped: a caller tells the user, since a damaged slice file may be among them).

    Raises:
        MRDeepReconError: naming the file or folder and the problem (not DICOM, empty, no image
            series, several series without ``series_uid``, several image sets without ``echo``
            / ``image_type``, non-MR modality, missing or inconsistent geometry, 4D data,
            non-uniform spacing, NaN/Inf values, unsupported). Where files of the folder were
            skipped as not DICOM, the error says so and names them (a damaged slice file may be
            why a slice is missing).
    """
    path = Path(path)
    skipped: list[Path] = []
    datasets = _select_series(_group_by_series(_image_datasets(path, skipped)), series_uid, path)
    try:
        volume = _volume_of(datasets, path, echo, image_type)
        volume.metadata["skipped_files"] = [str(p) for p in skipped]
        return volume
    except MRDeepReconError as exc:
        if not skipped:
            raise
        names = ", ".join(p.name for p in skipped[:3]) + (", ..." if len(skipped) > 3 else "")
        raise MRDeepReconError(
            f"{exc.problem} ({len(skipped)} file(s) of the folder are not DICOM and were "
            f"skipped: {names})",
            exc.path,
        ) from None


def _volume_of(
    datasets: list[pydicom.Dataset], path: Path, echo: int | None, image_type: str | None
) -> Volume:
    """The volume of one series' image objects (:func:`read_dicom`)."""
    first = datasets[0]
    modality = str(first.get("Modality", ""))
    if modality != "MR":
        raise MRDeepReconError(f"modality {modality or '(missing)'} is not MR", first.filename)
    for ds in datasets:
        sop_class = ds.get("SOPClassUID")
        if str(sop_class or "") not in MR_IMAGE_SOP_CLASSES:
            name = getattr(sop_class, "name", None) or str(sop_class or "(missing)")
            raise MRDeepReconError(
                f"SOP class {name} is not an MR image object (MR Image or Enhanced MR Image "
                "Storage)",
                ds.filename,
            )

    all_slices = _slices(datasets)
    slices = _select_image_set(all_slices, echo, image_type, path)
    _check_consistent(slices)
    slices, slice_spacing = _sort_and_measure(slices, _unit_axes(slices[0])[2], path)
    head = slices[0]
    row, col, normal = _unit_axes(head)
    spacing_k = slice_spacing if slice_spacing is not None else _single_slice_spacing(head)

    data = _pixels(slices)
    if not np.all(np.isfinite(data)):
        raise MRDeepReconError("the pixel data contain NaN or infinite values", path)

    header = pydicom.dcmread(head.path, stop_before_pixels=True)
    if head.mosaic is not None:  # the header of one unpacked slice, not of the whole mosaic
        header.Rows, header.Columns = head.matrix
        header.ImagePositionPatient = [float(v) for v in head.position]
    metadata = {
        "source_path": str(path),
        "format": "dicom",
        "series_instance_uid": str(first.get("SeriesInstanceUID", "")),
        "study_instance_uid": str(first.get("StudyInstanceUID", "")),
        "sop_instance_uids": [str(s.dataset.get("SOPInstanceUID", "")) for s in slices],
        "frame_numbers": [1 if s.frame is None else s.frame + 1 for s in slices],
        "image_set": head.image_set,
        "image_sets_in_series": len(_count_image_sets([s.image_set for s in all_slices])),
        "series_description": str(first.get("SeriesDescription", "")),
        "modality": modality,
        "manufacturer": str(first.get("Manufacturer", "")),
        "scan_context": context_from_dicom(header, data.shape, slice_spacing=slice_spacing),
        "dicom_header": header,
    }
    return Volume(
        data=data,
        spacing=(float(head.pixel_spacing[1]), float(head.pixel_spacing[0]), spacing_k),
        origin=tuple(head.position),
        direction=np.column_stack([row, col, normal]),
        metadata=metadata,
    )
