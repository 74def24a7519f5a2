"""The Python packages the engine needs inside Slicer, and installing the missing ones on request.

PyTorch comes from Slicer's PyTorch extension (``PyTorchUtilsLogic().installTorch``: the right CUDA
or CPU build for this computer); the other packages from pip (``slicer.packaging.pip_ensure`` where
this Slicer has it, else ``slicer.util.pip_install``) with Slicer's own numpy, SimpleITK and pydicom
pinned by a constraints file, so that they are used as they are and never replaced.

Nothing is checked or installed when this module is imported: :func:`ensure_dependencies` runs when
the panel is about to need the packages (a run, imported weights, an export, a QA report). What the
user is asked and told is the caller's (the panel's translated dialogs): this module takes the
question as a callback and returns what happened as a :class:`DependencyCheck`.
"""

from __future__ import annotations

import contextlib
import enum
import importlib
import importlib.util
import logging
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Callable, ContextManager, Mapping, Optional, Sequence

#: Python packages the engine needs besides PyTorch: pip requirement → import name.
ENGINE_REQUIREMENTS = {
    "safetensors>=0.4": "safetensors",
    "scikit-image>=0.21": "skimage",
    "pynetdicom>=2.0": "pynetdicom",
    "nibabel>=5": "nibabel",
    "pynrrd>=1.0": "nrrd",
    "python-gdcm>=3.0.10": "gdcm",
}
#: What the quality-assurance report needs besides :data:`ENGINE_REQUIREMENTS` (its PNG plots).
QA_REQUIREMENTS = {"matplotlib>=3.5": "matplotlib"}
#: What a raw k-space reconstruction needs besides :data:`ENGINE_REQUIREMENTS`: the project's ``raw``
#: extra (pyproject.toml; Testing/test_slicer_dependencies.py checks that they agree).
RAW_REQUIREMENTS = {"sigpy==0.1.27": "sigpy", "h5py>=3": "h5py", "ismrmrd>=1.14": "ismrmrd", "twixtools>=0.24": "twixtools"}
#: Slicer's own packages: pinned at their installed versions while installing, never replaced.
SLICER_PACKAGES = ("numpy", "SimpleITK", "pydicom")
#: Import name of PyTorch, which the PyTorch extension installs.
TORCH_MODULE = "torch"
#: Who asks ``slicer.packaging.pip_ensure`` for the packages.
REQUESTER = "MRDeepRecon"


class DependencyOutcome(enum.Enum):
    """How :func:`ensure_dependencies` ended."""

    READY = "ready"
    """Everything can be imported (after installing what was missing)."""
    NO_PYTORCH_EXTENSION = "no PyTorch extension"
    """PyTorch is missing and the PyTorch extension (``PyTorchUtils``) is not installed."""
    TORCH_NOT_INSTALLED = "PyTorch not installed"
    """The PyTorch extension did not install PyTorch (declined or failed)."""
    DECLINED = "declined"
    """The user declined installing the missing pip packages."""
    STILL_MISSING = "still missing"
    """pip ran, but some packages still cannot be imported (:attr:`DependencyCheck.missing`)."""


@dataclass(frozen=True)
class DependencyCheck:
    """The outcome of :func:`ensure_dependencies` and, for ``STILL_MISSING``, the pip
    requirements that still cannot be imported."""

    outcome: DependencyOutcome
    missing: tuple[str, ...] = ()

    @property
    def ready(self) -> bool:
        return self.outcome is DependencyOutcome.READY


def missing_requirements(requirements: Mapping[str, str]) -> list[str]:
    """The pip requirements (keys of ``requirements``, pip requirement → import name) whose
    module cannot be imported, in their order."""
    return [requirement for requirement, module in requirements.items() if importlib.util.find_spec(module) is None]


def write_constraints_file(path: Path) -> Path:
    """Write a pip constraints file pinning the installed versions of :data:`SLICER_PACKAGES`
    (one ``name==version`` line each; packages not installed are left out) and return ``path``."""
    lines = []
    for name in SLICER_PACKAGES:
        try:
            lines.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            pass
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Path(path)


def _ensure_torch() -> Optional[DependencyOutcome]:
    """Install PyTorch through the PyTorch extension when it is missing (the extension asks the
    user); ``None`` when PyTorch can be imported, else why not."""
    if importlib.util.find_spec(TORCH_MODULE) is not None:
        return None
    try:
        import PyTorchUtils
    except ModuleNotFoundError:
        return DependencyOutcome.NO_PYTORCH_EXTENSION
    if PyTorchUtils.PyTorchUtilsLogic().installTorch(askConfirmation=True) is None:
        return DependencyOutcome.TORCH_NOT_INSTALLED
    return None


def _pip_install(
    missing: Sequence[str],
    constraints: Path,
    confirm_install: Callable[[Sequence[str]], bool],
    busy: Callable[[], ContextManager],
) -> bool:
    """Install ``missing`` with pip under ``constraints``; ``False`` when the user declined.

    ``slicer.packaging.pip_ensure`` asks the user itself; without it ``confirm_install`` asks,
    and ``slicer.util.pip_install`` runs inside ``busy()``.
    """
    try:
        import slicer.packaging as packaging

        ensure = packaging.pip_ensure
    except (ImportError, AttributeError):
        ensure = None
    try:
        if ensure is not None:
            ensure(list(missing), constraints=str(constraints), requester=REQUESTER)
        else:
            if not confirm_install(missing):
                return False
            import slicer.util

            with busy():
                slicer.util.pip_install(["-c", str(constraints), *missing])
    except RuntimeError as error:  # pip_ensure: the user declined
        logging.info(f"MRDeepRecon: packages not installed: {error}")
        return False
    return True


def ensure_dependencies(
    extra: Optional[Mapping[str, str]],
    constraints_path: Path,
    confirm_install: Callable[[Sequence[str]], bool],
    busy: Callable[[], ContextManager] = contextlib.nullcontext,
) -> DependencyCheck:
    """Make sure PyTorch, :data:`ENGINE_REQUIREMENTS` and ``extra`` (pip requirement → import
    name, e.g. :data:`QA_REQUIREMENTS`) can be imported, installing what is missing.

    Args:
        extra: requirements needed besides the engine's for this task, or ``None``.
        constraints_path: where the pip constraints file (:func:`write_constraints_file`) is
            written when something is to be installed.
        confirm_install: asked with the missing pip requirements before pip runs (only where
            ``slicer.packaging.pip_ensure`` is not available: it asks itself); ``False`` declines.
        busy: context manager factory around the pip run (the panel's wait cursor).

    Returns:
        The outcome; ``READY`` when everything can be imported now.
    """
    torch_problem = _ensure_torch()
    if torch_problem is not None:
        return DependencyCheck(torch_problem)
    requirements = dict(ENGINE_REQUIREMENTS)
    requirements.update(extra or {})
    missing = missing_requirements(requirements)
    if not missing:
        return DependencyCheck(DependencyOutcome.READY)
    constraints = write_constraints_file(constraints_path)
    if not _pip_install(missing, constraints, confirm_install, busy):
        return DependencyCheck(DependencyOutcome.DECLINED)
    importlib.invalidate_caches()
    still = missing_requirements(requirements)
    if still:
        return DependencyCheck(DependencyOutcome.STILL_MISSING, tuple(still))
    return DependencyCheck(DependencyOutcome.READY)
