"""Enhance a volume node of a scene and place the result beside it.

:class:`MRDeepReconLogic` runs the engine in this process (blocking; what scripts and tests use)
and is the one place that puts a result into the scene (:meth:`MRDeepReconLogic.store_result`,
also used by the background run). The scene is only touched once the result is complete: a
cancelled or failed enhancement leaves it exactly as it was.
"""

from __future__ import annotations

import json
from typing import Any, Optional

import slicer

from mrdeeprecon import CancelToken, MRDeepReconError, ScanContext, Volume
from mrdeeprecon.adaptation_record import describe as describe_adaptation
from mrdeeprecon.progress import ProgressCallback

from .comparison import DIFFERENCE_ATTRIBUTE
from .dicom_source import (
    DICOM_UID_NAME,
    INSTANCE_UIDS_ATTRIBUTE,
    FileForInstance,
    image_sets_for_node,
    instance_uids,
    scan_context_for_node,
)
from .image_sets import refusal
from .node_volume import update_node_from_volume, volume_from_node
from .parameters import ProcessParameters

#: Node reference role from a result to the volume it was computed from.
SOURCE_REFERENCE_ROLE = "MRDeepRecon.source"
#: Attributes set on a result node and on its subject-hierarchy item.
ATTRIBUTE_SOURCE_SERIES_UID = "MRDeepRecon.sourceSeriesInstanceUID"
ATTRIBUTE_SOURCE_NODE_ID = "MRDeepRecon.sourceNodeID"
ATTRIBUTE_PARAMETERS = "MRDeepRecon.parameters"
ATTRIBUTE_MODEL_NAME = "MRDeepRecon.modelName"
ATTRIBUTE_MODEL_SHA256 = "MRDeepRecon.modelSha256"
#: The engine's enhancement record (``Volume.metadata["enhancement"]``) as JSON: settings, model
#: path, name and SHA-256, device. The DICOM export needs it.
ATTRIBUTE_ENHANCEMENT = "MRDeepRecon.enhancement"
#: Suffix of a new result node's name.
OUTPUT_SUFFIX = "_DLR"


def default_output_name(input_node) -> str:
    """``<input name>_DLR``."""
    return f"{input_node.GetName()}{OUTPUT_SUFFIX}"


def enhancement_record(output_node) -> dict[str, Any]:
    """The engine's enhancement record stored on a result node.

    Raises:
        MRDeepReconError: the node is not an MRDeepRecon result.
    """
    text = output_node.GetAttribute(ATTRIBUTE_ENHANCEMENT)
    if not text:
        raise MRDeepReconError(f"volume {output_node.GetName()!r} is not an MRDeepRecon result")
    return json.loads(text)


def noise_reduction_summary(output_node) -> str:
    """What the panel says after an enhancement: the requested and the achieved noise reduction,
    whether the network ran along three planes, whether it was adapted to the scan first
    (:func:`mrdeeprecon.adaptation_record.describe`), that the model could not reach the request when
    it could not (and, when it was not adapted, that adapting it may reach more), and where the calibration the factor comes from was measured
    (:mod:`mrdeeprecon.volume_calibration`)."""
    record = enhancement_record(output_node)
    requested = float(record["noise_reduction"])
    achieved = float(record.get("noise_reduction_achieved", requested))
    text = f"Noise reduction: requested {requested:g}, achieved {achieved:.2f}."
    if record.get("planes", 1) == 3:
        text += " The network ran along all three axes (three planes), averaged."
    if record.get("scan_adaptation") is not None:
        text += " " + describe_adaptation(record["scan_adaptation"])
    if achieved < 0.99 * requested:
        text += " This model leaves no less noise than that: the output is its least-noise result."
        if record.get("scan_adaptation") is None:
            text += " Adapting it to this scan first (Advanced → Adapt to this scan) may reach more."
    calibration = record.get("noise_reduction_calibration", {})
    if calibration.get("source") == "this volume":
        first, stop = calibration["slices"]
        text += f" Calibrated on slices {first + 1}-{stop} of this volume."
    elif calibration.get("source") == "model card":
        text += " Calibrated on the model's training volumes (too little homogeneous tissue here)."
        if calibration.get("measured_with") == "one plane":
            text += " Those were measured with one plane, so with three the achieved factor is an estimate."
    return text


def is_usable_input(node) -> bool:
    """Whether ``node`` can be enhanced: a scalar volume node (not a label map) with image data."""
    return node is not None and node.GetClassName() == "vtkMRMLScalarVolumeNode" and node.GetImageData() is not None


def default_input(scene):
    """The first usable input of ``scene`` (:func:`is_usable_input`) that is neither a result
    (it has :data:`ATTRIBUTE_PARAMETERS`) nor a comparison's difference volume; ``None`` if none."""
    volumes = scene.GetNodesByClass("vtkMRMLScalarVolumeNode")
    for index in range(volumes.GetNumberOfItems()):
        node = volumes.GetItemAsObject(index)
        if is_usable_input(node) and not node.GetAttribute(ATTRIBUTE_PARAMETERS) and not node.GetAttribute(DIFFERENCE_ATTRIBUTE):
            return node
    return None


def is_result_of(output_node, input_node) -> bool:
    """Whether ``output_node`` is an MRDeepRecon result of ``input_node``, both with image data:
    it carries the enhancement record and names ``input_node`` as its source."""
    return (
        is_usable_input(input_node)
        and output_node is not None
        and output_node.GetImageData() is not None
        and bool(output_node.GetAttribute(ATTRIBUTE_ENHANCEMENT))
        and output_node.GetAttribute(ATTRIBUTE_SOURCE_NODE_ID) == input_node.GetID()
    )


def computed_from_other(output_node, input_node) -> bool:
    """Whether ``output_node`` is an MRDeepRecon result of a volume other than ``input_node``
    (``False`` when either is ``None`` or the output names no source)."""
    if output_node is None or input_node is None:
        return False
    source = output_node.GetAttribute(ATTRIBUTE_SOURCE_NODE_ID)
    return bool(source) and source != input_node.GetID()


def recorded_parameters(output_node) -> Optional[ProcessParameters]:
    """The parameters the result ``output_node`` was computed with (its
    :data:`ATTRIBUTE_PARAMETERS`), or ``None`` when it records none."""
    recorded = output_node.GetAttribute(ATTRIBUTE_PARAMETERS)
    return ProcessParameters.from_dict(json.loads(recorded)) if recorded else None


class MRDeepReconLogic:
    """Enhancement of scalar volume nodes of ``scene`` (a ``vtkMRMLScene``)."""

    def __init__(self, scene) -> None:
        self.scene = scene

    def process(
        self,
        inputVolumeNode,
        outputVolumeNode,
        parameters: ProcessParameters,
        progress: Optional[ProgressCallback] = None,
        cancel: Optional[CancelToken] = None,
        context: Optional[ScanContext] = None,
        file_for_instance: Optional[FileForInstance] = None,
    ):
        """Enhance ``inputVolumeNode`` into ``outputVolumeNode`` and return the output node.

        Args:
            inputVolumeNode: the scalar volume to enhance; never modified.
            outputVolumeNode: the node that receives the result (its voxels and geometry are
                replaced), or ``None`` for a new node named :func:`default_output_name`.
            parameters: what to do (checked when they were made); their scan-context overrides
                are applied to ``context``.
            progress: ``progress(fraction, message)``, fraction in [0, 1].
            cancel: set it (from any thread, or from ``progress``) to stop at the next batch;
                :class:`~mrdeeprecon.Cancelled` is raised then.
            context: the input's scan context as read (inside Slicer:
                :func:`~MRDeepReconLib.dicom_source.scan_context_for_node` with the DICOM
                database's lookup); ``None`` = the node's own (the defaults for a volume that
                carries no acquisition information).
            file_for_instance: the DICOM database's lookup; with it, a node loaded from DICOM
                is checked for what its images are
                (:func:`~MRDeepReconLib.dicom_source.image_sets_for_node`): several image sets, or
                one that is not magnitude (phase, a map ...), are refused; without it a node's
                voxels alone cannot say, and only a volume without negative values is clipped.

        Raises:
            MRDeepReconError: an invalid input, or a problem of the engine.
            Cancelled: ``cancel`` was set. In both cases the scene is unchanged.
        """
        if outputVolumeNode is not None and outputVolumeNode is inputVolumeNode:
            raise MRDeepReconError("the output volume must not be the input volume")
        base = context if context is not None else scan_context_for_node(inputVolumeNode)
        volume = volume_from_node(inputVolumeNode)
        if file_for_instance is not None and instance_uids(inputVolumeNode):
            image_sets = image_sets_for_node(inputVolumeNode, file_for_instance)
            if len(image_sets) > 1:
                raise MRDeepReconError(refusal(image_sets, float(volume.data.min())))
            if image_sets:
                volume.metadata["image_set"] = image_sets[0][0]  # the engine refuses non-magnitude
        from mrdeeprecon.inference import enhance  # imports torch: only when a run starts

        result = enhance(
            volume,
            parameters.to_settings(),
            context=parameters.scan_context(base),
            progress=progress,
            cancel=cancel,
        )
        return self.store_result(inputVolumeNode, outputVolumeNode, result, parameters)

    def store_result(self, input_node, output_node, volume: Volume, parameters: ProcessParameters):
        """Put an enhancement of ``input_node`` into the scene and return its node.

        ``volume`` is the engine's result (its ``metadata["enhancement"]`` names the model).
        ``output_node`` ``None`` creates a scalar volume node named :func:`default_output_name`.
        The node gets the voxels (float32) and geometry of ``volume``; a display node with the
        input's colour table and window/level; a subject-hierarchy item under the input's
        parent (its study, for a DICOM series); attributes naming the source and the settings
        (node and item alike) and the node reference :data:`SOURCE_REFERENCE_ROLE` to the input.
        If anything fails, a node created here is removed again.
        """
        record = volume.metadata.get("enhancement")
        if not record:
            raise MRDeepReconError("the volume is not an enhancement result (no enhancement record)")
        created = output_node is None
        if created:
            output_node = self.scene.AddNewNodeByClass(
                "vtkMRMLScalarVolumeNode", default_output_name(input_node)
            )
        try:
            update_node_from_volume(output_node, volume)
            output_node.RemoveAttribute(INSTANCE_UIDS_ATTRIBUTE)  # its voxels are no longer those
            self._copy_display(input_node, output_node)
            item = self._place_in_hierarchy(input_node, output_node)
            self._describe(input_node, output_node, item, record, parameters)
        except BaseException:
            if created:
                self._remove(output_node)
            raise
        return output_node

    def _copy_display(self, input_node, output_node) -> None:
        if output_node.GetDisplayNode() is None:
            output_node.CreateDefaultDisplayNodes()
        source, target = input_node.GetDisplayNode(), output_node.GetDisplayNode()
        if source is None:
            return
        if source.GetColorNodeID():
            target.SetAndObserveColorNodeID(source.GetColorNodeID())
        target.SetAutoWindowLevel(False)
        target.SetWindowLevel(source.GetWindow(), source.GetLevel())

    def _place_in_hierarchy(self, input_node, output_node) -> int:
        hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(self.scene)
        input_item = hierarchy.GetItemByDataNode(input_node)
        parent = hierarchy.GetItemParent(input_item) if input_item else hierarchy.GetSceneItemID()
        item = hierarchy.GetItemByDataNode(output_node)
        if item:
            hierarchy.SetItemParent(item, parent)
        else:
            item = hierarchy.CreateItem(parent, output_node)
        return item

    def _describe(
        self, input_node, output_node, item: int, record: dict[str, Any], parameters: ProcessParameters
    ) -> None:
        hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(self.scene)
        input_item = hierarchy.GetItemByDataNode(input_node)
        series_uid = hierarchy.GetItemUID(input_item, DICOM_UID_NAME) if input_item else ""
        attributes = {
            ATTRIBUTE_SOURCE_SERIES_UID: series_uid,
            ATTRIBUTE_SOURCE_NODE_ID: input_node.GetID(),
            ATTRIBUTE_PARAMETERS: json.dumps(parameters.to_dict()),
            ATTRIBUTE_MODEL_NAME: str(record.get("model_name", "")),
            ATTRIBUTE_MODEL_SHA256: str(record.get("model_sha256", "")),
            ATTRIBUTE_ENHANCEMENT: json.dumps(record),
        }
        for name, value in attributes.items():
            output_node.SetAttribute(name, value)
            hierarchy.SetItemAttribute(item, name, value)
        output_node.SetNodeReferenceID(SOURCE_REFERENCE_ROLE, input_node.GetID())

    def _remove(self, node) -> None:
        """Remove ``node`` with its display and storage nodes and its hierarchy item."""
        hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(self.scene)
        item = hierarchy.GetItemByDataNode(node)
        if item:
            hierarchy.RemoveItem(item, False, False)
        helpers = [node.GetNthDisplayNode(i) for i in range(node.GetNumberOfDisplayNodes())]
        helpers.append(node.GetStorageNode())
        for helper in helpers:
            if helper is not None:
                self.scene.RemoveNode(helper)
        self.scene.RemoveNode(node)
