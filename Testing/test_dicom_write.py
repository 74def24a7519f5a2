"""Derived DICOM series writer: quantisation, round trips (our reader and SimpleITK), UIDs and
references, atomic writing, NIfTI input.

Sources: the Philips enhanced multi-frame T1 TSE (12 frames, in-plane super-resolution ×2 with the
2D model, so its pixels become non-square), the Philips classic T1 FFE (24 files, slice
super-resolution ×2 with the 3D model), the oblique GE MPRAGE (first 8 of 130 slices, slice
super-resolution ×2) and pydicom-data's single Siemens slice. Every one goes through the real
engine once per test session (:func:`enhanced_case`, also used by ``test_dicom_dciodvfy.py``).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import io
import itertools
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from conftest import pydicom_testdata, shared_path
from mrdeeprecon import CancelToken, EnhanceSettings, Volume, enhance
from mrdeeprecon.errors import Cancelled, MRDeepReconError
from mrdeeprecon.io import load_volume, save_volume
from mrdeeprecon.io.dicom import read_dicom
from mrdeeprecon.io.dicom_encoding import format_ds, quantise
from mrdeeprecon.io.dicom_write import (
    RESEARCH_PATIENT_ID,
    RESEARCH_PATIENT_NAME,
    DerivedSeries,
    DerivedSeriesOptions,
    PatientStudy,
    write_derived_series,
)

MR_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
ENHANCED_MR_STORAGE = "1.2.840.10008.5.1.4.1.1.4.1"
CASES = ("philips_enhanced", "philips_classic", "ge_oblique", "siemens")
#: GE slices kept (of 130): enough for the 7-slice 3D model, fast on 2 CPU cores.
GE_SLICES = 8
GEOMETRY_TOLERANCE_MM = 1e-3
ENHANCEMENT_RECORD = {
    "noise_reduction": 2.0,
    "super_resolution": [1.0, 1.0, 2.0],
    "model_name": "synthetic",
    "model_sha256": "0123456789abcdef",
    "device": "cpu",
}


# ------------------------------------------------------------------------------ shared cases


def _source_path(name: str) -> Path:
    if name == "philips_enhanced":
        return shared_path("dicom/philips_phantom/201_T1W_TSE_Sno_CSno_CSAIno")
    if name == "philips_classic":
        return shared_path("dicom/philips_phantom/501_T1W_FFE_Sno_CS4")
    if name == "ge_oblique":
        return shared_path("dicom/ge_mprage_headers")
    return pydicom_testdata("MR-SIEMENS-DICOM-WithOverlays.dcm")


def _first_slices(volume: Volume, count: int) -> Volume:
    """The first ``count`` sorted slices, with the per-slice metadata cut to match."""
    metadata = dict(volume.metadata)
    for key in ("sop_instance_uids", "frame_numbers"):
        metadata[key] = metadata[key][:count]
    return volume.with_data(volume.data[:count].copy(), metadata=metadata)


@functools.cache
def enhanced_case(name: str) -> tuple[Volume, Volume]:
    """(source volume, its enhancement by the real engine) for one of :data:`CASES`."""
    source = load_volume(_source_path(name))
    if name == "ge_oblique":
        source = _first_slices(source, GE_SLICES)
    settings = {
        "philips_enhanced": EnhanceSettings(2.0, (2.0, 1.0, 1.0), device="cpu", model_kind="2d"),
        "philips_classic": EnhanceSettings(2.0, (1.0, 1.0, 2.0), device="cpu", model_kind="3d"),
        "ge_oblique": EnhanceSettings(2.0, (1.0, 1.0, 2.0), device="cpu", model_kind="3d"),
        "siemens": EnhanceSettings(2.0, (1.0, 1.0, 1.0), device="cpu", model_kind="2d"),
    }[name]
    return source, enhance(source, settings)


@functools.cache
def source_instances(name: str) -> dict[str, tuple[Path, pydicom.Dataset]]:
    """SOPInstanceUID → (file, header) of the source series' image files."""
    path = _source_path(name)
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    found = {}
    for file in files:
        header = pydicom.dcmread(file, stop_before_pixels=True)
        if header.get("SOPClassUID") in (MR_STORAGE, ENHANCED_MR_STORAGE):
            found[str(header.SOPInstanceUID)] = (file, header)
    return found


def source_positions(name: str) -> dict[tuple[str, int], np.ndarray]:
    """(SOPInstanceUID, 1-based frame) → ImagePositionPatient of every source slice."""
    positions = {}
    for uid, (_, header) in source_instances(name).items():
        if "PerFrameFunctionalGroupsSequence" in header:
            for index, frame in enumerate(header.PerFrameFunctionalGroupsSequence):
                ipp = frame.PlanePositionSequence[0].ImagePositionPatient
                positions[(uid, index + 1)] = np.array([float(v) for v in ipp])
        else:
            positions[(uid, 1)] = np.array([float(v) for v in header.ImagePositionPatient])
    return positions


def slice_positions(volume: Volume) -> np.ndarray:
    """(N, 3) LPS position of every slice: ``ijk_to_lps`` applied to ``(0, 0, k)``."""
    k = np.arange(volume.shape[0])
    ijk = np.stack([np.zeros_like(k), np.zeros_like(k), k, np.ones_like(k)])
    return (volume.ijk_to_lps() @ ijk)[:3].T


def frame_headers(series: DerivedSeries) -> list[tuple[pydicom.Dataset, pydicom.Dataset | None]]:
    """Per written slice: (the object's header, its per-frame item or None for classic)."""
    out = []
    for path in series.files:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        if "PerFrameFunctionalGroupsSequence" in ds:
            out.extend((ds, frame) for frame in ds.PerFrameFunctionalGroupsSequence)
        else:
            out.append((ds, None))
    return out


def written_position(ds: pydicom.Dataset, frame: pydicom.Dataset | None) -> np.ndarray:
    item = ds if frame is None else frame.PlanePositionSequence[0]
    return np.array([float(v) for v in item.ImagePositionPatient])


def value_tolerance(series: DerivedSeries, volume: Volume) -> float:
    """Half a quantisation step plus float32 rounding of the largest value."""
    return series.rescale_slope / 2 + 1e-6 * float(np.abs(volume.data).max())


def assert_geometry(read: Volume, expected: Volume, check_slice_spacing: bool = True) -> None:
    assert read.shape == expected.shape
    spacing_axes = 3 if check_slice_spacing else 2
    np.testing.assert_allclose(
        read.spacing[:spacing_axes], expected.spacing[:spacing_axes], atol=GEOMETRY_TOLERANCE_MM
    )
    np.testing.assert_allclose(read.origin, expected.origin, atol=GEOMETRY_TOLERANCE_MM)
    np.testing.assert_allclose(read.direction, expected.direction, atol=1e-6)


def sitk_read(series: DerivedSeries) -> sitk.Image:
    """The written series through SimpleITK/GDCM: the series reader for classic files, ReadImage
    for the one multi-frame file (GDCM reads Enhanced MR per-frame geometry)."""
    if len(series.files) == 1:
        return sitk.ReadImage(str(series.files[0]))
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(series.folder)))
    return reader.Execute()


def tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def synthetic(shape=(6, 20, 16), direction=None, spacing=(0.8, 0.9, 2.5)) -> Volume:
    """A small float32 ramp with negative values, as if enhanced from a NIfTI file."""
    data = np.linspace(-50.0, 900.0, int(np.prod(shape)), dtype=np.float32).reshape(shape)
    return Volume(
        data=data,
        spacing=spacing,
        origin=(12.5, -30.25, 44.0),
        direction=np.eye(3) if direction is None else direction,
        metadata={
            "source_path": "/data/brain_T1.nii.gz",
            "format": "nifti",
            "enhancement": dict(ENHANCEMENT_RECORD),
        },
    )


def oblique_rotation() -> np.ndarray:
    a, b = np.deg2rad(20.0), np.deg2rad(-35.0)
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    rz = np.array([[np.cos(b), -np.sin(b), 0], [np.sin(b), np.cos(b), 0], [0, 0, 1]])
    return rz @ rx


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict[tuple[str, bool], DerivedSeries]:
    """Every case written once as classic and once as enhanced."""
    root = tmp_path_factory.mktemp("derived")
    out = {}
    for name in CASES:
        _, result = enhanced_case(name)
        for as_enhanced in (False, True):
            folder = root / f"{name}_{'enhanced' if as_enhanced else 'classic'}"
            out[(name, as_enhanced)] = write_derived_series(
                result, folder, DerivedSeriesOptions(enhanced=as_enhanced)
            )
    return out


ALL_WRITES = [(name, enhanced) for name in CASES for enhanced in (False, True)]
IDS = [f"{name}-{'enhanced' if enhanced else 'classic'}" for name, enhanced in ALL_WRITES]


# ------------------------------------------------------------------------------ quantisation


def test_quantise_ramp_reproduces_values_within_half_a_step() -> None:
    values = np.linspace(0.0, 1234.5678, 5000)
    q = quantise(values)
    assert q.stored.dtype == np.uint16 and not q.signed
    assert q.stored.max() == 65535 and q.intercept_ds == "0"
    assert np.max(np.abs(q.decode() - values)) <= q.slope / 2 * (1 + 1e-9)


def test_quantise_negative_values_are_signed_and_keep_zero() -> None:
    values = np.array([-300.0, -1.0, 0.0, 0.25, 1000.0])
    q = quantise(values)
    assert q.signed and q.stored.dtype == np.int16
    assert q.stored[2] == 0  # zero stays exactly zero
    assert abs(int(q.stored.max())) <= 32767 and int(q.stored.min()) >= -32767
    assert np.max(np.abs(q.decode() - values)) <= q.slope / 2 * (1 + 1e-9)


@pytest.mark.parametrize("value", [0.0, 7.0, -3.5, 1e-30])
def test_quantise_constant_image_has_a_nonzero_slope(value: float) -> None:
    q = quantise(np.full((3, 4, 5), value, np.float32))
    assert q.slope > 0
    assert np.max(np.abs(q.decode() - np.float32(value))) <= q.slope / 2


@pytest.mark.parametrize(
    "values",
    [
        np.array([-1e-6, 3.0e9, 12.5, 0.0]),  # huge dynamic range
        np.array([1e-25, 2e-25, 7e-26]),  # tiny values: the slope needs an exponent
        np.array([-2.0e38, 1.0e38]),  # near float32's limit
        np.array([21.2764346764346, 4095 * 21.2764346764346]),
    ],
)
def test_quantise_extreme_ranges_and_ds_length(values: np.ndarray) -> None:
    q = quantise(values)
    assert len(q.slope_ds) <= 16 and len(q.intercept_ds) <= 16
    assert float(q.slope_ds) == q.slope  # quantised with exactly the value that is written
    assert np.max(np.abs(q.decode() - values)) <= q.slope / 2 * (1 + 1e-9)


def test_quantise_rejects_non_finite_values() -> None:
    with pytest.raises(ValueError):
        quantise(np.array([1.0, np.nan]))


def test_format_ds_fits_sixteen_characters() -> None:
    for value in (1 / 3, -123456.789012345, 1e-20, 2.5e38, -0.000123456789):
        text = format_ds(value)
        assert len(text) <= 16
        assert abs(float(text) - value) <= 1e-9 * abs(value)


# ------------------------------------------------------------------------------ round trips


@pytest.mark.parametrize(("name", "as_enhanced"), ALL_WRITES, ids=IDS)
def test_round_trip_with_our_reader(written, name: str, as_enhanced: bool) -> None:
    _, result = enhanced_case(name)
    series = written[(name, as_enhanced)]
    read = read_dicom(series.folder)
    assert_geometry(read, result)
    assert np.max(np.abs(read.data - result.data)) <= value_tolerance(series, result)
    sop = read.metadata["dicom_header"].SOPClassUID
    assert sop == (ENHANCED_MR_STORAGE if as_enhanced else MR_STORAGE)


@pytest.mark.parametrize(("name", "as_enhanced"), ALL_WRITES, ids=IDS)
def test_every_slice_position_and_order(written, name: str, as_enhanced: bool) -> None:
    """Files (classic) / frames (enhanced) are in slice order, numbered from 1, at
    ``ijk_to_lps · (0, 0, k)``, with the volume's orientation and pixel spacing order."""
    _, result = enhanced_case(name)
    series = written[(name, as_enhanced)]
    expected = slice_positions(result)
    headers = frame_headers(series)
    assert len(headers) == result.shape[0]
    for k, (ds, frame) in enumerate(headers):
        np.testing.assert_allclose(
            written_position(ds, frame), expected[k], atol=GEOMETRY_TOLERANCE_MM
        )
        if frame is None:
            assert int(ds.InstanceNumber) == k + 1
            orientation, spacing = ds.ImageOrientationPatient, ds.PixelSpacing
            assert float(ds.SpacingBetweenSlices) == pytest.approx(result.spacing[2], abs=1e-6)
        else:
            assert list(frame.FrameContentSequence[0].DimensionIndexValues) == [1, k + 1]
            shared = ds.SharedFunctionalGroupsSequence[0]
            orientation = shared.PlaneOrientationSequence[0].ImageOrientationPatient
            spacing = shared.PixelMeasuresSequence[0].PixelSpacing
        np.testing.assert_allclose(
            [float(v) for v in orientation],
            np.concatenate([result.direction[:, 0], result.direction[:, 1]]),
            atol=1e-9,
        )
        # PixelSpacing = (row spacing, column spacing) = (spacing[1], spacing[0])
        np.testing.assert_allclose(
            [float(v) for v in spacing], [result.spacing[1], result.spacing[0]], atol=1e-9
        )


@pytest.mark.parametrize(("name", "as_enhanced"), ALL_WRITES, ids=IDS)
def test_round_trip_with_simpleitk(written, name: str, as_enhanced: bool) -> None:
    """SimpleITK (GDCM) reads the classic series and the Enhanced MR multi-frame file with the
    same geometry and values. For the single Siemens slice GDCM has no second position to measure
    a slice distance from, so only the in-plane spacing is compared."""
    _, result = enhanced_case(name)
    series = written[(name, as_enhanced)]
    image = sitk_read(series)
    read = Volume(
        data=sitk.GetArrayFromImage(image),
        spacing=image.GetSpacing(),
        origin=image.GetOrigin(),
        direction=np.array(image.GetDirection()).reshape(3, 3),
    )
    assert_geometry(read, result, check_slice_spacing=result.shape[0] > 1)
    assert np.max(np.abs(read.data - result.data)) <= value_tolerance(series, result)


def test_super_resolved_grids_are_what_was_written(written) -> None:
    """The cases really cover a refined slice grid, non-square pixels and an oblique stack."""
    classic_source, classic = enhanced_case("philips_classic")
    assert classic.shape[0] == 2 * classic_source.shape[0]
    assert classic.spacing[2] == pytest.approx(classic_source.spacing[2] / 2)
    _, in_plane = enhanced_case("philips_enhanced")
    assert in_plane.spacing[0] != pytest.approx(in_plane.spacing[1])
    _, ge = enhanced_case("ge_oblique")
    assert np.max(np.abs(ge.direction - np.eye(3))) > 0.1
    # the source's nominal thickness is kept while the spacing halves
    ds = pydicom.dcmread(written[("philips_classic", False)].files[0], stop_before_pixels=True)
    assert float(ds.SliceThickness) == 5.0
    assert float(ds.SpacingBetweenSlices) == pytest.approx(2.75)


def test_left_handed_volume_reads_back_with_the_slice_axis_reversed(tmp_path: Path) -> None:
    """DICOM readers sort slices along row × column; a volume whose third axis points the other
    way is written in its own order and read back reversed, voxel for voxel at the same place."""
    direction = oblique_rotation() @ np.diag([1.0, 1.0, -1.0])
    volume = synthetic(direction=direction)
    series = write_derived_series(
        volume, tmp_path / "out", DerivedSeriesOptions(research_placeholder=True)
    )
    read = read_dicom(series.folder)
    last = slice_positions(volume)[-1]
    np.testing.assert_allclose(read.origin, last, atol=GEOMETRY_TOLERANCE_MM)
    np.testing.assert_allclose(read.direction[:, 2], -direction[:, 2], atol=1e-6)
    assert np.max(np.abs(read.data[::-1] - volume.data)) <= value_tolerance(series, volume)


# ------------------------------------------------------------------------------ header content


@pytest.mark.parametrize(("name", "as_enhanced"), ALL_WRITES, ids=IDS)
def test_uids_and_identity(written, name: str, as_enhanced: bool) -> None:
    source, result = enhanced_case(name)
    series = written[(name, as_enhanced)]
    header = source.metadata["dicom_header"]
    source_uids = set(source_instances(name))
    for path, uid in zip(series.files, series.sop_instance_uids, strict=True):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        assert ds.SOPInstanceUID == uid == ds.file_meta.MediaStorageSOPInstanceUID
        assert ds.SOPClassUID == ds.file_meta.MediaStorageSOPClassUID
        assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
        assert ds.file_meta.ImplementationClassUID == pydicom.uid.PYDICOM_IMPLEMENTATION_UID
        assert uid not in source_uids
        assert ds.SeriesInstanceUID == series.series_instance_uid != header.SeriesInstanceUID
        for keyword in (
            "StudyInstanceUID",
            "FrameOfReferenceUID",
            "PatientID",
            "PatientName",
            "StudyID",
            "AccessionNumber",
            "StudyDate",
            "StudyTime",
        ):
            assert ds.get(keyword) == header.get(keyword), keyword
        assert int(ds.SeriesNumber) == int(header.SeriesNumber) + 1000
        assert ds.ImageType[0] == "DERIVED"
        assert ds.BurnedInAnnotation == "NO"
        assert not any(element.tag.is_private for element in ds.iterall())
        assert "IconImageSequence" not in ds and 0x60000010 not in ds
        equipment = ds.ContributingEquipmentSequence[-1]
        assert equipment.Manufacturer == "MRDeepRecon" and equipment.SoftwareVersions
        assert equipment.PurposeOfReferenceCodeSequence[0].CodeValue == "109103"
        referenced = ds.ReferencedSeriesSequence[0]
        assert referenced.SeriesInstanceUID == header.SeriesInstanceUID
        assert {i.ReferencedSOPInstanceUID for i in referenced.ReferencedInstanceSequence} <= (
            source_uids
        )
    assert len(set(series.sop_instance_uids)) == len(series.sop_instance_uids)


def test_default_series_description_and_derivation_text(written) -> None:
    ds = pydicom.dcmread(written[("philips_classic", False)].files[0], stop_before_pixels=True)
    assert ds.SeriesDescription == "T1W_FFE_Sno_CS4 DLR NR2 SR1x1x2"
    assert "ce_unet_3d" in ds.DerivationDescription
    _, result = enhanced_case("philips_classic")
    assert result.metadata["enhancement"]["model_sha256"][:12] in ds.DerivationDescription
    assert "MRDeepRecon 0.1.0" in ds.DerivationDescription
    codes = {item.CodeValue for item in ds.DerivationCodeSequence}
    assert codes == {"113087", "113085"}  # smoothing + spatial resampling
    assert ds.RescaleType == "US"
    enhanced = pydicom.dcmread(
        written[("philips_enhanced", True)].files[0], stop_before_pixels=True
    )
    assert enhanced.SeriesDescription == "T1W_TSE_Sno_CSno_CSAIno DLR NR2 SR2x1x1"
    transformation = enhanced.SharedFunctionalGroupsSequence[0].PixelValueTransformationSequence[0]
    assert transformation.RescaleType == "US"
    assert float(transformation.RescaleSlope) == written[("philips_enhanced", True)].rescale_slope


def test_source_window_is_kept(written) -> None:
    classic = pydicom.dcmread(written[("philips_classic", False)].files[0], stop_before_pixels=True)
    assert (float(classic.WindowCenter), float(classic.WindowWidth)) == (1070.0, 1860.0)
    from_enhanced = pydicom.dcmread(
        written[("philips_enhanced", False)].files[0], stop_before_pixels=True
    )
    assert (float(from_enhanced.WindowCenter), float(from_enhanced.WindowWidth)) == (1056.0, 1836.0)
    siemens = pydicom.dcmread(written[("siemens", True)].files[0], stop_before_pixels=True)
    voi = siemens.SharedFunctionalGroupsSequence[0].FrameVOILUTSequence[0]
    assert [float(v) for v in voi.WindowCenter] == [450.0, 200.0]
    assert list(voi.WindowCenterWidthExplanation) == ["WINDOW1", "WINDOW2"]


def test_enhanced_source_written_as_classic_gets_classic_acquisition_attributes(written) -> None:
    ds = pydicom.dcmread(written[("philips_enhanced", False)].files[0], stop_before_pixels=True)
    assert float(ds.EchoTime) == pytest.approx(23.0556, abs=1e-3)
    assert float(ds.RepetitionTime) == pytest.approx(519.5226, abs=1e-3)
    assert float(ds.FlipAngle) == 90.0
    assert list(ds.ScanningSequence) == ["SE"] or ds.ScanningSequence == "SE"
    assert "SK" in ds.SequenceVariant  # segmented k-space TSE
    assert ds.MRAcquisitionType == "2D" and float(ds.MagneticFieldStrength) == 3.0
    assert ds.InPlanePhaseEncodingDirection == "ROW"
    assert "InversionTime" not in ds  # not an inversion-recovery sequence


def test_classic_source_written_as_enhanced_gets_functional_groups(written) -> None:
    ds = pydicom.dcmread(written[("ge_oblique", True)].files[0], stop_before_pixels=True)
    shared = ds.SharedFunctionalGroupsSequence[0]
    assert shared.MREchoSequence[0].EffectiveEchoTime == pytest.approx(3.172)
    fov = shared.MRFOVGeometrySequence[0]
    assert fov.InPlanePhaseEncodingDirection == "ROW"
    assert (
        fov.MRAcquisitionFrequencyEncodingSteps,
        fov.MRAcquisitionPhaseEncodingStepsInPlane,
    ) == (
        256,
        256,
    )
    assert shared.FrameAnatomySequence[0].AnatomicRegionSequence[0].CodeMeaning  # from GE's region
    assert list(ds.ImageType) == ["DERIVED", "PRIMARY", "VOLUME", "RESAMPLED"]
    assert list(shared.MRImageFrameTypeSequence[0].FrameType) == list(ds.ImageType)
    for keyword in ("RepetitionTime", "FlipAngle", "ScanningSequence", "AcquisitionDate", "ReceiveCoilName"):
        assert keyword not in ds  # classic-only attributes (dciodvfy: not in the Enhanced MR IOD)
    ge_header = next(iter(source_instances("ge_oblique").values()))[1]
    assert str(ds.AcquisitionDateTime).startswith(str(ge_header.AcquisitionDate))  # the date moved, not lost
    assert ds.ContentQualification == "RESEARCH"
    siemens = pydicom.dcmread(written[("siemens", True)].files[0], stop_before_pixels=True)
    region = siemens.SharedFunctionalGroupsSequence[0].FrameAnatomySequence[0]
    assert region.AnatomicRegionSequence[0].CodeValue == "818981001"  # BodyPartExamined ABDOMEN


#: The classic attributes that MR Timing and Related Parameters holds under the same tags.
TIMING_KEYWORDS = ("RepetitionTime", "FlipAngle", "EchoTrainLength", "RFEchoTrainLength", "GradientEchoTrainLength")


def test_classic_source_written_as_enhanced_keeps_tr_and_flip_angle(written) -> None:
    """A classic Philips T1 FFE written as Enhanced MR keeps TR, flip angle and echo train length
    in the shared MR Timing and Related Parameters group (PS3.3 C.8.13.5.2, with values equal
    to every source slice's); what the source lacks (RF / gradient echo train lengths) is left
    out, not invented, and nothing stays at the top level or goes per frame."""
    ds = pydicom.dcmread(written[("philips_classic", True)].files[0], stop_before_pixels=True)
    assert ds.SharedFunctionalGroupsSequence[0].MRImageFrameTypeSequence[0].FrameType[0] == "DERIVED"
    timing = ds.SharedFunctionalGroupsSequence[0].MRTimingAndRelatedParametersSequence
    assert len(timing) == 1
    headers = [header for _, header in source_instances("philips_classic").values()]
    for keyword in ("RepetitionTime", "FlipAngle", "EchoTrainLength"):
        assert {str(header[keyword].value) for header in headers} == {str(timing[0][keyword].value)}
    assert float(timing[0].RepetitionTime) == pytest.approx(256.4448, abs=1e-4)
    assert float(timing[0].FlipAngle) == 80.0 and int(timing[0].EchoTrainLength) == 1
    assert "RFEchoTrainLength" not in timing[0] and "GradientEchoTrainLength" not in timing[0]
    assert "SpecificAbsorptionRateSequence" not in timing[0] and "OperatingModeSequence" not in timing[0]
    assert not any(keyword in ds for keyword in TIMING_KEYWORDS)
    assert not any("MRTimingAndRelatedParametersSequence" in frame for frame in ds.PerFrameFunctionalGroupsSequence)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"FlipAngle": None, "EchoTrainLength": "", "RFEchoTrainLength": 1}, {"RepetitionTime", "RFEchoTrainLength"}),
        ({keyword: None for keyword in TIMING_KEYWORDS}, None),
    ],
    ids=["partial", "none"],
)
def test_timing_group_holds_only_what_the_classic_source_has(
    tmp_path: Path, changes: dict, expected: set[str] | None
) -> None:
    """Absent or empty source attributes are left out of the group (never written empty, type
    1C); a source with none of them gets no MR Timing group at all."""
    source = _first_slices(load_volume(_source_path("philips_classic")), 3)
    header = copy.deepcopy(source.metadata["dicom_header"])
    for keyword, value in changes.items():
        if value is None:
            header.pop(keyword, None)
        else:
            setattr(header, keyword, value)
    metadata = {**source.metadata, "dicom_header": header, "enhancement": ENHANCEMENT_RECORD}
    series = write_derived_series(
        source.with_data(source.data, metadata=metadata), tmp_path / "out", DerivedSeriesOptions(enhanced=True)
    )
    ds = pydicom.dcmread(series.files[0], stop_before_pixels=True)
    timing = ds.SharedFunctionalGroupsSequence[0].get("MRTimingAndRelatedParametersSequence")
    if expected is None:
        assert timing is None
    else:
        assert {element.keyword for element in timing[0]} == expected
        assert all(element.value not in ("", None) for element in timing[0])
    assert not any(keyword in ds for keyword in TIMING_KEYWORDS)


class _FixedClock(datetime):
    """A ``datetime`` whose ``now()`` is one fixed moment with its UTC offset, in any time zone."""

    @classmethod
    def now(cls, tz=None) -> _FixedClock:
        return cls(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone(timedelta(hours=2)))

    def astimezone(self, tz=None) -> _FixedClock:
        return self


def make_writer_deterministic(monkeypatch: pytest.MonkeyPatch) -> None:
    """New UIDs from a counter, a fixed clock and engine version: the written bytes are then a
    function of the input alone."""
    from mrdeeprecon.io.dicom_write import derivation, header, plan

    counter = itertools.count(1)
    monkeypatch.setattr(plan, "generate_uid", lambda prefix=None: f"1.2.826.0.1.3680043.10.999.{next(counter)}")
    monkeypatch.setattr(plan, "datetime", _FixedClock)
    for module in (derivation, header):
        monkeypatch.setattr(module, "engine_version", lambda: "0.0.0")


def data_set_sha256(data: bytes) -> str:
    """SHA-256 of a DICOM file's data set: the bytes after its File Meta Information (whose
    implementation UID and version name are pydicom's, not the writer's)."""
    meta_length = int.from_bytes(data[140:144], "little")  # (0002,0000) UL, explicit VR LE
    return hashlib.sha256(data[144 + meta_length :]).hexdigest()


def pinned_writes(root: Path) -> dict[str, str]:
    """Data-set SHA-256 of the written files of :data:`PINNED_WRITES` (the sources themselves
    with :data:`ENHANCEMENT_RECORD`, no network); for a classic source written as Enhanced MR,
    of the object without its MR Timing and Related Parameters group, re-encoded by pydicom."""
    sources = {
        "philips_enhanced": load_volume(_source_path("philips_enhanced")),
        "philips_classic": load_volume(_source_path("philips_classic")),
        "ge_oblique": _first_slices(load_volume(_source_path("ge_oblique")), GE_SLICES),
    }
    digests = {}
    for name, as_enhanced in PINNED_WRITES:
        if name == "nifti":
            volume, options = synthetic(), DerivedSeriesOptions(research_placeholder=True, enhanced=as_enhanced)
        else:
            source = sources[name]
            volume = source.with_data(source.data, metadata={**source.metadata, "enhancement": ENHANCEMENT_RECORD})
            options = DerivedSeriesOptions(enhanced=as_enhanced)
        key = f"{name}-{'enhanced' if as_enhanced else 'classic'}"
        series = write_derived_series(volume, root / key, options)
        for path in series.files:
            data = path.read_bytes()
            if name == "philips_classic" and as_enhanced:
                ds = pydicom.dcmread(path)
                ds.SharedFunctionalGroupsSequence[0].pop("MRTimingAndRelatedParametersSequence", None)
                buffer = io.BytesIO()
                ds.save_as(buffer, enforce_file_format=True)
                data = buffer.getvalue()
            digests[f"{key}/{path.name}"] = data_set_sha256(data)
    return digests


#: (source, written as enhanced) of :func:`pinned_writes`.
PINNED_WRITES = [
    ("philips_enhanced", True),
    ("philips_enhanced", False),
    ("philips_classic", False),
    ("philips_classic", True),
    ("ge_oblique", False),
    ("nifti", True),
    ("nifti", False),
]
#: :func:`pinned_writes` before the MR Timing group was carried from a classic source (first,
#: last and middle files of each series). A deliberate change of the written output updates them.
PINNED_SHA256 = {
    "philips_enhanced-enhanced/0001.dcm": "1ecc932cb0b1d07066808d766747f6018b9cdaddf5e734c9149f1395f3b3b4f1",
    "philips_enhanced-classic/0001.dcm": "b93709b82892f56afe6410b45a4dd04791cb15ba0042d36e6bd213468ce8f9ec",
    "philips_enhanced-classic/0007.dcm": "2ce53232931a84a2491c2afd885f86048539148b050c5098b3c952006134a5b4",
    "philips_enhanced-classic/0012.dcm": "6943e374df1994cef529f542d6c55eba36e51a1507f67b9bf62478db0ff758de",
    "philips_classic-classic/0001.dcm": "6f5efe301910dc58e17aa5a3bc4afe21a23e33f1a146d58da7ff49114cc74a69",
    "philips_classic-classic/0013.dcm": "9f8a15adac6fe1ae28a42fe445a97ca50992940691770066366250e02da11aff",
    "philips_classic-classic/0024.dcm": "14495b70de560a3ee1dff5ea6cca5445578977235c6db1212aedd078ab44f320",
    "philips_classic-enhanced/0001.dcm": "936bf3e52d21fc4916b15fb2a127c3f7b19c51969dc15968309b0f2c7d275dbb",
    "ge_oblique-classic/0001.dcm": "351087fb5e03d29ca6bf02b241caa4588619ce5ba2cb398bfd1468e33ba22752",
    "ge_oblique-classic/0005.dcm": "3dfc878f43398c2e9fd665be750bee264e71e444b9b4f05f6a416d7e9881aeb9",
    "ge_oblique-classic/0008.dcm": "4f786e41b4ee0cba7a9902d96d19a42a85dfd4e4fe79f3f9233f569a127a6ded",
    "nifti-enhanced/0001.dcm": "11f1f594beabc0be8b7d98c2c03ceaf76c2a4059e40238e324e022742a1fc6c4",
    "nifti-classic/0001.dcm": "a22bbeeb12a9d4519da64da5d90d3106c5d58ad8a96b77f93c2fa9757cd0414b",
    "nifti-classic/0004.dcm": "8a77c517da4408b977855dc2c2f5024ee5ebc92b6df6d3891a28094bc67504bf",
    "nifti-classic/0006.dcm": "99a4bc0c238033562020b9ee81cc11ef3a970865b3038a629336f2b67802f9f5",
}


def test_outputs_other_than_the_timing_group_are_unchanged(tmp_path: Path, monkeypatch) -> None:
    """Enhanced sources (both IODs), classic outputs and NIfTI input are written byte for byte as
    before the MR Timing group was carried; a classic source written as Enhanced MR differs only
    by that group."""
    make_writer_deterministic(monkeypatch)
    digests = pinned_writes(tmp_path)
    assert {key: digests[key] for key in PINNED_SHA256} == PINNED_SHA256


@pytest.mark.parametrize(("name", "as_enhanced"), ALL_WRITES, ids=IDS)
def test_source_references_are_the_nearest_source_slices(written, name, as_enhanced) -> None:
    source, result = enhanced_case(name)
    series = written[(name, as_enhanced)]
    positions = source_positions(name)
    kept = set(
        zip(source.metadata["sop_instance_uids"], source.metadata["frame_numbers"], strict=True)
    )
    candidates = {key: pos for key, pos in positions.items() if key in kept}
    normal = result.direction[:, 2]
    step = result.shape[0] * result.spacing[2] / len(candidates)
    for ds, frame in frame_headers(series):
        if frame is None:
            references = ds.SourceImageSequence
        else:
            references = frame.DerivationImageSequence[0].SourceImageSequence
            assert frame.DerivationImageSequence[0].DerivationCodeSequence
        assert 1 <= len(references) <= 2
        here = written_position(ds, frame) @ normal
        nearest = min(abs(p @ normal - here) for p in candidates.values())
        for reference in references:
            frame_number = int(reference.get("ReferencedFrameNumber", 1))
            key = (reference.ReferencedSOPInstanceUID, frame_number)
            assert key in candidates
            assert reference.ReferencedSOPClassUID == source_instances(name)[key[0]][1].SOPClassUID
            assert abs(candidates[key] @ normal - here) <= nearest + 1e-3 * step
        assert ("ReferencedFrameNumber" in references[0]) == (name == "philips_enhanced")


def test_uid_prefix_description_and_offset_options(tmp_path: Path) -> None:
    _, result = enhanced_case("siemens")
    prefix = "1.2.826.0.1.3680043.10.543."
    options = DerivedSeriesOptions(
        series_description="my edited description",
        series_number_offset=50,
        uid_prefix=prefix,
        enhanced=True,
    )
    series = write_derived_series(result, tmp_path / "out", options)
    ds = pydicom.dcmread(series.files[0], stop_before_pixels=True)
    assert ds.SeriesDescription == "my edited description"
    assert int(ds.SeriesNumber) == 18 + 50
    assert series.series_instance_uid.startswith(prefix)
    assert all(uid.startswith(prefix) for uid in series.sop_instance_uids)
    assert ds.DimensionOrganizationSequence[0].DimensionOrganizationUID.startswith(prefix)


def test_long_source_description_is_truncated_to_64_characters(tmp_path: Path) -> None:
    _, result = enhanced_case("siemens")
    volume = result.with_data(
        result.data, metadata={**result.metadata, "series_description": "X" * 80}
    )
    series = write_derived_series(volume, tmp_path / "out")
    description = pydicom.dcmread(series.files[0], stop_before_pixels=True).SeriesDescription
    assert len(description) <= 64 and description.endswith(" DLR NR2 SR1x1x1")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (DerivedSeriesOptions(series_description="x" * 65), "longer than 64"),
        (DerivedSeriesOptions(series_description="a\\b"), "backslash"),
        (DerivedSeriesOptions(uid_prefix="1.2.3"), "UID prefix"),
        (DerivedSeriesOptions(uid_prefix="1.02.3."), "UID prefix"),
        (DerivedSeriesOptions(series_number_offset=-1), "series number offset"),
        (DerivedSeriesOptions(research_placeholder=True), "only for NIfTI/NRRD"),
        (DerivedSeriesOptions(patient=PatientStudy("A^B", "1")), "only for NIfTI/NRRD"),
    ],
)
def test_invalid_options_are_refused(tmp_path: Path, options, message: str) -> None:
    _, result = enhanced_case("siemens")
    with pytest.raises(MRDeepReconError, match=message):
        write_derived_series(result, tmp_path / "out", options)
    assert not (tmp_path / "out").exists()


def test_volume_without_enhancement_record_is_refused(tmp_path: Path) -> None:
    source, _ = enhanced_case("siemens")
    with pytest.raises(MRDeepReconError, match="enhancement record"):
        write_derived_series(source, tmp_path / "out")


# ------------------------------------------------------------------------------ atomic writing


def _entries(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def test_progress_is_reported_per_slice(tmp_path: Path) -> None:
    _, result = enhanced_case("philips_classic")
    fractions: list[float] = []
    write_derived_series(result, tmp_path / "out", progress=lambda f, m: fractions.append(f))
    assert len(fractions) == result.shape[0]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


@pytest.mark.parametrize("as_enhanced", [False, True], ids=["classic", "enhanced"])
def test_cancel_leaves_nothing_behind(tmp_path: Path, as_enhanced: bool) -> None:
    _, result = enhanced_case("philips_classic")
    token = CancelToken()
    calls: list[float] = []

    def progress(fraction: float, message: str) -> None:
        calls.append(fraction)
        if len(calls) == 3:
            token.cancel()

    before = _entries(tmp_path)
    with pytest.raises(Cancelled):
        write_derived_series(
            result, tmp_path / "out", DerivedSeriesOptions(enhanced=as_enhanced), progress, token
        )
    assert len(calls) == 3
    assert _entries(tmp_path) == before  # neither out_dir nor a hidden temporary folder


def test_failure_while_writing_leaves_nothing_behind(tmp_path: Path, monkeypatch) -> None:
    _, result = enhanced_case("philips_classic")
    calls = []
    original = pydicom.dcmwrite

    def failing_write(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:
            raise OSError(28, "No space left on device")
        return original(*args, **kwargs)

    monkeypatch.setattr(pydicom, "dcmwrite", failing_write)
    with pytest.raises(MRDeepReconError, match="could not write the series [(]No space left on device[)]") as raised:
        write_derived_series(result, tmp_path / "out")
    assert str(tmp_path / "out") in str(raised.value)
    assert _entries(tmp_path) == set()


def test_non_empty_output_folder_is_refused_and_untouched(tmp_path: Path) -> None:
    _, result = enhanced_case("siemens")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(MRDeepReconError, match="not empty") as raised:
        write_derived_series(result, out)
    assert str(out) in str(raised.value)
    assert _entries(out) == {"keep.txt"} and (out / "keep.txt").read_text() == "mine"
    assert _entries(tmp_path) == {"out"}


def test_empty_output_folder_is_replaced(tmp_path: Path) -> None:
    _, result = enhanced_case("siemens")
    out = tmp_path / "out"
    out.mkdir()
    series = write_derived_series(result, out)
    assert series.folder == out and _entries(out) == {"0001.dcm"}
    assert _entries(tmp_path) == {"out"}


def test_output_path_that_is_a_file_or_has_no_parent_is_refused(tmp_path: Path) -> None:
    _, result = enhanced_case("siemens")
    (tmp_path / "file").write_text("x")
    with pytest.raises(MRDeepReconError, match="not a folder"):
        write_derived_series(result, tmp_path / "file")
    with pytest.raises(MRDeepReconError, match="parent folder does not exist"):
        write_derived_series(result, tmp_path / "missing" / "out")
    assert _entries(tmp_path) == {"file"}


def test_source_folder_is_refused_and_byte_identical(tmp_path: Path) -> None:
    """Writing into the source series folder (or below it) is refused; for a single-file source,
    so is the file's folder. The source files stay byte-identical."""
    _, result = enhanced_case("philips_classic")
    copy = tmp_path / "series"
    shutil.copytree(_source_path("philips_classic"), copy)
    volume = result.with_data(result.data, metadata={**result.metadata, "source_path": str(copy)})
    before = tree_digest(copy)
    for target in (copy, copy / "derived", copy / "derived" / ".."):
        with pytest.raises(MRDeepReconError, match="source series folder"):
            write_derived_series(volume, target)
    assert tree_digest(copy) == before

    _, single = enhanced_case("siemens")
    folder = tmp_path / "single"
    folder.mkdir()
    file = folder / "image.dcm"
    shutil.copy(_source_path("siemens"), file)
    volume = single.with_data(single.data, metadata={**single.metadata, "source_path": str(file)})
    with pytest.raises(MRDeepReconError, match="source series folder"):
        write_derived_series(volume, folder)
    assert _entries(folder) == {"image.dcm"}


def test_writing_leaves_the_real_source_byte_identical(tmp_path: Path) -> None:
    source_dir = _source_path("philips_classic")
    before = tree_digest(source_dir)
    _, result = enhanced_case("philips_classic")
    write_derived_series(result, tmp_path / "a")
    write_derived_series(result, tmp_path / "b", DerivedSeriesOptions(enhanced=True))
    assert tree_digest(source_dir) == before


# ------------------------------------------------------------------------------ NIfTI input


@functools.cache
def _nifti_enhanced(tmp: str) -> Volume:
    """A small synthetic volume saved as NIfTI, read back and enhanced by the real 2D model."""
    rng = np.random.default_rng(0)
    data = np.zeros((4, 48, 40), np.float32)
    data[:, 10:38, 8:32] = 400.0
    data += rng.normal(0.0, 20.0, data.shape).astype(np.float32)
    volume = Volume(
        data, spacing=(0.9, 1.1, 3.0), origin=(-20.0, 15.0, 7.5), direction=oblique_rotation()
    )
    path = Path(tmp) / "phantom_T1.nii.gz"
    save_volume(volume, path)
    return enhance(load_volume(path), EnhanceSettings(2.0, device="cpu", model_kind="2d"))


@pytest.fixture(scope="module")
def nifti_enhanced(tmp_path_factory) -> Volume:
    return _nifti_enhanced(str(tmp_path_factory.mktemp("nifti")))


def test_nifti_without_patient_is_refused(tmp_path: Path, nifti_enhanced: Volume) -> None:
    with pytest.raises(MRDeepReconError, match="research_placeholder") as raised:
        write_derived_series(nifti_enhanced, tmp_path / "out")
    assert "PatientStudy" in str(raised.value)
    assert not (tmp_path / "out").exists()
    with pytest.raises(MRDeepReconError, match="not both"):
        write_derived_series(
            nifti_enhanced,
            tmp_path / "out",
            DerivedSeriesOptions(patient=PatientStudy("A^B", "1"), research_placeholder=True),
        )


@pytest.mark.parametrize("as_enhanced", [False, True], ids=["classic", "enhanced"])
def test_nifti_research_placeholder_round_trip(
    tmp_path: Path, nifti_enhanced: Volume, as_enhanced: bool
) -> None:
    prefix = "1.2.826.0.1.3680043.10.543."
    options = DerivedSeriesOptions(
        enhanced=as_enhanced, research_placeholder=True, uid_prefix=prefix
    )
    series = write_derived_series(nifti_enhanced, tmp_path / "out", options)
    read = read_dicom(series.folder)
    assert_geometry(read, nifti_enhanced)
    assert np.max(np.abs(read.data - nifti_enhanced.data)) <= value_tolerance(
        series, nifti_enhanced
    )
    ds = pydicom.dcmread(series.files[0], stop_before_pixels=True)
    assert (str(ds.PatientName), ds.PatientID) == (RESEARCH_PATIENT_NAME, RESEARCH_PATIENT_ID)
    assert ds.SeriesDescription == "RESEARCH phantom_T1 DLR NR2 SR1x1x1"
    assert "RESEARCH PLACEHOLDER" in ds.ImageComments
    assert ds.Manufacturer == "MRDeepRecon" and ds.Modality == "MR"
    for keyword in ("StudyInstanceUID", "FrameOfReferenceUID", "SeriesInstanceUID"):
        assert ds[keyword].value.startswith(prefix)
    assert int(ds.SeriesNumber) == 1000
    assert "SourceImageSequence" not in ds and "ReferencedSeriesSequence" not in ds


def test_nifti_with_patient_and_existing_study(tmp_path: Path, nifti_enhanced: Volume) -> None:
    patient = PatientStudy(
        patient_name="Müller^Jürgen",
        patient_id="P-0042",
        study_description="Research brain",
        accession_number="ACC1",
        study_instance_uid="1.2.826.0.1.3680043.10.543.7",
        patient_birth_date="19700102",
        patient_sex="M",
    )
    series = write_derived_series(
        nifti_enhanced, tmp_path / "out", DerivedSeriesOptions(patient=patient)
    )
    ds = pydicom.dcmread(series.files[0], stop_before_pixels=True)
    assert ds.SpecificCharacterSet == "ISO_IR 192"
    assert str(ds.PatientName) == "Müller^Jürgen" and ds.PatientID == "P-0042"
    assert ds.StudyInstanceUID == patient.study_instance_uid
    assert (ds.StudyDescription, ds.AccessionNumber) == ("Research brain", "ACC1")
    assert (ds.PatientBirthDate, ds.PatientSex) == ("19700102", "M")
    assert ds.SeriesDescription == "phantom_T1 DLR NR2 SR1x1x1"
    # a fresh study when no UID is given
    other = write_derived_series(
        nifti_enhanced, tmp_path / "new", DerivedSeriesOptions(patient=PatientStudy("A^B", "7"))
    )
    fresh = pydicom.dcmread(other.files[0], stop_before_pixels=True)
    assert fresh.StudyInstanceUID not in (patient.study_instance_uid, "")
    assert fresh.StudyDate  # a new study starts now


@pytest.mark.parametrize(
    ("patient", "message"),
    [
        (PatientStudy("A^B", ""), "patient ID"),
        (PatientStudy("A^B", "1", patient_birth_date="1970-01-02"), "birth date"),
        (PatientStudy("A^B", "1", patient_sex="X"), "sex"),
        (PatientStudy("A^B", "1", accession_number="A" * 17), "accession"),
        (PatientStudy("A^B", "1", study_instance_uid="1.2.abc"), "study instance UID"),
    ],
)
def test_invalid_patient_is_refused(tmp_path, nifti_enhanced, patient, message) -> None:
    with pytest.raises(MRDeepReconError, match=message):
        write_derived_series(
            nifti_enhanced, tmp_path / "out", DerivedSeriesOptions(patient=patient)
        )


@pytest.mark.parametrize(
    ("folder", "identity"),
    [("dicom/siemens_skyra_mprage", True), ("dicom/real_world/philips_dual_echo", False)],
    ids=["siemens integers, no rescale", "philips rescale slope 1.2366"],
)
def test_a_source_stored_as_plain_integers_keeps_that_scale(tmp_path: Path, folder: str, identity: bool) -> None:
    """Keep the source's pixel type where the range allows: a Skyra series (uint16, no rescale)
    is written as uint16 whole numbers without a rescale (which the classic MR IOD does not
    define); a Philips series with its own slope keeps the full-range slope encoding."""
    selection = {"echo": 2, "image_type": "M"} if "dual" in folder else {}
    source = _first_slices(load_volume(shared_path(folder), **selection), 3)
    values = source.data.astype(np.float32) * 1.1 + 0.3  # an 'enhancement' with fractional values
    result = source.with_data(values, metadata={**source.metadata, "enhancement": ENHANCEMENT_RECORD})
    series = write_derived_series(result, tmp_path / "out")
    ds = pydicom.dcmread(series.files[0])
    if identity:
        assert "RescaleSlope" not in ds and "RescaleIntercept" not in ds and ds.PixelRepresentation == 0
        np.testing.assert_array_equal(ds.pixel_array, np.rint(values[0]).astype(np.uint16))
    else:
        assert float(ds.RescaleSlope) != 1.0
    np.testing.assert_allclose(load_volume(series.folder).data, values, atol=series.rescale_slope / 2 + 1e-3)


def test_classic_output_of_an_enhanced_source_takes_laterality_from_the_frames(tmp_path: Path) -> None:
    """Without BodyPartExamined the classic series needs Laterality (type 2C): an enhanced
    source says the side in its Frame Anatomy group, which must not be lost as 'unknown'."""
    source = _first_slices(load_volume(shared_path("dicom/siemens_xa30_t1tfl_2mm")), 3)
    header = source.metadata["dicom_header"]
    del header.BodyPartExamined
    header.SharedFunctionalGroupsSequence[0].FrameAnatomySequence[0].FrameLaterality = "L"
    result = source.with_data(source.data, metadata={**source.metadata, "enhancement": ENHANCEMENT_RECORD})
    series = write_derived_series(result, tmp_path / "out")
    assert pydicom.dcmread(series.files[0], stop_before_pixels=True).Laterality == "L"
