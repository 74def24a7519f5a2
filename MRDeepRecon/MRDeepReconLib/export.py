"""From result nodes to files: a derived DICOM series, and the quality-assurance report.

Both work on the nodes :class:`~MRDeepReconLib.logic.MRDeepReconLogic` made: the output node
carries the engine's enhancement record (attribute ``MRDeepRecon.enhancement``) and names its
source node (``MRDeepRecon.sourceNodeID``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Optional, Sequence

from mrdeeprecon import CancelToken, MRDeepReconError, ScanContext, Volume
from mrdeeprecon.io.dicom_write import DerivedSeries, DerivedSeriesOptions, write_derived_series
from mrdeeprecon.progress import ProgressCallback
from mrdeeprecon.qa import QAReport, run_qa, write_qa_report
from mrdeeprecon.qa.roi import ROI
from mrdeeprecon.qa.sharpness import LineSegment

from .dicom_source import FileForInstance, instance_uids, source_volume
from .logic import ATTRIBUTE_ENHANCEMENT, ATTRIBUTE_SOURCE_NODE_ID, enhancement_record
from .node_volume import volume_from_node
from .raw_input import data_consistency_of_node


def _check_pair(output_node, input_node) -> None:
    source_id = output_node.GetAttribute(ATTRIBUTE_SOURCE_NODE_ID)
    if source_id and source_id != input_node.GetID():
        raise MRDeepReconError(
            f"volume {output_node.GetName()!r} was computed from {source_id}, "
            f"not from {input_node.GetName()!r} ({input_node.GetID()})"
        )


def _result_volume(output_node, input_node, file_for_instance: Optional[FileForInstance]) -> Volume:
    """The output node as an engine volume with what the writer needs in its metadata: the
    enhancement record, and the source's DICOM metadata or (NIfTI/NRRD) its file name."""
    record = enhancement_record(output_node)
    _check_pair(output_node, input_node)
    volume = volume_from_node(output_node)
    if instance_uids(input_node):
        if file_for_instance is None:
            raise MRDeepReconError(
                f"volume {input_node.GetName()!r} was loaded from DICOM: its files are needed "
                "(file_for_instance) so that the derived series keeps its patient and study"
            )
        volume.metadata = dict(source_volume(input_node, file_for_instance).metadata)
    else:
        storage = input_node.GetStorageNode()
        file_name = storage.GetFileName() if storage is not None else None
        volume.metadata = {"source_path": file_name} if file_name else {}
    volume.metadata["enhancement"] = record
    return volume


def derived_series_options(series_description: str, multiframe: bool, from_dicom: bool) -> DerivedSeriesOptions:
    """The writer's options as the panel sets them: its series description (blank: the writer's
    default), enhanced multi-frame or classic, and the research placeholder patient for a
    result whose source was not loaded from DICOM (``from_dicom`` ``False``)."""
    return DerivedSeriesOptions(
        series_description=series_description.strip() or None,
        enhanced=multiframe,
        research_placeholder=not from_dicom,
    )


def export_derived_series(
    output_node,
    input_node,
    out_dir: str | Path,
    options: Optional[DerivedSeriesOptions] = None,
    file_for_instance: Optional[FileForInstance] = None,
    progress: Optional[ProgressCallback] = None,
    cancel: Optional[CancelToken] = None,
) -> DerivedSeries:
    """Write the result ``output_node`` of ``input_node`` as a new derived DICOM MR series.

    Args:
        output_node: an MRDeepRecon result (geometry and voxels as they are in the node).
        input_node: the volume it was computed from. Loaded from DICOM: the series keeps its
            patient, study and frame of reference and references its source images (needs
            ``file_for_instance``). Otherwise ``options.patient`` or
            ``options.research_placeholder`` is required, as the engine's writer says.
        out_dir: the new series folder (must not exist or be empty; not the source folder).
        options: description, numbering, UID prefix, classic or enhanced multi-frame.
        file_for_instance: SOP Instance UID → file (``slicer.dicomDatabase.fileForInstance``).
        progress, cancel: as in :func:`~mrdeeprecon.io.dicom_write.write_derived_series`; a
            cancelled or failed export leaves nothing behind.

    Raises:
        MRDeepReconError: not a result of ``input_node``, source files missing, or what the
            writer refuses (occupied folder, missing patient, invalid options).
    """
    volume = _result_volume(output_node, input_node, file_for_instance)
    return write_derived_series(volume, out_dir, options, progress=progress, cancel=cancel)


def qa_for_nodes(
    input_node,
    output_node,
    context: ScanContext,
    out_dir: str | Path | None = None,
    rois: Optional[Sequence[ROI]] = None,
    lines: Optional[Sequence[LineSegment]] = None,
) -> QAReport:
    """Quality assurance of the result ``output_node`` of ``input_node``
    (:func:`mrdeeprecon.qa.run_qa`).

    Args:
        context: the scan context the enhancement used (``parameters.scan_context(...)``).
        out_dir: when given, ``qa.json``, ``qa.md`` and the PNG plots are written there
            (:func:`~mrdeeprecon.qa.write_qa_report`).
        rois, lines: noise ROIs and edge segments (indices of the input); ``None`` = automatic.

    The requested noise reduction is the one recorded on the output node, if any; when the input
    is a raw k-space reconstruction (:mod:`.raw_input`), the report carries its data consistency.
    """
    original = volume_from_node(input_node)
    enhanced = volume_from_node(output_node)
    if output_node.GetAttribute(ATTRIBUTE_ENHANCEMENT):
        _check_pair(output_node, input_node)
        enhanced.metadata["enhancement"] = enhancement_record(output_node)
    report = run_qa(original, enhanced, context, rois=rois, lines=lines, data_consistency=data_consistency_of_node(input_node))
    if out_dir is not None:
        write_qa_report(report, out_dir)
    return report


def qa_summary_html(report: QAReport, out_dir: str | Path, sentences: Mapping[str, str]) -> str:
    """What the panel shows after a QA run, as HTML lines: the measured noise reduction (against
    the requested one when the result records it), the slices the k-space consistency check
    flagged (indices along z) or that none was, and the report folder ``out_dir``.

    ``sentences`` are the panel's (translated) words, by key: ``requested`` (``{m}`` measured,
    ``{r}`` requested noise-reduction factor, ``{e}`` relative error), ``measured`` (``{m}``, when
    the result records no request), ``flagged`` (``{slices}``), ``none_flagged``, ``report``
    (``{folder}``)."""
    summary = report.noise_reduction_summary()
    measured, requested = summary.get("measured"), summary.get("requested")
    if requested:
        lines = [sentences["requested"].format(m=measured, r=requested, e=summary.get("relative_error") or 0.0)]
    else:
        lines = [sentences["measured"].format(m=measured)]
    flagged = list(getattr(report.consistency, "flagged", []) or [])
    if flagged:
        lines.append(sentences["flagged"].format(slices=", ".join(str(s) for s in flagged)))
    else:
        lines.append(sentences["none_flagged"])
    lines.append(sentences["report"].format(folder=out_dir))
    return "<br>".join(lines)
