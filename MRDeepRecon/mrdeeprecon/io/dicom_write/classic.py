"""The classic writer: *MR Image Storage*, one file per slice (``0001.dcm``, ... in slice
order); an enhanced source's functional groups become classic MR attributes."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset

from ...progress import CancelToken, ProgressCallback, check, report
from ..dicom import MR_IMAGE_STORAGE
from ..dicom_context import find_attribute
from ..dicom_encoding import format_ds
from ..dicom_values import as_list, as_number
from .derivation import add_derivation, source_image_sequence
from .header import base_header, write_instance
from .iod_keywords import (
    CLASSIC_MR_IMAGE_FLAVOURS,
    ENHANCED_ONLY_KEYWORDS,
    MR_GROUP_MAP,
    ORIGINAL_ONLY_KEYWORDS,
)
from .items import filled
from .original import ORIGINAL_IMAGE_TYPE, add_acquisition
from .plan import SeriesPlan, slice_thickness, window_values
from .pulse_sequence import scan_options, scanning_sequence, sequence_variant
from .source import SourceSeries


def _classic_value(keyword: str, value: Any) -> Any:
    """A functional-group value in the VR of the classic attribute ``keyword`` (FD → DS,
    US → IS)."""
    vr = dictionary_VR(keyword)
    if vr == "DS":
        return format_ds(float(value))
    if vr == "IS":
        return str(int(float(value)))
    return value


def _classic_from_enhanced(ds: Dataset, source: SourceSeries) -> None:
    """Classic MR Image attributes from an enhanced source's functional groups."""
    for classic, sequence, keyword in MR_GROUP_MAP:
        value = source.group_value(sequence, keyword)
        if filled(value):
            setattr(ds, classic, _classic_value(classic, value))
    if ds.get("InPlanePhaseEncodingDirection") == "COLUMN":
        ds.InPlanePhaseEncodingDirection = "COL"
    ds.ScanningSequence = scanning_sequence(source)
    ds.SequenceVariant = sequence_variant(source)
    ds.ScanOptions = scan_options(source)
    name = source.group_value("", "PulseSequenceName")
    if filled(name):
        ds.SequenceName = str(name)
    nucleus = source.group_value("", "ResonantNucleus")
    if filled(nucleus):
        ds.ImagedNucleus = str(nucleus)
    inversion_times = source.group_value("MRModifierSequence", "InversionTimes")
    if "IR" not in ds.ScanningSequence:
        ds.pop("InversionTime", None)  # the classic IOD allows it only with IR
    elif as_number(next(iter(as_list(inversion_times)), None)) is not None:
        ds.InversionTime = format_ds(as_number(as_list(inversion_times)[0]))  # type: ignore[arg-type]
    frequency_steps = source.group_value(
        "MRFOVGeometrySequence", "MRAcquisitionFrequencyEncodingSteps"
    )
    phase_steps = source.group_value(
        "MRFOVGeometrySequence", "MRAcquisitionPhaseEncodingStepsInPlane"
    )
    direction = ds.get("InPlanePhaseEncodingDirection")
    if filled(frequency_steps) and filled(phase_steps) and direction in ("ROW", "COL"):
        f, p = int(frequency_steps), int(phase_steps)
        ds.AcquisitionMatrix = [0, f, p, 0] if direction == "ROW" else [f, 0, 0, p]
    acquired = str(ds.get("AcquisitionDateTime", ""))
    if len(acquired) >= 8:
        ds.AcquisitionDate = acquired[:8]
        if len(acquired) > 8:
            ds.AcquisitionTime = acquired[8:].split("+")[0].split("-")[0]


def _classic_image_type(source: SourceSeries) -> list[str]:
    """DERIVED\\SECONDARY plus the source's value 3 (the image flavour), else OTHER (the MR
    Image module requires a value 3). An enhanced source's flavour (``T1``, ``PROTON_DENSITY``
    ...) is not a classic MR term (:data:`~.iod_keywords.CLASSIC_MR_IMAGE_FLAVOURS`): OTHER
    then."""
    values = as_list(source.header.get("ImageType", [])) if source.is_dicom else []  # type: ignore[union-attr]
    flavour = str(values[2]) if len(values) > 2 and values[2] else "OTHER"
    if source.is_enhanced and flavour not in CLASSIC_MR_IMAGE_FLAVOURS:
        flavour = "OTHER"
    return ["DERIVED", "SECONDARY", flavour]


def _classic_base(plan: SeriesPlan) -> Dataset:
    """The header every slice file shares (everything but identity, position and pixels)."""
    source = plan.source
    ds = base_header(plan)
    if source.is_enhanced:
        _classic_from_enhanced(ds, source)
        for keyword in (*ENHANCED_ONLY_KEYWORDS, *ORIGINAL_ONLY_KEYWORDS):
            if keyword != "MRAcquisitionType":  # also a classic MR Image attribute
                ds.pop(keyword, None)
    elif not source.is_dicom:
        ds.ScanningSequence = "RM"  # research mode: the sequence is unknown
        ds.SequenceVariant = "NONE"
        ds.RepetitionTime = ""  # type 2C (required unless EP or SK): unknown
    if not str(ds.get("BodyPartExamined") or "").strip() and "Laterality" not in ds:
        # type 2C, required without BodyPartExamined: an enhanced source's FrameLaterality where
        # it names a side, else empty (unknown)
        side = str(find_attribute(source.header, "FrameLaterality") or "") if source.is_enhanced else ""
        ds.Laterality = side if side in ("L", "R") else ""
    for keyword in ("ScanOptions", "MRAcquisitionType", "EchoTime", "EchoTrainLength"):
        if keyword not in ds:  # type 2 attributes of the MR Image module: empty = unknown
            setattr(ds, keyword, "")
    ds.SOPClassUID = MR_IMAGE_STORAGE
    if plan.original:
        ds.ImageType = list(ORIGINAL_IMAGE_TYPE)
        add_acquisition(ds, plan.volume)
    else:
        ds.ImageType = _classic_image_type(source)
        add_derivation(ds, plan.volume)
    volume = plan.volume
    ds.ImageOrientationPatient = [
        format_ds(v) for v in np.concatenate([volume.direction[:, 0], volume.direction[:, 1]])
    ]
    ds.PixelSpacing = [format_ds(volume.spacing[1]), format_ds(volume.spacing[0])]
    ds.SliceThickness = slice_thickness(plan)
    ds.SpacingBetweenSlices = format_ds(volume.spacing[2])
    if plan.quantised.slope_ds != "1" or plan.quantised.intercept_ds != "0":
        ds.RescaleIntercept = plan.quantised.intercept_ds  # not in the MR IOD, but the only
        ds.RescaleSlope = plan.quantised.slope_ds  # way classic MR says what a stored value is
        ds.RescaleType = "US"
    centers, widths, explanations = window_values(plan)
    ds.WindowCenter, ds.WindowWidth = centers, widths
    if explanations:
        ds.WindowCenterWidthExplanation = explanations
    return ds


def write_classic(
    plan: SeriesPlan, folder: Path, progress: ProgressCallback | None, cancel: CancelToken | None
) -> tuple[list[Path], list[str]]:
    """Write one MR Image file per slice into ``folder``; (files, SOPInstanceUIDs) in slice
    order. ``progress`` is called once per slice; ``cancel`` is checked before each."""
    base = _classic_base(plan)
    digits = max(4, len(str(plan.n_slices)))
    files, uids = [], []
    for k in range(plan.n_slices):
        check(cancel)
        ds = copy.deepcopy(base)
        ds.SOPInstanceUID = plan.uid()
        ds.InstanceNumber = str(k + 1)
        ds.ImagePositionPatient = [format_ds(v) for v in plan.positions[k]]
        ds.SliceLocation = format_ds(float(plan.positions[k] @ plan.normal))
        if plan.source.is_dicom:
            ds.SourceImageSequence = source_image_sequence(plan, k)
        path = folder / f"{k + 1:0{digits}d}.dcm"
        write_instance(ds, plan.stored_pixels(k), path)
        files.append(path)
        uids.append(ds.SOPInstanceUID)
        report(progress, (k + 1) / plan.n_slices, f"slice {k + 1}/{plan.n_slices}")
    return files, uids
