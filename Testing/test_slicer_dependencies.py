"""MRDeepReconLib.dependencies: what is missing, the constraints file, and the install flow (PyTorch
through the PyTorch extension, the rest through pip), with the installers replaced by recorders."""

from __future__ import annotations

import importlib.util
import sys
import types
from importlib.metadata import version
from pathlib import Path

import pytest

slicer = pytest.importorskip("slicer", reason="slicer-core (a test dependency) is not installed")

from MRDeepReconLib import dependencies  # noqa: E402
from MRDeepReconLib.dependencies import DependencyOutcome, ensure_dependencies  # noqa: E402

MISSING_MODULE = "mrdeeprecon_test_module_that_does_not_exist"


@pytest.fixture
def engine_packages_present(monkeypatch):
    """The engine's pip packages count as installed whatever this environment has."""
    monkeypatch.setattr(dependencies, "ENGINE_REQUIREMENTS", {"numpy>=1": "numpy"})


@pytest.fixture
def no_pip_ensure(monkeypatch):
    """A Slicer without ``slicer.packaging`` (slicer-core has none): the fallback path."""
    monkeypatch.delitem(sys.modules, "slicer.packaging", raising=False)
    monkeypatch.delattr(slicer, "packaging", raising=False)


def test_missing_requirements_keeps_order_and_skips_importable_modules():
    requirements = {"a>=1": MISSING_MODULE, "numpy>=1": "numpy", "b": MISSING_MODULE + "_b"}
    assert dependencies.missing_requirements(requirements) == ["a>=1", "b"]
    assert dependencies.missing_requirements({}) == []


def test_constraints_file_pins_slicers_own_packages(tmp_path: Path):
    path = dependencies.write_constraints_file(tmp_path / "constraints.txt")
    lines = path.read_text(encoding="utf-8").split()
    assert f"numpy=={version('numpy')}" in lines
    assert f"pydicom=={version('pydicom')}" in lines
    assert all(line.split("==")[0] in dependencies.SLICER_PACKAGES for line in lines)


def test_nothing_missing_is_ready_without_asking(tmp_path: Path, engine_packages_present):
    def refuse(missing):
        raise AssertionError("asked although nothing is missing")

    check = ensure_dependencies(None, tmp_path / "c.txt", confirm_install=refuse)
    assert check.ready and check.outcome is DependencyOutcome.READY
    assert not (tmp_path / "c.txt").exists()  # no constraints file when nothing is installed


def test_missing_pytorch_without_the_pytorch_extension(monkeypatch, tmp_path: Path):
    monkeypatch.setattr(dependencies, "TORCH_MODULE", MISSING_MODULE)
    monkeypatch.setitem(sys.modules, "PyTorchUtils", None)  # import PyTorchUtils fails
    check = ensure_dependencies(None, tmp_path / "c.txt", confirm_install=lambda missing: True)
    assert check.outcome is DependencyOutcome.NO_PYTORCH_EXTENSION and not check.ready


@pytest.mark.parametrize("installed, outcome", [(None, DependencyOutcome.TORCH_NOT_INSTALLED), ("torch", DependencyOutcome.READY)])
def test_missing_pytorch_is_installed_by_the_pytorch_extension(monkeypatch, tmp_path, engine_packages_present, installed, outcome):
    calls = []

    class PyTorchUtilsLogic:
        def installTorch(self, askConfirmation):
            calls.append(askConfirmation)
            return installed

    monkeypatch.setattr(dependencies, "TORCH_MODULE", MISSING_MODULE)
    monkeypatch.setitem(sys.modules, "PyTorchUtils", types.SimpleNamespace(PyTorchUtilsLogic=PyTorchUtilsLogic))
    check = ensure_dependencies(None, tmp_path / "c.txt", confirm_install=lambda missing: True)
    assert calls == [True]  # the extension asks the user
    assert check.outcome is outcome


def test_pip_ensure_installs_the_missing_packages_with_the_constraints(monkeypatch, tmp_path):
    requests = []

    def pip_ensure(requirements, constraints, requester):
        requests.append((requirements, Path(constraints).read_text(), requester))

    monkeypatch.setattr(slicer, "packaging", types.SimpleNamespace(pip_ensure=pip_ensure), raising=False)
    monkeypatch.setitem(sys.modules, "slicer.packaging", slicer.packaging)
    monkeypatch.setattr(dependencies, "ENGINE_REQUIREMENTS", {"numpy>=1": "numpy", "pkg-a>=2": MISSING_MODULE})
    check = ensure_dependencies({"pkg-b": MISSING_MODULE + "_b"}, tmp_path / "c.txt", confirm_install=lambda m: False)
    ((requirements, constraints, requester),) = requests
    assert requirements == ["pkg-a>=2", "pkg-b"]  # pip_ensure asks itself: confirm_install is not used
    assert f"numpy=={version('numpy')}" in constraints and requester == "MRDeepRecon"
    # pip "ran" but installed nothing: both are still missing
    assert check.outcome is DependencyOutcome.STILL_MISSING
    assert check.missing == ("pkg-a>=2", "pkg-b")


def test_pip_ensure_declined(monkeypatch, tmp_path):
    def pip_ensure(requirements, constraints, requester):
        raise RuntimeError("the user said no")

    monkeypatch.setattr(slicer, "packaging", types.SimpleNamespace(pip_ensure=pip_ensure), raising=False)
    monkeypatch.setitem(sys.modules, "slicer.packaging", slicer.packaging)
    monkeypatch.setattr(dependencies, "ENGINE_REQUIREMENTS", {"pkg-a": MISSING_MODULE})
    check = ensure_dependencies(None, tmp_path / "c.txt", confirm_install=lambda m: True)
    assert check.outcome is DependencyOutcome.DECLINED


def test_fallback_asks_then_runs_pip_install_inside_busy(monkeypatch, tmp_path, no_pip_ensure):
    events, installed = [], []
    monkeypatch.setattr(dependencies, "ENGINE_REQUIREMENTS", {"pkg-a": MISSING_MODULE})

    def pip_install(args):
        events.append(("pip", args))
        installed.append(MISSING_MODULE)

    monkeypatch.setattr(slicer.util, "pip_install", pip_install)

    class Busy:
        def __enter__(self):
            events.append("busy")

        def __exit__(self, *exc):
            events.append("idle")

    def confirm(missing):
        events.append(("asked", list(missing)))
        return True

    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args):  # the installed module can be found once pip ran
        if name == MISSING_MODULE:
            return object() if installed else None
        return real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    check = ensure_dependencies(None, tmp_path / "c.txt", confirm_install=confirm, busy=Busy)
    assert check.ready
    assert events == [("asked", ["pkg-a"]), "busy", ("pip", ["-c", str(tmp_path / "c.txt"), "pkg-a"]), "idle"]


def test_fallback_declined_runs_no_pip(monkeypatch, tmp_path, no_pip_ensure):
    monkeypatch.setattr(dependencies, "ENGINE_REQUIREMENTS", {"pkg-a": MISSING_MODULE})

    def pip_install(args):
        raise AssertionError("pip ran although the user declined")

    monkeypatch.setattr(slicer.util, "pip_install", pip_install)
    check = ensure_dependencies(None, tmp_path / "c.txt", confirm_install=lambda m: False)
    assert check.outcome is DependencyOutcome.DECLINED


def test_the_panels_requirements_are_the_projects():
    """The pip requirements the panel installs are pyproject.toml's: the engine's dependencies
    (PyTorch comes from the PyTorch extension; Slicer's own packages are never installed) and the
    ``raw`` extra for a raw k-space reconstruction."""
    tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python 3.11")
    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    slicer_own = {"numpy", "pydicom", "simpleitk", "torch"}
    engine = {r for r in project["dependencies"] if r.split(">")[0].split("=")[0].lower() not in slicer_own}
    assert set(dependencies.ENGINE_REQUIREMENTS) == engine
    assert list(dependencies.RAW_REQUIREMENTS) == project["optional-dependencies"]["raw"]
