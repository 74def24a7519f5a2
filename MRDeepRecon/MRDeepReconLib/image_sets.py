"""Choosing one image set (an echo; magnitude or phase) of a DICOM series held by one node.

Slicer's DICOM module may load a series that mixes echoes, or magnitude and phase, as one node
(its voxels then interleave the sets). The panel lists the node's image sets
(:func:`~MRDeepReconLib.dicom_source.image_sets_for_node`); :func:`load_image_set` reads the chosen
one from the node's files into a new node, which records the choice and its own SOP instances,
so that scan context, enhancement and DICOM export all see that set only. The engine refuses
anything but magnitude (:mod:`mrdeeprecon.io.dicom_image_type`); :func:`refusal` says so before a
run starts.
"""

from __future__ import annotations

from typing import Optional

import slicer

from mrdeeprecon.io.dicom_image_type import ImageSet

from .dicom_source import (
    DICOM_UID_NAME,
    ECHO_ATTRIBUTE,
    IMAGE_TYPE_ATTRIBUTE,
    INSTANCE_UIDS_ATTRIBUTE,
    FileForInstance,
    source_volume,
)
from .node_volume import update_node_from_volume


def image_set_name(node_name: str, image_set: ImageSet) -> str:
    """``<node name> E<echo> <component>``, e.g. ``Dual-echo E2 magnitude``."""
    echo = f" E{image_set.echo_number}" if image_set.echo_number is not None else ""
    return f"{node_name}{echo} {image_set.component}"


def refusal(image_sets: tuple[tuple[ImageSet, int], ...], lowest_value: float) -> Optional[str]:
    """Why the node cannot be enhanced as it is (one line), or ``None`` when it can: several
    image sets need a choice; a single set must be magnitude
    (:meth:`~mrdeeprecon.io.dicom_image_type.ImageSet.why_not_enhanced`, with the node's
    smallest voxel value ``lowest_value``)."""
    if len(image_sets) > 1:
        return f"the series holds {len(image_sets)} image sets (echoes, magnitude / phase): choose one"
    if image_sets:
        return image_sets[0][0].why_not_enhanced(lowest_value)
    return None


def load_image_set(scene, node, file_for_instance: FileForInstance, image_set: ImageSet):
    """A new scalar volume node holding ``image_set`` of ``node``'s series, read from its files.

    The new node records the choice (``MRDeepRecon.echo``, ``MRDeepRecon.imageType``), the SOP
    instances of its own slices (``DICOM.instanceUIDs``, each once, in slice order) and, in the
    subject hierarchy, sits beside ``node`` with the series UID, so that export finds its source.

    Raises:
        MRDeepReconError: the files cannot be read or the set is not in them.
    """
    image_type = image_set.flavour or image_set.component  # the flavour tells Dixon W from F
    volume = source_volume(node, file_for_instance, echo=image_set.echo_number, image_type=image_type)
    new = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", image_set_name(node.GetName(), image_set))
    update_node_from_volume(new, volume)
    new.SetAttribute(INSTANCE_UIDS_ATTRIBUTE, " ".join(dict.fromkeys(volume.metadata["sop_instance_uids"])))
    if image_set.echo_number is not None:
        new.SetAttribute(ECHO_ATTRIBUTE, str(image_set.echo_number))
    new.SetAttribute(IMAGE_TYPE_ATTRIBUTE, image_type)
    new.CreateDefaultDisplayNodes()
    hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    item = hierarchy.GetItemByDataNode(node)
    parent = hierarchy.GetItemParent(item) if item else hierarchy.GetSceneItemID()
    new_item = hierarchy.CreateItem(parent, new)
    if item:
        hierarchy.SetItemUID(new_item, DICOM_UID_NAME, hierarchy.GetItemUID(item, DICOM_UID_NAME))
    return new
