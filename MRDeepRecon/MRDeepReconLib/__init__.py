"""Slicer glue of MRDeepRecon: scene-level operations on MRML nodes, no GUI.

Imports only ``slicer``'s MRML classes and ``slicer.util`` array helpers, vtk, numpy and the
engine (``mrdeeprecon``); every function takes the nodes (and the scene) it works on, so it runs
in Slicer and, with the ``slicer-core`` wheel, in plain pytest. torch is imported on first use.
"""

from .background import BackgroundEnhancement, BackgroundStatus
from .dicom_source import image_sets_for_node, scan_context_for_node, source_files, source_volume
from .export import export_derived_series, qa_for_nodes
from .image_sets import load_image_set, refusal
from .logic import MRDeepReconLogic, default_output_name
from .node_volume import update_node_from_volume, volume_from_node
from .parameters import ProcessParameters

__all__ = [
    "BackgroundEnhancement",
    "BackgroundStatus",
    "MRDeepReconLogic",
    "ProcessParameters",
    "default_output_name",
    "export_derived_series",
    "image_sets_for_node",
    "load_image_set",
    "qa_for_nodes",
    "refusal",
    "scan_context_for_node",
    "source_files",
    "source_volume",
    "update_node_from_volume",
    "volume_from_node",
]
