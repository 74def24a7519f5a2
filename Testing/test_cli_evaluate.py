"""`mrdeeprecon evaluate`: the report folder, the shared degrade flags, refusals (tiny models)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_path

from mrdeeprecon.cli import main
from mrdeeprecon.io import load_volume, save_volume
from mrdeeprecon.metrics import psnr

FILES = ["differences.png", "planes.png", "results.csv", "results.json", "results.md"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """12 slices × 96 × 96 of the held-out seg3D_MR as NIfTI."""
    volume = load_volume(shared_path("volumes/seg3D_MR.nii.gz"))
    crop = volume.with_data(np.ascontiguousarray(volume.data[70:82, 70:166, 40:136], dtype=np.float32))
    path = tmp_path_factory.mktemp("reference") / "seg3d_crop.nii.gz"
    save_volume(crop, path)
    return path


def test_evaluate_writes_every_file_and_refuses_a_non_empty_folder(reference, tiny_models, tmp_path, capsys):
    out = tmp_path / "report"
    args = [
        "evaluate", str(reference), "--out", str(out),
        "--degrade", "--noise 0.05 --kmax-phase 0.75",
        "--methods", "ours,gaussian,lanczos,cubic,zerofill",
        "--model", str(tiny_models["2d"]), "--noise-reduction", "3",
        "--slices", "2:10", "--seed", "3", "--progress", "none",
    ]  # fmt: skip
    assert main(args) == 0
    assert sorted(p.name for p in out.iterdir()) == FILES
    printed = capsys.readouterr().out
    assert "wrote results.json" in printed and "zerofill" in printed
    content = json.loads((out / "results.json").read_text())
    assert content["reference"]["slices"] == [2, 10]
    assert content["reference"]["source"] == str(reference)
    assert content["degradation"]["requested"]["kmax"] == [1.0, 0.75, 1.0]
    assert content["degradation"]["seed"] == 3
    assert content["noise_reduction"] == 3.0 and content["model"]["name"] == "tiny 2d"
    assert [m["method"] for m in content["methods"]] == ["ours", "gaussian", "lanczos", "cubic", "zerofill"]
    assert main(args) == 2
    assert "not an empty folder" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


def test_evaluate_degrades_exactly_as_the_degrade_command(reference, tmp_path):
    flags = "--noise 0.04 --kmax-frequency 0.8 --elliptical"
    degraded = tmp_path / "degraded.nii.gz"
    assert main(["degrade", str(reference), str(degraded), *flags.split(), "--seed", "5"]) == 0
    out = tmp_path / "report"
    args = ["evaluate", str(reference), "--out", str(out), "--degrade", flags, "--methods", "zerofill", "--seed", "5"]
    assert main([*args, "--quiet"]) == 0
    content = json.loads((out / "results.json").read_text())
    clean = load_volume(reference).data
    expected = psnr(clean, load_volume(degraded).data)
    assert content["methods"][0]["scores"]["psnr_db"] == pytest.approx(expected, abs=1e-9)
    assert content["degradation"]["applied"]["elliptical"] is True


def test_evaluate_slice_super_resolution_with_a_3d_acquisition(reference, tmp_path):
    out = tmp_path / "report"
    args = [
        "evaluate", str(reference), "--out", str(out), "--acq-type", "3D",
        "--degrade=--kmax-slice 0.5", "--methods", "cubic,zerofill", "--quiet",
    ]  # fmt: skip
    assert main(args) == 0
    content = json.loads((out / "results.json").read_text())
    assert content["degradation"]["acquisition"] == "3D"
    assert content["degradation"]["acquired_matrix_zyx"] == [6, 96, 96]
    assert content["skipped"] == {}


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--degrade", "--noise x"], "invalid float value"),
        (["--degrade", "--noise 0.1 --seed 3"], "not a degrade flag: --seed 3"),
        (["--degrade", "--kmax-slice 0.5"], "needs a 3D acquisition"),
        (["--slices", "5"], "START:STOP"),
        (["--slices", "8:4"], "slice range 8:4"),
        (["--methods", "ours,median"], "unknown method(s) median"),
        (["--noise-reduction", "0.5", "--methods", "zerofill"], "noise reduction factor"),
    ],
)
def test_evaluate_refuses_bad_arguments(reference, tmp_path, capsys, extra, message):
    out = tmp_path / "report"
    assert main(["evaluate", str(reference), "--out", str(out), "--quiet", *extra]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()
