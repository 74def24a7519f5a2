"""Refusals before anything is written: options, patient, output folder, character set."""

from __future__ import annotations

import re
from pathlib import Path

from pydicom.charset import convert_encodings
from pydicom.dataset import Dataset
from pydicom.uid import UID

from ...errors import MRDeepReconError
from .options import DerivedSeriesOptions, PatientStudy
from .source import SourceSeries

#: Longest LO value (SeriesDescription, PatientID, ...), characters.
LO_MAX = 64
#: Largest IS value (SeriesNumber).
IS_MAX = 2**31 - 1
#: Type 1 UIDs of the source that the derived series carries or refers to.
SOURCE_UIDS = ("StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID")


def check_options(options: DerivedSeriesOptions, source: SourceSeries) -> None:
    """Raise unless ``options`` suit ``source`` (DICOM: its own patient and complete UIDs;
    NIfTI/NRRD: a patient or the research placeholder) and every value is valid DICOM."""
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


def _check_text(value: str, what: str, limit: int) -> None:
    """Raise unless ``value`` fits a DICOM LO/SH/PN value of ``limit`` characters."""
    if len(value) > limit:
        raise MRDeepReconError(f"{what} is longer than {limit} characters: {value!r}")
    if "\\" in value or any(ord(c) < 32 for c in value):
        raise MRDeepReconError(f"{what} must not contain backslashes or control characters")


def check_target(out_dir: Path, source: SourceSeries) -> None:
    """Raise unless ``out_dir`` may become the series folder: not the source series folder (nor
    inside a folder source), absent or an empty folder, with an existing parent."""
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


def check_encodable(ds: Dataset, text: str, what: str) -> None:
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
