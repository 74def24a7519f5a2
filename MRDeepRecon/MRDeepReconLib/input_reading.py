"""What the panel knows about its input volume before a run.

:func:`read_input` reads, once per input (:func:`input_key`), the scan context of the node's DICOM
files and the image sets they hold, and says why the node cannot be enhanced as it is. The panel
must stay usable whatever the files are: a failure is kept as text in the :class:`InputReading`
(and logged), never raised.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Optional

import slicer

from mrdeeprecon import ScanContext
from mrdeeprecon.io.dicom_image_type import ImageSet

from .dicom_source import (
    INSTANCE_UIDS_ATTRIBUTE,
    FileForInstance,
    image_sets_for_node,
    instance_uids,
    scan_context_for_node,
)
from .image_sets import refusal

#: What identifies one reading of a node: (node ID, its ``DICOM.instanceUIDs``); ``None``: no node.
InputKey = Optional[tuple[str, str]]


def input_key(node) -> InputKey:
    """The key of ``node``'s reading: it changes with the node and with its DICOM instances."""
    return None if node is None else (node.GetID(), node.GetAttribute(INSTANCE_UIDS_ATTRIBUTE) or "")


@dataclass(frozen=True)
class InputReading:
    """The input as read.

    Attributes:
        key: :func:`input_key` of the node read.
        context: its scan context (the engine's defaults for a node without DICOM files), or
            ``None`` without a node or when it could not be read.
        context_error: why the scan context could not be read ("" when it could).
        image_sets: (image set, image count) of its DICOM files; empty without files or lookup.
        refusal: why it cannot be enhanced as it is (several image sets, not magnitude, files
            unreadable), or ``None``.
    """

    key: InputKey = None
    context: Optional[ScanContext] = None
    context_error: str = ""
    image_sets: tuple[tuple[ImageSet, int], ...] = ()
    refusal: Optional[str] = None


def read_input(node, file_for_instance: Optional[FileForInstance]) -> InputReading:
    """Read ``node`` (a scalar volume node, or ``None``) with the DICOM database's lookup
    ``file_for_instance`` (``None`` when there is no database)."""
    if node is None:
        return InputReading()
    context, context_error = None, ""
    try:
        context = scan_context_for_node(node, file_for_instance=file_for_instance)
    except Exception as error:  # the panel must stay usable: it shows why
        logging.warning(f"MRDeepRecon: scan context of {node.GetName()}: {error}")
        context_error = str(error)
    image_sets, why_not = (), None
    try:
        if file_for_instance is not None and instance_uids(node):
            image_sets = image_sets_for_node(node, file_for_instance)
            lowest = float(slicer.util.arrayFromVolume(node).min()) if node.GetImageData() is not None else 0.0
            why_not = refusal(image_sets, lowest)
    except Exception as error:  # unreadable files: no run either, and the reason shown
        logging.warning(f"MRDeepRecon: image sets of {node.GetName()}: {error}")
        why_not = str(error)
    return InputReading(input_key(node), context, context_error, image_sets, why_not)
