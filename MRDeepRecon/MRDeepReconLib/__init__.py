"""Slicer glue of MRDeepRecon: scene-level operations on MRML nodes, no GUI.

Imports only ``slicer``'s MRML classes and ``slicer.util`` array helpers, vtk, numpy and the
engine (``mrdeeprecon``); every function takes the nodes (and the scene) it works on, so it runs
in Slicer and, with the ``slicer-core`` wheel, in plain pytest. The names below load their module
on first use, so that importing one module of the package (``MRDeepReconLib.dependencies``, which
installs PyTorch) does not import the others (some import torch).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

#: Public name → the module of this package that defines it.
_LAZY = {
    "BackgroundEnhancement": "background",
    "BackgroundStatus": "background",
    "image_sets_for_node": "dicom_source",
    "scan_context_for_node": "dicom_source",
    "source_files": "dicom_source",
    "source_volume": "dicom_source",
    "export_derived_series": "export",
    "qa_for_nodes": "export",
    "load_image_set": "image_sets",
    "refusal": "image_sets",
    "MRDeepReconLogic": "logic",
    "default_output_name": "logic",
    "update_node_from_volume": "node_volume",
    "volume_from_node": "node_volume",
    "ProcessParameters": "parameters",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
