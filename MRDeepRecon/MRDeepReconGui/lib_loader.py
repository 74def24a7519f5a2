"""Where the module's code is: its folder, and the ``MRDeepReconLib`` modules, imported on first use."""

import importlib
import os
from types import ModuleType


def lib(name: str) -> ModuleType:
    """``MRDeepReconLib.<name>``, imported on first use (it imports the engine)."""
    return importlib.import_module(f"MRDeepReconLib.{name}")


def moduleDir() -> str:
    """The module's folder: it holds ``MRDeepRecon.py``, this package, ``MRDeepReconLib``, the
    engine ``mrdeeprecon`` and Resources."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
