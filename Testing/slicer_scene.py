"""A real MRML scene (slicer-core, no Qt) with DICOM series loaded as Slicer's DICOM module does.

:func:`new_scene` makes the scene Slicer's application would: the global ``slicer.mrmlScene``,
the application logic with the default colour tables (display nodes need
``vtkMRMLColorTableNodeGrey``) and the subject-hierarchy node. :func:`load_series` reads DICOM
files with Slicer's own reader (``vtkMRMLVolumeArchetypeStorageNode``, files sorted along the
slice normal, as the scalar-volume plugin passes them), sets ``DICOM.instanceUIDs`` and the
display's window/level from the header, and files the node under patient → study items carrying
DICOM UIDs. The instance → file lookup that the DICOM database would answer is a dictionary.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pydicom
import slicer
import vtk

from mrdeeprecon import load_volume


@dataclass
class SlicerScene:
    """The scene and what keeps it working like the application's."""

    scene: "slicer.vtkMRMLScene"
    application_logic: "slicer.vtkSlicerApplicationLogic"
    hierarchy: "slicer.vtkMRMLSubjectHierarchyNode"

    def state(self) -> tuple[int, int]:
        """(number of nodes, number of subject-hierarchy items): what must not change on cancel."""
        items = vtk.vtkIdList()
        self.hierarchy.GetItemChildren(self.hierarchy.GetSceneItemID(), items, True)
        return self.scene.GetNumberOfNodes(), items.GetNumberOfIds()


@dataclass
class LoadedSeries:
    """A DICOM series loaded into the scene.

    Attributes:
        node: the scalar volume node.
        files: its files in slice order (one per SOP instance).
        files_by_uid: SOP Instance UID → file path (the DICOM database's ``fileForInstance``).
        study_item: the subject-hierarchy study item (UID ``DICOM`` = StudyInstanceUID).
    """

    node: "slicer.vtkMRMLScalarVolumeNode"
    files: list[Path]
    files_by_uid: dict[str, str]
    study_item: int

    def file_for_instance(self, uid: str) -> str:
        return self.files_by_uid.get(uid, "")


def new_scene() -> SlicerScene:
    scene = slicer.vtkMRMLScene()
    slicer.mrmlScene = scene
    logic = slicer.vtkSlicerApplicationLogic()
    logic.SetMRMLScene(scene)
    logic.GetColorLogic().SetMRMLScene(scene)
    logic.GetColorLogic().AddDefaultColorNodes()
    hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    return SlicerScene(scene, logic, hierarchy)


def sorted_series_files(folder: Path, slices: Optional[slice] = None) -> list[Path]:
    """The image files of the single series in ``folder`` in slice order (the engine's sort),
    optionally a contiguous range of them."""
    volume = load_volume(folder)
    by_uid = {
        str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID): path
        for path in sorted(folder.iterdir())
    }
    uids = volume.metadata["sop_instance_uids"][slices or slice(None)]
    return [by_uid[uid] for uid in dict.fromkeys(uids)]


def _first(value) -> float:
    """The first value of a possibly multi-valued DS."""
    return float(value[0] if isinstance(value, pydicom.multival.MultiValue) else value)


def load_series(world: SlicerScene, files: list[Path], name: str) -> LoadedSeries:
    """Load ``files`` (sorted) as Slicer's DICOM scalar-volume plugin does."""
    scene = world.scene
    node = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", name)
    storage = scene.AddNewNodeByClass("vtkMRMLVolumeArchetypeStorageNode")
    storage.ResetFileNameList()
    storage.SetFileName(str(files[0]))
    for path in files:
        storage.AddFileName(str(path))
    storage.SetSingleFile(int(len(files) == 1))
    assert storage.ReadData(node), f"Slicer's reader failed on {files[0]}"
    scene.RemoveNode(storage)  # the DICOM plugin leaves no storage node: the database holds the files

    headers = [pydicom.dcmread(path, stop_before_pixels=True) for path in files]
    node.SetAttribute("DICOM.instanceUIDs", " ".join(str(h.SOPInstanceUID) for h in headers))
    node.CreateDefaultDisplayNodes()
    head = headers[0]
    if "WindowCenter" in head and "WindowWidth" in head:
        node.GetDisplayNode().SetAutoWindowLevel(False)
        node.GetDisplayNode().SetWindowLevel(_first(head.WindowWidth), _first(head.WindowCenter))

    hierarchy = world.hierarchy
    patient = hierarchy.CreateSubjectItem(hierarchy.GetSceneItemID(), str(head.get("PatientName", "")))
    hierarchy.SetItemUID(patient, "DICOM", str(head.get("PatientID", "")))
    study = hierarchy.CreateStudyItem(patient, str(head.get("StudyDescription", "")))
    hierarchy.SetItemUID(study, "DICOM", str(head.StudyInstanceUID))
    series = hierarchy.CreateItem(study, node)
    hierarchy.SetItemUID(series, "DICOM", str(head.SeriesInstanceUID))
    files_by_uid = {str(h.SOPInstanceUID): str(p) for h, p in zip(headers, files)}
    return LoadedSeries(node, list(files), files_by_uid, study)


def scene_with_series(folder: Path, name: str, slices: Optional[slice] = None) -> tuple[SlicerScene, LoadedSeries]:
    """A new scene holding the series of ``folder`` (optionally a range of its slices)."""
    world = new_scene()
    return world, load_series(world, sorted_series_files(folder, slices), name)
