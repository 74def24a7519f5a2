"""NIfTI / NRRD reading and writing through SimpleITK, and the io package's dispatch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from mrdeeprecon.errors import MRDeepReconError
from mrdeeprecon.io import default_context, load_context, load_volume, save_volume
from mrdeeprecon.io import itk as itk_io
from mrdeeprecon.io.itk import write_itk
from mrdeeprecon.volume import Volume

SUFFIXES = [".nii", ".nii.gz", ".nrrd", ".nhdr"]


def _oblique() -> np.ndarray:
    """A proper rotation with no zero entries (columns = axis directions)."""
    a, b, c = 0.3, -0.5, 1.1
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx


def _volume(dtype=np.float32) -> Volume:
    data = np.random.default_rng(0).normal(100, 20, size=(4, 5, 6)).astype(dtype)
    # origin and spacing exactly representable in float32 (NIfTI stores its geometry in float32)
    return Volume(data, spacing=(0.9375, 1.25, 2.5), origin=(-100.5, 20.25, 3.125), direction=_oblique())


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_round_trip_oblique(tmp_path: Path, suffix: str) -> None:
    volume = _volume()
    path = save_volume(volume, tmp_path / f"image{suffix}")
    back = load_volume(path)
    np.testing.assert_array_equal(back.data, volume.data)
    assert back.data.dtype == np.float32
    np.testing.assert_allclose(back.spacing, volume.spacing, atol=1e-6)
    np.testing.assert_allclose(back.origin, volume.origin, atol=1e-6)
    np.testing.assert_allclose(back.direction, volume.direction, atol=1e-6)
    assert back.metadata["format"] == ("nifti" if ".nii" in suffix else "nrrd")
    assert back.metadata["source_path"] == str(path)
    assert not [n for n in _files(tmp_path) if n.startswith(".")]  # no staging left behind


def test_axis_convention_matches_simpleitk(tmp_path: Path) -> None:
    volume = _volume()
    path = save_volume(volume, tmp_path / "image.nrrd")
    image = sitk.ReadImage(str(path))
    assert image.GetSize() == (6, 5, 4)  # (x, y, z) = (i, j, k)
    index = (5, 1, 2)  # (i, j, k)
    lps = volume.ijk_to_lps() @ np.array([*index, 1.0])
    np.testing.assert_allclose(image.TransformIndexToPhysicalPoint(index), lps[:3], atol=1e-9)
    assert image.GetPixel(index) == volume.data[2, 1, 5]


@pytest.mark.parametrize("dtype", [np.float64, np.int32, np.uint8])
def test_float64_and_others_written_as_float32(tmp_path: Path, dtype) -> None:
    path = save_volume(_volume(dtype), tmp_path / "image.nii.gz")
    assert sitk.ReadImage(str(path)).GetPixelID() == sitk.sitkFloat32


def test_int16_kept(tmp_path: Path) -> None:
    volume = _volume(np.int16)
    path = save_volume(volume, tmp_path / "image.nrrd")
    back = load_volume(path)
    assert back.data.dtype == np.int16
    np.testing.assert_array_equal(back.data, volume.data)


def test_nan_refused_and_nothing_written(tmp_path: Path) -> None:
    volume = _volume()
    volume.data[1, 2, 3] = np.inf
    target = tmp_path / "bad.nii"
    with pytest.raises(MRDeepReconError, match="NaN or infinite") as info:
        save_volume(volume, target)
    assert str(target) in str(info.value)
    assert _files(tmp_path) == []


def test_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(image, name, *args, **kwargs):
        Path(name).write_bytes(b"partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(itk_io.sitk, "WriteImage", broken)
    target = tmp_path / "image.nii.gz"
    with pytest.raises(MRDeepReconError, match="disk full") as info:
        save_volume(_volume(), target)
    assert str(target) in str(info.value)
    assert _files(tmp_path) == []


def test_refuses_to_overwrite_input(tmp_path: Path) -> None:
    path = save_volume(_volume(), tmp_path / "image.nrrd")
    volume = load_volume(path)
    with pytest.raises(MRDeepReconError, match="overwrite the input"):
        save_volume(volume, path)
    save_volume(volume, tmp_path / "copy.nrrd")  # another name is fine


def test_write_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(MRDeepReconError, match="NIfTI or NRRD") as info:
        save_volume(_volume(), tmp_path / "image.png")
    assert "image.png" in str(info.value)
    with pytest.raises(MRDeepReconError, match="folder does not exist"):
        save_volume(_volume(), tmp_path / "missing" / "image.nii")


def test_4d_vector_complex_refused(tmp_path: Path) -> None:
    four_d = tmp_path / "four_d.nii.gz"
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((2, 3, 4, 5), np.float32), isVector=False), str(four_d))
    vector = tmp_path / "vector.nrrd"
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((3, 4, 5, 3), np.float32), isVector=True), str(vector))
    complex_ = tmp_path / "complex.nii"
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((3, 4, 5), np.complex64)), str(complex_))
    for path, pattern in ((four_d, "3D image, got 4D"), (vector, "scalar"), (complex_, "scalar")):
        with pytest.raises(MRDeepReconError, match=pattern) as info:
            load_volume(path)
        assert str(path) in str(info.value)


def test_nan_in_file_refused(tmp_path: Path) -> None:
    data = np.ones((3, 4, 5), np.float32)
    data[0, 0, 0] = np.nan
    path = tmp_path / "nan.nrrd"
    sitk.WriteImage(sitk.GetImageFromArray(data), str(path))
    with pytest.raises(MRDeepReconError, match="NaN") as info:
        load_volume(path)
    assert str(path) in str(info.value)


def test_unreadable_and_missing(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.nii"
    garbage.write_bytes(b"not a nifti header")
    with pytest.raises(MRDeepReconError, match="unreadable") as info:
        load_volume(garbage)
    assert str(garbage) in str(info.value)
    with pytest.raises(MRDeepReconError, match="no such file"):
        load_volume(tmp_path / "absent.nii.gz")
    with pytest.raises(MRDeepReconError, match="no such file"):
        load_context(tmp_path / "absent.nii.gz")


def test_real_nifti_and_default_context(stroke_t1_path: Path) -> None:
    volume = load_volume(stroke_t1_path)
    image = sitk.ReadImage(str(stroke_t1_path))
    assert volume.shape == tuple(reversed(image.GetSize()))
    np.testing.assert_allclose(volume.direction.ravel(), image.GetDirection())
    context = load_context(stroke_t1_path)
    assert context == default_context() == load_context(volume)
    assert set(context.sources.values()) == {"default"}
    assert "sources" not in context.sources and len(context.sources) == 15


def test_dicom_volume_to_nifti(philips_enhanced_dir: Path, tmp_path: Path) -> None:
    volume = load_volume(philips_enhanced_dir)
    back = load_volume(save_volume(volume, tmp_path / "philips.nii.gz"))
    np.testing.assert_array_equal(back.data, volume.data)
    np.testing.assert_allclose(back.origin, volume.origin, atol=1e-4)  # NIfTI float32 geometry
    np.testing.assert_allclose(back.spacing, volume.spacing, atol=1e-5)
    np.testing.assert_allclose(back.direction, volume.direction, atol=1e-6)
    assert load_context(volume) is volume.metadata["scan_context"]


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_truncated_nifti_is_refused_not_zero_filled(tmp_path: Path, suffix: str) -> None:
    """SimpleITK reads a truncated NIfTI without a word, zero-filling the missing voxels."""
    volume = _volume().with_data(np.random.default_rng(1).normal(100, 20, (20, 30, 40)).astype(np.float32))
    complete = write_itk(volume, tmp_path / f"complete{suffix}")
    data = complete.read_bytes()
    truncated = tmp_path / f"truncated{suffix}"
    truncated.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(MRDeepReconError, match="truncated or damaged NIfTI file") as info:
        load_volume(truncated)
    assert str(truncated) in str(info.value)
    assert load_volume(complete).shape == (20, 30, 40)
