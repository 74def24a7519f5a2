"""``--like``: the patient and study of an existing DICOM series, for a new series that joins
that study (a reconstruction of raw data from the same examination)."""

from __future__ import annotations

import re
from pathlib import Path

import pydicom

from ...errors import MRDeepReconError
from ..dicom import list_series
from .options import PatientStudy


def patient_study_like(path: str | Path) -> PatientStudy:
    """Patient (name, ID, birth date, sex) and study (StudyInstanceUID, description, accession
    number) of the DICOM series in ``path`` (a file or a folder); every series there must belong
    to one study. A birth date or sex that is not valid DICOM is left empty."""
    path = Path(path)
    headers = [
        pydicom.dcmread(info.files[0], stop_before_pixels=True) for info in list_series(path)
    ]
    studies = {str(ds.get("StudyInstanceUID") or "") for ds in headers}
    if len(studies) != 1:
        raise MRDeepReconError(f"--like: the series there belong to {len(studies)} studies; give one series", path)
    ds = headers[0]
    study_uid = studies.pop()
    patient_id = str(ds.get("PatientID") or "").strip()
    if not study_uid or not patient_id:
        raise MRDeepReconError("--like: the series has no PatientID or StudyInstanceUID", path)
    birth_date = str(ds.get("PatientBirthDate") or "")
    sex = str(ds.get("PatientSex") or "")
    return PatientStudy(
        patient_name=str(ds.get("PatientName") or ""),
        patient_id=patient_id,
        study_description=str(ds.get("StudyDescription") or ""),
        accession_number=str(ds.get("AccessionNumber") or ""),
        study_instance_uid=study_uid,
        patient_birth_date=birth_date if re.fullmatch(r"\d{8}", birth_date) else "",
        patient_sex=sex if sex in ("M", "F", "O") else "",
    )
