"""`mrdeeprecon enhance … --format dicom`: a derived series from a real series, refusals before any work."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

from conftest import shared_path
from mrdeeprecon.cli import main
from mrdeeprecon.io import load_volume, save_volume


def _digest(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_enhance_writes_a_derived_dicom_series(tmp_path, capsys, tiny_models):
    folder = shared_path("dicom/philips_phantom/201_T1W_TSE_Sno_CSno_CSAIno")
    before = _digest(folder)
    out = tmp_path / "derived"
    args = ["enhance", str(folder), str(out), "--format", "dicom", "--model", str(tiny_models["2d"]), "--noise-reduction", "3"]
    assert main(args) == 0
    assert "wrote 12 DICOM file(s)" in capsys.readouterr().out
    assert _digest(folder) == before

    source, derived = load_volume(folder), load_volume(out)
    assert derived.shape == source.shape
    np.testing.assert_allclose(derived.ijk_to_lps(), source.ijk_to_lps(), atol=1e-3)
    header = pydicom.dcmread(sorted(out.iterdir())[0], stop_before_pixels=True)
    assert header.SeriesDescription == f"{source.metadata['series_description']} DLR NR3 SR1x1x1"
    assert list(header.ImageType[:2]) == ["DERIVED", "SECONDARY"]
    assert header.StudyInstanceUID == source.metadata["study_instance_uid"]
    assert header.SeriesInstanceUID != source.metadata["series_instance_uid"]


def test_enhanced_multiframe_and_options(tmp_path, tiny_models):
    folder = shared_path("dicom/philips_phantom/501_T1W_FFE_Sno_CS4")
    out = tmp_path / "mf"
    args = [
        "enhance", str(folder), str(out), "--format", "dicom", "--model", str(tiny_models["2d"]), "--quiet",
        "--enhanced-multiframe", "--series-description", "my DLR", "--series-number-offset", "50",
        "--uid-prefix", "1.2.826.0.1.3680043.10.999.",
    ]
    assert main(args) == 0
    files = list(out.iterdir())
    assert len(files) == 1
    ds = pydicom.dcmread(files[0], stop_before_pixels=True)
    source = pydicom.dcmread(sorted(folder.iterdir())[0], stop_before_pixels=True)
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.4.1" and int(ds.NumberOfFrames) == 24
    assert ds.SeriesDescription == "my DLR"
    assert int(ds.SeriesNumber) == int(source.SeriesNumber) + 50
    assert ds.SeriesInstanceUID.startswith("1.2.826.0.1.3680043.10.999.")


def test_occupied_or_source_folder_is_refused_before_any_work(tmp_path, capsys, tiny_models, monkeypatch):
    import mrdeeprecon.inference as inference

    def never(*_args, **_kwargs):
        raise AssertionError("the network ran although the output was refused")

    monkeypatch.setattr(inference, "_run_network", never)
    folder = shared_path("dicom/philips_phantom/501_T1W_FFE_Sno_CS4")
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "keep.txt").write_text("mine")
    for target, message in ((occupied, "not empty"), (folder, "source series folder")):
        code = main(["enhance", str(folder), str(target), "--format", "dicom", "--model", str(tiny_models["2d"])])
        err = capsys.readouterr().err.strip()
        assert code == 2 and message in err and len(err.splitlines()) == 1
    assert (occupied / "keep.txt").read_text() == "mine" and len(list(occupied.iterdir())) == 1


def test_nifti_to_dicom_needs_patient_or_research_placeholder(tmp_path, capsys, tiny_models):
    volume = load_volume(shared_path("volumes/stroke_T1.nii.gz"))
    small = tmp_path / "small.nii.gz"
    save_volume(volume.with_data(volume.data[60:64, 20:148, 10:122].astype(np.float32)), small)
    base = ["enhance", str(small), "--format", "dicom", "--model", str(tiny_models["2d"]), "--quiet"]

    assert main([base[0], base[1], str(tmp_path / "a"), *base[2:]]) == 2
    assert "--research-placeholder" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()

    assert main([base[0], base[1], str(tmp_path / "b"), *base[2:], "--research-placeholder"]) == 0
    ds = pydicom.dcmread(sorted((tmp_path / "b").iterdir())[0], stop_before_pixels=True)
    assert "RESEARCH" in str(ds.PatientName).upper()

    patient = ["--patient-name", "Doe^Jane", "--patient-id", "P123", "--study-description", "phantom study"]
    assert main([base[0], base[1], str(tmp_path / "c"), *base[2:], *patient]) == 0
    ds = pydicom.dcmread(sorted((tmp_path / "c").iterdir())[0], stop_before_pixels=True)
    assert (str(ds.PatientName), ds.PatientID, ds.StudyDescription) == ("Doe^Jane", "P123", "phantom study")


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--send", "127.0.0.1:104"], "--send needs --format dicom"),
        (["--format", "dicom", "--patient-name", "Doe^Jane"], "--patient-name and --patient-id go together"),
    ],
)
def test_inconsistent_output_flags(tmp_path, capsys, tiny_models, extra, message):
    folder = shared_path("dicom/philips_phantom/501_T1W_FFE_Sno_CS4")
    out = tmp_path / "out.nii.gz" if "--format" not in extra else tmp_path / "out"
    assert main(["enhance", str(folder), str(out), "--model", str(tiny_models["2d"]), *extra]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_folder_name_without_format_is_explained(tmp_path, capsys, tiny_models):
    folder = shared_path("dicom/philips_phantom/501_T1W_FFE_Sno_CS4")
    assert main(["enhance", str(folder), str(tmp_path / "derived"), "--model", str(tiny_models["2d"])]) == 2
    assert "--format dicom" in capsys.readouterr().err


@pytest.mark.parametrize("keyword", ["StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID"])
def test_a_source_without_its_type_1_uids_is_refused_before_any_work(tmp_path, capsys, tiny_models, keyword):
    """A derived series must join the source's study and frame of reference: without the UID it
    would be written invalid (or crash); NIfTI output still works."""
    source = tmp_path / "source"
    source.mkdir()
    for path in sorted(shared_path("dicom/philips_phantom/501_T1W_FFE_Sno_CS4").iterdir())[:6]:
        ds = pydicom.dcmread(path)
        delattr(ds, keyword)
        ds.save_as(source / path.name)
    out = tmp_path / "derived"
    assert main(["enhance", str(source), str(out), "--format", "dicom", "--model", str(tiny_models["2d"])]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"the source has no {keyword} (type 1)" in err
    assert not out.exists()
    nifti = tmp_path / "out.nii.gz"
    assert main(["enhance", str(source), str(nifti), "--model", str(tiny_models["2d"]), "--quiet"]) == 0
