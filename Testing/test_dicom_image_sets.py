"""Image sets within a series: echoes, magnitude / phase / real / imaginary / maps.

Real files: the Philips dual-echo FFE (magnitude and phase at two echoes in one series) and a
Siemens field-map phase series. Generated fixtures: an enhanced multi-frame object whose frames
alternate magnitude and phase, classic maps (a field map in Hz, an ADC map) and GE's private
image type.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest

from conftest import shared_path
from mrdeeprecon.cli import main
from mrdeeprecon.errors import MRDeepReconError
from mrdeeprecon.inference import enhance
from mrdeeprecon.io import load_volume
from mrdeeprecon.io.dicom import read_dicom, series_image_sets
from mrdeeprecon.io.dicom_image_type import ImageSet, component_of
from mrdeeprecon.settings import EnhanceSettings

DUAL_ECHO = "dicom/real_world/philips_dual_echo"
FIELD_MAP_PHASE = "dicom/real_world/siemens_fieldmap_phase"
XA_ENHANCED = "dicom/siemens_xa30_t1tfl_2mm"


# ------------------------------------------------------------------ the real dual-echo series


def test_dual_echo_lists_four_image_sets() -> None:
    sets = series_image_sets(shared_path(DUAL_ECHO))
    described = [(s.echo_number, s.echo_time_ms, s.component, n) for s, n in sets]
    assert described == [
        (1, 7.0, "magnitude", 30),
        (1, 7.0, "phase", 30),
        (2, 10.0, "magnitude", 30),
        (2, 10.0, "phase", 30),
    ]
    assert sets[1][0].image_type == "ORIGINAL\\PRIMARY\\PHASE MAP\\P\\FFE"


def test_dual_echo_without_a_choice_names_the_sets_and_the_flags() -> None:
    path = shared_path(DUAL_ECHO)
    with pytest.raises(MRDeepReconError) as info:
        read_dicom(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    assert "4 image sets" in message and "--echo N" in message and "--image-type TYPE" in message
    assert "echo 2 (TE 10 ms), phase" in message


@pytest.mark.parametrize("image_type", ["magnitude", "M", "m_ffe"])
def test_dual_echo_one_echo_one_type_is_a_plain_3d_volume(image_type: str) -> None:
    volume = read_dicom(shared_path(DUAL_ECHO), echo=2, image_type=image_type)
    assert volume.shape == (30, 96, 96)
    assert volume.spacing[2] == pytest.approx(4.0)
    image_set = volume.metadata["image_set"]
    assert (image_set.echo_number, image_set.echo_time_ms, image_set.component) == (2, 10.0, "magnitude")
    assert volume.metadata["image_sets_in_series"] == 4
    echo_2_magnitude = {
        str(ds.SOPInstanceUID)
        for ds in (pydicom.dcmread(p, stop_before_pixels=True) for p in shared_path(DUAL_ECHO).iterdir())
        if int(ds.EchoNumbers) == 2 and ds.ImageType[3] == "M"
    }
    assert set(volume.metadata["sop_instance_uids"]) == echo_2_magnitude


def test_dual_echo_phase_reads_the_phase_range() -> None:
    phase = read_dicom(shared_path(DUAL_ECHO), echo=1, image_type="PHASE MAP")
    magnitude = read_dicom(shared_path(DUAL_ECHO), echo=1, image_type="magnitude")
    assert phase.metadata["image_set"].component == "phase"
    assert phase.data.min() < -3000 and phase.data.max() > 3000  # mrad, rescaled
    assert not np.array_equal(phase.data, magnitude.data)


def test_a_partial_choice_that_leaves_several_sets_is_refused() -> None:
    with pytest.raises(MRDeepReconError, match="2 image sets"):
        read_dicom(shared_path(DUAL_ECHO), image_type="phase")


def test_a_choice_that_matches_nothing_lists_what_there_is() -> None:
    with pytest.raises(MRDeepReconError, match=r"no images match echo 3.*echo 1 \(TE 7 ms\)"):
        read_dicom(shared_path(DUAL_ECHO), echo=3)


def test_info_shows_the_sets_then_one_set(capsys) -> None:
    assert main(["info", str(shared_path(DUAL_ECHO))]) == 0
    listing = capsys.readouterr().out
    assert "image sets:          4" in listing
    assert "echo 2 (TE 10 ms), phase [ORIGINAL\\PRIMARY\\PHASE MAP\\P\\FFE]: 30 images" in listing
    assert main(["info", str(shared_path(DUAL_ECHO)), "--echo", "2", "--image-type", "M", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["shape_zyx"] == [30, 96, 96]
    assert info["image_type"].startswith("echo 2 (TE 10 ms), magnitude")
    assert len(info["image_sets"]) == 4


def test_enhance_one_echo_to_dicom_says_what_was_chosen(tmp_path: Path) -> None:
    out = tmp_path / "derived"
    code = main([
        "enhance", str(shared_path(DUAL_ECHO)), str(out), "--format", "dicom",
        "--echo", "2", "--image-type", "magnitude", "--noise-reduction", "2", "--device", "cpu",
        "--model-kind", "2d", "--quiet",
    ])
    assert code == 0
    files = sorted(out.iterdir())
    assert len(files) == 30
    ds = pydicom.dcmread(files[0], stop_before_pixels=True)
    assert "source images echo 2 (TE 10 ms), magnitude" in ds.DerivationDescription
    assert ds.SeriesDescription.startswith("Dual-echo_iso E2 DLR")
    assert float(ds.EchoTime) == pytest.approx(10.0)
    assert list(ds.ImageType)[:3] == ["DERIVED", "SECONDARY", "M_FFE"]


# ------------------------------------------------------------------ phase is never enhanced


def test_siemens_field_map_phase_is_read_as_phase() -> None:
    volume = read_dicom(shared_path(FIELD_MAP_PHASE))
    image_set = volume.metadata["image_set"]
    assert image_set.component == "phase" and image_set.image_type == "ORIGINAL\\PRIMARY\\P\\ND"
    assert volume.data.min() == -4096 and volume.data.max() <= 4096


def test_enhancing_phase_is_refused_in_one_line(tmp_path: Path, capsys) -> None:
    path = shared_path(FIELD_MAP_PHASE)
    with pytest.raises(MRDeepReconError) as info:
        enhance(read_dicom(path), EnhanceSettings(2.0, device="cpu"))
    message = str(info.value)
    assert message.startswith(f"{path}: phase image") and "magnitude" in message
    assert "\n" not in message
    assert main(["enhance", str(path), str(tmp_path / "out.nii.gz"), "--quiet"]) == 2
    errors = capsys.readouterr().err
    assert "phase image" in errors and len(errors.strip().splitlines()) == 1
    assert not (tmp_path / "out.nii.gz").exists()


# ------------------------------------------------------------------ generated fixtures


def _alternate_phase_frames(tmp_path: Path) -> Path:
    """The XA30 enhanced object with every odd frame turned into a phase frame."""
    source = next(p for p in sorted(shared_path(XA_ENHANCED).iterdir()) if p.is_file())
    ds = pydicom.dcmread(source)
    for frame in list(ds.PerFrameFunctionalGroupsSequence)[1::2]:
        item = frame.MRImageFrameTypeSequence[0]
        item.FrameType = ["ORIGINAL", "PRIMARY", "P", "NONE"]
        item.ComplexImageComponent = "PHASE"
    ds.ComplexImageComponent = "MIXED"
    folder = tmp_path / "mixed"
    folder.mkdir()
    ds.save_as(folder / "mixed.dcm")
    return folder


def test_enhanced_object_with_mixed_frame_types(tmp_path: Path) -> None:
    folder = _alternate_phase_frames(tmp_path)
    sets = series_image_sets(folder)
    assert [(s.component, n) for s, n in sets] == [("magnitude", 48), ("phase", 48)]
    assert sets[0][0].echo_number == 1  # the rank of the frames' effective echo time
    with pytest.raises(MRDeepReconError, match="2 image sets"):
        read_dicom(folder)
    full = read_dicom(shared_path(XA_ENHANCED))
    magnitude = read_dicom(folder, image_type="magnitude")
    assert magnitude.shape == (48, 128, 128)
    assert magnitude.spacing[2] == pytest.approx(2 * full.spacing[2])
    odd = np.array(full.metadata["frame_numbers"]) % 2 == 1  # frames 1, 3, ... stayed magnitude
    assert magnitude.metadata["frame_numbers"] == list(np.array(full.metadata["frame_numbers"])[odd])
    np.testing.assert_array_equal(magnitude.data, full.data[odd])
    phase = read_dicom(folder, image_type="P")
    assert phase.metadata["image_set"].component == "phase"
    assert all(frame % 2 == 0 for frame in phase.metadata["frame_numbers"])


def _classic_with(tmp_path: Path, name: str, change) -> Path:
    """A copy of the Philips dual-echo series' echo-1 magnitude files, each changed by ``change``."""
    folder = tmp_path / name
    folder.mkdir()
    for path in sorted(shared_path(DUAL_ECHO).iterdir()):
        ds = pydicom.dcmread(path)
        if ds.ImageType[2] != "M_FFE" or int(ds.EchoNumbers) != 1:
            continue
        change(ds)
        ds.save_as(folder / path.name)
    return folder


@pytest.mark.parametrize(
    ("name", "image_type"),
    [
        ("field_map_hz", ["DERIVED", "PRIMARY", "FIELD_MAP", "M"]),
        ("adc_map", ["DERIVED", "PRIMARY", "ADC", "ND"]),
        ("t1_map", ["DERIVED", "PRIMARY", "T1 MAP"]),
    ],
)
def test_maps_are_read_but_not_enhanced(tmp_path: Path, name: str, image_type: list[str]) -> None:
    def as_map(ds: pydicom.Dataset) -> None:
        ds.ImageType = image_type

    folder = _classic_with(tmp_path, name, as_map)
    volume = read_dicom(folder)
    assert volume.metadata["image_set"].component == "map"
    with pytest.raises(MRDeepReconError, match="map image .* is not enhanced"):
        enhance(volume, EnhanceSettings(2.0, device="cpu"))


def test_an_assumed_magnitude_with_negative_values_is_not_enhanced(tmp_path: Path) -> None:
    """A GE-style image whose headers say nothing of its kind, holding a signed quantity (as a
    field map in Hz would): read, shown as assumed magnitude, not enhanced."""

    def as_signed_ge_image(ds: pydicom.Dataset) -> None:
        ds.ImageType = ["ORIGINAL", "PRIMARY", "OTHER"]
        ds.RescaleIntercept = -500

    volume = read_dicom(_classic_with(tmp_path, "ge_hz_map", as_signed_ge_image))
    image_set = volume.metadata["image_set"]
    assert image_set.component == "magnitude" and image_set.assumed
    assert "magnitude (assumed)" in image_set.describe()
    assert volume.data.min() < 0
    with pytest.raises(MRDeepReconError, match="does not say magnitude and the image holds negative"):
        enhance(volume, EnhanceSettings(2.0, device="cpu"))

    def as_ge_magnitude(ds: pydicom.Dataset) -> None:
        ds.ImageType = ["ORIGINAL", "PRIMARY", "OTHER"]

    unsigned = read_dicom(_classic_with(tmp_path, "ge_magnitude", as_ge_magnitude))
    assert unsigned.metadata["image_set"].why_not_enhanced(float(unsigned.data.min())) is None


def test_unreadable_echo_attributes_are_read_as_missing(tmp_path: Path) -> None:
    def damage(ds: pydicom.Dataset) -> None:  # raw values: pydicom refuses to set them
        for tag, text in ((0x00180081, b"n/a "), (0x00180086, b"x ")):
            vr = "DS" if tag == 0x00180081 else "IS"
            ds[tag] = pydicom.dataelem.RawDataElement(pydicom.tag.Tag(tag), vr, len(text), text, 0, False, True)

    volume = read_dicom(_classic_with(tmp_path, "damaged_echo", damage))
    image_set = volume.metadata["image_set"]
    assert (image_set.echo_number, image_set.echo_time_ms) == (None, None)


def test_one_echo_number_for_two_echo_times_is_renumbered(tmp_path: Path) -> None:
    """Both echoes written as EchoNumbers 1: the sets are numbered by echo time, so --echo 2
    still picks the TE 10 ms magnitude."""
    folder = tmp_path / "one_number"
    folder.mkdir()
    for path in sorted(shared_path(DUAL_ECHO).iterdir()):
        ds = pydicom.dcmread(path)
        if ds.ImageType[3] == "M":
            ds.EchoNumbers = 1
            ds.save_as(folder / path.name)
    sets = series_image_sets(folder)
    assert [(s.echo_number, s.echo_time_ms) for s, _ in sets] == [(1, 7.0), (2, 10.0)]
    assert read_dicom(folder, echo=2).metadata["image_set"].echo_time_ms == 10.0


def test_dixon_flavours_are_separate_sets(tmp_path: Path) -> None:
    """Water and fat (ImageType value 3 W / F, nothing said of the component) in one series at
    the same positions are two image sets, chosen by their ImageType value."""
    folder = tmp_path / "dixon"
    folder.mkdir()
    for path in sorted(shared_path(DUAL_ECHO).iterdir()):
        ds = pydicom.dcmread(path)
        if ds.ImageType[3] != "M" or int(ds.EchoNumbers) != 1:
            continue
        for flavour in ("W", "F"):
            ds.ImageType = ["DERIVED", "PRIMARY", flavour, flavour, "DIXON"]
            ds.SOPInstanceUID = pydicom.uid.generate_uid()
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            ds.save_as(folder / f"{flavour}_{path.name}")
    sets = series_image_sets(folder)
    assert [(s.flavour, s.component, s.assumed, n) for s, n in sets] == [
        ("F", "magnitude", True, 30),
        ("W", "magnitude", True, 30),
    ]
    with pytest.raises(MRDeepReconError, match="2 image sets"):
        read_dicom(folder)
    assert read_dicom(folder, image_type="W").shape == (30, 96, 96)


def test_info_on_one_series_ignores_an_unreadable_other_series(tmp_path: Path, capsys) -> None:
    """A screenshot without geometry beside the series: info --series reads the chosen one."""
    folder = _classic_with(tmp_path, "with_screenshot", lambda ds: None)
    screenshot = pydicom.dcmread(next(folder.iterdir()))
    screenshot.SeriesInstanceUID = pydicom.uid.generate_uid()
    del screenshot.ImagePositionPatient
    screenshot.save_as(folder / "screenshot.dcm")
    uid = str(pydicom.dcmread(next(p for p in folder.iterdir() if p.name != "screenshot.dcm")).SeriesInstanceUID)
    assert main(["info", str(folder), "--series", uid]) == 0
    assert "shape (z, y, x):     (30, 96, 96)" in capsys.readouterr().out
    assert main(["info", str(folder)]) == 2
    assert "2 image series, choose one" in capsys.readouterr().err


def test_ge_private_image_type_says_phase(tmp_path: Path) -> None:
    def as_ge_phase(ds: pydicom.Dataset) -> None:
        ds.ImageType = ["ORIGINAL", "PRIMARY", "OTHER"]
        ds.private_block(0x0043, "GEMS_PARM_01", create=True).add_new(0x2F, "SS", 1)

    volume = read_dicom(_classic_with(tmp_path, "ge_phase", as_ge_phase))
    assert volume.metadata["image_set"].component == "phase"


@pytest.mark.parametrize(
    ("values", "complex_component", "expected"),
    [
        (["ORIGINAL", "PRIMARY", "M", "ND", "NORM"], "", "magnitude"),
        (["ORIGINAL", "PRIMARY", "OTHER"], "", None),  # GE says nothing: magnitude is assumed
        (["ORIGINAL", "PRIMARY", "R_FFE", "R", "FFE"], "", "real"),
        (["ORIGINAL", "PRIMARY", "I", "ND"], "", "imaginary"),
        (["ORIGINAL", "PRIMARY", "PHASE MAP", "P", "FFE"], "", "phase"),
        (["ORIGINAL", "PRIMARY", "M", "NONE"], "MAGNITUDE", "magnitude"),
        (["ORIGINAL", "PRIMARY", "M", "NONE"], "MIXED", "mixed"),
        (["DERIVED", "PRIMARY", "FIELD_MAP", "NONE"], "MAGNITUDE", "map"),
        (["DERIVED", "PRIMARY", "ASL", "PERFUSION", "MOSAIC"], "", "map"),  # a signed difference
        (["ORIGINAL", "PRIMARY", "ASL", "ND", "MOSAIC"], "", None),  # label / control: assumed
    ],
)
def test_component_rules(values: list[str], complex_component: str, expected: str | None) -> None:
    assert component_of(values, complex_component, pydicom.Dataset()) == expected


def test_image_set_describe_and_match() -> None:
    image_set = ImageSet(2, 10.0, "phase", "ORIGINAL\\PRIMARY\\PHASE MAP\\P\\FFE")
    assert image_set.describe() == "echo 2 (TE 10 ms), phase [ORIGINAL\\PRIMARY\\PHASE MAP\\P\\FFE]"
    assert image_set.matches("Phase") and image_set.matches("p") and image_set.matches("phase map")
    assert not image_set.matches("M") and not image_set.matches("ORIGINAL")
    assert not image_set.enhanceable
