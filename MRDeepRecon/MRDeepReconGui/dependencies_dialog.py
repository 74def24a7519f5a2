"""The engine's Python packages inside Slicer: asking before installing what is missing, and
telling the user why the panel cannot go on without them."""

import pathlib
from typing import Optional

import slicer
from slicer.i18n import tr as _

from .lib_loader import lib


def ensure_dependencies(extra: Optional[dict] = None) -> bool:
    """Make sure PyTorch and the engine's other packages (and ``extra``: pip requirement →
    import name) can be imported; install what is missing after asking
    (``MRDeepReconLib.dependencies``). Returns False (after telling the user why) when they
    are not there."""
    dependencies = lib("dependencies")
    check = dependencies.ensure_dependencies(
        extra,
        pathlib.Path(slicer.app.temporaryPath) / "MRDeepRecon-constraints.txt",
        confirm_install=lambda missing: slicer.util.confirmOkCancelDisplay(
            _("MRDeepRecon needs these Python packages: {packages}. Install them now?").format(packages=", ".join(missing))),
        busy=slicer.util.WaitCursor,
    )
    problems = {
        dependencies.DependencyOutcome.NO_PYTORCH_EXTENSION: _(
            "MRDeepRecon needs PyTorch, which the 'PyTorch' extension installs. Install"
            " 'PyTorch' from the Extensions Manager, restart Slicer and try again."
        ),
        dependencies.DependencyOutcome.TORCH_NOT_INSTALLED: _("PyTorch is not installed: MRDeepRecon cannot run."),
        dependencies.DependencyOutcome.STILL_MISSING: _("These Python packages are missing: {packages}.").format(
            packages=", ".join(check.missing)),
    }
    if check.outcome in problems:
        slicer.util.errorDisplay(problems[check.outcome])
    return check.ready
