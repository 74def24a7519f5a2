"""The header every written instance shares (both IODs): the source's kept attributes, or a
complete MR header made from scratch for NIfTI/NRRD input; and how an instance is written."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian

from .derivation import EQUIPMENT_NAME, contributing_equipment, engine_version, referenced_series
from .iod_keywords import DROPPED_KEYWORDS
from .items import date_time_values
from .options import RESEARCH_PATIENT_ID, RESEARCH_PATIENT_NAME, PatientStudy
from .plan import SeriesPlan
from .source import SourceSeries


def remove_unsafe(ds: Dataset) -> None:
    """Private tags (recursively), overlays, curves and group lengths."""
    ds.remove_private_tags()
    for tag in list(ds.keys()):
        group = tag.group
        if tag.element == 0 or 0x5000 <= group <= 0x50FF or 0x6000 <= group <= 0x60FF:
            del ds[tag]


def _copied_header(source: SourceSeries) -> Dataset:
    """The source header without what no longer describes the new instances."""
    assert source.header is not None
    ds = copy.deepcopy(source.header)
    remove_unsafe(ds)
    for keyword in DROPPED_KEYWORDS:
        if keyword in ds:
            delattr(ds, keyword)
    if "Laterality" in ds and not ds.Laterality:
        del ds.Laterality
    ds.file_meta = FileMetaDataset()
    return ds


def _scratch_header(plan: SeriesPlan) -> Dataset:
    """Patient, study, series-level and equipment attributes for NIfTI/NRRD input."""
    options = plan.options
    patient = options.patient or PatientStudy(RESEARCH_PATIENT_NAME, RESEARCH_PATIENT_ID)
    day, time, _ = date_time_values(plan.now)
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


def base_header(plan: SeriesPlan) -> Dataset:
    """Attributes common to every written instance (both IODs); the Image Pixel module comes
    with the pixels (:func:`write_instance`)."""
    source = plan.source
    ds = _copied_header(source) if source.is_dicom else _scratch_header(plan)
    day, time, _ = date_time_values(plan.now)
    ds.SeriesInstanceUID = plan.series_uid
    ds.SeriesNumber = plan.series_number
    ds.SeriesDescription = plan.description
    ds.SeriesDate = ds.ContentDate = ds.InstanceCreationDate = day
    ds.SeriesTime = ds.ContentTime = ds.InstanceCreationTime = time
    ds.Modality = "MR"
    burned_in = source.is_dicom and str(source.header.get("BurnedInAnnotation", "")) == "YES"  # type: ignore[union-attr]
    ds.BurnedInAnnotation = "YES" if burned_in else "NO"
    if not plan.original:  # an ORIGINAL series was made, not modified, by MRDeepRecon
        equipment = Sequence(list(ds.get("ContributingEquipmentSequence") or []))
        equipment.append(contributing_equipment(plan))
        ds.ContributingEquipmentSequence = equipment
    if source.is_dicom:
        ds.ReferencedSeriesSequence = referenced_series(plan, "ReferencedInstanceSequence")
    return ds


def write_instance(ds: Dataset, stored: np.ndarray, path: Path) -> None:
    """Write ``ds`` with the pixels ``stored`` (``(rows, columns)`` or ``(frames, rows,
    columns)``, little-endian ``int16`` / ``uint16``, MONOCHROME2, 16 bits) to ``path`` as
    explicit VR little endian, whatever the source's encoding (a big-endian source's copied
    attributes are re-encoded). pydicom sets the Image Pixel module from the array and fills
    the File Meta Information from SOPClassUID / SOPInstanceUID."""
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.set_pixel_data(stored, "MONOCHROME2", 16, generate_instance_uid=False)
    pydicom.dcmwrite(path, ds, enforce_file_format=True)
