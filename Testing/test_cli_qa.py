"""`mrdeeprecon qa ORIGINAL ENHANCED --out DIR` on a real series, and the --roi / --line syntax."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import shared_path
from mrdeeprecon.cli import main
from mrdeeprecon.errors import MRDeepReconError
from mrdeeprecon.io import load_volume, save_volume
from mrdeeprecon.qa.roi import region_stats
from mrdeeprecon.qa.specs import parse_line, parse_roi


@pytest.fixture(scope="module")
def philips_pair(tmp_path_factory) -> tuple[Path, Path]:
    """The Philips enhanced phantom series and its derived DICOM series (bundled 2D model, NR 3)."""
    folder = shared_path("dicom/philips_phantom/201_T1W_TSE_Sno_CSno_CSAIno")
    out = tmp_path_factory.mktemp("qa") / "derived"
    assert main(["enhance", str(folder), str(out), "--format", "dicom", "--noise-reduction", "3", "--device", "cpu", "--quiet"]) == 0
    return folder, out


def test_qa_report_on_a_real_enhancement(tmp_path, capsys, philips_pair):
    original, enhanced = philips_pair
    out = tmp_path / "report"
    args = [
        "qa", str(original), str(enhanced), "--out", str(out), "--noise-reduction", "3",
        "--roi", "sphere:128,128,6:6", "--roi", "box:100,100,4:140,140,8", "--line", "40,128,6:90,128,6",
    ]
    assert main(args) == 0
    stdout = capsys.readouterr().out
    assert "noise in roi1" in stdout and "noise in roi2" in stdout and "requested 3" in stdout
    assert {p.name for p in out.iterdir()} == {
        "qa.json", "qa.md", "profiles.png", "noise_reduction.png", "change_map.png", "consistency.png",
    }
    report = json.loads((out / "qa.json").read_text())
    assert report["requested_noise_reduction"] == 3
    assert [r["roi"]["name"] for r in report["rois"]] == ["roi1", "roi2"]
    # The measured ratio is the ratio of the two detrended SDs the report also lists.
    for roi in report["rois"]:
        ratio = roi["original"]["sd_detrended"] / roi["enhanced"]["sd_detrended"]
        assert roi["measured_noise_reduction"] == pytest.approx(ratio)
    assert [a["axis"] for a in report["sharpness"]["axes"]] == ["frequency", "phase", "slice"]
    assert len(report["sharpness"]["lines"]) == 1
    assert len(report["consistency"]["residuals"]) == 12
    assert "## Noise in ROIs" in (out / "qa.md").read_text()
    for png in out.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_qa_refuses_bad_specs_and_writes_nothing(tmp_path, capsys, philips_pair):
    original, enhanced = philips_pair
    for spec, message in (("cube:1,2,3:4", "unknown ROI"), ("box:1,2:3,4,5", "3 comma-separated numbers"), ("sphere:1,2,3:-2", "radius")):
        out = tmp_path / "never"
        assert main(["qa", str(original), str(enhanced), "--out", str(out), "--roi", spec]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1
        assert not out.exists()


@pytest.fixture(scope="module")
def oblique() -> object:
    volume = load_volume(shared_path("volumes/stroke_T1.nii.gz"))
    theta = np.deg2rad(20)
    direction = np.array([[np.cos(theta), -np.sin(theta), 0], [np.sin(theta), np.cos(theta), 0], [0, 0, 1]])
    return volume.with_data(volume.data[60:70, :64, :64].astype(np.float32), direction=direction, origin=(5.0, -7.0, 11.0), spacing=(0.9, 1.1, 3.0))


def test_roi_specs_index_and_ras_agree(oblique):
    centre_ijk = np.array([30.0, 20.0, 4.0])
    lps = (oblique.ijk_to_lps() @ np.append(centre_ijk, 1.0))[:3]
    ras = lps * [-1, -1, 1]
    by_index = parse_roi("sphere:30,20,4:5", oblique)
    by_ras = parse_roi(f"sphere-ras:{ras[0]},{ras[1]},{ras[2]}:5", oblique)
    np.testing.assert_allclose(by_index.centre, by_ras.centre, atol=1e-9)
    assert region_stats(by_index, oblique).voxels == region_stats(by_ras, oblique).voxels > 0

    box = parse_roi("box:10,12,2:20,16,5", oblique)
    assert region_stats(box, oblique).voxels == 10 * 4 * 3


def test_mask_roi_from_a_label_file(tmp_path, oblique):
    labels = np.zeros(oblique.shape, np.float32)
    labels[3:5, 10:20, 30:34] = 1
    path = tmp_path / "labels.nrrd"
    save_volume(oblique.with_data(labels), path)
    assert region_stats(parse_roi(f"mask:{path}", oblique), oblique).voxels == 2 * 10 * 4
    small = tmp_path / "small.nrrd"
    save_volume(oblique.with_data(labels[:4]), small)
    with pytest.raises(MRDeepReconError, match="differs from the original"):
        parse_roi(f"mask:{small}", oblique)


def test_line_specs_index_and_ras_agree(oblique):
    a, b = np.array([5.0, 6.0, 1.0]), np.array([40.0, 30.0, 1.0])
    to_ras = lambda p: (oblique.ijk_to_lps() @ np.append(p, 1.0))[:3] * [-1, -1, 1]  # noqa: E731
    ra, rb = to_ras(a), to_ras(b)
    by_index = parse_line("5,6,1:40,30,1", oblique)
    by_ras = parse_line(f"ras:{ra[0]},{ra[1]},{ra[2]}:{rb[0]},{rb[1]},{rb[2]}", oblique)
    np.testing.assert_allclose(by_index.start, by_ras.start, atol=1e-9)
    np.testing.assert_allclose(by_index.end, by_ras.end, atol=1e-9)
    with pytest.raises(MRDeepReconError, match="expected"):
        parse_line("1,2,3", oblique)


def test_qa_warns_about_a_folder_with_other_files_and_refuses_a_bad_factor(tmp_path, capsys, philips_pair):
    original, enhanced = philips_pair
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine")
    assert main(["qa", str(original), str(enhanced), "--out", str(occupied), "--quiet"]) == 0
    assert "already held other files (notes.txt)" in capsys.readouterr().err
    assert (occupied / "notes.txt").read_text() == "mine" and (occupied / "qa.json").is_file()
    out = tmp_path / "never"
    assert main(["qa", str(original), str(enhanced), "--out", str(out), "--noise-reduction", "-1"]) == 2
    assert "--noise-reduction must be in [1, 10]" in capsys.readouterr().err
    assert not out.exists()


def test_enhance_reports_the_measured_noise_reduction_and_warns(tmp_path, capsys):
    """Issue 13's case: Philips 501 at NR 3, where the QA measures the noise going up; enhance
    now says so itself."""
    folder = shared_path("dicom/philips_phantom/501_T1W_FFE_Sno_CS4")
    out = tmp_path / "out.nii.gz"
    assert main(["enhance", str(folder), str(out), "--noise-reduction", "3", "--device", "cpu"]) == 0
    captured = capsys.readouterr()
    line = next(x for x in captured.out.splitlines() if x.startswith("noise reduction:"))
    measured = float(line.split("measured ")[1].split()[0])
    original, enhanced = load_volume(folder), load_volume(out)
    from mrdeeprecon.qa.roi import compare_roi, find_homogeneous_roi

    expected = compare_roi(find_homogeneous_roi(original), original, enhanced).measured_noise_reduction
    assert measured == pytest.approx(expected, abs=0.01)  # the same number `qa` gives
    warned = "warning: the measured noise reduction" in captured.err
    assert warned == (abs(measured / 3 - 1) > 0.25)
