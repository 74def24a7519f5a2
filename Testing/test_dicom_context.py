"""Scan context from DICOM headers: real Philips / GE / Siemens / pydicom headers and synthetic rules."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset

from conftest import shared_path, pydicom_testdata
from mrdeeprecon.context import ScanContext
from mrdeeprecon.io.dicom_context import context_from_dicom

FIELDS = {f.name for f in dataclasses.fields(ScanContext)} - {"sources"}


def _header(path: Path) -> pydicom.Dataset:
    return pydicom.dcmread(path, stop_before_pixels=True)


def _assert_complete(context: ScanContext) -> None:
    assert set(context.sources) == FIELDS
    assert all(isinstance(v, str) and v for v in context.sources.values())


def test_philips_enhanced_201(philips_enhanced_dir: Path) -> None:
    context = context_from_dicom(_header(philips_enhanced_dir / "0001.dcm"))
    _assert_complete(context)
    assert context.acquisition == "2D" and context.sources["acquisition"] == "MRAcquisitionType"
    assert context.phase_axis == 2 and context.frequency_axis == 1  # header: ROW
    assert context.sources["phase_axis"] == "InPlanePhaseEncodingDirection"
    assert context.acquired_matrix == (256, 203)
    assert context.sources["acquired_matrix"] == "MRAcquisitionPhaseEncodingStepsInPlane"
    assert context.displayed_matrix == (256, 256)
    assert context.kmax == pytest.approx((1.0, 203 / 256, 1.0))
    assert context.acceleration == (1.0, 1.0) and context.undersampling == "none"
    assert context.partial_fourier == (1.0, 1.0) and context.sources["partial_fourier"] == "PartialFourier"
    assert context.slice_thickness == 4.0 and context.slice_spacing == 5.0
    assert context.percent_sampling == pytest.approx(80.078125)
    assert context.pixel_bandwidth == pytest.approx(353.819488525391)
    assert context.manufacturer == "Philips"


def test_philips_enhanced_compressed_sense() -> None:
    folder = shared_path("dicom/philips_phantom/401_T1W_FFE_Sno_CS2")
    image = next(p for p in folder.iterdir() if not p.name.endswith("_Raw.dcm"))
    context = context_from_dicom(_header(image))
    assert context.acceleration == (2.0, 1.0)
    assert context.undersampling == "random"  # ParallelAcquisitionTechnique CSENSE
    assert context.sources["undersampling"] == "ParallelAcquisitionTechnique"


def test_philips_classic(philips_classic_dir: Path) -> None:
    context = context_from_dicom(_header(philips_classic_dir / "0001.dcm"))
    _assert_complete(context)
    assert context.acquisition == "2D" and context.phase_axis == 2
    assert context.acquired_matrix == (256, 256) and context.sources["kmax"] == "AcquisitionMatrix"
    assert context.kmax == (1.0, 1.0, 1.0)
    assert context.sources["acceleration"] == "default"  # classic Philips: no standard factor
    assert context.slice_spacing == 5.5 and context.slice_thickness == 5.0


def test_ge_3d_row(ge_mprage_dir: Path) -> None:
    context = context_from_dicom(_header(ge_mprage_dir / "i160.MRDC.1"))
    _assert_complete(context)
    assert context.acquisition == "3D"
    assert context.phase_axis == 2  # ROW
    assert context.acquired_matrix == (256, 256) and context.displayed_matrix == (256, 256)
    assert context.kmax == (1.0, 1.0, 1.0)  # 1.2 mm partitions at 1.2 mm spacing
    assert context.slice_thickness == pytest.approx(1.2)
    assert context.manufacturer == "GE MEDICAL SYSTEMS"
    assert context.sources["acceleration"] == "default"  # ASSET factors are private


def test_siemens_rectangular_fov() -> None:
    context = context_from_dicom(_header(pydicom_testdata("MR-SIEMENS-DICOM-WithOverlays.dcm")))
    assert context.phase_axis == 1 and context.acquired_matrix == (256, 134)  # [256, 0, 0, 134], COL
    assert context.percent_phase_fov == 75.0
    assert context.kmax == pytest.approx((256 / 484, 134 / (484 * 0.75), 1.0))


def test_pydicom_headers_without_sampling_tags(pydicom_mr_small: Path) -> None:
    context = context_from_dicom(_header(pydicom_mr_small))
    _assert_complete(context)
    assert context.acquisition == "3D"
    assert context.sources["phase_axis"] == "default" and context.phase_axis == 1
    assert context.sources["kmax"] == "default" and context.acquired_matrix is None


def test_pydicom_data_enhanced_top_level() -> None:
    context = context_from_dicom(_header(pydicom_testdata("emri_small.dcm")))
    _assert_complete(context)
    assert context.acquisition == "3D"
    assert context.acquired_matrix == (256, 256)
    assert context.kmax == (1.0, 1.0, 1.0)  # acquired 256 > displayed 64: clipped
    assert context.sources["elliptical"] == "CoverageOfKSpace" and not context.elliptical
    assert context.acceleration == (1.0, 1.0) and context.undersampling == "none"  # SENSE, R = 1


# ---------------------------------------------------------------- synthetic rules


def _classic(**attributes) -> Dataset:
    ds = Dataset()
    ds.Rows, ds.Columns = 512, 512
    ds.PixelSpacing = [0.5, 0.5]
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    return ds


@pytest.mark.parametrize(
    ("direction", "matrix", "phase_axis"),
    [("COL", [256, 0, 0, 256], 1), ("ROW", [0, 256, 256, 0], 2)],
)
def test_kmax_half_of_displayed(direction: str, matrix: list[int], phase_axis: int) -> None:
    ds = _classic(MRAcquisitionType="2D", InPlanePhaseEncodingDirection=direction, AcquisitionMatrix=matrix)
    context = context_from_dicom(ds)
    assert context.phase_axis == phase_axis
    assert context.kmax == (0.5, 0.5, 1.0)
    assert context.acquired_matrix == (256, 256) and context.sources["kmax"] == "AcquisitionMatrix"


def test_kmax_phase_fov_square_and_rectangular_display() -> None:
    square = _classic(
        InPlanePhaseEncodingDirection="COL", AcquisitionMatrix=[256, 0, 0, 192], PercentPhaseFieldOfView=75
    )
    assert context_from_dicom(square).kmax == pytest.approx((0.5, 192 / (512 * 0.75), 1.0))
    # Siemens-style rectangular display: 512 columns (frequency) × 384 rows (phase, 75 % FOV)
    rectangular = _classic(
        InPlanePhaseEncodingDirection="COL", AcquisitionMatrix=[256, 0, 0, 192], PercentPhaseFieldOfView=75
    )
    rectangular.Rows = 384
    assert context_from_dicom(rectangular).kmax == pytest.approx((0.5, 0.5, 1.0))


def test_3d_slice_kmax_from_overlap() -> None:
    ds = _classic(MRAcquisitionType="3D", SliceThickness=2.0, SpacingBetweenSlices=1.0)
    context = context_from_dicom(ds)
    assert context.kmax[2] == 0.5
    assert context_from_dicom(ds, slice_spacing=1.5).kmax[2] == 0.75  # measured spacing preferred
    assert context_from_dicom(ds, slice_spacing=1.5).sources["slice_spacing"] == "ImagePositionPatient"
    ds.MRAcquisitionType = "2D"
    assert context_from_dicom(ds).kmax[2] == 1.0


def _enhanced(modifier: dict, fov: dict, coverage: str | None = None) -> Dataset:
    ds = Dataset()
    ds.MRAcquisitionType = "3D"
    ds.Rows, ds.Columns = 256, 256
    if coverage:
        ds.CoverageOfKSpace = coverage
    shared = Dataset()
    shared.MRModifierSequence = [Dataset()]
    shared.MRFOVGeometrySequence = [Dataset()]
    for keyword, value in modifier.items():
        setattr(shared.MRModifierSequence[0], keyword, value)
    for keyword, value in fov.items():
        setattr(shared.MRFOVGeometrySequence[0], keyword, value)
    shared.PixelMeasuresSequence = [Dataset()]
    shared.PixelMeasuresSequence[0].PixelSpacing = [1, 1]
    ds.SharedFunctionalGroupsSequence = [shared]
    ds.PerFrameFunctionalGroupsSequence = [Dataset()]
    return ds


def test_enhanced_functional_groups() -> None:
    ds = _enhanced(
        modifier=dict(
            PartialFourier="YES",
            PartialFourierDirection="PHASE",
            ParallelAcquisition="YES",
            ParallelAcquisitionTechnique="GRAPPA",
            ParallelReductionFactorInPlane=2.0,
            ParallelReductionFactorOutOfPlane=1.5,
        ),
        fov=dict(
            InPlanePhaseEncodingDirection="ROW",
            MRAcquisitionFrequencyEncodingSteps=256,
            MRAcquisitionPhaseEncodingStepsInPlane=176,
            PercentSampling=100,
            PercentPhaseFieldOfView=100,
        ),
        coverage="ELLIPSOIDAL",
    )
    context = context_from_dicom(ds)
    _assert_complete(context)
    assert context.phase_axis == 2
    assert context.acquired_matrix == (256, 176)
    assert context.kmax == pytest.approx((1.0, 176 / 256, 1.0))
    assert context.partial_fourier == pytest.approx((176 / 256, 1.0))
    assert context.acceleration == (2.0, 1.5) and context.undersampling == "uniform"
    assert context.elliptical


def test_partial_fourier_fraction_assumed_when_not_derivable() -> None:
    ds = _enhanced(
        modifier=dict(PartialFourier="YES", PartialFourierDirection="COMBINATION"),
        fov=dict(MRAcquisitionFrequencyEncodingSteps=256, MRAcquisitionPhaseEncodingStepsInPlane=256),
    )
    assert context_from_dicom(ds).partial_fourier == (0.625, 0.625)


def test_empty_header_is_all_default() -> None:
    context = context_from_dicom(Dataset(), volume_shape=(3, 40, 50))
    assert context.displayed_matrix == (40, 50)
    assert set(context.sources.values()) == {"default"}
