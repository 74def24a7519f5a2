"""BackgroundEnhancement: the engine's command line in a child process, on a real MRML scene.

The child is this interpreter (``sys.executable``; PythonSlicer inside Slicer) running
``-m mrdeeprecon.cli enhance`` with the module folder on PYTHONPATH and tiny random models.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

slicer = pytest.importorskip("slicer", reason="slicer-core (a test dependency) is not installed")

from mrdeeprecon import MRDeepReconError, load_volume  # noqa: E402
from MRDeepReconLib import (  # noqa: E402
    BackgroundEnhancement,
    MRDeepReconLogic,
    ProcessParameters,
    scan_context_for_node,
    update_node_from_volume,
    volume_from_node,
)
from MRDeepReconLib.background import python_slicer_executable  # noqa: E402
from slicer_scene import new_scene, scene_with_series  # noqa: E402

MODULE_DIR = Path(__file__).resolve().parents[1] / "MRDeepRecon"
TIMEOUT_S = 60.0


@pytest.fixture
def philips(philips_enhanced_dir):
    return scene_with_series(philips_enhanced_dir, "T1W_TSE")


def _start(node, parameters: ProcessParameters, context) -> BackgroundEnhancement:
    job = BackgroundEnhancement()
    job.start(node, parameters, context, sys.executable, MODULE_DIR)
    return job


def test_command_line_carries_the_parameters_settings(tmp_path) -> None:
    """The child's flags are derived from EnhanceSettings: parsed back, they are the settings."""
    from mrdeeprecon.cli import _settings, build_parser

    parameters = ProcessParameters(noise_reduction=3.25, super_resolution=(1.5, 2, 1), artifact_correction=False,
                                   device="cpu", model_kind="2d", model_path=str(tmp_path / "m.safetensors"),
                                   adaptation_steps=1500)
    command = BackgroundEnhancement._command("python", tmp_path, parameters, tmp_path / "adaptations")
    assert command[:4] == ["python", "-m", "mrdeeprecon.cli", "enhance"]
    parsed = build_parser().parse_args(command[3:])
    assert _settings(parsed) == parameters.to_settings() and parsed.adaptation_cache == tmp_path / "adaptations"
    assert build_parser().parse_args(BackgroundEnhancement._command("python", tmp_path, parameters, None)[3:]).adaptation_cache is None
    parameters.adaptation_steps = 0  # not adapting: no cache to make or check
    assert "--adaptation-cache" not in BackgroundEnhancement._command("python", tmp_path, parameters, tmp_path)


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_background_run_reports_progress_and_stores_what_process_computes(philips, tiny_models) -> None:
    world, series = philips
    node = series.node
    parameters = ProcessParameters(noise_reduction=3, device="cpu", model_path=str(tiny_models["2d"]))
    context = scan_context_for_node(node, series.file_for_instance)
    state = world.state()

    job = _start(node, parameters, context)
    folder = job.folder
    assert folder is not None and folder.is_dir()
    fractions, logs = [], []
    deadline = time.monotonic() + TIMEOUT_S
    while (status := job.poll()).running and time.monotonic() < deadline:
        fractions.append(status.fraction)
        logs.extend(status.log_lines)
        time.sleep(0.02)
    fractions.append(status.fraction)
    logs.extend(status.log_lines)
    assert (status.running, status.returncode, status.error) == (False, 0, None), logs
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and status.message == "done"
    assert any(line.startswith("wrote ") for line in logs), "the command line's own output is logged"
    assert world.state() == state, "the scene is untouched while the run goes on"

    output = job.finish(MRDeepReconLogic(world.scene), node, None)
    assert not folder.exists() and job.folder is None
    assert output.GetName() == "T1W_TSE_DLR"
    direct = MRDeepReconLogic(world.scene).process(node, None, parameters, context=context)
    expected = slicer.util.arrayFromVolume(direct)
    voxels = slicer.util.arrayFromVolume(output)
    assert voxels.dtype == np.float32
    np.testing.assert_allclose(voxels, expected, rtol=1e-5, atol=1e-5 * float(np.abs(expected).max()))
    geometry = volume_from_node(output).ijk_to_ras()
    np.testing.assert_allclose(geometry, volume_from_node(direct).ijk_to_ras(), atol=1e-9)
    for suffix in ("sourceNodeID", "sourceSeriesInstanceUID", "modelName", "modelSha256", "parameters"):
        name = f"MRDeepRecon.{suffix}"
        assert output.GetAttribute(name) == direct.GetAttribute(name), name
    record = json.loads(output.GetAttribute("MRDeepRecon.enhancement"))
    assert record == json.loads(direct.GetAttribute("MRDeepRecon.enhancement"))
    assert world.hierarchy.GetItemParent(world.hierarchy.GetItemByDataNode(output)) == series.study_item


def test_cancel_kills_the_run_and_leaves_the_scene_unchanged(ge_mprage_dir: Path, tiny_models) -> None:
    world = new_scene()
    node = world.scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "MPRAGE")
    update_node_from_volume(node, load_volume(ge_mprage_dir))  # 130 slices: seconds of work
    before = slicer.util.arrayFromVolume(node).copy()
    state = world.state()
    parameters = ProcessParameters(super_resolution=(1, 1, 2), device="cpu", model_path=str(tiny_models["3d"]))

    job = _start(node, parameters, scan_context_for_node(node))
    folder, pid = job.folder, job.pid
    deadline = time.monotonic() + TIMEOUT_S
    while (status := job.poll()).running and not status.message.startswith(("standardising", "running", "batch")):
        assert time.monotonic() < deadline, "no progress line arrived"
        time.sleep(0.01)
    assert status.running and status.fraction < 0.5, "the run must still be going when it is cancelled"

    job.cancel()
    assert _process_gone(pid)
    assert not folder.exists() and job.folder is None
    status = job.poll()
    assert (status.running, status.error) == (False, "cancelled")
    assert status.returncode != 0
    assert world.state() == state
    np.testing.assert_array_equal(slicer.util.arrayFromVolume(node), before)
    with pytest.raises(MRDeepReconError, match="cancelled"):
        job.finish(MRDeepReconLogic(world.scene), node)


def test_failing_run_reports_the_command_lines_error(philips, tiny_models) -> None:
    world, series = philips
    state = world.state()
    with pytest.raises(MRDeepReconError, match="super-resolution factor along phase"):
        _start(series.node, ProcessParameters(super_resolution=(1, 3, 1)), scan_context_for_node(series.node))

    # Valid factors the child refuses: slice super-resolution with a 2D model.
    parameters = ProcessParameters(super_resolution=(1, 1, 2), device="cpu", model_path=str(tiny_models["2d"]))
    job = _start(series.node, parameters, scan_context_for_node(series.node, series.file_for_instance))
    folder = job.folder
    status = job.wait(TIMEOUT_S)
    assert not status.running and status.returncode == 2
    assert status.error.startswith("T1W_TSE: super-resolution along the slice direction needs the 3D"), status.error
    assert "\n" not in status.error and str(folder) not in status.error
    assert not folder.exists()
    with pytest.raises(MRDeepReconError, match="needs the 3D model"):
        job.finish(MRDeepReconLogic(world.scene), series.node)
    assert world.state() == state


def test_python_slicer_is_found_on_the_path_else_next_to_the_interpreter(tmp_path: Path, monkeypatch) -> None:
    launcher = tmp_path / ("PythonSlicer" + (".exe" if os.name == "nt" else ""))
    python = tmp_path / "python-real"
    monkeypatch.setattr("shutil.which", lambda name: None)
    assert python_slicer_executable(str(python)) is None
    launcher.write_text("")
    assert python_slicer_executable(str(python)) == str(launcher)
    monkeypatch.setattr("shutil.which", lambda name: f"/on/the/path/{name}")
    assert python_slicer_executable(str(python)) == "/on/the/path/PythonSlicer"
