"""Siemens mosaics unpacked into their slices, and every lossless transfer syntax decoded.

The real file: one Siemens 3T EPI mosaic (35 slices of 64² in a 384² image) stored in nine
transfer syntaxes (``../shared/data/dicom/transfer_syntaxes``), with dcm2niix's conversion of it
(``reference.nii``) as an independent reference for the unpacked voxels and their positions.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import generate_uid

from conftest import shared_path
from mrdeeprecon.errors import MRDeepReconError
from mrdeeprecon.io import load_volume
from mrdeeprecon.io.dicom import read_dicom

SYNTAXES = "dicom/transfer_syntaxes"


def _mosaic_file(name: str = "1.dcm") -> Path:
    return shared_path(f"{SYNTAXES}/{name}")


def test_single_mosaic_file_is_unpacked_into_35_slices() -> None:
    volume = read_dicom(_mosaic_file())
    assert volume.shape == (35, 64, 64)
    assert volume.spacing == pytest.approx((3.25, 3.25, 3.6))
    context = volume.metadata["scan_context"]
    assert context.kmax == pytest.approx((1.0, 1.0, 1.0))  # acquired 64 × 64 = displayed tile
    assert context.displayed_matrix == (64, 64)
    header = volume.metadata["dicom_header"]
    assert (header.Rows, header.Columns) == (64, 64)


def test_mosaic_voxels_and_positions_match_dcm2niix() -> None:
    """Every unpacked voxel lies where dcm2niix puts the same value (its axes are flipped)."""
    ours = read_dicom(_mosaic_file())
    reference = load_volume(shared_path(f"{SYNTAXES}/reference.nii"))
    k, j, i = np.meshgrid(*(np.arange(n) for n in ours.shape), indexing="ij")
    ijk = np.stack([i.ravel(), j.ravel(), k.ravel(), np.ones(i.size)])
    world = ours.ijk_to_lps() @ ijk
    theirs = np.linalg.inv(reference.ijk_to_lps()) @ world
    index = np.rint(theirs[:3]).astype(int)
    assert np.abs(theirs[:3] - index).max() < 1e-3  # the same grid, voxel for voxel
    values = reference.data[index[2], index[1], index[0]]
    np.testing.assert_array_equal(values, ours.data.ravel())
    assert ours.data.max() > 1000  # not a blank tile


def test_mosaic_series_of_several_volumes_is_4d_with_the_right_count(tmp_path: Path) -> None:
    for index in range(3):  # three time points of the same 35-slice mosaic
        ds = pydicom.dcmread(_mosaic_file())
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber = index + 1
        ds.save_as(tmp_path / f"{index}.dcm")
    with pytest.raises(MRDeepReconError, match="4D series: 3 volumes of 35 slices"):
        read_dicom(tmp_path)


def test_mosaic_without_its_csa_header_is_refused(tmp_path: Path) -> None:
    """Without the CSA header the slice order is unknown (tiles run along the CSA normal, which
    may be −row × column): (0019,100A) alone would give a count but possibly reversed slices."""
    ds = pydicom.dcmread(_mosaic_file())
    for tag in list(ds.keys()):
        if tag.group == 0x0029:  # the CSA headers go, (0019,100A) stays
            del ds[tag]
    path = tmp_path / "mosaic.dcm"
    ds.save_as(path)
    with pytest.raises(MRDeepReconError, match="CSA image header") as info:
        read_dicom(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_tiles_run_along_the_csa_normal_whatever_the_orientation_sign(tmp_path: Path) -> None:
    """The column cosine negated (sagittal mosaics have a CSA normal of −row × column): tile t
    must still lie t slice distances along the CSA normal, as in the original file."""
    ds = pydicom.dcmread(_mosaic_file())
    iop = [float(v) for v in ds.ImageOrientationPatient]
    ds.ImageOrientationPatient = iop[:3] + [-v for v in iop[3:]]
    path = tmp_path / "flipped.dcm"
    ds.save_as(path)
    flipped, original = read_dicom(path), read_dicom(_mosaic_file())
    csa_normal = original.direction[:, 2]  # the original's row × column is the CSA normal
    assert flipped.direction[:, 2] @ csa_normal < -0.99  # the flipped stack sorts the other way

    def along_normal(volume) -> np.ndarray:
        k = np.arange(volume.shape[0])
        corners = volume.ijk_to_lps() @ np.stack([0 * k, 0 * k, k, 1 + 0 * k])
        return corners[:3].T @ csa_normal

    start = along_normal(original)[0]  # tile 0 of the original
    tiles = np.rint((along_normal(flipped) - start) / 3.6).astype(int)
    assert sorted(tiles) == list(range(35))
    for k, tile in enumerate(tiles):  # the same stored tile at the same place along the normal
        np.testing.assert_array_equal(flipped.data[k], original.data[tile])


@pytest.mark.parametrize("name", [f"{n}.dcm" for n in range(2, 10)])
def test_every_lossless_syntax_decodes_to_identical_pixels(name: str) -> None:
    syntax = pydicom.dcmread(_mosaic_file(name), stop_before_pixels=True).file_meta.TransferSyntaxUID
    volume = read_dicom(_mosaic_file(name))
    np.testing.assert_array_equal(volume.data, read_dicom(_mosaic_file()).data, err_msg=str(syntax))


def test_the_nine_files_cover_the_scanner_syntaxes() -> None:
    found = {
        str(pydicom.dcmread(_mosaic_file(f"{n}.dcm"), stop_before_pixels=True).file_meta.TransferSyntaxUID)
        for n in range(1, 10)
    }
    assert {
        "1.2.840.10008.1.2.4.70",  # JPEG Lossless, Process 14 SV1
        "1.2.840.10008.1.2.4.80",  # JPEG-LS lossless
        "1.2.840.10008.1.2.4.90",  # JPEG 2000 lossless
        "1.2.840.10008.1.2.5",  # RLE
    } <= found


def test_a_decode_error_is_one_line_naming_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.dcm"
    shutil.copyfile(_mosaic_file("5.dcm"), broken)
    ds = pydicom.dcmread(broken)
    (frame,) = pydicom.encaps.generate_frames(ds.PixelData, number_of_frames=1)
    ds.PixelData = pydicom.encaps.encapsulate([frame[: len(frame) // 16 * 2]])  # truncated stream
    ds.save_as(broken)
    with pytest.raises(MRDeepReconError) as info:
        read_dicom(broken)
    message = str(info.value)
    assert message.startswith(f"{broken}: cannot decode pixel data of transfer syntax JPEG Lossless")
    assert "1.2.840.10008.1.2.4.70" in message and "\n" not in message
