"""The `mrdeeprecon` command line on real data: info, degrade, enhance, and its error handling."""

import json
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from conftest import shared_path
from mrdeeprecon.cli import main
from mrdeeprecon.io import load_volume, save_volume
from mrdeeprecon.volume import Volume


@pytest.fixture(scope="module")
def small_nifti(tmp_path_factory) -> Path:
    """A 12-slice crop of a real brain volume with an oblique direction, as NIfTI."""
    volume = load_volume(shared_path("volumes/stroke_T1.nii.gz"))
    theta = np.deg2rad(10)
    direction = np.array([[np.cos(theta), 0, np.sin(theta)], [0, 1, 0], [-np.sin(theta), 0, np.cos(theta)]])
    crop = volume.with_data(volume.data[64:76, 16:144, 8:120].astype(np.float32), direction=direction, origin=(10.0, -20.0, 30.0))
    path = tmp_path_factory.mktemp("nifti") / "brain.nii.gz"
    save_volume(crop, path)
    return path


def test_info_philips_enhanced(capsys):
    folder = shared_path("dicom/philips_phantom/201_T1W_TSE_Sno_CSno_CSAIno")
    assert main(["info", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "acquisition:         2D" in out
    assert "phase encoding:      array axis x (row direction, ROW)" in out
    assert "(256, 203) (frequency, phase)" in out


def test_info_ge_json(capsys):
    assert main(["info", str(shared_path("dicom/ge_mprage_headers")), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    ctx = info["scan_context"]
    assert ctx["acquisition"] == "3D"
    assert ctx["phase_axis"] == 2 and ctx["frequency_axis"] == 1
    assert ctx["acquired_matrix"] == [256, 256] and ctx["displayed_matrix"] == [256, 256]
    assert info["shape_zyx"] == [130, 256, 256]


def test_info_overrides_are_marked(capsys, small_nifti):
    assert main(["info", str(small_nifti), "--json", "--acq-type", "3D", "--acq-phase-axis", "row", "--acq-kmax-phase", "0.5"]) == 0
    ctx = json.loads(capsys.readouterr().out)["scan_context"]
    assert (ctx["acquisition"], ctx["phase_axis"], ctx["kmax"]) == ("3D", 2, [1.0, 0.5, 1.0])
    assert ctx["sources"]["kmax"] == ctx["sources"]["acquisition"] == "override"


def test_degrade_writes_volume_and_context(tmp_path, small_nifti):
    out = tmp_path / "deg.nii.gz"
    args = ["degrade", str(small_nifti), str(out), "--noise", "0.1", "--kmax-phase", "0.5", "--seed", "3"]
    assert main(args) == 0
    degraded, original = load_volume(out), load_volume(small_nifti)
    assert degraded.shape == original.shape and degraded.data.dtype == np.float32
    np.testing.assert_allclose(degraded.ijk_to_lps(), original.ijk_to_lps(), atol=1e-5)
    assert not np.allclose(degraded.data, original.data)
    ctx = json.loads((tmp_path / "deg.json").read_text())["scan_context"]
    assert ctx["kmax"] == [1.0, 0.5, 1.0]
    # Same seed, same output.
    assert main(["degrade", str(small_nifti), str(tmp_path / "again.nii.gz"), *args[3:]]) == 0
    np.testing.assert_array_equal(load_volume(tmp_path / "again.nii.gz").data, degraded.data)


def test_enhance_nifti_super_resolves_phase(tmp_path, small_nifti, tiny_models):
    out = tmp_path / "enh.nii.gz"
    assert main(["enhance", str(small_nifti), str(out), "--model", str(tiny_models["2d"]), "--sr-phase", "2", "--quiet"]) == 0
    source, result = load_volume(small_nifti), load_volume(out)
    z, y, x = source.shape
    assert result.shape == (z, 2 * y, x)  # default phase axis is y
    assert result.data.dtype == np.float32
    np.testing.assert_allclose(result.spacing, (source.spacing[0], source.spacing[1] / 2, source.spacing[2]), rtol=1e-6)
    np.testing.assert_allclose(result.direction, source.direction, atol=1e-6)
    np.testing.assert_allclose(result.origin, source.origin, atol=1e-4)


def test_enhance_warns_when_the_model_cannot_reach_the_request_and_says_adapting_may(tmp_path, capsys, small_nifti,
                                                                                    tiny_models):
    """The tiny untrained model passes the noise through: NR 3 is out of its reach."""
    assert main(["enhance", str(small_nifti), str(tmp_path / "enh.nii.gz"), "--model", str(tiny_models["2d"]),
                 "--noise-reduction", "3", "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert "warning: the model reaches noise reduction" in err and "not the requested 3" in err
    assert "adapting it to this scan first (--adapt-steps 3000) may reach more" in err


def test_enhance_dicom_series_to_nifti(tmp_path, tiny_models):
    folder = shared_path("dicom/philips_phantom/501_T1W_FFE_Sno_CS4")
    out = tmp_path / "philips.nrrd"
    assert main(["enhance", str(folder), str(out), "--model", str(tiny_models["2d"]), "--quiet"]) == 0
    source, result = load_volume(folder), load_volume(out)
    assert result.shape == source.shape
    np.testing.assert_allclose(result.ijk_to_lps(), source.ijk_to_lps(), atol=1e-4)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--noise-reduction", "11"], "noise reduction factor must be in [1, 10]"),
        (["--noise-reduction", "0.5"], "noise reduction factor must be in [1, 10]"),
        (["--sr-phase", "3"], "super-resolution factor along phase must be in [1, 2]"),
        (["--sr-slice", "2"], "3D"),  # slice super-resolution needs the 3D model
    ],
)
def test_enhance_rejects_bad_factors_and_writes_nothing(tmp_path, capsys, small_nifti, tiny_models, extra, message):
    out = tmp_path / "never.nii.gz"
    code = main(["enhance", str(small_nifti), str(out), "--model", str(tiny_models["2d"]), "--model-kind", "2d", *extra])
    assert code != 0
    err = capsys.readouterr().err
    assert err.startswith("mrdeeprecon: error:") and message in err
    assert list(tmp_path.iterdir()) == []


def test_bad_inputs_name_the_file(tmp_path, capsys, tiny_models):
    nan = tmp_path / "nan.nrrd"
    values = np.ones((4, 8, 8), dtype=np.float32)
    values[1, 2, 3] = np.nan
    image = sitk.GetImageFromArray(values)
    sitk.WriteImage(image, str(nan))
    empty = tmp_path / "empty"
    empty.mkdir()
    garbage = tmp_path / "garbage.dcm"
    garbage.write_bytes(b"not a dicom file")
    for bad in (nan, empty, garbage, tmp_path / "missing.nii.gz"):
        out = tmp_path / "out.nii.gz"
        assert main(["enhance", str(bad), str(out), "--model", str(tiny_models["2d"])]) == 2
        err = capsys.readouterr().err.strip()
        assert str(bad) in err and len(err.splitlines()) == 1
        assert not out.exists()


def test_source_is_never_modified(tmp_path, small_nifti, tiny_models):
    before = small_nifti.read_bytes()
    assert main(["enhance", str(small_nifti), str(tmp_path / "o.nii.gz"), "--model", str(tiny_models["2d"]), "--quiet"]) == 0
    assert small_nifti.read_bytes() == before
    assert main(["enhance", str(small_nifti), str(small_nifti), "--model", str(tiny_models["2d"]), "--quiet"]) == 2
    assert small_nifti.read_bytes() == before


def test_slice_degradation_of_a_2d_acquisition_is_refused(tmp_path, capsys, small_nifti):
    out = tmp_path / "deg.nii.gz"
    assert main(["degrade", str(small_nifti), str(out), "--kmax-slice", "0.5"]) == 2
    assert "needs a 3D acquisition" in capsys.readouterr().err
    assert not out.exists()
    assert main(["degrade", str(small_nifti), str(out), "--kmax-slice", "0.5", "--acq-type", "3D"]) == 0


def test_progress_lines_for_a_parent_process(tmp_path, capsys, small_nifti, tiny_models):
    """`--progress lines` prints parseable, increasing fractions ending at 1 (Slicer's background run reads them)."""
    out = tmp_path / "enh.nrrd"
    record = tmp_path / "record.json"
    args = ["enhance", str(small_nifti), str(out), "--model", str(tiny_models["2d"]), "--progress", "lines", "--quiet", "--record", str(record), "--noise-reduction", "2.5"]
    assert main(args) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("PROGRESS ")]
    fractions = [float(line.split()[1]) for line in lines]
    assert len(fractions) >= 3 and fractions == sorted(fractions) and fractions[-1] == 1.0
    enhancement = json.loads(record.read_text())["enhancement"]
    assert enhancement["noise_reduction"] == 2.5 and enhancement["device"] == "cpu"
    assert enhancement["model_name"] == "tiny 2d" and len(enhancement["model_sha256"]) == 64


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "must be an object of scan-context fields"),
        ('{"kmax": "abc"}', "invalid scan-context value"),
        ('{"scan_context": {"phase_axis": 7}}', "phase_axis must be 1"),
    ],
    ids=["a list", "a string for numbers", "out of range"],
)
def test_bad_context_json_is_one_line_naming_it(tmp_path, capsys, small_nifti, tiny_models, text, message):
    context = tmp_path / "context.json"
    context.write_text(text)
    out = tmp_path / "out.nii.gz"
    code = main(["enhance", str(small_nifti), str(out), "--context", str(context), "--model", str(tiny_models["2d"])])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith(f"mrdeeprecon: error: {context}: ") and message in err
    assert not out.exists()


def test_record_into_a_missing_folder_is_refused_before_any_output(tmp_path, capsys, small_nifti, tiny_models):
    out = tmp_path / "out.nii.gz"
    record = tmp_path / "missing" / "record.json"
    code = main(["enhance", str(small_nifti), str(out), "--record", str(record), "--model", str(tiny_models["2d"])])
    assert code == 2 and "the folder of --record does not exist" in capsys.readouterr().err
    assert not out.exists()


def test_format_and_name_must_agree(tmp_path, capsys, small_nifti, tiny_models):
    out = tmp_path / "out.nii.gz"
    assert main(["enhance", str(small_nifti), str(out), "--format", "nrrd", "--model", str(tiny_models["2d"])]) == 2
    assert "--format nrrd needs a .nrrd/.nhdr name" in capsys.readouterr().err
    assert not out.exists()


def test_nothing_is_written_into_a_source_dicom_folder(tmp_path, capsys, tiny_models):
    source = tmp_path / "series"
    source.mkdir()
    for path in sorted(shared_path("dicom/philips_phantom/501_T1W_FFE_Sno_CS4").iterdir())[:4]:
        (source / path.name).write_bytes(path.read_bytes())
    before = sorted(p.name for p in source.iterdir())
    target = str(source / "out.nii.gz")
    for args in (
        ["enhance", str(source), target, "--model", str(tiny_models["2d"])],
        ["degrade", str(source), target, "--noise", "0.05"],
    ):
        assert main(args) == 2
        assert "refusing to write into the source folder" in capsys.readouterr().err
    assert sorted(p.name for p in source.iterdir()) == before
