"""benchmarks/quality.py runs from a clean clone: every section in --quick mode, and --rebuild
re-judges the bars from the JSON alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> Path:
    from conftest import shared_path

    shared_path("volumes/seg3D_MR.nii.gz")
    shared_path("dicom/philips_phantom")
    out = tmp_path_factory.mktemp("quality")
    subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "quality.py"), "--quick", "--out", str(out / "Q.md"),
         "--json", str(out / "q.json"), "--reports", str(out / "reports")],
        check=True, capture_output=True, text=True, timeout=600,
    )
    return out


def test_quick_run_measures_every_bar_and_says_it_is_a_plumbing_check(quick_run):
    results = json.loads((quick_run / "q.json").read_text())
    assert results["quick"] is True
    sections = results["sections"]
    for name in ("denoise_seg3D_sigma6", "denoise_seg3D_sigma10", "sr_kmax0.5", "slice_x2", "tunable",
                 "sharpness", "varying_noise", "vendor_pair"):
        assert name in sections, name
    assert sections["sr_kmax0.5"]["bar"]["best_interpolation"] in ("zerofill", "cubic", "lanczos")
    cases = sections["tunable"]["cases"]
    assert [f["requested"] for case in cases.values() for f in case["factors"]] == [1.5, 2, 1.5, 2]
    assert list(cases)[-1].endswith("adapted"), "an adapted case, measured with the adapt-once enhancer"
    assert set(sections["tunable"]["bar"]["met_by_case"]) == set(cases)
    assert "ours 3 planes adapted" in sections["denoise_seg3D_sigma6"]["rows"]
    assert all(f["reported"] is not None for case in cases.values() for f in case["factors"])
    assert "ours NR 2" in sections["sr_kmax0.5"]["rows"] and "ours NR 2" in sections["slice_x2"]["rows"]
    for name in ("denoise_seg3D_sigma6", "denoise_seg3D_sigma10"):
        assert sections[name]["rows"]["ours"]["tissue"]["psnr_db"] > 0
    swapped = {a["axis"]: a["array_axis"] for a in sections["sharpness"]["axes_swapped"]}
    assert swapped["phase"] == 2 and swapped["frequency"] == 1  # read again with phase along x
    markdown = (quick_run / "Q.md").read_text()
    assert "plumbing check, numbers mean nothing" in markdown
    assert "Each in-plane axis read as phase and as frequency" in markdown
    assert any(line.startswith(("| y |", "| x |")) for line in markdown.splitlines())
    for png in ("tunable.png", "sharpness.png", "varying_noise.png", "vendor_pair.png"):
        assert (quick_run / "reports" / png).stat().st_size > 1000
    assert (quick_run / "reports" / "sr_kmax0.5" / "results.csv").exists()


def test_a_rerun_replaces_its_own_reports(quick_run):
    """The committed reports of benchmarks/quality/ are regenerated in place (make quality on a clone)."""
    report = quick_run / "reports" / "slice_x2" / "results.csv"
    before = report.stat().st_mtime_ns
    subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "quality.py"), "--quick", "--only", "slice", "--out",
         str(quick_run / "Q2.md"), "--json", str(quick_run / "q2.json"), "--reports", str(quick_run / "reports")],
        check=True, capture_output=True, text=True, timeout=600,
    )
    assert report.stat().st_mtime_ns > before


def test_denoise_bar_is_judged_in_tissue_with_the_whole_volume_beside_it():
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from quality import denoise_bar
    finally:
        sys.path.pop(0)

    def row(psnr, ssim, tissue_psnr, tissue_ssim=0.9):
        return {"psnr_db": psnr, "ssim": ssim, "tissue": {"psnr_db": tissue_psnr, "ssim": tissue_ssim}}

    bm4d = row(30.0, 0.8, 30.0)
    met = denoise_bar({"ours": row(29.0, 0.7, 31.1), "bm4d": bm4d})
    assert met["met"] is True and met["moonshot"] is False
    assert met["psnr_margin_db"] == pytest.approx(-1.0)  # the whole volume is reported, not judged
    assert denoise_bar({"ours": row(33.0, 0.9, 30.5), "bm4d": bm4d})["met"] is False  # background win only
    assert denoise_bar({"ours": row(33.0, 0.9, 32.5), "bm4d": bm4d})["moonshot"] is True
    assert denoise_bar({"ours": row(31.5, 0.9, 31.5)}) is None  # no BM4D row, no verdict
    planes = denoise_bar({"ours": row(31.0, 0.9, 30.5), "ours 3 planes": row(31.5, 0.9, 31.2), "bm4d": bm4d})
    assert planes["met"] is True and planes["tissue_psnr_margin_db"] == pytest.approx(0.5)  # judged on the better
    assert planes["variants"]["ours 3 planes"]["tissue_psnr_margin_db"] == pytest.approx(1.2)
    adapted = denoise_bar({"ours": row(31.0, 0.9, 30.5), "ours adapted": row(31.5, 0.9, 31.0), "bm4d": bm4d})
    assert adapted["met"] is True and set(adapted["variants"]) == {"ours adapted"}


def test_each_in_plane_axis_is_compared_as_phase_and_as_frequency():
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from quality import _swapped_sharpness_lines
    finally:
        sys.path.pop(0)

    def axis(role, array_axis, degraded, enhanced):
        return {"axis": role, "array_axis": array_axis, "degraded_ratio": degraded, "enhanced_ratio": enhanced}

    phase_y = [axis("frequency", 2, 0.86, 1.01), axis("phase", 1, 0.96, 1.27), axis("slice", 0, 1.0, 1.06)]
    phase_x = [axis("frequency", 1, 0.96, 1.13), axis("phase", 2, 0.86, 1.17), axis("slice", 0, 1.0, 1.07)]
    rows = [line for line in _swapped_sharpness_lines(phase_y, phase_x) if line.startswith("| y") or line.startswith("| x")]
    assert rows == ["| y | 0.96 | 1.13 | 1.27 | +0.14 |", "| x | 0.86 | 1.01 | 1.17 | +0.16 |"]


def test_rebuild_rejudges_from_the_json(quick_run, tmp_path):
    results = json.loads((quick_run / "q.json").read_text())
    section = results["sections"]["denoise_seg3D_sigma6"]
    section["rows"]["bm4d"] = {**section["rows"]["ours"], "psnr_db": section["rows"]["ours"]["psnr_db"] - 5}
    (tmp_path / "q.json").write_text(json.dumps(results))
    subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "quality.py"), "--rebuild", "--json", str(tmp_path / "q.json"),
         "--out", str(tmp_path / "Q.md")],
        check=True, capture_output=True, text=True, timeout=120,
    )
    rebuilt = json.loads((tmp_path / "q.json").read_text())["sections"]["denoise_seg3D_sigma6"]["bar"]
    assert rebuilt["psnr_margin_db"] == pytest.approx(5.0)
    assert rebuilt["met"] is False  # equal in tissue: not 1 dB better
    assert "denoise_seg3D_sigma6" in (tmp_path / "Q.md").read_text()
