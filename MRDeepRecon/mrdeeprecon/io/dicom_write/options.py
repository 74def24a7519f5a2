"""What the caller asks for and what it gets back: :class:`PatientStudy`,
:class:`DerivedSeriesOptions`, :class:`DerivedSeries`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: PatientName and PatientID of NIfTI/NRRD input written with ``research_placeholder``.
RESEARCH_PATIENT_NAME = "RESEARCH^PLACEHOLDER"
RESEARCH_PATIENT_ID = "MRDEEPRECON-RESEARCH"


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
    """What :func:`~mrdeeprecon.io.dicom_write.write_derived_series` wrote.

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
