"""``mrdeeprecon recon --format dicom``: an ORIGINAL MR Image series (dciodvfy-clean), read back
to the same voxels and geometry; ``--like`` joins an existing study; the reconstruction record
beside the output."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pydicom
import pytest

from conftest import require_tool
from mrdeeprecon.io import load_volume
from mrdeeprecon.io.dicom_write import DerivedSeriesOptions, PatientStudy, write_original_series
from mrdeeprecon.raw.kspace_data import RawHeader, RawKSpace
from test_raw_recon import SIZE, _phantom, _raw, needs_sigpy

pytestmark = needs_sigpy

#: An oblique slice stack (columns: x, y, z image axes in LPS).
DIRECTION = np.array([[0.96, 0.0, -0.28], [0.0, 1.0, 0.0], [0.28, 0.0, 0.96]])


@pytest.fixture(scope="module")
def reconstruction():
    from mrdeeprecon.raw.recon import reconstruct

    one = _raw(_phantom(), 2)
    header = RawHeader(
        (SIZE, SIZE, 3), (192.0, 192.0, 12.0), "2D", te_ms=12.5, tr_ms=3000.0, field_strength_t=3.0,
        position_mm=(10.0, -20.0, 30.0), direction=tuple(map(tuple, DIRECTION)), source_format="npy",
    )
    raw = RawKSpace(np.repeat(one.data, 3, axis=1), one.mask, header, noise=one.noise)
    return reconstruct(raw, "zerofill")[0]


def test_the_series_reads_back_with_its_voxels_and_geometry(tmp_path, reconstruction):
    series = write_original_series(reconstruction, tmp_path / "dicom", DerivedSeriesOptions(research_placeholder=True))
    back = load_volume(tmp_path / "dicom")
    assert back.shape == reconstruction.shape == (3, SIZE, SIZE)
    assert np.max(np.abs(back.data - reconstruction.data)) <= series.rescale_slope / 2 + 1e-6
    assert np.allclose(back.spacing, reconstruction.spacing, atol=1e-4)
    assert np.allclose(back.origin, reconstruction.origin, atol=1e-3)
    assert np.allclose(back.direction, reconstruction.direction, atol=1e-5)
    first = pydicom.dcmread(series.files[0])
    assert list(first.ImageType) == ["ORIGINAL", "PRIMARY", "OTHER"]
    assert first.SOPClassUID == "1.2.840.10008.5.1.4.1.1.4"
    assert first.SeriesDescription == "RESEARCH MRDeepRecon recon zerofill"
    assert (float(first.EchoTime), float(first.RepetitionTime), float(first.MagneticFieldStrength)) == (12.5, 3000.0, 3.0)
    assert first.PatientID == "MRDEEPRECON-RESEARCH" and first.MRAcquisitionType == "2D"
    assert "DerivationDescription" not in first and "ContributingEquipmentSequence" not in first
    assert not list(tmp_path.glob(".*partial"))


def test_dciodvfy_reports_no_error(tmp_path, reconstruction):
    exe = require_tool("dciodvfy")
    series = write_original_series(reconstruction, tmp_path / "dicom", DerivedSeriesOptions(research_placeholder=True))
    for path in series.files:
        run = subprocess.run([exe, str(path)], capture_output=True, text=True, check=False)
        errors = [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")]
        assert not errors, f"{path.name}:\n" + "\n".join(errors)


def test_cli_like_keeps_patient_and_study_and_writes_the_record(tmp_path, capsys, reconstruction):
    from mrdeeprecon.cli import main

    patient = PatientStudy("DOE^JANE", "PID-7", study_description="Brain", patient_sex="F")
    existing = write_original_series(reconstruction, tmp_path / "existing", DerivedSeriesOptions(patient=patient))
    before = pydicom.dcmread(existing.files[0])
    source = tmp_path / "ksp.npy"
    np.save(source, _raw(_phantom(), 2, noise_scan=False).data[:, 0])
    args = ["recon", str(source), str(tmp_path / "new"), "--format", "dicom", "--method", "zerofill", "--progress", "none"]
    assert main([*args, "--like", str(tmp_path / "existing")]) == 0
    out = capsys.readouterr().out
    assert "DICOM file(s)" in out and "new.consistency.json" in out
    after = pydicom.dcmread(sorted((tmp_path / "new").iterdir())[0])
    assert (after.PatientID, after.PatientName, after.StudyInstanceUID) == (before.PatientID, before.PatientName, before.StudyInstanceUID)
    assert after.SeriesInstanceUID != before.SeriesInstanceUID
    record = json.loads((tmp_path / "new.consistency.json").read_text())
    assert record["method"] == "zerofill" and record["consistency"]["residual_rms"] > 0
    assert record["source_path"] == str(source)


def test_cli_like_needs_dicom_output(tmp_path, capsys):
    from mrdeeprecon.cli import main

    source = tmp_path / "ksp.npy"
    np.save(source, np.ones((2, 8, 8), np.complex64))
    assert main(["recon", str(source), str(tmp_path / "x.nii.gz"), "--like", str(tmp_path), "--progress", "none"]) == 2
    assert "--like needs --format dicom" in capsys.readouterr().err
