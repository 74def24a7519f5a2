"""The DICOM files behind a volume node, and what they say about the acquisition.

Slicer's DICOM module records, on every scalar volume node it loads, the attribute
``DICOM.instanceUIDs``: the SOP Instance UIDs of the files it read, separated by spaces, in slice
order (one UID per file; an enhanced multi-frame object is one UID). The files themselves are
found through the DICOM database (``slicer.dicomDatabase.fileForInstance`` inside Slicer); here
that lookup is a parameter, ``file_for_instance(uid) -> path`` (``""`` when unknown), so these
functions run with any index, e.g. a dictionary's ``get`` in tests.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Optional

import pydicom

from mrdeeprecon import MRDeepReconError, ScanContext, Volume
from mrdeeprecon.io import default_context
from mrdeeprecon.io.dicom import read_dicom, series_image_sets
from mrdeeprecon.io.dicom_image_type import ImageSet
from mrdeeprecon.io.dicom_context import context_from_dicom

#: Node attribute written by Slicer's DICOM plugins: space-separated SOP Instance UIDs.
INSTANCE_UIDS_ATTRIBUTE = "DICOM.instanceUIDs"

#: Subject-hierarchy UID name of DICOM items (series items hold the SeriesInstanceUID).
DICOM_UID_NAME = "DICOM"

#: Node attributes naming the image set of its series a node holds (echo number, component),
#: written by :func:`MRDeepReconLib.image_sets.load_image_set`; absent: the node's files hold one.
ECHO_ATTRIBUTE = "MRDeepRecon.echo"
IMAGE_TYPE_ATTRIBUTE = "MRDeepRecon.imageType"

#: ``file_for_instance(sop_instance_uid) -> path`` (empty when the instance is unknown).
FileForInstance = Callable[[str], str]


def instance_uids(node) -> list[str]:
    """The node's SOP Instance UIDs in slice order, each once; empty for a non-DICOM node."""
    uids = (node.GetAttribute(INSTANCE_UIDS_ATTRIBUTE) or "").split()
    return list(dict.fromkeys(uids))


def source_files(node, file_for_instance: FileForInstance) -> list[Path]:
    """The files of the node's SOP instances, in the order of ``DICOM.instanceUIDs``.

    Raises:
        MRDeepReconError: the node was not loaded from DICOM, or an instance's file is unknown
            to the lookup or missing on disk.
    """
    uids = instance_uids(node)
    if not uids:
        raise MRDeepReconError(
            f"volume {node.GetName()!r} was not loaded from DICOM (no {INSTANCE_UIDS_ATTRIBUTE})"
        )
    files = []
    for uid in uids:
        name = file_for_instance(uid) or ""
        if not name or not Path(name).is_file():
            raise MRDeepReconError(
                f"the DICOM file of instance {uid} of volume {node.GetName()!r} is not in the "
                "database or was removed from disk"
            )
        files.append(Path(name))
    return files


def scan_context_for_node(node, file_for_instance: Optional[FileForInstance] = None) -> ScanContext:
    """The scan context of the node's acquisition.

    From the header of the node's first DICOM file
    (:func:`~mrdeeprecon.io.dicom_context.context_from_dicom`),
    with the node's array shape ``(z, y, x)`` and its slice spacing (mm, the measured distance
    Slicer's reader used). A node without ``DICOM.instanceUIDs``, or no lookup
    (``file_for_instance`` ``None``), gives the engine's default context: NIfTI/NRRD carry no
    acquisition parameters (the user's overrides then describe it).
    """
    if file_for_instance is None or not instance_uids(node):
        return default_context()
    first = source_files(node, file_for_instance)[0]
    try:
        header = pydicom.dcmread(first, stop_before_pixels=True)
    except Exception as exc:  # pydicom raises many types for damaged files
        raise MRDeepReconError(f"unreadable DICOM file ({exc})", first) from exc
    dimensions = node.GetImageData().GetDimensions()
    shape = (dimensions[2], dimensions[1], dimensions[0])
    slice_spacing = node.GetSpacing()[2] if shape[0] > 1 else None
    return context_from_dicom(header, shape, slice_spacing=slice_spacing)


def _place(source: Path, target: Path) -> None:
    """``target`` becomes a symbolic link to ``source``, or a copy where links are not allowed
    (Windows without developer mode)."""
    try:
        os.symlink(source.resolve(), target)
    except OSError:
        shutil.copyfile(source, target)


@contextmanager
def _node_files_folder(files: list[Path]) -> Iterator[Path]:
    """A temporary folder holding exactly a node's ``files`` (links, else copies), removed after:
    their own folder may hold other series or more slices of the same one."""
    with tempfile.TemporaryDirectory(prefix="MRDeepRecon-source-") as folder:
        for index, path in enumerate(files):
            _place(path, Path(folder) / f"{index:05d}_{path.name}")
        yield Path(folder)


def node_selection(node) -> dict:
    """The node's image-set choice as :func:`~mrdeeprecon.io.dicom.read_dicom` arguments
    (``echo``, ``image_type``; ``None`` where the node records none)."""
    echo = node.GetAttribute(ECHO_ATTRIBUTE)
    return {"echo": int(echo) if echo else None, "image_type": node.GetAttribute(IMAGE_TYPE_ATTRIBUTE) or None}


def image_sets_for_node(node, file_for_instance: FileForInstance) -> tuple[tuple[ImageSet, int], ...]:
    """The image sets (echo, magnitude / phase ...) of the node's DICOM files and their image
    counts: one for an ordinary series, several when Slicer loaded a series that mixes echoes or
    magnitude and phase as one node. A node that records its choice (:func:`node_selection`)
    gives only the chosen set."""
    with _node_files_folder(source_files(node, file_for_instance)) as folder:
        found = series_image_sets(folder)
    return tuple((image_set, n) for image_set, n in found if image_set.chosen_by(**node_selection(node)))


def source_volume(node, file_for_instance: FileForInstance, **selection) -> Volume:
    """The node's source series read by the engine (:func:`~mrdeeprecon.io.dicom.read_dicom`).

    Exactly the node's files are read (:func:`_node_files_folder`), the image set the node
    records (:func:`node_selection`) or the one given as ``echo`` / ``image_type`` in
    ``selection``. ``metadata["source_path"]`` is then the folder of the first file, so the
    derived-series writer refuses to write into it. The returned volume carries the source's
    DICOM metadata (``dicom_header``, ``sop_instance_uids``, ``frame_numbers``, ``image_set``,
    ``scan_context``, ...).
    """
    files = source_files(node, file_for_instance)
    with _node_files_folder(files) as folder:
        volume = read_dicom(folder, **{**node_selection(node), **selection})
    volume.metadata["source_path"] = str(files[0].parent)
    return volume
