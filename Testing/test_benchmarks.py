"""The speed benchmarks (``benchmarks/``) run from a clean checkout in ``--quick`` mode.

Quick mode measures nothing meaningful (tiny sizes); these tests check that every section runs,
writes RESULTS.md and the JSON, and that the GPU-machine mode works without SimpleITK, pydicom,
scikit-image and nibabel (blocked by stub modules on ``PYTHONPATH``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED_DATA, require_bm4d, shared_path

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "benchmarks"
BLOCKED_MODULES = ("SimpleITK", "pydicom", "skimage", "nibabel")

sys.path.insert(0, str(BENCHMARKS))
from report import evaluate_goals  # noqa: E402
from scaling import fit_slope  # noqa: E402


def _run(tmp_path: Path, *arguments: str, env: dict[str, str] | None = None) -> dict:
    out, results = tmp_path / "RESULTS.md", tmp_path / "results.json"
    command = [sys.executable, str(BENCHMARKS / "run.py"), "--quick", "--threads", "1", "--repeats", "1"]
    command += ["--out", str(out), "--json", str(results), *arguments]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **(env or {})}
    completed = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=300)
    assert completed.returncode == 0, completed.stderr
    assert out.read_text().startswith("<!-- speed:begin -->\n# MRDeepRecon speed benchmarks")
    return json.loads(results.read_text())


def test_quick_suite_writes_every_section(tmp_path):
    shared_path("volumes/MNI152_2009_template.nii.gz")  # the default source
    results = _run(tmp_path, env={"MRDEEPRECON_SHARED_DATA": str(SHARED_DATA)})
    sections = results["sections"]
    assert list(sections) == ["peak", "network", "pipeline", "pipeline-on-device", "scaling", "bm4d"]
    assert results["machine"]["threads"] == 1 and results["repeats"] == 1
    assert sections["peak"]["peak"]["float32"] >= sections["peak"]["kernels"]["mm_float32"]["best_flops_per_s"]

    network = sections["network"]["kinds"]
    # 7 input slices make the 3D model's first convolution dearer than the 2D model's
    assert network["3d"]["best"]["flops_per_slice"] > network["2d"]["best"]["flops_per_slice"] > 0
    assert 0 < network["2d"]["fraction_of_peak"] <= network["2d"]["fraction_of_mm"]

    for entry in sections["pipeline-on-device"]["kinds"].values():
        stages = entry["current"]["stages_s"]
        assert {"standardise", "noise map", "gather", "network", "blend", "noise reduction", "destandardise", "copy"} <= set(stages)
        assert sum(stages.values()) <= entry["current"]["total_s"] and 0 < entry["current"]["network_share"] < 1

    pipeline = sections["pipeline"]
    assert pipeline["io_format"] == "nifti"
    for case in pipeline["cases"].values():
        assert case["output_shape_zyx"] == case["shape_zyx"]  # no super-resolution asked
        assert len(case["total_samples_s"]) == results["repeats"]
        assert case["peak_rss_bytes"] > 50e6  # a Python process with torch loaded
        assert case["read_s"] + case["enhance_s"] + case["write_s"] < case["process_wall_s"]

    rows = sections["scaling"]["rows"]
    assert [r["slices"] for r in rows] == [4, 8, 16, 32]
    assert rows[0]["per_slice_ratio"] == pytest.approx(1.0)
    # quick mode never claims a goal is met or missed
    assert results["goals"] and all(goal["met"] is None for goal in results["goals"])
    bm4d = sections["bm4d"]
    if not bm4d.get("available", True):  # a fresh clone's `make test` does not install the extra
        assert "not installed" in bm4d["note"]
        require_bm4d()  # the rest of this test passed: skip (fail in CI) for the BM4D part only
    assert bm4d["speedup"] == pytest.approx(bm4d["bm4d_s"] / bm4d["ours_s"])


def test_gpu_machine_mode_needs_no_image_libraries(tmp_path):
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    for name in BLOCKED_MODULES:
        (stubs / f"{name}.py").write_text(f"raise ImportError('{name} is blocked by the test')\n")
    # a smooth synthetic source, as export_source.py writes it: (z, y, x) float32
    z, y, x = np.mgrid[:20, :80, :80].astype(np.float32)
    source = tmp_path / "source.npy"
    np.save(source, 100 + 50 * np.sin(x / 7) * np.cos(y / 9) + z)

    env = {"PYTHONPATH": str(stubs)}
    results = _run(tmp_path, "--only", "network,pipeline", "--source", str(source), env=env)
    assert list(results["sections"]) == ["network", "pipeline"]
    assert results["sections"]["network"]["kinds"]["2d"]["fraction_of_peak"] is None  # no peak run
    pipeline = results["sections"]["pipeline"]
    assert pipeline["io_format"] == "npy"
    assert pipeline["cases"]["memory_3d"]["shape_zyx"] == [12, 128, 128]
    three = pipeline["cases"]["planes3_3d"]
    assert (three["planes"], three["shape_zyx"]) == (3, [12, 64, 64])
    assert three["warm_enhance_s"] > pipeline["cases"]["e2e_3d"]["warm_enhance_s"]  # three network passes, not one


def test_goals_are_decided_only_for_the_measured_configuration():
    def results(threads: int, total_s: float, slope: float, speedup: float) -> dict:
        case = {"model_kind": "3d", "shape_zyx": [176, 256, 256], "total_s": total_s, "peak_rss_bytes": 2.5e9}
        return {
            "quick": False,
            "machine": {"device": "cpu", "threads": threads},
            "sections": {
                "pipeline": {"cases": {"e2e_3d": case, "memory_3d": {**case, "shape_zyx": [200, 512, 512]}}},
                "scaling": {"slope": slope},
                "bm4d": {"available": True, "speedup": speedup},
            },
        }

    goals = {g.goal.split(",")[0]: g.met for g in evaluate_goals(results(2, 25.0, 1.1, 10.0))}
    assert goals == {
        "256×256×176 end to end": False,
        "512×512×200 peak host RAM": True,
        "time vs slices: slope b of log t = a + b log n": True,
        "speed vs BM4D on the same crop": False,
    }
    four_threads = evaluate_goals(results(4, 5.0, 0.8, 60.0))
    assert [g.met for g in four_threads] == [None, True, False, True]  # the 20 s goal is for 2 cores


def test_slope_of_a_power_law():
    slices = [64, 128, 256, 512]
    assert fit_slope(slices, [0.01 * n for n in slices])[0] == pytest.approx(1.0)
    assert fit_slope(slices, [0.01 * n**1.5 for n in slices])[0] == pytest.approx(1.5)


def test_speed_and_quality_runs_share_results_md_without_erasing_each_other(tmp_path):
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    try:
        from common import write_section
    finally:
        sys.path.pop(0)
    path = tmp_path / "RESULTS.md"
    write_section(path, "speed", "# speed v1")
    write_section(path, "quality", "## quality v1")
    write_section(path, "speed", "# speed v2\nmore")
    text = path.read_text()
    assert "speed v1" not in text and "# speed v2\nmore" in text and "## quality v1" in text
    assert text.index("speed v2") < text.index("quality v1")


def test_pairs_speed_writes_its_section(tmp_path):
    shared_path("volumes/stroke_T1.nii.gz")
    out, results = tmp_path / "RESULTS.md", tmp_path / "pairs.json"
    command = [sys.executable, str(BENCHMARKS / "pairs_speed.py"), "--threads", "1", "--batches", "2", "--rounds", "2",
               "--volumes", str(shared_path("volumes/stroke_T1.nii.gz")), "--out", str(out), "--json", str(results)]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert completed.returncode == 0, completed.stderr
    run = json.loads(results.read_text())["runs"][0]
    assert run["threads"] == 1 and run["pairs_per_s_2d"] > 0 and run["pairs_per_s_3d"] > 0
    assert 0 < run["pair_share_of_step"] < 1 and 0 < run["pair_share_of_step_3d"] < 1
    assert 0 < run["speedup_vs_numpy_per_core"] and run["rounds"] == 2
    assert len(run["pairs_per_s_2d_rounds"]) == len(run["numpy_sampler_pairs_per_s_rounds"]) == 2
    assert min(run["pairs_per_s_2d_rounds"]) <= run["pairs_per_s_2d"] <= max(run["pairs_per_s_2d_rounds"])
    assert out.read_text().startswith("<!-- pairs:begin -->\n## Training pairs")


def test_ablation_quick_trains_calibrates_and_scores_each_arm(tmp_path):
    shared_path("volumes/seg3D_MR.nii.gz")
    arms = {"blind": ("ce_unet_2d", 1, "blind"), "slices_2_5d": ("ce_unet_2.5d", 3, "map")}
    command = [sys.executable, str(BENCHMARKS / "ablation.py"), "--quick", "--arms", ",".join(arms), "--jobs", "2",
               "--work", str(tmp_path / "arms"), "--out", str(tmp_path / "A.md"), "--json", str(tmp_path / "a.json")]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=REPO)
    assert completed.returncode == 0, completed.stderr
    results = json.loads((tmp_path / "a.json").read_text())
    assert set(results["plans"]) == set(arms)
    per_patch = {arm: plan["training_tflop"] / plan["patches"] for arm, plan in results["plans"].items()}
    assert per_patch["slices_2_5d"] > per_patch["blind"]  # three slices and a map in: more FLOPs per patch
    for arm, (name, slices, noise_input) in arms.items():
        card = json.loads((tmp_path / "arms" / arm / f"{name}.json").read_text())
        assert "calibration" in card
        assert card["architecture"]["noise_input"] == noise_input and card["architecture"]["in_slices"] == slices
        for scores in results["scores"].values():
            assert np.isfinite(scores[arm]["tissue_psnr_db"])
    assert "plumbing check" in (tmp_path / "A.md").read_text()
