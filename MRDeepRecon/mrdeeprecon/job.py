"""One enhancement from file to file: read, enhance, measure, write.

``mrdeeprecon enhance`` runs one :class:`EnhanceJob`; ``mrdeeprecon batch`` runs many
(:mod:`mrdeeprecon.batch`). Everything a job can refuse is checked by :func:`check_job` before
the input is read, and the output appears only complete (NIfTI/NRRD and DICOM are staged and
moved into place), so a refused, failed or cancelled job leaves nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .context import ScanContext
from .errors import MRDeepReconError
from .progress import CancelToken, ProgressCallback
from .settings import EnhanceSettings
from .volume import Volume

#: Output formats: NIfTI/NRRD files (by their suffix) or a derived DICOM series (a folder).
OUTPUT_FORMATS = ("nifti", "nrrd", "dicom")
#: Relative difference between the measured (QA) and the requested noise reduction above which
#: a job is flagged (the CLI warns).
MEASURED_NR_WARNING = 0.25


@dataclass(frozen=True)
class Selection:
    """Which images of a DICOM input to read (:func:`mrdeeprecon.io.dicom.read_dicom`)."""

    series_uid: str | None = None
    echo: int | None = None
    image_type: str | None = None


@dataclass
class EnhanceJob:
    """One input enhanced into one output.

    Attributes:
        input: a DICOM folder or file, or a NIfTI/NRRD file.
        output: the NIfTI/NRRD file, or the new folder of a DICOM series.
        output_format: one of :data:`OUTPUT_FORMATS`.
        settings: the enhancement settings.
        selection: the DICOM series / echo / image type to read.
        adjust_context: applied to the scan context read from the input (overrides), or ``None``.
        dicom_options: ``mrdeeprecon.io.dicom_write.DerivedSeriesOptions`` of a DICOM output.
        record: NIfTI/NRRD output: also write the enhancement record here (JSON).
        adaptation_cache: where the scan-specific fine-tune is kept and reused
            (:mod:`mrdeeprecon.adaptation_cache`; unused when the settings do not adapt), or ``None``.
    """

    input: Path
    output: Path
    output_format: str
    settings: EnhanceSettings
    selection: Selection = field(default_factory=Selection)
    adjust_context: Callable[[ScanContext], ScanContext] | None = None
    dicom_options: Any = None
    record: Path | None = None
    adaptation_cache: Path | None = None


@dataclass
class JobResult:
    """What a job wrote and measured.

    Attributes:
        output: the written file or folder; ``files``: the DICOM files written (else empty).
        shape, spacing: the output grid, ``(z, y, x)`` voxels and ``(x, y, z)`` mm.
        series_instance_uid: of a DICOM output.
        noise_reduction_requested / _achieved / _measured: the factor asked, the one the model
            reached (calibration, median over tissue), and the QA's measure in the automatic
            homogeneous ROI (``None``: no such region).
        skipped_files: entries of the input folder skipped as not DICOM.
        seconds: wall time of the job.
        adaptation: the scan-specific fine-tune's record
            (:meth:`mrdeeprecon.adaptation_record.Adaptation.record`; ``None`` when it did not run).
    """

    output: Path
    files: list[Path]
    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    series_instance_uid: str | None
    noise_reduction_requested: float
    noise_reduction_achieved: float
    noise_reduction_measured: float | None
    skipped_files: list[str]
    seconds: float
    adaptation: dict[str, Any] | None = None

    @property
    def flags(self) -> list[str]:
        """QA flags: see :func:`noise_reduction_flags`."""
        return noise_reduction_flags(self.noise_reduction_requested, self.noise_reduction_achieved, self.noise_reduction_measured)


def noise_reduction_flags(requested: float, achieved: float, measured: float | None) -> list[str]:
    """Short QA flags of an enhancement: ``model-limit`` (the model could not reach the request),
    ``noisier`` (measured below 1: more noise than the input in the QA region),
    ``nr-differs`` (measured differs from the request by more than :data:`MEASURED_NR_WARNING`),
    ``nr-not-measurable`` (no homogeneous region)."""
    flags = []
    if achieved < 0.99 * requested:
        flags.append("model-limit")
    if measured is None:
        flags.append("nr-not-measurable")
    else:
        if measured < 1.0:
            flags.append("noisier")
        if abs(measured / requested - 1.0) > MEASURED_NR_WARNING:
            flags.append("nr-differs")
    return flags


def output_format_of(output: Path, requested: str = "auto") -> str:
    """The job's output format: ``requested`` (``"auto"``: from the output's name); raises when
    the name and the format disagree or the name says nothing."""
    from .io.itk import itk_format

    if requested == "dicom":
        return requested
    kind = itk_format(output)
    if requested != "auto":
        if kind != requested:
            raise MRDeepReconError(f"--format {requested} needs a {'.nii/.nii.gz' if requested == 'nifti' else '.nrrd/.nhdr'} name", output)
        return kind
    if kind is None:
        raise MRDeepReconError("not a NIfTI/NRRD file name; add --format dicom to write a DICOM series into this folder", output)
    return kind


def check_job(job: EnhanceJob) -> None:
    """Refuse now what the job would refuse after reading its input: the output's name and
    place, the record's folder, the adaptation cache (the DICOM target is checked against the read source in
    :func:`run_job`; the settings were checked when they were made)."""
    if job.output_format not in OUTPUT_FORMATS:
        raise MRDeepReconError(f"output format must be one of {OUTPUT_FORMATS}, got {job.output_format!r}")
    if job.record is not None and not Path(job.record).parent.is_dir():
        raise MRDeepReconError("the folder of --record does not exist", job.record)
    if job.adaptation_cache is not None and job.settings.adaptation_steps:
        from .adaptation_cache import AdaptationCache

        AdaptationCache(job.adaptation_cache)  # made now, or refused
    if job.output_format != "dicom":
        from .io.itk import check_itk_target

        check_itk_target(job.output, job.input)


def load_input(
    path: Path, selection: Selection = Selection(), adjust_context: Callable[[ScanContext], ScanContext] | None = None
) -> Volume:
    """The input volume with its scan context in ``metadata["scan_context"]`` (adjusted)."""
    from .io import load_context, load_volume

    volume = load_volume(path, series_uid=selection.series_uid, echo=selection.echo, image_type=selection.image_type)
    context = load_context(volume)
    if adjust_context is not None:
        context = adjust_context(context)
    volume.metadata["scan_context"] = context
    return volume


def measured_noise_reduction(original: Volume, enhanced: Volume) -> float | None:
    """The QA's estimate of the noise reduction: noise SD (planar-detrended) in the automatic
    homogeneous ROI of the original, before / after (:mod:`mrdeeprecon.qa.roi`); ``None`` where
    no such ROI fits in the object."""
    from .qa.roi import compare_roi, find_homogeneous_roi

    try:
        return compare_roi(find_homogeneous_roi(original), original, enhanced).measured_noise_reduction
    except MRDeepReconError:
        return None


def run_job(
    job: EnhanceJob,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    before_enhance: Callable[[Volume], None] | None = None,
) -> JobResult:
    """Check, read, enhance, measure and write one job (see the module docstring).

    Args:
        before_enhance: called with the input volume once it is read and every check passed,
            before the long work (the CLI warns about skipped files and checks the PACS there).

    Raises:
        MRDeepReconError: a refused input, setting or output (nothing written).
        Cancelled: ``cancel`` was set (nothing written).
    """
    from .inference import enhance

    started = time.perf_counter()
    check_job(job)
    volume = load_input(job.input, job.selection, job.adjust_context)
    if job.output_format == "dicom":
        from .io.dicom_write import check_derived_target

        check_derived_target(volume, job.output, job.dicom_options)
    if before_enhance is not None:
        before_enhance(volume)
    result = enhance(volume, job.settings, context=volume.metadata["scan_context"], progress=progress, cancel=cancel,
                     adaptation_cache=job.adaptation_cache)
    measured = measured_noise_reduction(volume, result)
    files: list[Path] = []
    series_uid = None
    if job.output_format == "dicom":
        from .io.dicom_write import write_derived_series

        series = write_derived_series(result, job.output, job.dicom_options, progress=progress, cancel=cancel)
        files, series_uid = list(series.files), series.series_instance_uid
    else:
        from .io import save_volume
        from .reporting import write_json_atomically

        save_volume(result, job.output)
        if job.record is not None:
            write_json_atomically(job.record, {"enhancement": result.metadata["enhancement"]})
    record = result.metadata["enhancement"]
    return JobResult(
        output=Path(job.output),
        files=files,
        shape=tuple(int(n) for n in result.shape),  # type: ignore[arg-type]
        spacing=tuple(round(float(s), 4) for s in result.spacing),  # type: ignore[arg-type]
        series_instance_uid=series_uid,
        noise_reduction_requested=job.settings.noise_reduction,
        noise_reduction_achieved=float(record["noise_reduction_achieved"]),
        noise_reduction_measured=measured,
        skipped_files=list(volume.metadata.get("skipped_files") or []),
        seconds=time.perf_counter() - started,
        adaptation=record.get("scan_adaptation"),
    )
