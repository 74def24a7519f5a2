"""Raw k-space input: ``mrdeeprecon recon`` of a raw file in the background process
(:class:`~.background.BackgroundProcess`), and the result as a new volume node under a new
subject-hierarchy study named after the file, carrying its data-consistency report::

    PYTHON -m mrdeeprecon.cli recon RAWFILE out.nrrd --method METHOD --progress lines

The scene is touched only in :meth:`BackgroundReconstruction.finish`; the new node is an
ordinary scalar volume, so enhance, compare and export take it unchanged, and the quality
assurance of its enhancement shows its data-consistency report (:func:`data_consistency_of_node`).
The panel follows a run with :class:`ReconstructionRun`.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import slicer

from mrdeeprecon.io import load_volume
from mrdeeprecon.raw.consistency import ConsistencyReport
from mrdeeprecon.raw.consistency_sidecar import sidecar_path
from mrdeeprecon.volume import Volume

from .background import OUTPUT_NAME, BackgroundProcess
from .background_run import BackgroundRun
from .node_volume import update_node_from_volume

#: Node attribute: the data-consistency report as one line (:meth:`ConsistencyReport.summary`).
ATTRIBUTE_DATA_CONSISTENCY = "MRDeepRecon.DataConsistency"
#: Node attribute: the reconstruction record as JSON (method, parameters, consistency, warnings).
ATTRIBUTE_RECONSTRUCTION = "MRDeepRecon.RawReconstruction"


class BackgroundReconstruction(BackgroundProcess):
    """One reconstruction of one raw file in a child process (use a new object for each run)."""

    def __init__(self) -> None:
        super().__init__()
        self.raw_path: Path | None = None

    def start(self, raw_path: str | Path, method: str, python_executable: str, module_dir: Path) -> None:
        """Launch ``recon`` of ``raw_path`` with ``method`` (``zerofill``, ``sense``, ...);
        returns at once. The raw file's problems come back as the run's one-line error."""
        self.raw_path = Path(raw_path)
        self._input_name = self.raw_path.name
        folder = Path(tempfile.mkdtemp(prefix="MRDeepRecon-raw-"))
        command = [
            python_executable, "-m", "mrdeeprecon.cli", "recon",
            str(self.raw_path), str(folder / OUTPUT_NAME),
            "--method", method, "--progress", "lines",
        ]  # fmt: skip
        self._launch(folder, command, module_dir)

    def finish(self, scene: "slicer.vtkMRMLScene"):
        """Load the result into ``scene`` (:func:`store_reconstruction`) and return its node;
        the temporary files are removed.

        Raises:
            MRDeepReconError: the run is still going, failed or was cancelled.
        """
        folder = self._result_folder("reconstruction")
        try:
            volume = load_volume(folder / OUTPUT_NAME)
            record = json.loads(sidecar_path(folder / OUTPUT_NAME).read_text(encoding="utf-8"))
            return store_reconstruction(scene, volume, record, self.raw_path)
        finally:
            self._remove_files()


class ReconstructionRun(BackgroundRun):
    """A started :class:`BackgroundReconstruction` followed by the panel: ``poll(scene)``
    (:meth:`BackgroundRun.poll`) stores the result into ``scene`` when it succeeded."""

    def __init__(self, job: BackgroundReconstruction, method: str) -> None:
        super().__init__(job)
        self.method = method

    def _store(self, scene):
        return self.job.finish(scene)


def reconstruction_record(node) -> dict[str, Any] | None:
    """The reconstruction record (method, parameters, consistency, warnings) stored on ``node``
    by :func:`store_reconstruction`; ``None`` when ``node`` is not a raw reconstruction."""
    text = node.GetAttribute(ATTRIBUTE_RECONSTRUCTION) if node is not None else None
    return json.loads(text) if text else None


def data_consistency_of_node(node) -> dict[str, Any] | None:
    """The data-consistency report (:meth:`ConsistencyReport.to_dict`) of a reconstruction node,
    for the quality-assurance report of its enhancement; ``None`` for any other node."""
    record = reconstruction_record(node)
    return None if record is None else record.get("consistency")


def store_reconstruction(scene: "slicer.vtkMRMLScene", volume: Volume, record: dict[str, Any], raw_path: Path):
    """A new scalar volume node ``<file stem>_<method>`` with ``volume``'s voxels and geometry,
    under a new subject-hierarchy study named after the raw file, with the reconstruction
    record and its data-consistency summary as attributes (node and item)."""
    node = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", f"{raw_path.stem}_{record['method']}")
    update_node_from_volume(node, volume)
    hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    study = hierarchy.CreateStudyItem(hierarchy.GetSceneItemID(), raw_path.name)
    item = hierarchy.GetItemByDataNode(node)
    if item:
        hierarchy.SetItemParent(item, study)
    else:
        item = hierarchy.CreateItem(study, node)
    attributes = {
        ATTRIBUTE_DATA_CONSISTENCY: ConsistencyReport(**record["consistency"]).summary(),
        ATTRIBUTE_RECONSTRUCTION: json.dumps(record),
    }
    for name, value in attributes.items():
        node.SetAttribute(name, value)
        hierarchy.SetItemAttribute(item, name, value)
    return node
