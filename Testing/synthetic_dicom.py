"""Synthetic DICOM objects for tests and the bad-input campaign (``Testing/fuzz``).

``classic_slice`` / ``enhanced_object`` build the smallest valid MR objects; ``mr_series`` builds
a complete classic MR series (patient, study, frame of reference, acquisition attributes) that
``mrdeeprecon enhance`` can read and write back as a derived DICOM series.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

MR_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
ENHANCED_MR_STORAGE = "1.2.840.10008.5.1.4.1.1.4.1"


def file_meta(sop_class: str, sop_uid: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return meta


def _common(ds: Dataset, sop_class: str, series_uid: str, modality: str) -> None:
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta = file_meta(sop_class, ds.SOPInstanceUID)
    ds.StudyInstanceUID = "1.2.3.4"
    ds.SeriesInstanceUID = series_uid
    ds.SeriesDescription = "synthetic"
    ds.Modality = modality
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0


def classic_slice(
    position: tuple[float, float, float],
    value: int = 1,
    *,
    rows: int = 6,
    columns: int = 5,
    orientation: tuple[float, ...] = (1, 0, 0, 0, 1, 0),
    spacing: tuple[float, float] = (0.8, 0.6),
    series_uid: str = "1.2.3.4.5",
    modality: str = "MR",
    pixels: np.ndarray | None = None,
) -> Dataset:
    """A classic MR slice filled with ``value`` (or holding ``pixels``, uint16 rows × columns)."""
    ds = Dataset()
    _common(ds, MR_STORAGE, series_uid, modality)
    ds.ImagePositionPatient = list(position)
    ds.ImageOrientationPatient = list(orientation)
    ds.PixelSpacing = list(spacing)
    ds.Rows, ds.Columns = rows, columns
    if pixels is None:
        pixels = np.full((rows, columns), value, np.uint16)
    ds.PixelData = np.ascontiguousarray(pixels, np.uint16).tobytes()
    return ds


def stack(z_positions: list[float], **kwargs) -> list[Dataset]:
    """Classic slices at these z positions (mm), slice i filled with i + 1."""
    return [classic_slice((10.0, -20.0, z), value=i + 1, **kwargs) for i, z in enumerate(z_positions)]


def enhanced_object(positions: list[float], slopes: list[float], rows: int = 4, columns: int = 3) -> Dataset:
    """An enhanced MR object: per-frame position (x, mm) and rescale, shared sagittal orientation
    and spacing; frame i filled with 10 (i + 1)."""
    ds = Dataset()
    _common(ds, ENHANCED_MR_STORAGE, "1.2.3.4.6", "MR")
    ds.NumberOfFrames = len(positions)
    ds.Rows, ds.Columns = rows, columns
    shared = Dataset()
    shared.PlaneOrientationSequence = [Dataset()]
    shared.PlaneOrientationSequence[0].ImageOrientationPatient = [0, 1, 0, 0, 0, -1]
    shared.PixelMeasuresSequence = [Dataset()]
    shared.PixelMeasuresSequence[0].PixelSpacing = [0.5, 0.25]
    shared.PixelMeasuresSequence[0].SliceThickness = 3
    ds.SharedFunctionalGroupsSequence = [shared]
    frames = []
    for x, slope in zip(positions, slopes):
        item = Dataset()
        item.PlanePositionSequence = [Dataset()]
        item.PlanePositionSequence[0].ImagePositionPatient = [x, 5.0, 7.0]
        item.PixelValueTransformationSequence = [Dataset()]
        item.PixelValueTransformationSequence[0].RescaleSlope = slope
        item.PixelValueTransformationSequence[0].RescaleIntercept = 1
        frames.append(item)
    ds.PerFrameFunctionalGroupsSequence = frames
    pixels = np.stack([np.full((rows, columns), 10 * (i + 1), np.uint16) for i in range(len(positions))])
    ds.PixelData = pixels.tobytes()
    return ds


def write_series(folder: Path, datasets: list[Dataset], names: list[str] | None = None) -> Path:
    """Save ``datasets`` into ``folder`` (created) as ``000.dcm`` … or under ``names``."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, ds in enumerate(datasets):
        ds.save_as(folder / (names[i] if names else f"{i:03d}.dcm"), enforce_file_format=True)
    return folder


def phantom(shape: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    """A smooth ellipsoid with texture and Rician-like noise, uint16 (slices, rows, columns)."""
    rng = np.random.default_rng(seed)
    k, j, i = np.meshgrid(*(np.linspace(-1, 1, n) for n in shape), indexing="ij")
    body = ((i / 0.8) ** 2 + (j / 0.7) ** 2 + (k / 0.9) ** 2 < 1).astype(float)
    image = 800 * body * (1 + 0.3 * np.sin(6 * i) * np.cos(5 * j)) + 40
    image = np.abs(image + rng.normal(0, 25, shape) + 1j * rng.normal(0, 25, shape))
    return np.clip(image, 0, 65535).astype(np.uint16)


def mr_series(
    folder: Path,
    shape: tuple[int, int, int] = (8, 24, 20),
    *,
    spacing: tuple[float, float, float] = (0.9, 0.8, 1.5),
    orientation: tuple[float, ...] = (1, 0, 0, 0, 1, 0),
    seed: int = 0,
) -> Path:
    """A complete classic 3D MR series in ``folder``: ``shape`` = (slices, rows, columns),
    ``spacing`` = (row spacing, column spacing, slice spacing) in mm."""
    pixels = phantom(shape, seed)
    series_uid, frame_uid = generate_uid(), generate_uid()
    row, col = np.array(orientation[:3], float), np.array(orientation[3:], float)
    normal = np.cross(row, col)
    datasets = []
    for k in range(shape[0]):
        position = np.array([-10.0, -12.0, 5.0]) + k * spacing[2] * normal
        ds = classic_slice(
            tuple(float(v) for v in position), rows=shape[1], columns=shape[2], orientation=orientation,
            spacing=spacing[:2], series_uid=series_uid, pixels=pixels[k],
        )
        ds.StudyInstanceUID = "1.2.826.0.1.3680043.10.543.1"
        ds.FrameOfReferenceUID = frame_uid
        ds.PatientName, ds.PatientID, ds.PatientSex, ds.PatientBirthDate = "Fuzz^Case", "FUZZ01", "O", ""
        ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20261205", "101010", "1", ""
        ds.ReferringPhysicianName, ds.Manufacturer = "", "SYNTHETIC"
        ds.SeriesNumber, ds.InstanceNumber = 7, k + 1
        ds.BitsStored, ds.HighBit = 12, 11
        ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND"]
        ds.ScanningSequence, ds.SequenceVariant, ds.ScanOptions = "GR", "SP", ""
        ds.MRAcquisitionType, ds.SliceThickness = "3D", spacing[2]
        ds.RepetitionTime, ds.EchoTime, ds.EchoTrainLength, ds.MagneticFieldStrength = 8.0, 3.5, 1, 3.0
        ds.AcquisitionMatrix = [0, shape[2], shape[1], 0]
        ds.InPlanePhaseEncodingDirection = "ROW"
        ds.PositionReferenceIndicator = ""
        ds.PatientPosition = "HFS"
        datasets.append(ds)
    return write_series(folder, datasets)
