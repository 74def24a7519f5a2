"""DICOM reading: real Philips (classic + enhanced), GE, pydicom and pydicom-data files, synthetic bad inputs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest

from conftest import shared_path, pydicom_testdata
from synthetic_dicom import classic_slice, enhanced_object, stack, write_series
from mrdeeprecon.errors import MRDeepReconError
from mrdeeprecon.io import load_volume
from mrdeeprecon.io.dicom import list_series, read_dicom


def _headers(folder: Path) -> dict[str, pydicom.Dataset]:
    """SOPInstanceUID → header of the image files in ``folder``."""
    out = {}
    for path in folder.iterdir():
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        if "ImagePositionPatient" in ds:
            out[ds.SOPInstanceUID] = ds
    return out


# ---------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def philips_enhanced() -> tuple[Path, object]:
    folder = shared_path("dicom/philips_phantom/201_T1W_TSE_Sno_CSno_CSAIno")
    return folder, read_dicom(folder)


@pytest.fixture(scope="module")
def ge_volume() -> tuple[Path, object]:
    folder = shared_path("dicom/ge_mprage_headers")
    return folder, load_volume(folder)


def test_philips_enhanced_ignores_raw_data(philips_enhanced) -> None:
    folder, volume = philips_enhanced
    assert len(list(folder.iterdir())) == 2  # the image object and a Raw Data Storage object
    assert volume.shape == (12, 256, 256)
    assert volume.data.dtype == np.float32
    ds = pydicom.dcmread(folder / "0001.dcm")
    frames = ds.PerFrameFunctionalGroupsSequence
    z = [float(f.PlanePositionSequence[0].ImagePositionPatient[2]) for f in frames]
    np.testing.assert_allclose(volume.origin, frames[int(np.argmin(z))].PlanePositionSequence[0].ImagePositionPatient)
    np.testing.assert_allclose(volume.spacing, (1.0, 1.0, 5.0), atol=1e-5)
    np.testing.assert_allclose(volume.direction, np.eye(3), atol=1e-12)
    slope = float(frames[0].PixelValueTransformationSequence[0].RescaleSlope)
    k0 = int(np.argmin(z))
    np.testing.assert_allclose(volume.data[0], ds.pixel_array[k0] * slope, rtol=1e-6)
    meta = volume.metadata
    assert meta["format"] == "dicom" and meta["modality"] == "MR"
    assert meta["series_description"] == "T1W_TSE_Sno_CSno_CSAIno"
    assert meta["manufacturer"] == "Philips"
    assert meta["sop_instance_uids"] == [ds.SOPInstanceUID] * 12
    assert meta["frame_numbers"] == [i + 1 for i in np.argsort(z)]
    assert "PixelData" not in meta["dicom_header"]
    assert meta["dicom_header"].SeriesInstanceUID == meta["series_instance_uid"] == ds.SeriesInstanceUID
    assert meta["study_instance_uid"] == ds.StudyInstanceUID
    assert meta["scan_context"].acquisition == "2D"
    assert [s.images for s in list_series(folder)] == [12]


def test_philips_classic_sorted_by_position_not_name(philips_classic_dir: Path, tmp_path: Path) -> None:
    sources = sorted(philips_classic_dir.iterdir())
    assert len(sources) == 24
    names = np.random.default_rng(7).permutation(len(sources))
    for src, name in zip(sources, names):
        shutil.copy(src, tmp_path / f"img{name:02d}")  # extensionless, shuffled
    volume = load_volume(tmp_path)
    assert volume.shape == (24, 256, 256)
    headers = _headers(philips_classic_dir)
    z = [float(headers[uid].ImagePositionPatient[2]) for uid in volume.metadata["sop_instance_uids"]]
    assert z == sorted(z) and z[0] == -63.25
    np.testing.assert_allclose(volume.origin, headers[volume.metadata["sop_instance_uids"][0]].ImagePositionPatient)
    np.testing.assert_allclose(volume.spacing, (1.0, 1.0, 5.5), atol=1e-6)
    first = pydicom.dcmread(philips_classic_dir / "0001.dcm")
    np.testing.assert_allclose(volume.data[0], first.pixel_array * float(first.RescaleSlope), rtol=1e-6)
    assert volume.metadata["scan_context"].slice_spacing == pytest.approx(5.5)


def test_ge_oblique_geometry(ge_volume) -> None:
    folder, volume = ge_volume
    assert volume.shape == (130, 256, 256)
    headers = _headers(folder)
    uids = volume.metadata["sop_instance_uids"]
    first = headers[uids[0]]
    assert int(first.InstanceNumber) == 1
    iop = np.asarray(first.ImageOrientationPatient, float)
    normal = np.cross(iop[:3], iop[3:])
    np.testing.assert_allclose(volume.direction[:, 0], iop[:3], atol=1e-9)
    np.testing.assert_allclose(volume.direction[:, 1], iop[3:], atol=1e-9)
    np.testing.assert_allclose(volume.direction[:, 2], normal / np.linalg.norm(normal), atol=1e-9)
    np.testing.assert_allclose(volume.origin, np.asarray(first.ImagePositionPatient, float), atol=0)
    np.testing.assert_allclose(volume.spacing, (0.9375, 0.9375, 1.2), atol=1e-4)
    ijk_to_lps = volume.ijk_to_lps()
    for k, uid in enumerate(uids):  # origin + k · spacing_k · normal hits every slice
        expected = ijk_to_lps @ np.array([0.0, 0.0, k, 1.0])
        np.testing.assert_allclose(expected[:3], np.asarray(headers[uid].ImagePositionPatient, float), atol=1e-3)
    assert volume.metadata["manufacturer"] == "GE MEDICAL SYSTEMS"


def test_pydicom_mr_small(pydicom_mr_small: Path) -> None:
    volume = load_volume(pydicom_mr_small)
    ds = pydicom.dcmread(pydicom_mr_small)
    assert volume.shape == (1, 64, 64)
    np.testing.assert_array_equal(volume.data[0], ds.pixel_array.astype(np.float32))
    np.testing.assert_allclose(volume.spacing, (0.3125, 0.3125, 0.8))  # SliceThickness: no SpacingBetweenSlices
    np.testing.assert_allclose(volume.origin, [-83.9063, -91.2, 6.6406])


def test_pydicom_data_mr2_uncr_oblique_rescaled() -> None:
    path = pydicom_testdata("MR2_UNCR.dcm")
    volume = load_volume(path)
    ds = pydicom.dcmread(path)
    assert volume.shape == (1, 1024, 1024)
    iop = np.asarray(ds.ImageOrientationPatient, float)
    np.testing.assert_allclose(volume.direction[:, 0], iop[:3] / np.linalg.norm(iop[:3]), atol=1e-12)
    np.testing.assert_allclose(volume.spacing, (0.195313, 0.195313, 6.6))
    expected = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    np.testing.assert_allclose(volume.data[0], expected, rtol=1e-6)


def test_pydicom_data_enhanced_without_geometry_is_an_error() -> None:
    path = pydicom_testdata("emri_small.dcm")  # enhanced multi-frame MR without functional groups
    with pytest.raises(MRDeepReconError, match="missing geometry") as info:
        load_volume(path)
    assert str(path) in str(info.value)


def test_two_series_need_a_choice(philips_enhanced_dir: Path, philips_classic_dir: Path, tmp_path: Path) -> None:
    for folder in (philips_enhanced_dir, philips_classic_dir):
        for src in folder.iterdir():
            shutil.copy(src, tmp_path / f"{folder.name[:3]}_{src.name}")
    infos = {s.series_instance_uid: s for s in list_series(tmp_path)}
    assert sorted(s.images for s in infos.values()) == [12, 24]
    with pytest.raises(MRDeepReconError) as info:
        read_dicom(tmp_path)
    message = str(info.value)
    assert str(tmp_path) in message
    for uid, series in infos.items():
        assert uid in message and series.description in message and f"({series.images} images)" in message
    classic = next(s for s in infos.values() if s.images == 24)
    assert read_dicom(tmp_path, series_uid=classic.series_instance_uid).shape == (24, 256, 256)
    with pytest.raises(MRDeepReconError, match="not found"):
        read_dicom(tmp_path, series_uid="1.2.3")


# ---------------------------------------------------------------- synthetic geometry


def test_reversed_normal_and_shuffled_files(tmp_path: Path) -> None:
    # row +x, column -y → normal -z: ascending distance along the normal is descending z.
    z = [4.0, 0.0, 8.0, 2.0, 6.0]
    folder = write_series(tmp_path / "s", stack(z, orientation=(1, 0, 0, 0, -1, 0)))
    volume = read_dicom(folder)
    np.testing.assert_allclose(volume.direction[:, 2], [0, 0, -1])
    np.testing.assert_allclose(volume.origin, [10.0, -20.0, 8.0])
    np.testing.assert_allclose(volume.spacing, (0.6, 0.8, 2.0))
    assert volume.data[:, 0, 0].tolist() == [3, 5, 1, 4, 2]  # values in descending-z order
    for k in range(5):
        lps = volume.ijk_to_lps() @ np.array([0, 0, k, 1.0])
        assert lps[2] == pytest.approx(8.0 - 2.0 * k)


def test_enhanced_frames_sorted_with_per_frame_rescale(tmp_path: Path) -> None:
    write_series(tmp_path, [enhanced_object([3.0, -3.0, 0.0], [1.0, 2.0, 3.0])], ["multi"])
    volume = read_dicom(tmp_path / "multi")
    # normal of row +y, column -z is -x: ascending distance = descending x → frames 1, 3, 2.
    np.testing.assert_allclose(volume.direction, [[0, 0, -1], [1, 0, 0], [0, -1, 0]], atol=1e-12)
    np.testing.assert_allclose(volume.origin, [3.0, 5.0, 7.0])
    np.testing.assert_allclose(volume.spacing, (0.25, 0.5, 3.0))
    assert volume.data[:, 0, 0].tolist() == [10 * 1 + 1, 30 * 3 + 1, 20 * 2 + 1]
    assert volume.metadata["frame_numbers"] == [1, 3, 2]


def test_single_enhanced_frame_uses_shared_thickness(tmp_path: Path) -> None:
    write_series(tmp_path, [enhanced_object([1.0], [1.0])], ["one.dcm"])
    assert read_dicom(tmp_path / "one.dcm").spacing[2] == 3.0


# ---------------------------------------------------------------- bad inputs


def _assert_error(path: Path, pattern: str, named: Path | None = None) -> None:
    with pytest.raises(MRDeepReconError, match=pattern) as info:
        load_volume(path)
    assert str(named or path) in str(info.value)


def test_missing_path(tmp_path: Path) -> None:
    _assert_error(tmp_path / "nothing", "no such file")


def test_empty_folder(tmp_path: Path) -> None:
    _assert_error(tmp_path, "empty")


def test_folder_without_dicom(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not an image")
    _assert_error(tmp_path, "no DICOM")


def test_not_a_dicom_file(tmp_path: Path) -> None:
    path = tmp_path / "fake.dcm"
    path.write_bytes(b"\x00" * 10 + b"plain bytes")
    _assert_error(path, "not a DICOM file")


def test_truncated_file(tmp_path: Path) -> None:
    src = pydicom_testdata("MR_truncated.dcm")
    path = tmp_path / "truncated.dcm"
    shutil.copy(src, path)
    _assert_error(path, "pixel data|unreadable")


def test_only_raw_data(philips_enhanced_dir: Path, tmp_path: Path) -> None:
    shutil.copy(philips_enhanced_dir / "0001_Raw.dcm", tmp_path / "raw.dcm")
    _assert_error(tmp_path, "no image series.*Raw Data Storage")


def test_non_mr_modality(tmp_path: Path) -> None:
    write_series(tmp_path, stack([0.0, 1.0], modality="CT"))
    _assert_error(tmp_path, "modality CT is not MR", tmp_path / "000.dcm")


@pytest.mark.parametrize("keyword", ["ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing"])
def test_missing_geometry(tmp_path: Path, keyword: str) -> None:
    datasets = stack([0.0, 1.0, 2.0])
    delattr(datasets[1], keyword)
    write_series(tmp_path, datasets)
    _assert_error(tmp_path, f"missing geometry: no {keyword}", tmp_path / "001.dcm")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda ds: delattr(ds, "Rows"), "missing Rows"),
        (lambda ds: delattr(ds, "Columns"), "missing Columns"),
        (lambda ds: setattr(ds, "Rows", 65535), "implausible Rows 65535"),  # not 128 GiB allocated
        (lambda ds: setattr(ds, "PixelSpacing", [-0.8, -0.6]), r"invalid PixelSpacing \[-0.8, -0.6\]"),
        (lambda ds: setattr(ds, "PixelSpacing", [0, 0]), r"invalid PixelSpacing \[0.0, 0.0\]"),
        (lambda ds: setattr(ds, "PixelSpacing", [1e9, 1e9]), "invalid PixelSpacing"),
        (lambda ds: setattr(ds, "ImagePositionPatient", ["nan", 0, 0]), "invalid ImagePositionPatient"),
        (lambda ds: setattr(ds, "ImageOrientationPatient", [1, 0, 0, 0, "inf", 0]), "invalid ImageOrientationPatient"),
    ],
    ids=["no rows", "no columns", "huge rows", "negative spacing", "zero spacing", "huge spacing", "nan position", "inf orientation"],
)
def test_damaged_header_is_one_line_naming_the_file(tmp_path: Path, change, message: str) -> None:
    datasets = stack([0.0, 1.0, 2.0])
    change(datasets[1])
    write_series(tmp_path, datasets)
    _assert_error(tmp_path, message, tmp_path / "001.dcm")


def test_inconsistent_orientation(tmp_path: Path) -> None:
    datasets = stack([0.0, 1.0, 2.0])
    datasets[2] = classic_slice((10.0, -20.0, 2.0), orientation=(1, 0, 0, 0, 0.99, 0.141067))
    write_series(tmp_path, datasets)
    _assert_error(tmp_path, "inconsistent orientation", tmp_path / "002.dcm")


def test_inconsistent_matrix(tmp_path: Path) -> None:
    datasets = stack([0.0, 1.0, 2.0])
    datasets[1] = classic_slice((10.0, -20.0, 1.0), rows=8)
    write_series(tmp_path, datasets)
    _assert_error(tmp_path, "inconsistent matrix", tmp_path / "001.dcm")


def test_four_d_duplicate_positions(tmp_path: Path) -> None:
    write_series(tmp_path, stack([0.0, 1.0, 0.0, 1.0]))  # e.g. two echoes
    _assert_error(tmp_path, "4D series")


def test_non_uniform_spacing(tmp_path: Path) -> None:
    write_series(tmp_path, stack([0.0, 1.0, 2.0, 4.0]))  # a missing slice
    _assert_error(tmp_path, "non-uniform slice spacing")


def test_sheared_stack(tmp_path: Path) -> None:
    datasets = [classic_slice((0.5 * i, 0.0, float(i)), value=i) for i in range(3)]  # gantry tilt
    write_series(tmp_path, datasets)
    _assert_error(tmp_path, "not stacked along their normal")


def test_nan_in_float_data(tmp_path: Path) -> None:
    ds = classic_slice((0.0, 0.0, 0.0))
    del ds.PixelData
    del ds.HighBit, ds.BitsStored, ds.PixelRepresentation
    ds.BitsAllocated = 32
    values = np.ones((ds.Rows, ds.Columns), np.float32)
    values[1, 1] = np.nan
    ds.FloatPixelData = values.tobytes()
    write_series(tmp_path, [ds])
    _assert_error(tmp_path, "NaN")


def test_colour_unsupported(tmp_path: Path) -> None:
    ds = classic_slice((0.0, 0.0, 0.0))
    ds.SamplesPerPixel = 3
    write_series(tmp_path, [ds])
    _assert_error(tmp_path, "unsupported", tmp_path / "000.dcm")


def test_folder_of_folders(tmp_path: Path) -> None:
    (tmp_path / "series1").mkdir()
    _assert_error(tmp_path, "sub-folders are not searched")


@pytest.mark.parametrize(
    ("sop_class", "name"),
    [("1.2.840.10008.5.1.4.1.1.2", "CT Image Storage"), ("1.2.840.10008.5.1.4.1.1.7", "Secondary Capture Image Storage")],
)
def test_mr_modality_in_a_non_mr_object_is_refused(tmp_path: Path, sop_class: str, name: str) -> None:
    datasets = stack([0.0, 1.0, 2.0])
    datasets[2].SOPClassUID = sop_class
    datasets[2].file_meta.MediaStorageSOPClassUID = sop_class
    write_series(tmp_path, datasets)
    _assert_error(tmp_path, f"SOP class {name} is not an MR image object", tmp_path / "002.dcm")


def test_an_error_names_the_files_that_were_skipped_as_not_dicom(tmp_path: Path) -> None:
    """A slice file damaged into garbage is skipped like any stray file; the gap it leaves is then
    reported with the skipped file named, so the user sees why a slice is missing."""
    write_series(tmp_path, stack([0.0, 1.0, 2.0, 3.0]))
    (tmp_path / "002.dcm").write_bytes(b"\x00" * 150)  # truncated to garbage
    with pytest.raises(MRDeepReconError, match="non-uniform slice spacing") as info:
        load_volume(tmp_path)
    assert "(1 file(s) of the folder are not DICOM and were skipped: 002.dcm)" in str(info.value)
    (tmp_path / "notes.txt").write_text("a stray file")
    (tmp_path / "002.dcm").unlink()
    write_series(tmp_path, [classic_slice((10.0, -20.0, 2.0), value=3)], names=["002.dcm"])
    assert load_volume(tmp_path).shape[0] == 4  # stray files alone change nothing
