"""The entry points: refuse early (:func:`check_derived_target`, :func:`check_original_target`),
then write the whole series into a hidden temporary folder renamed to ``out_dir`` at the end
(:func:`write_derived_series`; :func:`write_original_series` for a reconstruction from raw
k-space)."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from ...errors import MRDeepReconError
from ...progress import CancelToken, ProgressCallback
from ...volume import Volume
from .checks import check_options, check_target
from .classic import write_classic
from .enhanced import write_enhanced
from .options import DerivedSeries, DerivedSeriesOptions
from .original import reconstruction_record
from .plan import SeriesPlan, enhancement_record, plan_series
from .source import SourceSeries


def check_derived_target(
    volume: Volume, out_dir: str | Path, options: DerivedSeriesOptions | None = None
) -> None:
    """Raise now what :func:`write_derived_series` would raise for these options and folder.

    ``volume`` is the source volume (or its enhancement: both carry the source's metadata); call
    this before minutes of inference so that a forbidden or occupied output folder, or NIfTI/NRRD
    input without patient information, is refused first.
    """
    options = options or DerivedSeriesOptions()
    source = SourceSeries.of(volume)
    check_options(options, source)
    check_target(Path(out_dir), source)


def write_derived_series(
    enhanced: Volume,
    out_dir: str | Path,
    options: DerivedSeriesOptions | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> DerivedSeries:
    """Write ``enhanced`` as a new derived DICOM MR series in the folder ``out_dir``.

    Args:
        enhanced: the result of :func:`mrdeeprecon.enhance` (data ``(z, y, x)``, LPS mm
            geometry, metadata with ``enhancement`` and, for DICOM input, the source's
            ``dicom_header``, ``sop_instance_uids``, ``frame_numbers``).
        out_dir: the new series folder; it must not exist or be empty, and must not be (or,
            for a folder source, lie inside) the source series folder. Its parent must exist.
        options: description, numbering, UIDs, IOD, patient for NIfTI/NRRD input.
        progress: called with ``(fraction, message)`` once per slice (frame), ending at 1.
        cancel: checked before every slice (frame); when set,
            :class:`~mrdeeprecon.errors.Cancelled` is raised and nothing is left behind.

    Returns:
        The written series (:class:`DerivedSeries`).

    Raises:
        MRDeepReconError: naming the problem (occupied or forbidden output folder, NIfTI/NRRD
            input without patient, invalid options, volume without an enhancement record).
    """
    options = options or DerivedSeriesOptions()
    out_dir = Path(out_dir)
    source = SourceSeries.of(enhanced)
    enhancement_record(enhanced)
    check_options(options, source)
    check_target(out_dir, source)
    plan = plan_series(enhanced, source, options)
    return _write_staged(plan, out_dir, progress, cancel)


def check_original_target(out_dir: str | Path, options: DerivedSeriesOptions) -> None:
    """Raise now what :func:`write_original_series` would raise for these options and folder
    (before minutes of reconstruction)."""
    if options.enhanced:
        raise MRDeepReconError("a reconstruction is written as classic MR Image Storage, not Enhanced MR")
    source = SourceSeries(header=None, path=None)
    check_options(options, source)
    check_target(Path(out_dir), source)


def write_original_series(
    reconstruction: Volume,
    out_dir: str | Path,
    options: DerivedSeriesOptions,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> DerivedSeries:
    """Write a reconstruction from raw k-space as a new ORIGINAL MR Image Storage series
    (:mod:`.original`): ImageType ``ORIGINAL\\PRIMARY\\M\\NONE``, a new frame of reference,
    the patient and study of ``options.patient`` (e.g. :func:`.like_series.patient_study_like`)
    or a research placeholder in a new study; one file per slice, atomically.

    Args:
        reconstruction: the volume of :func:`mrdeeprecon.raw.recon.reconstruct` (data
            ``(z, y, x)``, LPS mm geometry, ``metadata["raw_recon"]``).
        out_dir, progress, cancel: as for :func:`write_derived_series`.
        options: ``patient`` or ``research_placeholder``; description, numbering, UID prefix.
    """
    out_dir = Path(out_dir)
    reconstruction_record(reconstruction)
    check_original_target(out_dir, options)
    source = SourceSeries.of(reconstruction)
    plan = plan_series(reconstruction, source, options, original=True)
    return _write_staged(plan, out_dir, progress, cancel)


def _write_staged(
    plan: SeriesPlan, out_dir: Path, progress: ProgressCallback | None, cancel: CancelToken | None
) -> DerivedSeries:
    """Write ``plan`` into a hidden folder beside ``out_dir``, renamed to it at the end; any
    error or cancellation removes the hidden folder."""
    source, options = plan.source, plan.options
    target = Path(os.path.realpath(out_dir))
    temporary = target.parent / f".{target.name}.{uuid.uuid4().hex[:12]}.partial"
    try:
        temporary.mkdir()
    except OSError as exc:
        raise MRDeepReconError(f"cannot write in the output's folder ({exc.strerror or exc})", out_dir) from exc
    try:
        writer = write_enhanced if options.enhanced else write_classic
        files, uids = writer(plan, temporary, progress, cancel)
        check_target(out_dir, source)
        if target.exists():
            target.rmdir()
        os.replace(temporary, target)
    except OSError as exc:  # disk full, permissions changed under us ...: nothing is left
        shutil.rmtree(temporary, ignore_errors=True)
        raise MRDeepReconError(f"could not write the series ({exc.strerror or exc})", out_dir) from exc
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return DerivedSeries(
        folder=out_dir,
        files=[out_dir / f.name for f in files],
        series_instance_uid=plan.series_uid,
        sop_instance_uids=uids,
        rescale_slope=plan.quantised.slope,
        rescale_intercept=plan.quantised.intercept,
    )
