"""MRDeepRecon engine: deep-learning MR enhancement (tunable denoising, super-resolution).

Pure Python (numpy, torch, pydicom, SimpleITK); never imports Slicer. The heavy parts (torch,
readers) load on first use, so ``import mrdeeprecon`` stays fast::

    import mrdeeprecon
    volume = mrdeeprecon.load_volume("series_folder/")
    result = mrdeeprecon.enhance(volume, mrdeeprecon.EnhanceSettings(noise_reduction=2.0))
    mrdeeprecon.save_volume(result, "enhanced.nii.gz")
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .context import ScanContext
from .errors import Cancelled, MRDeepReconError
from .progress import CancelToken
from .settings import EnhanceSettings
from .volume import Volume

__version__ = "0.1.0"

_LAZY = {
    "enhance": "mrdeeprecon.inference",
    "adapt_model": "mrdeeprecon.inference",
    "load_volume": "mrdeeprecon.io",
    "save_volume": "mrdeeprecon.io",
    "load_context": "mrdeeprecon.io",
}

__all__ = [
    "Cancelled",
    "CancelToken",
    "EnhanceSettings",
    "MRDeepReconError",
    "ScanContext",
    "Volume",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mrdeeprecon' has no attribute {name!r}")
