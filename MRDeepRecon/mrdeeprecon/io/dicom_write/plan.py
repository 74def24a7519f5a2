"""The series plan: everything decided once for the whole derived series (UIDs, numbering,
description, stored pixels, slice positions, nearest source slices, window, thickness)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from pydicom.uid import generate_uid

from ...errors import MRDeepReconError
from ...volume import Volume
from ..dicom_context import find_attribute
from ..dicom_encoding import Quantised, format_ds, quantise
from ..dicom_values import as_list, as_number
from ..itk import ITK_SUFFIXES
from .checks import IS_MAX, LO_MAX, check_encodable
from .items import filled
from .options import DerivedSeriesOptions
from .original import original_description
from .source import SourceSeries

#: A second source slice is referenced too when it is no farther than the nearest one plus this
#: fraction of the source slice spacing (an output slice half-way between two source slices).
TIE_FRACTION = 1e-3


@dataclass
class SeriesPlan:
    """Everything decided once for the whole series.

    Attributes:
        volume: the enhanced volume (data ``(z, y, x)``, LPS mm geometry).
        source: its source series.
        options: as given.
        quantised: the stored 16-bit pixels ``(z, y, x)`` and their rescale.
        now: the series' creation time (local, with UTC offset).
        series_uid: the new SeriesInstanceUID.
        series_number: SeriesNumber (IS).
        description: SeriesDescription (LO).
        positions: ``(N, 3)`` LPS mm: ImagePositionPatient of output slice ``k`` (array axis 0).
        normal: unit slice normal (row × column direction), LPS.
        references: per output slice, the indices of its nearest sorted source slices.
        original: an ORIGINAL series (a reconstruction from raw k-space, :mod:`.original`)
            rather than a derived one.
    """

    volume: Volume
    source: SourceSeries
    options: DerivedSeriesOptions
    quantised: Quantised
    now: datetime
    series_uid: str
    series_number: str
    description: str
    positions: np.ndarray
    normal: np.ndarray
    references: list[list[int]]
    original: bool = False

    @property
    def n_slices(self) -> int:
        return self.volume.shape[0]

    def uid(self) -> str:
        """A new UID with the options' prefix."""
        return generate_uid(self.options.uid_prefix)

    def stored_pixels(self, k: int | slice) -> np.ndarray:
        """Stored pixels of slice(s) ``k`` (``(rows, columns)`` or ``(frames, rows, columns)``)
        as little-endian ``int16`` / ``uint16``."""
        return self.quantised.stored[k].astype("<i2" if self.quantised.signed else "<u2")


def enhancement_record(volume: Volume) -> dict[str, Any]:
    """``volume.metadata["enhancement"]`` (what :func:`mrdeeprecon.enhance` did); raises
    without one."""
    record = volume.metadata.get("enhancement")
    if not record:
        raise MRDeepReconError(
            "the volume has no enhancement record (metadata['enhancement']): "
            "write the result of mrdeeprecon.enhance()"
        )
    return record


def enhancement_factors(record: dict[str, Any]) -> tuple[float, list[float]]:
    """(noise reduction, super-resolution factors ordered frequency, phase, slice)."""
    return float(record["noise_reduction"]), [float(f) for f in record["super_resolution"]]


def window_values(plan: SeriesPlan) -> tuple[list[str], list[str], list[str]]:
    """(WindowCenter, WindowWidth, WindowCenterWidthExplanation) values as DS/LO strings: the
    source's (classic top level or enhanced Frame VOI LUT group), else the output's 1st–99th
    percentiles."""
    source = plan.source
    center = width = explanation = None
    if source.is_dicom:
        center = source.group_value("FrameVOILUTSequence", "WindowCenter")
        width = source.group_value("FrameVOILUTSequence", "WindowWidth")
        explanation = source.group_value("FrameVOILUTSequence", "WindowCenterWidthExplanation")
    centers_read = [as_number(c) for c in as_list(center)]
    widths_read = [as_number(w) for w in as_list(width)]
    if centers_read and None not in centers_read + widths_read and len(centers_read) == len(widths_read):
        centers = [format_ds(c) for c in centers_read]  # type: ignore[arg-type]
        widths = [format_ds(max(1.0, w)) for w in widths_read]  # type: ignore[type-var]
        if len(centers) == len(widths):
            explanations = [str(e) for e in as_list(explanation)] if explanation else []
            return centers, widths, explanations if len(explanations) == len(centers) else []
    low, high = np.percentile(plan.volume.data, [1.0, 99.0])
    return [format_ds((low + high) / 2)], [format_ds(max(1.0, float(high - low)))], []


def slice_thickness(plan: SeriesPlan) -> str:
    """SliceThickness (DS, mm): the source's nominal thickness, else the input's slice spacing
    (``spacing[2]`` × the slice super-resolution factor; ``spacing[2]`` for an ORIGINAL series)."""
    source = plan.source
    if source.is_dicom:
        thickness = as_number(source.group_value("PixelMeasuresSequence", "SliceThickness"))
        if thickness is not None and thickness > 0:
            return format_ds(thickness)
    if plan.original:
        return format_ds(plan.volume.spacing[2])
    _, sr = enhancement_factors(enhancement_record(plan.volume))
    return format_ds(plan.volume.spacing[2] * sr[2])


def _source_name(volume: Volume, source: SourceSeries) -> str:
    if source.is_dicom:
        return str(volume.metadata.get("series_description") or "")
    if source.path is None:
        return ""
    name = source.path.name
    for suffix in ITK_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return source.path.stem


def _default_description(volume: Volume, source: SourceSeries, options: DerivedSeriesOptions) -> str:
    nr, sr = enhancement_factors(enhancement_record(volume))
    suffix = f" DLR NR{nr:g} SR{'x'.join(f'{f:g}' for f in sr)}"
    image_set = volume.metadata.get("image_set")
    if image_set is not None and volume.metadata.get("image_sets_in_series", 1) > 1:
        suffix = f" E{image_set.echo_number}{suffix}" if image_set.echo_number else suffix
    base = _source_name(volume, source)
    if options.research_placeholder:
        base = f"RESEARCH {base}".strip()
    base = re.sub(r"[\\\x00-\x1f]", " ", base)
    return (base[: LO_MAX - len(suffix)].rstrip() + suffix).strip()


def _nearest_source_slices(
    volume: Volume, source: SourceSeries, normal: np.ndarray, positions: np.ndarray
) -> list[list[int]]:
    """Per output slice, the index (into the sorted source slices) of the nearest source slice
    along ``normal``, and of a second one at a tie.

    Source slice ``s`` lies at ``d0 + s · step`` along the normal, where ``d0`` is the first
    sorted source slice's position and ``step`` keeps the field of view of the output
    (``enhance`` keeps it: ``n_source · step = n_output · spacing[2]``).
    """
    if not source.is_dicom:
        return [[] for _ in positions]
    n_source = len(source.sop_instance_uids)
    first = source.group_value("PlanePositionSequence", "ImagePositionPatient")
    d0 = float(np.asarray([float(v) for v in first]) @ normal)
    step = volume.shape[0] * volume.spacing[2] / n_source
    references = []
    for position in positions:
        continuous = (position @ normal - d0) / step
        bounds = np.array([np.floor(continuous), np.ceil(continuous)])
        candidates = np.clip(bounds, 0, n_source - 1).astype(int)
        distances = np.abs(candidates - continuous)
        tied = candidates[distances <= distances.min() + TIE_FRACTION]
        references.append(sorted({int(c) for c in tied}))
    return references


def _series_number(source: SourceSeries, options: DerivedSeriesOptions) -> str:
    """Source SeriesNumber (0 without one) + the offset."""
    number = options.series_number_offset
    if source.header is not None and filled(source.header.get("SeriesNumber")):
        number += int(source.header.SeriesNumber)
    if number > IS_MAX:
        raise MRDeepReconError(f"series number {number} exceeds the largest DICOM IS value")
    return str(number)


def _identity_rescale(source: SourceSeries) -> bool:
    """Whether a DICOM source stores its values as they are: integer pixels of at most 16 bits
    (no float pixel data), RescaleSlope 1 (or none) and RescaleIntercept 0 (or none), top level
    or functional groups."""
    if not source.is_dicom:
        return False
    header = source.header
    assert header is not None
    slope = find_attribute(header, "RescaleSlope")
    intercept = find_attribute(header, "RescaleIntercept")
    return (
        int(header.get("BitsAllocated") or 16) <= 16
        and float(slope if slope is not None else 1) == 1
        and float(intercept or 0) == 0
    )


def plan_series(
    volume: Volume, source: SourceSeries, options: DerivedSeriesOptions, original: bool = False
) -> SeriesPlan:
    """Decide the series (derived, or ``original``: a reconstruction from raw k-space):
    description (checked against the source's character set), stored pixels, time, UID, number,
    slice positions ``ijk_to_lps() @ (0, 0, k, 1)`` and the nearest source slices."""
    description = options.series_description
    if description is None and original:
        description = original_description(volume, options.research_placeholder)
    elif description is None:
        description = _default_description(volume, source, options)
    matrix = volume.ijk_to_lps()
    k = np.arange(volume.shape[0], dtype=np.float64)
    positions = (matrix[:3, 3][None, :] + np.outer(k, matrix[:3, 2])).astype(np.float64)
    normal = np.cross(volume.direction[:, 0], volume.direction[:, 1])
    normal /= np.linalg.norm(normal)
    if source.is_dicom:
        check_encodable(source.header, description, "series description")  # type: ignore[arg-type]
    return SeriesPlan(
        volume=volume,
        source=source,
        options=options,
        quantised=quantise(volume.data, whole_numbers=_identity_rescale(source)),
        now=datetime.now().astimezone(),
        series_uid=generate_uid(options.uid_prefix),
        series_number=_series_number(source, options),
        description=description,
        positions=positions,
        normal=normal,
        references=_nearest_source_slices(volume, source, normal, positions),
        original=original,
    )
