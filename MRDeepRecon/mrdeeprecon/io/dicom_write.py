"""Write an enhanced volume as a new, derived DICOM MR series.

Input: the result of :func:`mrdeeprecon.enhance` (float32 ``data`` of shape ``(z, y, x)`` =
``(slice, row, column)``, LPS millimetre geometry, see :mod:`mrdeeprecon.volume`). For DICOM
input its metadata still holds what :func:`~mrdeeprecon.io.dicom.read_dicom` recorded about the
source (``dicom_header``, ``sop_instance_uids``, ``frame_numbers``, ...), plus ``enhancement``.

Output (:func:`write_derived_series`), one of

* classic *MR Image Storage*: one file per slice, ``0001.dcm``, ``0002.dcm``, ... in slice order;
* *Enhanced MR Image Storage*: one multi-frame file ``0001.dcm``.

Kept from the source header (the first sorted source slice): patient, study, frame of reference,
equipment and acquisition attributes. Between the two IODs the acquisition values are mapped:

* enhanced source → classic: EchoTime, RepetitionTime, FlipAngle, InversionTime (only with IR),
  PixelBandwidth, coils, ... from the functional groups; ScanningSequence, SequenceVariant and
  ScanOptions derived from the MR Pulse Sequence / MR Modifier attributes (``RM`` and ``NONE``
  when nothing applies).
* classic source → enhanced: the MR Echo, MR Averages and MR FOV/Geometry groups, which a classic
  header fills completely; the other classic acquisition attributes (TR, flip angle, ...) stay at
  the top level, because their groups would need values a classic header lacks. Frame Anatomy
  comes from AnatomicRegionSequence, else BodyPartExamined coded through CID 4030, else SCT
  "Unknown"; ApplicableSafetyStandardAgency, required by Enhanced MR, is ``IEC`` with a
  description saying it was assumed when the source has none.
* enhanced output in general: ImageType/FrameType ``DERIVED\\PRIMARY\\<flavour>\\NONE`` (denoised)
  or ``...\\RESAMPLED`` (super-resolved), ContentQualification ``RESEARCH``. The MR Pulse Sequence
  and Bulk Motion Synchronization modules are left out: dciodvfy accepts them only in ORIGINAL
  images (the classic output keeps them as ScanningSequence etc.).

New: SeriesInstanceUID and SOPInstanceUIDs (``generate_uid(uid_prefix)``), SeriesNumber (source +
offset), SeriesDescription, series/content dates, ImageType ``DERIVED``, DerivationDescription and
DerivationCodeSequence (Smoothing; Spatial resampling with super-resolution), SourceImageSequence
(per slice the nearest source slice(s) along the normal, with ReferencedFrameNumber for an
enhanced source), ReferencedSeriesSequence, ContributingEquipmentSequence (MRDeepRecon as
*Modifying Equipment*). BurnedInAnnotation is ``NO`` unless the source says ``YES``.
Dropped: whatever described the source pixels or instances: private tags, overlays, curves, icon
images, localizer and raw-data references, source UIDs, pixel statistics, Real World Value
Mapping, group lengths, an empty ``Laterality`` (a classic series without ``BodyPartExamined``
gets an empty one back: type 2C, required then).

Geometry: slice ``k`` lies at ``ImagePositionPatient = volume.ijk_to_lps() @ (0, 0, k, 1)``;
``ImageOrientationPatient`` = (``direction[:, 0]``, ``direction[:, 1]``), ``PixelSpacing`` =
(``spacing[1]``, ``spacing[0]``) = (row spacing, column spacing), ``SpacingBetweenSlices`` =
``spacing[2]``, ``SliceLocation`` = position along ``row × column``. ``SliceThickness`` is the
source's nominal (acquired) thickness: super-resolution refines the sampling grid, it does not
change the excitation profile that was measured; without a source thickness it is the input's
slice spacing (``spacing[2]`` × the slice super-resolution factor). A volume whose ``direction``
is left-handed is written in its own slice order; DICOM readers, which sort along
``row × column``, then read it with the slice axis reversed (same voxels in space).

Pixels: 16 bit with a zero-preserving rescale (:mod:`~mrdeeprecon.io.dicom_encoding`; uint16 when
no value is negative, else int16); RescaleType ``US``. A source that stores plain integers (no
rescale, or slope 1 and intercept 0) keeps that scale where the range fits: whole numbers, and no
rescale attributes in a classic series (the MR IOD has none). Window centre/width come from the source
(classic top level, or the enhanced Frame VOI LUT group), else from the output's 1st–99th
percentiles.

NIfTI/NRRD input has no patient: :class:`PatientStudy` or a research placeholder is required, and
a complete MR header is made from scratch (new study and frame of reference, Manufacturer
``MRDeepRecon``, ScanningSequence ``RM``, unknown type-2 values left empty).

The series is written into a hidden temporary folder beside ``out_dir`` and renamed to
``out_dir`` at the end; any error or cancellation removes the temporary folder. Nothing is ever
written into the source folder.
"""

from __future__ import annotations

import copy
import functools
import importlib
import importlib.metadata
import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.charset import convert_encodings
from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.sr.coding import Code
from pydicom.sr.codedict import Collection, codes
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, ExplicitVRLittleEndian, generate_uid

from ..errors import MRDeepReconError
from ..progress import CancelToken, ProgressCallback, check, report
from ..volume import Volume
from .dicom import ENHANCED_MR_IMAGE_STORAGE, MR_IMAGE_STORAGE, _functional_item
from .dicom_context import find_attribute
from .dicom_encoding import Quantised, format_ds, quantise
from .dicom_values import as_list, as_number
from .itk import ITK_SUFFIXES

RESEARCH_PATIENT_NAME = "RESEARCH^PLACEHOLDER"
RESEARCH_PATIENT_ID = "MRDEEPRECON-RESEARCH"
EQUIPMENT_NAME = "MRDeepRecon"
#: Longest LO value (SeriesDescription, PatientID, ...), characters.
LO_MAX = 64
#: Largest IS value (SeriesNumber).
IS_MAX = 2**31 - 1
#: A second source slice is referenced too when it is no farther than the nearest one plus this
#: fraction of the source slice spacing (an output slice half-way between two source slices).
TIE_FRACTION = 1e-3

#: The network always filters (CID 7203 Image Derivation); super-resolution also resamples.
CODE_SMOOTHING = codes.DCM.Smoothing
CODE_RESAMPLING = codes.DCM.SpatialResampling
CODE_MODIFYING_EQUIPMENT = codes.DCM.ModifyingEquipment  # CID 7005
CODE_SOURCE_FOR_PROCESSING = codes.DCM.SourceImageForImageProcessingOperation  # CID 7202
#: Frame Anatomy of an enhanced output when the source names no body part we can code.
CODE_UNKNOWN_ANATOMY = codes.SCT.Unknown
#: Enhanced MR requires ApplicableSafetyStandardAgency; a source without one gets this value
#: together with a description saying it was assumed.
ASSUMED_SAFETY_AGENCY = "IEC"
ASSUMED_SAFETY_DESCRIPTION = "IEC 60601-2-33 assumed: not recorded in the source"

#: Top-level attributes of the source header that do not describe the new instances.
DROPPED_KEYWORDS = frozenset(
    {
        # instance identity and the source's own derivation / references
        "SOPInstanceUID", "InstanceNumber", "InstanceCreationDate", "InstanceCreationTime",
        "InstanceCreatorUID", "SeriesInstanceUID", "SeriesNumber", "SeriesDescription",
        "SeriesDate", "SeriesTime", "ContentDate", "ContentTime", "ImageType",
        "DerivationDescription", "DerivationCodeSequence", "SourceImageSequence",
        "ReferencedImageSequence", "ReferencedImageEvidenceSequence",
        "SourceImageEvidenceSequence", "ReferencedRawDataSequence", "ReferencedSeriesSequence",
        "ReferencedInstanceSequence", "ReferencedPresentationStateSequence",
        "ReferencedWaveformSequence", "StudiesContainingOtherReferencedInstancesSequence",
        "IconImageSequence", "StorageMediaFileSetUID", "StorageMediaFileSetID",
        "DataSetTrailingPadding", "ImagesInAcquisition", "PatientOrientation",
        # pixels and their value mapping
        "PixelData", "FloatPixelData", "DoubleFloatPixelData", "Rows", "Columns",
        "SamplesPerPixel", "PhotometricInterpretation", "PlanarConfiguration", "BitsAllocated",
        "BitsStored", "HighBit", "PixelRepresentation", "PixelAspectRatio",
        "SmallestImagePixelValue", "LargestImagePixelValue", "SmallestPixelValueInSeries",
        "LargestPixelValueInSeries", "PixelPaddingValue", "PixelPaddingRangeLimit",
        "RescaleSlope", "RescaleIntercept", "RescaleType", "ModalityLUTSequence",
        "WindowCenter", "WindowWidth", "WindowCenterWidthExplanation", "VOILUTFunction",
        "VOILUTSequence", "RealWorldValueMappingSequence", "PresentationLUTShape",
        # geometry and multi-frame structure
        "ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "SliceThickness",
        "SpacingBetweenSlices", "SliceLocation", "NumberOfFrames", "FrameIncrementPointer",
        "SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence",
        "DimensionOrganizationSequence", "DimensionIndexSequence", "DimensionOrganizationType",
        "ConcatenationUID", "ConcatenationFrameOffsetNumber", "InConcatenationNumber",
        "InConcatenationTotalNumber",
    }
)  # fmt: skip

#: Functional groups of an enhanced source that are rebuilt (or, for the localizer references
#: and the stored-value mappings, dropped) instead of copied.
REBUILT_GROUPS = frozenset(
    {
        "FrameContentSequence", "PlanePositionSequence", "PlaneOrientationSequence",
        "PixelMeasuresSequence", "PixelValueTransformationSequence", "FrameVOILUTSequence",
        "RealWorldValueMappingSequence", "DerivationImageSequence", "ReferencedImageSequence",
        "MRImageFrameTypeSequence", "PixelIntensityRelationshipLUTSequence",
        "FramePixelShiftSequence", "FrameDisplayShutterSequence",
    }
)  # fmt: skip

#: Classic MR Image attribute ↔ (Enhanced MR functional group, attribute of its item).
MR_GROUP_MAP = (
    ("RepetitionTime", "MRTimingAndRelatedParametersSequence", "RepetitionTime"),
    ("FlipAngle", "MRTimingAndRelatedParametersSequence", "FlipAngle"),
    ("EchoTrainLength", "MRTimingAndRelatedParametersSequence", "EchoTrainLength"),
    ("EchoTime", "MREchoSequence", "EffectiveEchoTime"),
    ("NumberOfAverages", "MRAveragesSequence", "NumberOfAverages"),
    ("InPlanePhaseEncodingDirection", "MRFOVGeometrySequence", "InPlanePhaseEncodingDirection"),
    ("PercentSampling", "MRFOVGeometrySequence", "PercentSampling"),
    ("PercentPhaseFieldOfView", "MRFOVGeometrySequence", "PercentPhaseFieldOfView"),
    ("PixelBandwidth", "MRImagingModifierSequence", "PixelBandwidth"),
    ("ImagingFrequency", "MRImagingModifierSequence", "TransmitterFrequency"),
    ("ReceiveCoilName", "MRReceiveCoilSequence", "ReceiveCoilName"),
    ("TransmitCoilName", "MRTransmitCoilSequence", "TransmitCoilName"),
)

#: Enhanced General Equipment attributes (type 1); a source without one gets ``UNKNOWN``.
ENHANCED_EQUIPMENT = (
    "Manufacturer",
    "ManufacturerModelName",
    "DeviceSerialNumber",
    "SoftwareVersions",
)

#: Enhanced MR attributes that dciodvfy allows only in ORIGINAL (or MIXED) images: the MR Pulse
#: Sequence module and the Bulk Motion Synchronization module. A derived enhanced object leaves
#: them out (the classic output keeps the pulse sequence in ScanningSequence, SequenceVariant...).
ORIGINAL_ONLY_KEYWORDS = (
    "PulseSequenceName", "MRAcquisitionType", "EchoPulseSequence", "MultipleSpinEcho",
    "MultiPlanarExcitation", "PhaseContrast", "VelocityEncodingAcquisitionSequence",
    "TimeOfFlightContrast", "ArterialSpinLabelingContrast", "SteadyStatePulseSequence",
    "EchoPlanarPulseSequence", "SaturationRecovery", "SpectrallySelectedSuppression",
    "OversamplingPhase", "GeometryOfKSpaceTraversal", "RectilinearPhaseEncodeReordering",
    "SegmentedKSpaceTraversal", "CoverageOfKSpace", "NumberOfKSpaceTrajectories",
    "BulkMotionCompensationTechnique", "BulkMotionSignalSource",
)  # fmt: skip


#: Enhanced MR top-level attributes that the classic MR Image IOD does not have: a classic series
#: written from an enhanced source leaves them out (dciodvfy: "not present in standard DICOM
#: IOD"), with :data:`ORIGINAL_ONLY_KEYWORDS` (the pulse sequence is translated into
#: ScanningSequence, SequenceVariant ... by :func:`_classic_from_enhanced`).
ENHANCED_ONLY_KEYWORDS = (
    "PixelPresentation", "VolumetricProperties", "VolumeBasedCalculationTechnique", "ComplexImageComponent",
    "AcquisitionContrast", "SynchronizationTrigger", "AcquisitionTimeSynchronized", "TimeDistributionProtocol",
    "SynchronizationFrameOfReferenceUID", "RespiratoryTriggerDelayThreshold", "AcquisitionContextSequence",
    "ApplicableSafetyStandardAgency", "ApplicableSafetyStandardDescription", "RespiratoryMotionCompensationTechnique",
    "CardiacSynchronizationTechnique", "KSpaceFiltering", "AcquisitionDuration", "ResonantNucleus",
)  # fmt: skip
#: The defined terms of a classic MR image's ImageType value 3 (PS3.3 C.8.3.1.1.1).
CLASSIC_MR_IMAGE_FLAVOURS = (
    "DENSITY MAP", "DIFFUSION MAP", "IMAGE ADDITION", "MODULUS SUBTRACT", "MPR", "OTHER", "PHASE MAP",
    "PHASE SUBTRACT", "PROJECTION IMAGE", "T1 MAP", "T2 MAP", "VELOCITY MAP",
)  # fmt: skip


@dataclass
class PatientStudy:
    """Patient and study for a series made from NIfTI/NRRD input (DICOM input has its own).

    Attributes:
        patient_name: DICOM PN, e.g. ``"DOE^JANE"``.
        patient_id: PatientID (LO, ≤ 64 characters, not empty).
        study_description: StudyDescription (LO).
        accession_number: AccessionNumber (SH, ≤ 16 characters).
        study_instance_uid: an existing study to add the series to; ``None`` = a new study.
        patient_birth_date: ``YYYYMMDD`` or empty.
        patient_sex: ``"M"``, ``"F"``, ``"O"`` or empty.
    """

    patient_name: str
    patient_id: str
    study_description: str = ""
    accession_number: str = ""
    study_instance_uid: str | None = None
    patient_birth_date: str = ""
    patient_sex: str = ""


@dataclass
class DerivedSeriesOptions:
    """How the derived series is written.

    Attributes:
        series_description: ``None`` = ``"<source description> DLR NR<f> SR<f>x<f>x<f>"``
            (super-resolution factors ordered frequency, phase, slice), ≤ 64 characters.
        series_number_offset: new SeriesNumber = source SeriesNumber + offset (the offset alone
            for NIfTI/NRRD input).
        uid_prefix: prefix of the new UIDs (``pydicom.uid.generate_uid``); ``None`` = pydicom's.
        enhanced: ``False``: classic MR Image Storage, one file per slice; ``True``: one
            Enhanced MR Image Storage multi-frame file.
        patient: patient and study of NIfTI/NRRD input (not allowed for DICOM input).
        research_placeholder: NIfTI/NRRD input without a patient: PatientName
            ``RESEARCH^PLACEHOLDER``, PatientID ``MRDEEPRECON-RESEARCH``, marked as such in
            SeriesDescription and ImageComments.
    """

    series_description: str | None = None
    series_number_offset: int = 1000
    uid_prefix: str | None = None
    enhanced: bool = False
    patient: PatientStudy | None = None
    research_placeholder: bool = False


@dataclass
class DerivedSeries:
    """What :func:`write_derived_series` wrote.

    Attributes:
        folder: the series folder (``out_dir``).
        files: the files in slice order (classic), or the one multi-frame file (enhanced).
        series_instance_uid: the new SeriesInstanceUID.
        sop_instance_uids: one per file, in the order of ``files``.
        rescale_slope: RescaleSlope as written (one quantisation step, in voxel value units).
        rescale_intercept: RescaleIntercept as written.
    """

    folder: Path
    files: list[Path]
    series_instance_uid: str
    sop_instance_uids: list[str]
    rescale_slope: float
    rescale_intercept: float


def engine_version() -> str:
    """MRDeepRecon's version: ``mrdeeprecon.__version__``, else the installed distribution's,
    else ``"0.1.0"``."""
    package = importlib.import_module(__name__.split(".")[0])
    version = getattr(package, "__version__", None)
    if version:
        return str(version)
    try:
        return importlib.metadata.version("mrdeeprecon")
    except importlib.metadata.PackageNotFoundError:
        return "0.1.0"


# ------------------------------------------------------------------------------ small helpers


def _code(code: Code) -> Dataset:
    item = Dataset()
    item.CodeValue = code.value
    item.CodingSchemeDesignator = code.scheme_designator
    item.CodeMeaning = code.meaning
    return item


def _item(**attributes: Any) -> Dataset:
    item = Dataset()
    for keyword, value in attributes.items():
        setattr(item, keyword, value)
    return item


def _classic_value(keyword: str, value: Any) -> Any:
    """A functional-group value in the VR of the classic attribute ``keyword`` (FD → DS,
    US → IS)."""
    vr = dictionary_VR(keyword)
    if vr == "DS":
        return format_ds(float(value))
    if vr == "IS":
        return str(int(float(value)))
    return value


def _filled(value: Any) -> bool:
    return value is not None and value != "" and value != []


def _now_parts(now: datetime) -> tuple[str, str, str]:
    """(DA, TM, DT with UTC offset) of ``now``."""
    return now.strftime("%Y%m%d"), now.strftime("%H%M%S.%f"), now.strftime("%Y%m%d%H%M%S.%f%z")


def _check_text(value: str, what: str, limit: int) -> None:
    """Raise unless ``value`` fits a DICOM LO/SH/PN value of ``limit`` characters."""
    if len(value) > limit:
        raise MRDeepReconError(f"{what} is longer than {limit} characters: {value!r}")
    if "\\" in value or any(ord(c) < 32 for c in value):
        raise MRDeepReconError(f"{what} must not contain backslashes or control characters")


def _remove_unsafe(ds: Dataset) -> None:
    """Private tags (recursively), overlays, curves and group lengths."""
    ds.remove_private_tags()
    for tag in list(ds.keys()):
        group = tag.group
        if tag.element == 0 or 0x5000 <= group <= 0x50FF or 0x6000 <= group <= 0x60FF:
            del ds[tag]


# ------------------------------------------------------------------------------ the source


@dataclass
class _Source:
    """What the writer needs to know about the series the volume was read from.

    ``header`` is ``None`` for NIfTI/NRRD input. ``frame`` is the 0-based frame of the first
    sorted source slice in an enhanced header (``None`` for classic).
    """

    header: Dataset | None
    path: Path | None
    sop_instance_uids: list[str] = field(default_factory=list)
    frame_numbers: list[int] = field(default_factory=list)
    sop_class_uid: str = ""
    frame: int | None = None

    @classmethod
    def of(cls, volume: Volume) -> _Source:
        meta = volume.metadata
        path = Path(meta["source_path"]) if meta.get("source_path") else None
        header = meta.get("dicom_header")
        if header is None:
            return cls(header=None, path=path)
        uids = [str(u) for u in meta.get("sop_instance_uids") or []]
        frames = [int(f) for f in meta.get("frame_numbers") or [1] * len(uids)]
        if not uids or len(frames) != len(uids):
            raise MRDeepReconError(
                "the volume's DICOM metadata are incomplete (sop_instance_uids / frame_numbers)",
                path,
            )
        enhanced = "PerFrameFunctionalGroupsSequence" in header
        return cls(
            header=header,
            path=path,
            sop_instance_uids=uids,
            frame_numbers=frames,
            sop_class_uid=str(header.get("SOPClassUID", MR_IMAGE_STORAGE)),
            frame=frames[0] - 1 if enhanced else None,
        )

    @property
    def is_dicom(self) -> bool:
        return self.header is not None

    @property
    def is_enhanced(self) -> bool:
        return self.frame is not None

    def group_value(self, sequence: str, keyword: str) -> Any:
        """``keyword`` of the first sorted frame's functional group ``sequence`` (per-frame,
        else shared), else the header's top level (vendors copy some values there; ``sequence``
        ``""`` = top level only)."""
        assert self.header is not None
        if self.frame is not None and sequence:
            item = _functional_item(self.header, self.frame, sequence)
            if item is not None and keyword in item:
                return item[keyword].value
        return self.header.get(keyword)

    def folder(self) -> Path | None:
        """The folder holding the source series (a file's parent)."""
        if self.path is None:
            return None
        return self.path if self.path.is_dir() else self.path.parent


# ------------------------------------------------------------------------------ checks


#: Type 1 UIDs of the source that the derived series carries or refers to.
SOURCE_UIDS = ("StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID")


def _check_options(options: DerivedSeriesOptions, source: _Source) -> None:
    if source.is_dicom:
        missing = [k for k in SOURCE_UIDS if not str(source.header.get(k) or "").strip()]  # type: ignore[union-attr]
        if missing:
            raise MRDeepReconError(
                f"the source has no {' / '.join(missing)} (type 1): a derived series could not "
                "join its study and frame of reference; write NIfTI/NRRD instead",
                source.path,
            )
    if source.is_dicom and (options.patient is not None or options.research_placeholder):
        raise MRDeepReconError(
            "patient/study come from the DICOM source; options.patient and "
            "research_placeholder are only for NIfTI/NRRD input"
        )
    if not source.is_dicom:
        if options.patient is None and not options.research_placeholder:
            raise MRDeepReconError(
                "NIfTI/NRRD input has no patient or study: give the patient "
                "(DerivedSeriesOptions.patient = PatientStudy(...); CLI --patient-name and "
                "--patient-id) or mark the series as research data (research_placeholder=True; "
                "CLI --research-placeholder)",
                source.path,
            )
        if options.patient is not None and options.research_placeholder:
            raise MRDeepReconError("give either a patient or research_placeholder, not both")
        if options.patient is not None:
            _check_patient(options.patient)
    if options.series_description is not None:
        _check_text(options.series_description, "series description", LO_MAX)
    if not isinstance(options.series_number_offset, int) or options.series_number_offset < 0:
        offset = options.series_number_offset
        raise MRDeepReconError(f"series number offset must be an integer >= 0, got {offset!r}")
    if options.uid_prefix is not None:
        prefix = options.uid_prefix
        if (
            not re.fullmatch(r"([0-9]|[1-9][0-9]*)(\.([0-9]|[1-9][0-9]*))*\.", prefix)
            or len(prefix) > 54
        ):
            raise MRDeepReconError(
                f"UID prefix must be dot-separated numbers ending with '.', at most 54 "
                f"characters, got {prefix!r}"
            )


def _check_patient(patient: PatientStudy) -> None:
    if not patient.patient_id.strip():
        raise MRDeepReconError("the patient ID must not be empty")
    _check_text(patient.patient_id, "patient ID", LO_MAX)
    _check_text(patient.patient_name, "patient name", LO_MAX)
    _check_text(patient.study_description, "study description", LO_MAX)
    _check_text(patient.accession_number, "accession number", 16)
    if patient.patient_birth_date and not re.fullmatch(r"\d{8}", patient.patient_birth_date):
        raise MRDeepReconError(
            f"patient birth date must be YYYYMMDD or empty, got {patient.patient_birth_date!r}"
        )
    if patient.patient_sex not in ("", "M", "F", "O"):
        raise MRDeepReconError(f"patient sex must be M, F, O or empty, got {patient.patient_sex!r}")
    if patient.study_instance_uid is not None and not UID(patient.study_instance_uid).is_valid:
        raise MRDeepReconError(f"invalid study instance UID {patient.study_instance_uid!r}")


def _check_target(out_dir: Path, source: _Source) -> None:
    target = out_dir.resolve()
    folder = source.folder()
    if source.is_dicom and folder is not None:
        folder = folder.resolve()
        inside = source.path is not None and source.path.is_dir() and folder in target.parents
        if target == folder or inside:
            raise MRDeepReconError(
                "refusing to write the derived series into the source series folder; "
                "choose another output folder",
                out_dir,
            )
    if out_dir.exists():
        if not out_dir.is_dir():
            raise MRDeepReconError("the output path exists and is not a folder", out_dir)
        if any(out_dir.iterdir()):
            raise MRDeepReconError("the output folder exists and is not empty", out_dir)
    if not out_dir.parent.is_dir():
        raise MRDeepReconError("the output folder's parent folder does not exist", out_dir)


# ------------------------------------------------------------------------------ the series plan


@dataclass
class _Plan:
    """Everything decided once for the whole series."""

    volume: Volume
    source: _Source
    options: DerivedSeriesOptions
    quantised: Quantised
    now: datetime
    series_uid: str
    series_number: str
    description: str
    positions: np.ndarray  # (N, 3) LPS mm: IPP of each output slice
    normal: np.ndarray  # row × column
    references: list[list[int]]  # per output slice: indices of the nearest source slices

    @property
    def n_slices(self) -> int:
        return self.volume.shape[0]

    def uid(self) -> str:
        return generate_uid(self.options.uid_prefix)


def _enhancement(volume: Volume) -> dict[str, Any]:
    record = volume.metadata.get("enhancement")
    if not record:
        raise MRDeepReconError(
            "the volume has no enhancement record (metadata['enhancement']): "
            "write the result of mrdeeprecon.enhance()"
        )
    return record


def _factors(record: dict[str, Any]) -> tuple[float, list[float]]:
    return float(record["noise_reduction"]), [float(f) for f in record["super_resolution"]]


def _source_name(volume: Volume, source: _Source) -> str:
    if source.is_dicom:
        return str(volume.metadata.get("series_description") or "")
    if source.path is None:
        return ""
    name = source.path.name
    for suffix in ITK_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return source.path.stem


def _default_description(volume: Volume, source: _Source, options: DerivedSeriesOptions) -> str:
    nr, sr = _factors(_enhancement(volume))
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
    volume: Volume, source: _Source, normal: np.ndarray, positions: np.ndarray
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


def _series_number(source: _Source, options: DerivedSeriesOptions) -> str:
    """Source SeriesNumber (0 without one) + the offset."""
    number = options.series_number_offset
    if source.header is not None and _filled(source.header.get("SeriesNumber")):
        number += int(source.header.SeriesNumber)
    if number > IS_MAX:
        raise MRDeepReconError(f"series number {number} exceeds the largest DICOM IS value")
    return str(number)


def _identity_rescale(source: _Source) -> bool:
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


def _plan(volume: Volume, source: _Source, options: DerivedSeriesOptions) -> _Plan:
    description = options.series_description
    if description is None:
        description = _default_description(volume, source, options)
    matrix = volume.ijk_to_lps()
    k = np.arange(volume.shape[0], dtype=np.float64)
    positions = (matrix[:3, 3][None, :] + np.outer(k, matrix[:3, 2])).astype(np.float64)
    normal = np.cross(volume.direction[:, 0], volume.direction[:, 1])
    normal /= np.linalg.norm(normal)
    if source.is_dicom:
        _check_encodable(source.header, description, "series description")  # type: ignore[arg-type]
    return _Plan(
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
    )


# ------------------------------------------------------------------------------ shared content


def _derivation_codes(record: dict[str, Any]) -> list[Code]:
    """Smoothing (the network always filters), plus Spatial resampling for super-resolution."""
    _, sr = _factors(record)
    codes = [CODE_SMOOTHING]
    if any(f > 1.0 for f in sr):
        codes.append(CODE_RESAMPLING)
    return codes


def _derivation_description(volume: Volume) -> str:
    """What was done, with which model, and to which images of the source (its image set:
    echo, magnitude ... when the reader recorded one)."""
    record = _enhancement(volume)
    nr, sr = _factors(record)
    sha = str(record.get("model_sha256", ""))[:12]
    image_set = volume.metadata.get("image_set")
    source = "" if image_set is None else f", source images {image_set.describe()}"
    return (
        f"MRDeepRecon {engine_version()} deep-learning enhancement: noise reduction {nr:g}, "
        f"super-resolution {'x'.join(f'{f:g}' for f in sr)} (frequency x phase x slice), "
        f"model {record.get('model_name', 'unknown')} sha256:{sha}, "
        f"device {record.get('device', 'unknown')}{source}"
    )


def _contributing_equipment(plan: _Plan) -> Dataset:
    item = Dataset()
    item.Manufacturer = EQUIPMENT_NAME
    item.ManufacturerModelName = EQUIPMENT_NAME
    item.SoftwareVersions = engine_version()
    item.ContributionDateTime = _now_parts(plan.now)[2]
    item.ContributionDescription = _derivation_description(plan.volume)
    item.PurposeOfReferenceCodeSequence = Sequence([_code(CODE_MODIFYING_EQUIPMENT)])
    return item


def _window(plan: _Plan) -> tuple[list[str], list[str], list[str]]:
    """(WindowCenter, WindowWidth, WindowCenterWidthExplanation) values as DS/LO strings."""
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


def _slice_thickness(plan: _Plan) -> str:
    source = plan.source
    if source.is_dicom:
        thickness = as_number(source.group_value("PixelMeasuresSequence", "SliceThickness"))
        if thickness is not None and thickness > 0:
            return format_ds(thickness)
    _, sr = _factors(_enhancement(plan.volume))
    return format_ds(plan.volume.spacing[2] * sr[2])


def _source_reference(plan: _Plan, index: int, with_frame: bool) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = plan.source.sop_class_uid
    item.ReferencedSOPInstanceUID = plan.source.sop_instance_uids[index]
    if with_frame:
        item.ReferencedFrameNumber = str(plan.source.frame_numbers[index])
    item.PurposeOfReferenceCodeSequence = Sequence([_code(CODE_SOURCE_FOR_PROCESSING)])
    return item


def _source_image_sequence(plan: _Plan, k: int) -> Sequence:
    return Sequence(
        [_source_reference(plan, i, plan.source.is_enhanced) for i in plan.references[k]]
    )


def _referenced_instances(plan: _Plan) -> list[str]:
    """Source SOP Instance UIDs referenced by any output slice, each once, in slice order."""
    uids: list[str] = []
    for indices in plan.references:
        for i in indices:
            uid = plan.source.sop_instance_uids[i]
            if uid not in uids:
                uids.append(uid)
    return uids


def _referenced_series(plan: _Plan, instances_keyword: str) -> Sequence:
    """One item: the source series with every referenced instance, listed in
    ``instances_keyword`` (``ReferencedInstanceSequence`` for the Common Instance Reference
    module, ``ReferencedSOPSequence`` for the Hierarchical SOP Instance Reference macro)."""
    series = Dataset()
    series.SeriesInstanceUID = str(plan.source.header.SeriesInstanceUID)  # type: ignore[union-attr]
    instances = [
        _item(ReferencedSOPClassUID=plan.source.sop_class_uid, ReferencedSOPInstanceUID=uid)
        for uid in _referenced_instances(plan)
    ]
    setattr(series, instances_keyword, Sequence(instances))
    return Sequence([series])


def _check_encodable(ds: Dataset, text: str, what: str) -> None:
    """Raise unless ``text`` can be written in ``ds``'s SpecificCharacterSet."""
    for encoding in convert_encodings(ds.get("SpecificCharacterSet") or "ISO_IR 6"):
        try:
            text.encode(encoding)
            return
        except UnicodeEncodeError:
            continue
    raise MRDeepReconError(
        f"{what} {text!r} cannot be written in the source's character set "
        f"{ds.get('SpecificCharacterSet', 'ISO_IR 6')}"
    )


# ------------------------------------------------------------------------------ the base header


def _copied_header(source: _Source) -> Dataset:
    """The source header without what no longer describes the new instances."""
    assert source.header is not None
    ds = copy.deepcopy(source.header)
    _remove_unsafe(ds)
    for keyword in DROPPED_KEYWORDS:
        if keyword in ds:
            delattr(ds, keyword)
    if "Laterality" in ds and not ds.Laterality:
        del ds.Laterality
    ds.file_meta = FileMetaDataset()
    return ds


def _scratch_header(plan: _Plan) -> Dataset:
    """Patient, study, series-level and equipment attributes for NIfTI/NRRD input."""
    options = plan.options
    patient = options.patient or PatientStudy(RESEARCH_PATIENT_NAME, RESEARCH_PATIENT_ID)
    day, time, _ = _now_parts(plan.now)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    texts = [patient.patient_name, patient.patient_id, patient.study_description, plan.description]
    if not all(t.isascii() for t in texts):
        ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName = patient.patient_name
    ds.PatientID = patient.patient_id
    ds.PatientBirthDate = patient.patient_birth_date
    ds.PatientSex = patient.patient_sex
    new_study = patient.study_instance_uid is None
    ds.StudyInstanceUID = plan.uid() if new_study else patient.study_instance_uid
    ds.StudyDate = day if new_study else ""
    ds.StudyTime = time if new_study else ""
    ds.ReferringPhysicianName = ""
    ds.StudyID = ""
    ds.AccessionNumber = patient.accession_number
    if patient.study_description:
        ds.StudyDescription = patient.study_description
    ds.Modality = "MR"
    ds.PatientPosition = ""  # type 2C: unknown for a NIfTI/NRRD volume
    ds.FrameOfReferenceUID = plan.uid()
    ds.PositionReferenceIndicator = ""
    ds.Manufacturer = EQUIPMENT_NAME
    ds.ManufacturerModelName = EQUIPMENT_NAME
    ds.SoftwareVersions = engine_version()
    if options.research_placeholder:
        ds.ImageComments = (
            "RESEARCH PLACEHOLDER patient and study: not a patient record. Made by MRDeepRecon "
            f"from {plan.source.path.name if plan.source.path else 'a NIfTI/NRRD volume'}"
        )
    return ds


def _base_header(plan: _Plan) -> Dataset:
    """Attributes common to every written instance (both IODs)."""
    source = plan.source
    ds = _copied_header(source) if source.is_dicom else _scratch_header(plan)
    day, time, _ = _now_parts(plan.now)
    ds.SeriesInstanceUID = plan.series_uid
    ds.SeriesNumber = plan.series_number
    ds.SeriesDescription = plan.description
    ds.SeriesDate = ds.ContentDate = ds.InstanceCreationDate = day
    ds.SeriesTime = ds.ContentTime = ds.InstanceCreationTime = time
    ds.Modality = "MR"
    burned_in = source.is_dicom and str(source.header.get("BurnedInAnnotation", "")) == "YES"  # type: ignore[union-attr]
    ds.BurnedInAnnotation = "YES" if burned_in else "NO"
    equipment = Sequence(list(ds.get("ContributingEquipmentSequence") or []))
    equipment.append(_contributing_equipment(plan))
    ds.ContributingEquipmentSequence = equipment
    if source.is_dicom:
        ds.ReferencedSeriesSequence = _referenced_series(plan, "ReferencedInstanceSequence")
    rows, columns = plan.volume.shape[1:]
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1 if plan.quantised.signed else 0
    return ds


def _file_meta(sop_class: str, sop_uid: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    return meta


def _pixel_bytes(plan: _Plan, k: int | slice) -> bytes:
    stored = plan.quantised.stored[k]
    return stored.astype("<i2" if plan.quantised.signed else "<u2").tobytes()


def _save(ds: Dataset, path: Path) -> None:
    """Write ``ds`` as explicit VR little endian, whatever the source's encoding (a big-endian
    source's copied attributes are re-encoded)."""
    ds.file_meta = _file_meta(ds.SOPClassUID, ds.SOPInstanceUID)
    pydicom.dcmwrite(path, ds, enforce_file_format=True, implicit_vr=False, little_endian=True)


# ------------------------------------------------------------------------------ classic output


def _scanning_sequence(source: _Source) -> list[str]:
    """Classic ScanningSequence from the Enhanced MR pulse-sequence attributes (RM, research
    mode, when none of SE, IR, GR, EP applies)."""
    value = source.group_value
    echo = str(value("", "EchoPulseSequence") or "")
    terms = (
        ("SE", echo in ("SPIN", "BOTH")),
        ("IR", str(value("MRModifierSequence", "InversionRecovery") or "") == "YES"),
        ("GR", echo in ("GRADIENT", "BOTH")),
        ("EP", str(value("", "EchoPlanarPulseSequence") or "") == "YES"),
    )
    return [term for term, applies in terms if applies] or ["RM"]


def _sequence_variant(source: _Source) -> list[str]:
    """Classic SequenceVariant from the Enhanced MR pulse-sequence attributes."""
    value = source.group_value
    terms = []
    if str(value("", "SegmentedKSpaceTraversal") or "") in ("PARTIAL", "FULL"):
        terms.append("SK")
    if str(value("MRImagingModifierSequence", "MagnetizationTransfer") or "NONE") != "NONE":
        terms.append("MTC")
    steady = str(value("", "SteadyStatePulseSequence") or "NONE")
    if steady == "TIME_REVERSED":
        terms.append("TRSS")
    elif steady != "NONE":
        terms.append("SS")
    if str(value("MRModifierSequence", "Spoiling") or "NONE") != "NONE":
        terms.append("SP")
    inversion = str(value("MRModifierSequence", "InversionRecovery") or "") == "YES"
    gradient = str(value("", "EchoPulseSequence") or "") == "GRADIENT"
    prepared = any(
        str(value(seq, kw) or "") == "YES"
        for seq, kw in (("MRModifierSequence", "T2Preparation"), ("", "SaturationRecovery"))
    )
    if prepared or (inversion and gradient):
        terms.append("MP")
    if str(value("", "OversamplingPhase") or "NONE") != "NONE":
        terms.append("OSP")
    return terms or ["NONE"]


def _scan_options(source: _Source) -> list[str]:
    """Classic ScanOptions from the Enhanced MR modifier and synchronisation attributes."""
    value = source.group_value
    terms = []
    if str(value("MRModifierSequence", "PartialFourier") or "") == "YES":
        direction = str(value("MRModifierSequence", "PartialFourierDirection") or "")
        terms.append("PFF" if direction == "FREQUENCY" else "PFP")
    if str(value("MRModifierSequence", "FlowCompensation") or "NONE") != "NONE":
        terms.append("FC")
    if str(value("", "CardiacSynchronizationTechnique") or "NONE") != "NONE":
        terms.append("CG")
    if str(value("", "RespiratoryMotionCompensationTechnique") or "NONE") != "NONE":
        terms.append("RG")
    if str(value("", "SpectrallySelectedSuppression") or "NONE").startswith("FAT"):
        terms.append("FS")
    if str(value("MRModifierSequence", "SpatialPresaturation") or "NONE") == "SLAB":
        terms.append("SP")
    return terms


def _classic_from_enhanced(ds: Dataset, source: _Source) -> None:
    """Classic MR Image attributes from an enhanced source's functional groups."""
    for classic, sequence, keyword in MR_GROUP_MAP:
        value = source.group_value(sequence, keyword)
        if _filled(value):
            setattr(ds, classic, _classic_value(classic, value))
    if ds.get("InPlanePhaseEncodingDirection") == "COLUMN":
        ds.InPlanePhaseEncodingDirection = "COL"
    ds.ScanningSequence = _scanning_sequence(source)
    ds.SequenceVariant = _sequence_variant(source)
    ds.ScanOptions = _scan_options(source)
    name = source.group_value("", "PulseSequenceName")
    if _filled(name):
        ds.SequenceName = str(name)
    nucleus = source.group_value("", "ResonantNucleus")
    if _filled(nucleus):
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
    if _filled(frequency_steps) and _filled(phase_steps) and direction in ("ROW", "COL"):
        f, p = int(frequency_steps), int(phase_steps)
        ds.AcquisitionMatrix = [0, f, p, 0] if direction == "ROW" else [f, 0, 0, p]
    acquired = str(ds.get("AcquisitionDateTime", ""))
    if len(acquired) >= 8:
        ds.AcquisitionDate = acquired[:8]
        if len(acquired) > 8:
            ds.AcquisitionTime = acquired[8:].split("+")[0].split("-")[0]


def _classic_image_type(source: _Source) -> list[str]:
    """DERIVED\\SECONDARY plus the source's value 3 (the image flavour), else OTHER (the MR
    Image module requires a value 3). An enhanced source's flavour (``T1``, ``PROTON_DENSITY``
    ...) is not a classic MR term (:data:`CLASSIC_MR_IMAGE_FLAVOURS`): OTHER then."""
    values = as_list(source.header.get("ImageType", [])) if source.is_dicom else []  # type: ignore[union-attr]
    flavour = str(values[2]) if len(values) > 2 and values[2] else "OTHER"
    if source.is_enhanced and flavour not in CLASSIC_MR_IMAGE_FLAVOURS:
        flavour = "OTHER"
    return ["DERIVED", "SECONDARY", flavour]


def _classic_base(plan: _Plan) -> Dataset:
    source = plan.source
    ds = _base_header(plan)
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
    ds.ImageType = _classic_image_type(source)
    record = _enhancement(plan.volume)
    ds.DerivationDescription = _derivation_description(plan.volume)
    ds.DerivationCodeSequence = Sequence([_code(c) for c in _derivation_codes(record)])
    volume = plan.volume
    ds.ImageOrientationPatient = [
        format_ds(v) for v in np.concatenate([volume.direction[:, 0], volume.direction[:, 1]])
    ]
    ds.PixelSpacing = [format_ds(volume.spacing[1]), format_ds(volume.spacing[0])]
    ds.SliceThickness = _slice_thickness(plan)
    ds.SpacingBetweenSlices = format_ds(volume.spacing[2])
    if plan.quantised.slope_ds != "1" or plan.quantised.intercept_ds != "0":
        ds.RescaleIntercept = plan.quantised.intercept_ds  # not in the MR IOD, but the only
        ds.RescaleSlope = plan.quantised.slope_ds  # way classic MR says what a stored value is
        ds.RescaleType = "US"
    centers, widths, explanations = _window(plan)
    ds.WindowCenter, ds.WindowWidth = centers, widths
    if explanations:
        ds.WindowCenterWidthExplanation = explanations
    return ds


def _write_classic(
    plan: _Plan, folder: Path, progress: ProgressCallback | None, cancel: CancelToken | None
) -> tuple[list[Path], list[str]]:
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
            ds.SourceImageSequence = _source_image_sequence(plan, k)
        ds.add_new(0x7FE00010, "OW", _pixel_bytes(plan, k))
        path = folder / f"{k + 1:0{digits}d}.dcm"
        _save(ds, path)
        files.append(path)
        uids.append(ds.SOPInstanceUID)
        report(progress, (k + 1) / plan.n_slices, f"slice {k + 1}/{plan.n_slices}")
    return files, uids


# ------------------------------------------------------------------------------ enhanced output


def _pop_filled(ds: Dataset, *keywords: str) -> list[Any] | None:
    """The values of ``keywords`` (removed from ``ds``) when all are present and non-empty,
    else ``None`` (and ``ds`` unchanged)."""
    values = [ds.get(keyword) for keyword in keywords]
    if not all(_filled(v) for v in values):
        return None
    for keyword in keywords:
        delattr(ds, keyword)
    return values


#: Attributes of a classic MR header that the Enhanced MR IOD does not have at its top level
#: (per-frame acquisition facts, classic pulse-sequence words): an enhanced object written from
#: a classic source leaves them out (dciodvfy: "not present in standard DICOM IOD"). TE, the
#: averages and the FOV move into functional groups first (:func:`_groups_from_classic`).
CLASSIC_ONLY_KEYWORDS = (
    "AcquisitionDate", "AcquisitionTime", "ScanningSequence", "SequenceVariant", "ScanOptions", "SequenceName",
    "AngioFlag", "RepetitionTime", "InversionTime", "ImagingFrequency", "EchoNumbers", "EchoTrainLength",
    "NumberOfPhaseEncodingSteps", "PixelBandwidth", "BeatRejectionFlag", "HeartRate", "CardiacNumberOfImages",
    "TriggerWindow", "TriggerTime", "ReconstructionDiameter", "ReceiveCoilName", "TransmitCoilName", "FlipAngle",
    "VariableFlipAngleFlag", "SAR", "dBdt", "TemporalPositionIdentifier", "NumberOfTemporalPositions",
    "ContrastBolusAgent", "ContrastBolusVolume", "AnatomicRegionSequence", "SliceLocation", "SpacingBetweenSlices",
    "LowRRValue", "HighRRValue", "IntervalsAcquired", "IntervalsRejected",
    "PVCRejection", "SkipBeats", "NumberOfAverages", "EchoTime", "PercentSampling", "PercentPhaseFieldOfView",
    "AcquisitionMatrix", "InPlanePhaseEncodingDirection",
)


def _groups_from_classic(ds: Dataset) -> list[tuple[str, Dataset]]:
    """The MR functional groups a classic header fills completely (MR Echo, MR Averages, MR
    FOV/Geometry); their classic attributes leave the top level. MR Timing is not made: dciodvfy
    requires its SAR, operating modes and RF / gradient echo train lengths, which a classic header
    lacks, so TR and flip angle are not carried into an enhanced object written from a classic
    source (its classic output keeps them; both reference the source images)."""
    groups = []
    echo = _pop_filled(ds, "EchoTime")
    if echo:
        groups.append(("MREchoSequence", _item(EffectiveEchoTime=float(echo[0]))))
    averages = _pop_filled(ds, "NumberOfAverages")
    if averages:
        groups.append(("MRAveragesSequence", _item(NumberOfAverages=format_ds(float(averages[0])))))
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
            item = Dataset()
            item.InPlanePhaseEncodingDirection = "ROW" if direction == "ROW" else "COLUMN"
            item.MRAcquisitionFrequencyEncodingSteps = frequency
            item.MRAcquisitionPhaseEncodingStepsInPlane = phase
            item.PercentSampling = format_ds(float(fov[2]))
            item.PercentPhaseFieldOfView = format_ds(float(fov[3]))
            groups.append(("MRFOVGeometrySequence", item))
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
    item = Dataset()
    regions = header.get("AnatomicRegionSequence") if header is not None else None
    if regions:
        region = copy.deepcopy(regions[0])
    else:
        body_part = str(header.get("BodyPartExamined", "")) if header is not None else ""
        region = _code(_anatomy_codes().get(body_part.replace(" ", ""), CODE_UNKNOWN_ANATOMY))
    item.AnatomicRegionSequence = Sequence([region])
    laterality = ""
    if header is not None:
        laterality = str(header.get("ImageLaterality") or header.get("Laterality") or "")
    item.FrameLaterality = laterality if laterality in ("R", "L", "B", "U") else "U"
    return item


#: Image/frame description attributes of an enhanced output and their values when the source
#: is not an enhanced object (the engine works on magnitude images; the contrast is unknown).
FRAME_DESCRIPTION_DEFAULTS = {
    "PixelPresentation": "MONOCHROME",
    "VolumetricProperties": "VOLUME",
    "VolumeBasedCalculationTechnique": "NONE",
    "ComplexImageComponent": "MAGNITUDE",
    "AcquisitionContrast": "UNKNOWN",
}


def _frame_type_item(plan: _Plan) -> Dataset:
    """MR Image Frame Type item: DERIVED\\PRIMARY\\<flavour>\\<derived pixel contrast>
    (flavour: the enhanced source's, else VOLUME) and the frame description attributes."""
    source = plan.source

    def from_source(keyword: str) -> Any:
        if not source.is_enhanced:
            return None
        return source.group_value("MRImageFrameTypeSequence", keyword)

    frame_type = as_list(from_source("FrameType") or [])
    flavour = str(frame_type[2]) if len(frame_type) > 2 and frame_type[2] else "VOLUME"
    _, sr = _factors(_enhancement(plan.volume))
    # Value 4, derived pixel contrast: denoising keeps the contrast (NONE); a refined grid is
    # RESAMPLED. The filtering itself is in DerivationCodeSequence.
    contrast = "RESAMPLED" if any(f > 1.0 for f in sr) else "NONE"
    item = Dataset()
    item.FrameType = ["DERIVED", "PRIMARY", flavour, contrast]
    for keyword, default in FRAME_DESCRIPTION_DEFAULTS.items():
        found = from_source(keyword)
        setattr(item, keyword, str(found) if _filled(found) else default)
    return item


def _copied_groups(source: _Source) -> list[tuple[str, Dataset]]:
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
                item = copy.deepcopy(element.value[0])
                _remove_unsafe(item)
                groups.append((element.keyword, item))
    return groups


def _dimensions(ds: Dataset, plan: _Plan) -> None:
    organization = plan.uid()
    ds.DimensionOrganizationSequence = Sequence([_item(DimensionOrganizationUID=organization)])
    ds.DimensionOrganizationType = "3D"
    pointers = (("StackID", "Stack ID"), ("InStackPositionNumber", "In-Stack Position Number"))
    index_items = []
    for keyword, label in pointers:
        item = Dataset()
        item.DimensionOrganizationUID = organization
        item.DimensionIndexPointer = pydicom.tag.Tag(keyword)
        item.FunctionalGroupPointer = pydicom.tag.Tag("FrameContentSequence")
        item.DimensionDescriptionLabel = label
        index_items.append(item)
    ds.DimensionIndexSequence = Sequence(index_items)


def _enhanced_base(plan: _Plan) -> tuple[Dataset, Dataset]:
    """The top level and the shared functional group item of the multi-frame object."""
    source = plan.source
    ds = _base_header(plan)
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
        if not _filled(ds.get(keyword)):
            setattr(ds, keyword, "UNKNOWN")
    if not _filled(ds.get("ApplicableSafetyStandardAgency")):
        ds.ApplicableSafetyStandardAgency = ASSUMED_SAFETY_AGENCY
        ds.ApplicableSafetyStandardDescription = ASSUMED_SAFETY_DESCRIPTION
    ds.SOPClassUID = ENHANCED_MR_IMAGE_STORAGE
    ds.NumberOfFrames = str(plan.n_slices)
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
                _item(
                    StudyInstanceUID=str(source.header.StudyInstanceUID),  # type: ignore[union-attr]
                    ReferencedSeriesSequence=_referenced_series(plan, "ReferencedSOPSequence"),
                )
            ]
        )

    shared = Dataset()
    measures = Dataset()
    measures.PixelSpacing = [format_ds(volume.spacing[1]), format_ds(volume.spacing[0])]
    measures.SliceThickness = _slice_thickness(plan)
    measures.SpacingBetweenSlices = format_ds(volume.spacing[2])
    shared.PixelMeasuresSequence = Sequence([measures])
    orientation = [
        format_ds(v) for v in np.concatenate([volume.direction[:, 0], volume.direction[:, 1]])
    ]
    shared.PlaneOrientationSequence = Sequence([_item(ImageOrientationPatient=orientation)])
    shared.PixelValueTransformationSequence = Sequence(
        [
            _item(
                RescaleIntercept=plan.quantised.intercept_ds,
                RescaleSlope=plan.quantised.slope_ds,
                RescaleType="US",
            )
        ]
    )
    centers, widths, explanations = _window(plan)
    voi = _item(WindowCenter=centers, WindowWidth=widths)
    if explanations:
        voi.WindowCenterWidthExplanation = explanations
    shared.FrameVOILUTSequence = Sequence([voi])
    shared.MRImageFrameTypeSequence = Sequence([frame_type])
    for keyword, item in groups:
        setattr(shared, keyword, Sequence([item]))
    return ds, shared


def _frame_item(plan: _Plan, k: int, derivation: Dataset | None) -> Dataset:
    item = Dataset()
    content = Dataset()
    content.StackID = "1"
    content.InStackPositionNumber = k + 1
    content.DimensionIndexValues = [1, k + 1]
    item.FrameContentSequence = Sequence([content])
    item.PlanePositionSequence = Sequence(
        [_item(ImagePositionPatient=[format_ds(v) for v in plan.positions[k]])]
    )
    if derivation is not None:
        frame_derivation = copy.deepcopy(derivation)
        frame_derivation.SourceImageSequence = _source_image_sequence(plan, k)
        item.DerivationImageSequence = Sequence([frame_derivation])
    return item


def _write_enhanced(
    plan: _Plan, folder: Path, progress: ProgressCallback | None, cancel: CancelToken | None
) -> tuple[list[Path], list[str]]:
    ds, shared = _enhanced_base(plan)
    derivation = None
    if plan.source.is_dicom:
        record = _enhancement(plan.volume)
        derivation = Dataset()
        derivation.DerivationDescription = _derivation_description(plan.volume)
        derivation.DerivationCodeSequence = Sequence([_code(c) for c in _derivation_codes(record)])
    frames = []
    for k in range(plan.n_slices):
        check(cancel)
        frames.append(_frame_item(plan, k, derivation))
        report(progress, 0.9 * (k + 1) / plan.n_slices, f"frame {k + 1}/{plan.n_slices}")
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    ds.SOPInstanceUID = plan.uid()
    ds.add_new(0x7FE00010, "OW", _pixel_bytes(plan, slice(None)))
    check(cancel)
    path = folder / "0001.dcm"
    _save(ds, path)
    report(progress, 1.0, "written")
    return [path], [ds.SOPInstanceUID]


# ------------------------------------------------------------------------------ entry point


def check_derived_target(
    volume: Volume, out_dir: str | Path, options: DerivedSeriesOptions | None = None
) -> None:
    """Raise now what :func:`write_derived_series` would raise for these options and folder.

    ``volume`` is the source volume (or its enhancement: both carry the source's metadata); call
    this before minutes of inference so that a forbidden or occupied output folder, or NIfTI/NRRD
    input without patient information, is refused first.
    """
    options = options or DerivedSeriesOptions()
    source = _Source.of(volume)
    _check_options(options, source)
    _check_target(Path(out_dir), source)


def write_derived_series(
    enhanced: Volume,
    out_dir: str | Path,
    options: DerivedSeriesOptions | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> DerivedSeries:
    """Write ``enhanced`` as a new derived DICOM MR series in the folder ``out_dir``.

    Args:
        enhanced: the result of :func:`mrdeeprecon.enhance` (data ``(z, y, x)``, LPS mm
            geometry, metadata with ``enhancement`` and, for DICOM input, the source's
            ``dicom_header``, ``sop_instance_uids``, ``frame_numbers``).
        out_dir: the new series folder; it must not exist or be empty, and must not be (or,
            for a folder source, lie inside) the source series folder. Its parent must exist.
        options: description, numbering, UIDs, IOD, patient for NIfTI/NRRD input.
        progress: called with ``(fraction, message)`` once per slice (frame), ending at 1.
        cancel: checked before every slice (frame); when set,
            :class:`~mrdeeprecon.errors.Cancelled` is raised and nothing is left behind.

    Returns:
        The written series (:class:`DerivedSeries`).

    Raises:
        MRDeepReconError: naming the problem (occupied or forbidden output folder, NIfTI/NRRD
            input without patient, invalid options, volume without an enhancement record).
    """
    options = options or DerivedSeriesOptions()
    out_dir = Path(out_dir)
    source = _Source.of(enhanced)
    _enhancement(enhanced)
    _check_options(options, source)
    _check_target(out_dir, source)
    plan = _plan(enhanced, source, options)

    target = Path(os.path.realpath(out_dir))
    temporary = target.parent / f".{target.name}.{uuid.uuid4().hex[:12]}.partial"
    try:
        temporary.mkdir()
    except OSError as exc:
        raise MRDeepReconError(f"cannot write in the output's folder ({exc.strerror or exc})", out_dir) from exc
    try:
        writer = _write_enhanced if options.enhanced else _write_classic
        files, uids = writer(plan, temporary, progress, cancel)
        _check_target(out_dir, source)
        if target.exists():
            target.rmdir()
        os.replace(temporary, target)
    except OSError as exc:  # disk full, permissions changed under us ...: nothing is left
        shutil.rmtree(temporary, ignore_errors=True)
        raise MRDeepReconError(f"could not write the series ({exc.strerror or exc})", out_dir) from exc
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return DerivedSeries(
        folder=out_dir,
        files=[out_dir / f.name for f in files],
        series_instance_uid=plan.series_uid,
        sop_instance_uids=uids,
        rescale_slope=plan.quantised.slope,
        rescale_intercept=plan.quantised.intercept,
    )


__all__ = [
    "check_derived_target",
    "DerivedSeries",
    "DerivedSeriesOptions",
    "PatientStudy",
    "write_derived_series",
    "engine_version",
]
