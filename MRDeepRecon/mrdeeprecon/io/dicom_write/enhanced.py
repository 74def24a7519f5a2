"""The Enhanced MR writer: one *Enhanced MR Image Storage* multi-frame file ``0001.dcm``: a
shared functional group for the whole volume (one 3D stack) and one per-frame item per slice; a
classic source's MR attributes become functional groups."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.sr.coding import Code
from pydicom.sr.codedict import Collection, codes

from ...progress import CancelToken, ProgressCallback, check, report
from ..dicom import ENHANCED_MR_IMAGE_STORAGE
from ..dicom_encoding import format_ds
from ..dicom_values import as_list
from .derivation import add_derivation, referenced_series, source_image_sequence
from .header import base_header, remove_unsafe, write_instance
from .iod_keywords import (
    CLASSIC_ONLY_KEYWORDS,
    CLASSIC_TIMING_KEYWORDS,
    ENHANCED_EQUIPMENT,
    ORIGINAL_ONLY_KEYWORDS,
    REBUILT_GROUPS,
)
from .items import code_item, filled, item
from .plan import SeriesPlan, enhancement_factors, enhancement_record, slice_thickness, window_values
from .source import SourceSeries

#: Frame Anatomy of an enhanced output when the source names no body part we can code.
CODE_UNKNOWN_ANATOMY = codes.SCT.Unknown
#: Enhanced MR requires ApplicableSafetyStandardAgency; a source without one gets this value
#: together with a description saying it was assumed.
ASSUMED_SAFETY_AGENCY = "IEC"
ASSUMED_SAFETY_DESCRIPTION = "IEC 60601-2-33 assumed: not recorded in the source"


def _pop_filled(ds: Dataset, *keywords: str) -> list[Any] | None:
    """The values of ``keywords`` (removed from ``ds``) when all are present and non-empty,
    else ``None`` (and ``ds`` unchanged)."""
    values = [ds.get(keyword) for keyword in keywords]
    if not all(filled(v) for v in values):
        return None
    for keyword in keywords:
        delattr(ds, keyword)
    return values


def _timing_from_classic(ds: Dataset) -> Dataset | None:
    """MR Timing and Related Parameters item holding the classic header's filled
    :data:`~.iod_keywords.CLASSIC_TIMING_KEYWORDS` (RepetitionTime, FlipAngle, EchoTrainLength,
    RF / gradient echo train lengths: the same tags and values); all of them leave the top level.
    ``None`` when the header has none of them filled.

    The macro's attributes are type 1C, required only in ORIGINAL frames (PS3.3 C.8.13.5.2), so
    what the source lacks (for a classic header always SpecificAbsorptionRateSequence and
    OperatingModeSequence, usually the RF / gradient echo train lengths) is left out rather than
    invented; our frames are DERIVED. dciodvfy requires them whenever the macro is present (its
    template cannot test the frame type), so it reports each left-out one as missing."""
    timing = Dataset()
    for keyword in CLASSIC_TIMING_KEYWORDS:
        if keyword not in ds:
            continue
        element = ds[keyword]
        del ds[keyword]
        if filled(element.value):
            timing.add(element)
    return timing if len(timing) else None


def _groups_from_classic(ds: Dataset) -> list[tuple[str, Dataset]]:
    """The MR functional groups a classic header fills: MR Timing and Related Parameters
    (:func:`_timing_from_classic`), MR Echo, MR Averages and MR FOV/Geometry; their classic
    attributes leave the top level. The output is one 3D volume and the reader records the
    first sorted source slice's header, so all of them go into the shared functional group."""
    groups = []
    timing = _timing_from_classic(ds)
    if timing is not None:
        groups.append(("MRTimingAndRelatedParametersSequence", timing))
    echo = _pop_filled(ds, "EchoTime")
    if echo:
        groups.append(("MREchoSequence", item(EffectiveEchoTime=float(echo[0]))))
    averages = _pop_filled(ds, "NumberOfAverages")
    if averages:
        groups.append(("MRAveragesSequence", item(NumberOfAverages=format_ds(float(averages[0])))))
    matrix = [int(v) for v in as_list(ds.get("AcquisitionMatrix") or [])]
    direction = ds.get("InPlanePhaseEncodingDirection")
    if len(matrix) == 4 and direction in ("ROW", "COL"):
        fov = _pop_filled(
            ds,
            "InPlanePhaseEncodingDirection",
            "AcquisitionMatrix",
            "PercentSampling",
            "PercentPhaseFieldOfView",
        )
        if fov:
            frequency, phase = (
                (matrix[1], matrix[2]) if direction == "ROW" else (matrix[0], matrix[3])
            )
            geometry = Dataset()
            geometry.InPlanePhaseEncodingDirection = "ROW" if direction == "ROW" else "COLUMN"
            geometry.MRAcquisitionFrequencyEncodingSteps = frequency
            geometry.MRAcquisitionPhaseEncodingStepsInPlane = phase
            geometry.PercentSampling = format_ds(float(fov[2]))
            geometry.PercentPhaseFieldOfView = format_ds(float(fov[3]))
            groups.append(("MRFOVGeometrySequence", geometry))
    return groups


@functools.cache
def _anatomy_codes() -> dict[str, Code]:
    """CID 4030 (CT, MR and PET Anatomy Imaged) by code meaning in BodyPartExamined style
    (upper case, no spaces: ``"BRAIN"``, ``"CERVICALSPINE"``)."""
    collection = Collection("CID4030")
    concepts = (getattr(collection, name) for name in collection.dir())
    return {code.meaning.upper().replace(" ", ""): code for code in concepts}


def _frame_anatomy(header: Dataset | None) -> Dataset:
    """Frame Anatomy item from a classic header: its AnatomicRegionSequence, else its
    BodyPartExamined coded through CID 4030, else SCT "Unknown"; laterality from
    (Image)Laterality, else ``U`` (the only value that does not claim a side)."""
    anatomy = Dataset()
    regions = header.get("AnatomicRegionSequence") if header is not None else None
    if regions:
        region = copy.deepcopy(regions[0])
    else:
        body_part = str(header.get("BodyPartExamined", "")) if header is not None else ""
        region = code_item(_anatomy_codes().get(body_part.replace(" ", ""), CODE_UNKNOWN_ANATOMY))
    anatomy.AnatomicRegionSequence = Sequence([region])
    laterality = ""
    if header is not None:
        laterality = str(header.get("ImageLaterality") or header.get("Laterality") or "")
    anatomy.FrameLaterality = laterality if laterality in ("R", "L", "B", "U") else "U"
    return anatomy


#: Image/frame description attributes of an enhanced output and their values when the source
#: is not an enhanced object (the engine works on magnitude images; the contrast is unknown).
FRAME_DESCRIPTION_DEFAULTS = {
    "PixelPresentation": "MONOCHROME",
    "VolumetricProperties": "VOLUME",
    "VolumeBasedCalculationTechnique": "NONE",
    "ComplexImageComponent": "MAGNITUDE",
    "AcquisitionContrast": "UNKNOWN",
}


def _frame_type_item(plan: SeriesPlan) -> Dataset:
    """MR Image Frame Type item: DERIVED\\PRIMARY\\<flavour>\\<derived pixel contrast>
    (flavour: the enhanced source's, else VOLUME) and the frame description attributes."""
    source = plan.source

    def from_source(keyword: str) -> Any:
        if not source.is_enhanced:
            return None
        return source.group_value("MRImageFrameTypeSequence", keyword)

    frame_type = as_list(from_source("FrameType") or [])
    flavour = str(frame_type[2]) if len(frame_type) > 2 and frame_type[2] else "VOLUME"
    _, sr = enhancement_factors(enhancement_record(plan.volume))
    # Value 4, derived pixel contrast: denoising keeps the contrast (NONE); a refined grid is
    # RESAMPLED. The filtering itself is in DerivationCodeSequence.
    contrast = "RESAMPLED" if any(f > 1.0 for f in sr) else "NONE"
    frame_type_item = Dataset()
    frame_type_item.FrameType = ["DERIVED", "PRIMARY", flavour, contrast]
    for keyword, default in FRAME_DESCRIPTION_DEFAULTS.items():
        found = from_source(keyword)
        setattr(frame_type_item, keyword, str(found) if filled(found) else default)
    return frame_type_item


def _copied_groups(source: SourceSeries) -> list[tuple[str, Dataset]]:
    """The enhanced source's shared groups and its first sorted frame's per-frame groups,
    except the rebuilt ones; all go into the output's shared group (the output is one 3D
    volume, so per-frame acquisition values are the same for every frame)."""
    assert source.header is not None and source.frame is not None
    groups: list[tuple[str, Dataset]] = []
    for keyword, index in (
        ("SharedFunctionalGroupsSequence", 0),
        ("PerFrameFunctionalGroupsSequence", source.frame),
    ):
        container = source.header.get(keyword)
        if not container or len(container) <= index:
            continue
        for element in container[index]:
            wanted = (
                element.VR == "SQ"
                and element.keyword
                and not element.tag.is_private
                and element.keyword not in REBUILT_GROUPS
                and element.keyword not in (name for name, _ in groups)
                and element.value
            )
            if wanted:
                group = copy.deepcopy(element.value[0])
                remove_unsafe(group)
                groups.append((element.keyword, group))
    return groups


def _dimensions(ds: Dataset, plan: SeriesPlan) -> None:
    """Dimension Organization (3D, one new UID) indexed by StackID and InStackPositionNumber
    of the Frame Content group."""
    organization = plan.uid()
    ds.DimensionOrganizationSequence = Sequence([item(DimensionOrganizationUID=organization)])
    ds.DimensionOrganizationType = "3D"
    pointers = (("StackID", "Stack ID"), ("InStackPositionNumber", "In-Stack Position Number"))
    index_items = []
    for keyword, label in pointers:
        index_item = Dataset()
        index_item.DimensionOrganizationUID = organization
        index_item.DimensionIndexPointer = pydicom.tag.Tag(keyword)
        index_item.FunctionalGroupPointer = pydicom.tag.Tag("FrameContentSequence")
        index_item.DimensionDescriptionLabel = label
        index_items.append(index_item)
    ds.DimensionIndexSequence = Sequence(index_items)


def _enhanced_base(plan: SeriesPlan) -> tuple[Dataset, Dataset]:
    """The top level and the shared functional group item of the multi-frame object."""
    source = plan.source
    ds = base_header(plan)
    volume = plan.volume
    if source.is_enhanced:
        groups = _copied_groups(source)
    elif source.is_dicom:
        groups = _groups_from_classic(ds)
        if "ImagedNucleus" in ds:
            ds.ResonantNucleus = ds.ImagedNucleus
            del ds.ImagedNucleus
        if "AcquisitionDate" in ds and "AcquisitionTime" in ds and "AcquisitionDateTime" not in ds:
            ds.AcquisitionDateTime = f"{ds.AcquisitionDate}{ds.AcquisitionTime}"
        for keyword in CLASSIC_ONLY_KEYWORDS:
            ds.pop(keyword, None)
    else:
        groups = []
    if "FrameAnatomySequence" not in (name for name, _ in groups):
        groups.append(("FrameAnatomySequence", _frame_anatomy(source.header)))
    for keyword in ORIGINAL_ONLY_KEYWORDS:
        ds.pop(keyword, None)
    for keyword in ENHANCED_EQUIPMENT:
        if not filled(ds.get(keyword)):
            setattr(ds, keyword, "UNKNOWN")
    if not filled(ds.get("ApplicableSafetyStandardAgency")):
        ds.ApplicableSafetyStandardAgency = ASSUMED_SAFETY_AGENCY
        ds.ApplicableSafetyStandardDescription = ASSUMED_SAFETY_DESCRIPTION
    ds.SOPClassUID = ENHANCED_MR_IMAGE_STORAGE
    ds.InstanceNumber = "1"
    ds.PresentationLUTShape = "IDENTITY"
    ds.ContentQualification = "RESEARCH"
    ds.AcquisitionContextSequence = ds.get("AcquisitionContextSequence") or Sequence()
    if "LossyImageCompression" not in ds:
        ds.LossyImageCompression = "00"
    frame_type = _frame_type_item(plan)
    ds.ImageType = list(frame_type.FrameType)
    for keyword in FRAME_DESCRIPTION_DEFAULTS:
        setattr(ds, keyword, frame_type[keyword].value)
    _dimensions(ds, plan)
    if source.is_dicom:
        ds.SourceImageEvidenceSequence = Sequence(
            [
                item(
                    StudyInstanceUID=str(source.header.StudyInstanceUID),  # type: ignore[union-attr]
                    ReferencedSeriesSequence=referenced_series(plan, "ReferencedSOPSequence"),
                )
            ]
        )

    shared = Dataset()
    measures = Dataset()
    measures.PixelSpacing = [format_ds(volume.spacing[1]), format_ds(volume.spacing[0])]
    measures.SliceThickness = slice_thickness(plan)
    measures.SpacingBetweenSlices = format_ds(volume.spacing[2])
    shared.PixelMeasuresSequence = Sequence([measures])
    orientation = [
        format_ds(v) for v in np.concatenate([volume.direction[:, 0], volume.direction[:, 1]])
    ]
    shared.PlaneOrientationSequence = Sequence([item(ImageOrientationPatient=orientation)])
    shared.PixelValueTransformationSequence = Sequence(
        [
            item(
                RescaleIntercept=plan.quantised.intercept_ds,
                RescaleSlope=plan.quantised.slope_ds,
                RescaleType="US",
            )
        ]
    )
    centers, widths, explanations = window_values(plan)
    voi = item(WindowCenter=centers, WindowWidth=widths)
    if explanations:
        voi.WindowCenterWidthExplanation = explanations
    shared.FrameVOILUTSequence = Sequence([voi])
    shared.MRImageFrameTypeSequence = Sequence([frame_type])
    for keyword, group in groups:
        setattr(shared, keyword, Sequence([group]))
    return ds, shared


def _frame_item(plan: SeriesPlan, k: int, derivation: Dataset | None) -> Dataset:
    """Per-frame functional groups of output slice ``k``: Frame Content (stack 1, position
    ``k + 1``), Plane Position and, for a DICOM source, Derivation Image with its source
    slices."""
    frame = Dataset()
    content = Dataset()
    content.StackID = "1"
    content.InStackPositionNumber = k + 1
    content.DimensionIndexValues = [1, k + 1]
    frame.FrameContentSequence = Sequence([content])
    frame.PlanePositionSequence = Sequence(
        [item(ImagePositionPatient=[format_ds(v) for v in plan.positions[k]])]
    )
    if derivation is not None:
        frame_derivation = copy.deepcopy(derivation)
        frame_derivation.SourceImageSequence = source_image_sequence(plan, k)
        frame.DerivationImageSequence = Sequence([frame_derivation])
    return frame


def write_enhanced(
    plan: SeriesPlan, folder: Path, progress: ProgressCallback | None, cancel: CancelToken | None
) -> tuple[list[Path], list[str]]:
    """Write the one Enhanced MR file ``0001.dcm`` into ``folder``; ([file], [SOPInstanceUID]).
    ``progress`` is called once per frame (to 0.9) and at the end; ``cancel`` is checked before
    each frame and before writing."""
    ds, shared = _enhanced_base(plan)
    derivation = None
    if plan.source.is_dicom:
        derivation = Dataset()
        add_derivation(derivation, plan.volume)
    frames = []
    for k in range(plan.n_slices):
        check(cancel)
        frames.append(_frame_item(plan, k, derivation))
        report(progress, 0.9 * (k + 1) / plan.n_slices, f"frame {k + 1}/{plan.n_slices}")
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    ds.SOPInstanceUID = plan.uid()
    check(cancel)
    path = folder / "0001.dcm"
    write_instance(ds, plan.stored_pixels(slice(None)), path)
    report(progress, 1.0, "written")
    return [path], [ds.SOPInstanceUID]


