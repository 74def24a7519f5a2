"""``mrdeeprecon`` command line: info, degrade, enhance, recon, batch, qa, evaluate, train, train-recon, demo.

Every user-facing problem is one line on stderr (``mrdeeprecon: error: FILE: problem``) and a
non-zero exit code; outputs are written atomically, so a failure leaves no file behind.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import threading
import types
import typing
import warnings
from pathlib import Path
from typing import Any, Sequence

from .context import ScanContext
from .errors import Cancelled, MRDeepReconError
from .sampling import PHASE_AXIS_OF_DICOM
from .settings import DEVICES, NOISE_REDUCTION_RANGE, EnhanceSettings, FieldSpec, field_spec

#: --phase-axis spellings: the DICOM direction (row / col) or the array axis (x / y).
PHASE_AXES = {**{direction.lower(): axis for direction, axis in PHASE_AXIS_OF_DICOM.items()}, "y": 1, "x": 2}


def _add_context_flags(parser: argparse.ArgumentParser) -> None:
    """Flags that override (or, for NIfTI/NRRD, provide) the scan context."""
    group = parser.add_argument_group(
        "scan context overrides",
        "override what the DICOM header says, or describe a NIfTI/NRRD acquisition",
    )
    group.add_argument("--context", type=Path, metavar="JSON", help="scan context JSON (as written by `info --json` or `degrade`)")
    group.add_argument("--acq-type", choices=("2D", "3D"), help="acquisition type (MRAcquisitionType)")
    group.add_argument("--acq-phase-axis", choices=sorted(PHASE_AXES), help="in-plane phase-encoding axis: row/x or col/y")
    for axis in ("frequency", "phase", "slice"):
        group.add_argument(f"--acq-kmax-{axis}", type=float, metavar="F", help=f"acquired k-space extent along {axis}, fraction of the image grid's")
    for axis in ("phase", "slice"):
        group.add_argument(f"--acq-partial-fourier-{axis}", type=float, metavar="F", help=f"partial-Fourier fraction along {axis} (1 = off)")
    group.add_argument("--acq-acceleration", type=float, metavar="R", help="in-plane undersampling factor")
    group.add_argument("--acq-undersampling", choices=("none", "uniform", "random"))
    group.add_argument("--acq-elliptical", action="store_true", default=None, help="elliptical k-space sampling")


def _add_selection_flags(parser: argparse.ArgumentParser, whose: str = "") -> None:
    """``--series``, ``--echo``, ``--image-type``: which DICOM images to read (``read_dicom``)."""
    parser.add_argument("--series", metavar="UID", help=f"SeriesInstanceUID {whose}when a folder holds several series")
    parser.add_argument("--echo", type=int, metavar="N", help=f"echo number {whose}when the series holds several echoes (see `info`)")
    parser.add_argument("--image-type", metavar="TYPE", help=f"image type {whose}when the series holds several: a component (magnitude, phase ...) or an ImageType value such as M, M_FFE or W; `info` lists them")


def _flag(item: dataclasses.Field) -> str:
    """The command-line flag of a :func:`~mrdeeprecon.settings.declared` field."""
    return field_spec(item).flag or "--" + item.name.replace("_", "-")


def _element_type(hint: Any) -> tuple[type, bool]:
    """The type a flag's value is read as, and whether it takes several values: ``X | None`` →
    ``X``; ``list[X]`` → ``X``, several; ``tuple[X, ...]`` (one flag per axis) → ``X``."""
    values = [a for a in typing.get_args(hint) if a is not type(None)]
    origin = typing.get_origin(hint)
    if origin is list:
        return values[0], True
    if origin in (tuple, typing.Union, types.UnionType):
        return values[0], False
    return hint, False


def _help(spec: FieldSpec, default: Any, axis: str = "") -> str:
    """A flag's help: the field's help, its range and its default."""
    text = spec.help.replace("{axis}", axis)
    if spec.range is not None:
        text += f", {spec.range[0]:g}-{spec.range[1]:g}"
    if default is not None and default is not dataclasses.MISSING and not isinstance(default, bool):
        text += f" (default {default:g})" if isinstance(default, float) else f" (default {default})"
    return text.replace("%", "%%")


def _add_field_flags(parser: argparse.ArgumentParser, cls: type) -> None:
    """One flag per field of the dataclass ``cls`` (one per axis of a field with ``axes``), made
    from the field's type, default and :class:`~mrdeeprecon.settings.FieldSpec`. The flags
    default to ``None`` (not given), so the dataclass's own defaults apply (:func:`_given`)."""
    hints = typing.get_type_hints(cls)
    for item in dataclasses.fields(cls):
        spec = field_spec(item)
        value_type, several = _element_type(hints[item.name])
        if value_type is bool:
            action = argparse.BooleanOptionalAction if item.default else "store_true"
            parser.add_argument(_flag(item), dest=item.name, action=action, default=None, help=_help(spec, item.default))
            continue
        options: dict[str, Any] = {"type": value_type, "metavar": spec.metavar, "choices": spec.choices}
        if several:
            options["nargs"] = "+"
        if spec.axes is None:
            parser.add_argument(_flag(item), dest=item.name, help=_help(spec, item.default), **options)
            continue
        for axis, default in zip(spec.axes, item.default):
            parser.add_argument(f"{_flag(item)}-{axis}", dest=f"{item.name}_{axis}", help=_help(spec, default, axis), **options)


def _given(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The fields of ``cls`` whose flags (:func:`_add_field_flags`) were given; a field with
    ``axes`` keeps its default along the axes not given."""
    values = {}
    for item in dataclasses.fields(cls):
        axes = field_spec(item).axes
        if axes is None:
            if getattr(args, item.name) is not None:
                values[item.name] = getattr(args, item.name)
            continue
        given = [getattr(args, f"{item.name}_{axis}") for axis in axes]
        if any(v is not None for v in given):
            values[item.name] = tuple(d if v is None else v for v, d in zip(given, item.default))
    return values


def _add_settings_flags(parser: argparse.ArgumentParser) -> None:
    """The enhancement settings (:class:`~mrdeeprecon.settings.EnhanceSettings`) and progress
    flags of ``enhance`` and ``batch``."""
    _add_field_flags(parser, EnhanceSettings)
    parser.add_argument("--adaptation-cache", type=Path, metavar="DIR", help="with --adapt-steps: keep each scan's fine-tuned network in this folder (the ones used last) and reuse it when the same scan is adapted the same way again, e.g. at another noise reduction")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--progress", choices=("auto", "bar", "lines", "none"), default="auto", help="auto: a bar on a terminal; lines: 'PROGRESS <fraction> <message>' on stdout for a parent process")


def _settings(args: argparse.Namespace) -> EnhanceSettings:
    """The :class:`~mrdeeprecon.settings.EnhanceSettings` of :func:`_add_settings_flags`."""
    return EnhanceSettings(**_given(args, EnhanceSettings))


def settings_arguments(settings: EnhanceSettings) -> list[str]:
    """The ``enhance`` / ``batch`` flags that give ``settings`` (the inverse of :func:`_settings`;
    a field that is ``None`` is left out; a subclass's own fields are not settings)."""
    out = []
    for item in dataclasses.fields(EnhanceSettings):
        value = getattr(settings, item.name)
        axes = field_spec(item).axes
        if axes is not None:
            for axis, factor in zip(axes, value):
                out += [f"{_flag(item)}-{axis}", repr(factor)]
        elif value is not None:
            out += [_flag(item), repr(value) if isinstance(value, float) else str(value)]
    return out


def _add_dicom_flags(parser: argparse.ArgumentParser) -> None:
    """Flags of the derived DICOM series (``--format dicom``) and of sending it to a PACS."""
    group = parser.add_argument_group("DICOM output", "with --format dicom: a derived MR series (DERIVED\\SECONDARY) in a new folder")
    group.add_argument("--series-description", metavar="TEXT", help="default: '<source> DLR NR<f> SR<axes>'")
    group.add_argument("--series-number-offset", type=int, default=1000, metavar="N", help="added to the source SeriesNumber (default 1000)")
    group.add_argument("--uid-prefix", metavar="PREFIX", help="root for the new UIDs, e.g. '1.2.826.0.1.3680043.10.999.' (default: pydicom's)")
    group.add_argument("--enhanced-multiframe", action="store_true", help="one Enhanced MR multi-frame file instead of one file per slice")
    group.add_argument("--patient-name", metavar="NAME", help="NIfTI/NRRD input: PatientName (DICOM PN, e.g. 'Doe^Jane')")
    group.add_argument("--patient-id", metavar="ID", help="NIfTI/NRRD input: PatientID")
    group.add_argument("--study-description", metavar="TEXT", help="NIfTI/NRRD input: StudyDescription")
    group.add_argument("--accession-number", metavar="TEXT", help="NIfTI/NRRD input: AccessionNumber")
    group.add_argument("--research-placeholder", action="store_true", help="NIfTI/NRRD input: mark the series as research data with placeholder patient/study")
    group.add_argument("--send", metavar="HOST:PORT", help="C-STORE the written series to a PACS")
    group.add_argument("--called-aet", metavar="AE", help="the PACS's AE title (default ANY-SCP)")
    group.add_argument("--calling-aet", metavar="AE", help="our AE title (default MRDEEPRECON)")


def _add_degradation_flags(parser: argparse.ArgumentParser) -> None:
    """The k-space degradation flags of ``degrade`` (also the text of ``evaluate --degrade``)."""
    parser.add_argument("--noise", type=float, default=0.0, metavar="S", help="noise SD as a fraction of the 99th percentile")
    for axis in ("frequency", "phase", "slice"):
        parser.add_argument(f"--kmax-{axis}", type=float, default=1.0, metavar="F", help=f"kept fraction of the k-space extent along {axis}")
    for axis in ("phase", "slice"):
        parser.add_argument(f"--partial-fourier-{axis}", type=float, default=1.0, metavar="F", help=f"acquired partial-Fourier fraction along {axis}")
    parser.add_argument("--partial-fourier-recon", choices=("zero", "homodyne", "pocs"), default="zero")
    parser.add_argument("--undersample-uniform", type=float, default=1.0, metavar="R", help="uniform undersampling with SENSE reconstruction")
    parser.add_argument("--undersample-random", type=float, default=1.0, metavar="R", help="random undersampling with calibration region")
    parser.add_argument("--elliptical", action="store_true", help="elliptical sampling")


def _degradation_spec(args: argparse.Namespace):
    """The :class:`~mrdeeprecon.kspace.degrade.DegradationSpec` of the degradation flags."""
    from .kspace.degrade import DegradationSpec

    return DegradationSpec(
        noise=args.noise,
        kmax=(args.kmax_frequency, args.kmax_phase, args.kmax_slice),
        partial_fourier=(args.partial_fourier_phase, args.partial_fourier_slice),
        partial_fourier_recon=args.partial_fourier_recon,
        undersample_uniform=args.undersample_uniform,
        undersample_random=args.undersample_random,
        elliptical=args.elliptical,
    )


def _context_overrides(args: argparse.Namespace, base: ScanContext) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if args.acq_type:
        out["acquisition"] = args.acq_type
    if args.acq_phase_axis:
        out["phase_axis"] = PHASE_AXES[args.acq_phase_axis]
    kmax = [args.acq_kmax_frequency, args.acq_kmax_phase, args.acq_kmax_slice]
    if any(k is not None for k in kmax):
        out["kmax"] = tuple(k if k is not None else b for k, b in zip(kmax, base.kmax))
    pf = [args.acq_partial_fourier_phase, args.acq_partial_fourier_slice]
    if any(p is not None for p in pf):
        out["partial_fourier"] = tuple(p if p is not None else b for p, b in zip(pf, base.partial_fourier))
    if args.acq_acceleration is not None:
        out["acceleration"] = (args.acq_acceleration, base.acceleration[1])
    if args.acq_undersampling:
        out["undersampling"] = args.acq_undersampling
    if args.acq_elliptical:
        out["elliptical"] = True
    return out


def _read_context_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise MRDeepReconError(f"cannot read scan context JSON ({exc})", path) from exc
    if isinstance(data, dict):
        data = data.get("scan_context", data)
    if not isinstance(data, dict):
        raise MRDeepReconError("not a scan context: the JSON must be an object of scan-context fields", path)
    fields = set(ScanContext.__dataclass_fields__) - {"sources"}
    unknown = sorted(set(data) - fields - {"sources", *ScanContext.DERIVED_KEYS})  # written by `info --json`, not read
    if unknown:
        raise MRDeepReconError(f"unknown scan-context field(s): {', '.join(unknown)}", path)
    out = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items() if k in fields}
    try:
        ScanContext().with_overrides(out)  # its values, checked now and named with the file
    except MRDeepReconError as exc:
        raise MRDeepReconError(str(exc), path) from None
    return out


def _adjusted_context(args: argparse.Namespace, context: ScanContext) -> ScanContext:
    """``context`` with the ``--context`` JSON and the ``--acq-*`` flags applied."""
    if args.context is not None:
        context = context.with_overrides(_read_context_json(args.context))
    return context.with_overrides(_context_overrides(args, context))


def _warn_skipped(args: argparse.Namespace, skipped: list[str]) -> None:
    if skipped:
        names = ", ".join(Path(p).name for p in skipped[:5]) + (", ..." if len(skipped) > 5 else "")
        print(f"warning: {args.input}: skipped {len(skipped)} file(s) that are not DICOM: {names}", file=sys.stderr)


def _load(args: argparse.Namespace):
    """Load the input volume and its scan context with the command line's overrides applied."""
    from .job import Selection, load_input

    volume = load_input(args.input, Selection(args.series, args.echo, args.image_type), lambda context: _adjusted_context(args, context))
    _warn_skipped(args, volume.metadata.get("skipped_files") or [])
    return volume, volume.metadata["scan_context"]


#: Prefix of a machine-readable progress line (``--progress lines``), read by the Slicer module.
PROGRESS_PREFIX = "PROGRESS"


def progress_line(fraction: float, message: str) -> str:
    """``PROGRESS <fraction> <message>``: one line a parent process parses (Slicer's background run)."""
    return f"{PROGRESS_PREFIX} {fraction:.4f} {' '.join(message.split())}"


class _Progress:
    """Progress on stderr as a one-line bar (a terminal) or on stdout as parseable lines."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    @classmethod
    def of(cls, args: argparse.Namespace) -> "_Progress":
        mode = args.progress
        if mode == "auto":
            mode = "bar" if not args.quiet and sys.stderr.isatty() else "none"
        return cls(mode)

    def __call__(self, fraction: float, message: str) -> None:
        if self.mode == "lines":
            print(progress_line(fraction, message), flush=True)
        elif self.mode == "bar":
            filled = int(round(30 * fraction))
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {100 * fraction:5.1f}% {message[:40]:<40}")
            if fraction >= 1.0:
                sys.stderr.write("\n")
            sys.stderr.flush()


def _image_sets(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The image sets (echo, component, image type, count) of the DICOM series ``info`` reads;
    empty for NIfTI/NRRD."""
    from .io.dicom import series_image_sets
    from .io.itk import itk_format

    if args.input.is_file() and itk_format(args.input) is not None:
        return []
    return [
        {**dataclasses.asdict(image_set), "images": count, "description": image_set.describe()}
        for image_set, count in series_image_sets(args.input, args.series)
    ]


def _cmd_info(args: argparse.Namespace) -> int:
    image_sets = _image_sets(args)
    if len(image_sets) > 1 and args.echo is None and args.image_type is None:
        if args.json:
            print(json.dumps({"source": str(args.input), "image_sets": image_sets}, indent=2))
            return 0
        print(f"source:              {args.input}")
        print(f"image sets:          {len(image_sets)}; read one with --echo N and/or --image-type TYPE")
        for s in image_sets:
            print(f"  {s['description']}: {s['images']} images")
        return 0
    volume, context = _load(args)
    image_set = volume.metadata.get("image_set")
    info = {
        "source": str(args.input),
        "image_type": None if image_set is None else image_set.describe(),
        "image_sets": image_sets,
        "shape_zyx": list(volume.shape),
        "spacing_ijk_mm": list(volume.spacing),
        "origin_lps_mm": list(volume.origin),
        "direction_columns_lps": volume.direction.tolist(),
        "series_instance_uid": volume.metadata.get("series_instance_uid"),
        "series_description": volume.metadata.get("series_description"),
        "scan_context": context.to_dict(),
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    axis_name = {1: "y (column direction, COL)", 2: "x (row direction, ROW)"}
    lines = [
        f"source:              {info['source']}",
        f"series:              {info['series_description'] or '-'} ({info['series_instance_uid'] or 'no DICOM UID'})",
        f"image type:          {info['image_type'] or 'not recorded (NIfTI/NRRD)'}"
        + ("" if image_set is None or image_set.enhanceable else " (not enhanced: magnitude only)"),
        f"shape (z, y, x):     {tuple(volume.shape)}",
        f"spacing (i, j, k):   {tuple(round(s, 4) for s in volume.spacing)} mm",
        f"acquisition:         {context.acquisition}",
        f"phase encoding:      array axis {axis_name[context.phase_axis]}",
        f"frequency encoding:  array axis {axis_name[context.frequency_axis]}",
        f"acquired matrix:     {context.acquired_matrix or 'unknown'} (frequency, phase)",
        f"displayed matrix:    {context.displayed_matrix or 'unknown'} (rows, columns)",
        f"k_max fraction:      frequency {context.kmax[0]:.3g}, phase {context.kmax[1]:.3g}, slice {context.kmax[2]:.3g}",
        f"partial Fourier:     phase {context.partial_fourier[0]:.3g}, slice {context.partial_fourier[1]:.3g}",
        f"undersampling:       {context.undersampling} (R = {context.acceleration[0]:g} x {context.acceleration[1]:g})",
        f"phase FOV / sampling: {context.percent_phase_fov:g} % / {context.percent_sampling:g} %",
        f"slice thickness:     {context.slice_thickness} mm, spacing {context.slice_spacing} mm",
        f"pixel bandwidth:     {context.pixel_bandwidth} Hz/px",
        f"manufacturer:        {context.manufacturer or '-'}",
    ]
    print("\n".join(lines))
    return 0


def _cmd_degrade(args: argparse.Namespace) -> int:
    from .io import save_volume
    from .io.itk import check_itk_target
    from .simulate import simulate_acquisition

    check_itk_target(args.output, args.input)
    volume, context = _load(args)
    spec = _degradation_spec(args)
    degraded, degraded_context = simulate_acquisition(volume, spec, context, seed=args.seed)
    sidecar = Path(str(args.output).removesuffix(".gz")).with_suffix(".json")
    staged = sidecar.with_name(f".{sidecar.name}.tmp")
    staged.write_text(json.dumps({"scan_context": degraded_context.to_dict()}, indent=2))
    try:
        save_volume(degraded, args.output)
    except BaseException:
        staged.unlink()
        raise
    staged.replace(sidecar)
    print(f"wrote {args.output} and its scan context {sidecar}")
    print(f"enhance it with: mrdeeprecon enhance {args.output} OUT.nii.gz --context {sidecar}")
    return 0


def _dicom_options(args: argparse.Namespace):
    """The derived-series options of the command line (``--series-description`` ...)."""
    from .io.dicom_write import DerivedSeriesOptions, PatientStudy

    patient = None
    if args.patient_name is not None or args.patient_id is not None:
        if not (args.patient_name and args.patient_id):
            raise MRDeepReconError("--patient-name and --patient-id go together")
        patient = PatientStudy(
            patient_name=args.patient_name,
            patient_id=args.patient_id,
            study_description=args.study_description or "",
            accession_number=args.accession_number or "",
        )
    return DerivedSeriesOptions(
        series_description=args.series_description,
        series_number_offset=args.series_number_offset,
        uid_prefix=args.uid_prefix,
        enhanced=args.enhanced_multiframe,
        patient=patient,
        research_placeholder=args.research_placeholder,
    )


def _enhance_job(args: argparse.Namespace):
    """The :class:`~mrdeeprecon.job.EnhanceJob` of the ``enhance`` flags."""
    from .job import EnhanceJob, Selection, output_format_of

    kind = output_format_of(args.output, args.format)
    return EnhanceJob(
        input=args.input,
        output=args.output,
        output_format=kind,
        settings=_settings(args),
        selection=Selection(args.series, args.echo, args.image_type),
        adjust_context=lambda context: _adjusted_context(args, context),
        dicom_options=_dicom_options(args) if kind == "dicom" else None,
        record=args.record,
        adaptation_cache=args.adaptation_cache,
    )


def _cmd_enhance(args: argparse.Namespace) -> int:
    from .job import run_job

    job = _enhance_job(args)
    if args.send is not None and job.output_format != "dicom":
        raise MRDeepReconError("--send needs --format dicom")
    target = None
    if args.send is not None:
        from .io.pacs import PacsTarget, check_reachable

        target = PacsTarget.parse(args.send, called_aet=args.called_aet, calling_aet=args.calling_aet)
    if args.context is not None:
        _read_context_json(args.context)  # refused now, before the input is read (run_job checks the rest first)

    def before_enhance(volume) -> None:
        _warn_skipped(args, volume.metadata.get("skipped_files") or [])
        if target is not None:
            check_reachable(target)  # a wrong address is said now, not after the work

    result = run_job(job, progress=_Progress.of(args), before_enhance=before_enhance)
    if result.adaptation is not None:
        from .adaptation_record import describe

        _say(args, describe(result.adaptation))
    _report_noise_reduction(args, result)
    shape = f"shape (z, y, x) {result.shape}, spacing {result.spacing} mm"
    if job.output_format != "dicom":
        _say(args, f"wrote {args.output}: {shape}")
        return 0
    _say(args, f"wrote {len(result.files)} DICOM file(s) to {result.output}: {shape}, series {result.series_instance_uid}")
    if target is None:
        return 0
    from .io.pacs import send_files

    summary = send_files(result.files, target, progress=_Progress.of(args))
    print(summary.summary_line())
    for failed in (r for r in summary.results if r.status != 0):
        print(f"  {failed.path.name}: {failed.message}", file=sys.stderr)
    return 0 if summary.ok else 3


#: Exit code of a batch in which some items were refused or failed (the others are done).
BATCH_INCOMPLETE = 4


def _cmd_recon(args: argparse.Namespace) -> int:
    from .io import save_volume
    from .io.itk import check_itk_target
    from .job import output_format_of
    from .raw import read_raw
    from .raw.recon import reconstruct

    from .raw.consistency_sidecar import write_consistency_sidecar

    kind = output_format_of(args.output, args.format)
    if args.like is not None and kind != "dicom":
        raise MRDeepReconError("--like needs --format dicom")
    options = None
    if kind == "dicom":
        from .io.dicom_write import DerivedSeriesOptions, check_original_target, patient_study_like

        patient = None if args.like is None else patient_study_like(args.like)
        options = DerivedSeriesOptions(patient=patient, research_placeholder=patient is None)
        check_original_target(args.output, options)
    else:
        check_itk_target(args.output, args.input)
    raw = read_raw(args.input)
    volume, consistency = reconstruct(raw, args.method, progress=_Progress.of(args), model_path=args.model)
    for warning in volume.metadata["raw_recon"]["warnings"]:
        print(f"warning: {args.input}: {warning}", file=sys.stderr)
    if options is None:
        save_volume(volume, args.output)
        written = f"wrote {args.output}"
    else:
        from .io.dicom_write import write_original_series

        series = write_original_series(volume, args.output, options)
        written = f"wrote {len(series.files)} DICOM file(s) to {args.output}, series {series.series_instance_uid}"
    sidecar = write_consistency_sidecar(volume, args.output)
    _say(args, f"{written} ({args.method}, {' x '.join(map(str, volume.shape))} (z, y, x))")
    _say(args, f"{consistency.summary()} (in {sidecar.name})")
    return 0


def _cmd_batch(args: argparse.Namespace) -> int:
    from .batch import REPORT_NAME, find_items, merge_reports, run_batch, shard
    from .distributed import Rank, barrier, device_for, process_group
    from .inference import select_device

    settings = _settings(args)
    if args.out.exists() and not args.out.is_dir():
        raise MRDeepReconError("the output is a file, not a folder", args.out)
    if args.adaptation_cache is not None and settings.adaptation_steps:
        from .adaptation_cache import AdaptationCache

        AdaptationCache(args.adaptation_cache)  # made now, or refused before any item
    options = None
    if args.format == "dicom":
        from .io.dicom_write import DerivedSeriesOptions

        options = DerivedSeriesOptions(series_number_offset=args.series_number_offset, uid_prefix=args.uid_prefix, enhanced=args.enhanced_multiframe)
    items = find_items(args.input, settings, args.out)
    rank = Rank.from_environment()
    mine = shard(items, rank.rank, rank.world_size)
    device = select_device(settings.device)
    with process_group(rank, device_for(rank, device)):
        where = f", {len(mine)} on rank {rank.rank} of {rank.world_size}" if rank.distributed else ""
        _say(args, f"batch: {len(items)} item(s){where} into {args.out}")
        rows = run_batch(mine, args.out, args.format, options, progress=_Progress.of(args), log=lambda line: _say(args, line),
                         report_name=f"{REPORT_NAME}.rank{rank.rank}" if rank.distributed else REPORT_NAME,
                         adaptation_cache=args.adaptation_cache)
        barrier(rank)
        if rank.distributed and rank.leader:
            merge_reports(args.out, rank.world_size)
    counts = {s: sum(r.status == s for r in rows) for s in ("done", "done earlier", "refused", "failed")}
    _say(args, "batch: " + ", ".join(f"{n} {s}" for s, n in counts.items()) + f"; report {args.out / (REPORT_NAME + '.html')}")
    return BATCH_INCOMPLETE if counts["refused"] or counts["failed"] else 0


def _report_noise_reduction(args: argparse.Namespace, result) -> None:
    """The achieved (calibration) and measured (QA) factors beside the requested one; a warning
    on stderr for each of the result's flags (:func:`~mrdeeprecon.job.noise_reduction_flags`)."""
    from .job import MEASURED_NR_WARNING

    requested, achieved, measured = result.noise_reduction_requested, result.noise_reduction_achieved, result.noise_reduction_measured
    shown = "not measurable (no homogeneous region)" if measured is None else f"{measured:.2f}"
    _say(args, f"noise reduction: requested {requested:g}, achieved {achieved:.2f} (model calibration, median over tissue), "
               f"measured {shown} (QA, automatic homogeneous ROI)")
    flags = result.flags
    if "model-limit" in flags:
        adapting = "" if result.adaptation is not None else "; adapting it to this scan first (--adapt-steps 3000) may reach more"
        print(
            f"warning: the model reaches noise reduction {achieved:.2f}, not the requested {requested:g}; "
            f"the output carries the least noise this model leaves{adapting}",
            file=sys.stderr,
        )
    if "nr-differs" in flags:
        print(
            f"warning: the measured noise reduction {measured:.2f} differs from the requested {requested:g} by more "
            f"than {MEASURED_NR_WARNING:.0%} (below 1: the output is noisier than the input there); "
            "`mrdeeprecon qa` gives the full report",
            file=sys.stderr,
        )


def _say(args: argparse.Namespace, line: str) -> None:
    if not args.quiet:
        print(line)


def _cmd_qa(args: argparse.Namespace) -> int:
    from .io import load_volume
    from .qa import run_qa, write_qa_report
    from .qa.specs import parse_line, parse_roi

    lo, hi = NOISE_REDUCTION_RANGE
    if args.noise_reduction is not None and not lo <= args.noise_reduction <= hi:
        raise MRDeepReconError(f"--noise-reduction must be in [{lo:g}, {hi:g}], got {args.noise_reduction:g}")
    original, context = _load(args)
    enhanced = load_volume(args.enhanced, series_uid=args.enhanced_series)
    rois = [parse_roi(spec, original, i + 1) for i, spec in enumerate(args.roi or [])]
    lines = [parse_line(spec, original, i + 1) for i, spec in enumerate(args.line or [])]
    from .raw.consistency_sidecar import data_consistency_of

    report = run_qa(original, enhanced, context, rois=rois, lines=lines, requested_noise_reduction=args.noise_reduction,
                    data_consistency=data_consistency_of(original, args.input))
    others = sorted(p.name for p in args.out.iterdir()) if args.out.is_dir() else []
    written = write_qa_report(report, args.out)
    others = [name for name in others if name not in {p.name for p in written}]
    if others:
        print(f"warning: {args.out} already held other files ({', '.join(others[:3])}{', ...' if len(others) > 3 else ''}); "
              "the report's files were added beside them", file=sys.stderr)
    _say(args, f"wrote {', '.join(p.name for p in written)} to {args.out}")
    if args.quiet:
        return 0
    requested = f"{report.requested_noise_reduction:g}" if report.requested_noise_reduction else "not given"
    for roi in report.rois:
        print(
            f"  noise in {roi.roi['name']}: SD {roi.original.sd_detrended:.4g} -> {roi.enhanced.sd_detrended:.4g}, "
            f"reduction {roi.measured_noise_reduction:.3g} (requested {requested})"
        )
    for axis in report.sharpness:
        if axis.median_ratio is None:
            print(f"  edge sharpness along {axis.axis}: not measured ({axis.note or 'no edge profile'})")
        else:
            print(f"  edge sharpness along {axis.axis}: x{axis.median_ratio:.3g} (median of {axis.profiles} profiles)")
    flagged = list(report.consistency.flagged)
    print(f"  low-frequency consistency: {len(flagged)} slice(s) flagged {flagged if flagged else ''}".rstrip())
    if report.data_consistency is not None:
        from .raw.consistency import ConsistencyReport

        print(f"  original's {ConsistencyReport(**report.data_consistency).summary()}")
    return 0


def _parse_degrade_text(text: str):
    """``evaluate --degrade "FLAGS"``: the ``degrade`` flags in one string → DegradationSpec."""
    import shlex

    parser = argparse.ArgumentParser(prog="--degrade", add_help=False, exit_on_error=False)
    _add_degradation_flags(parser)
    try:
        args, unknown = parser.parse_known_args(shlex.split(text))
    except (argparse.ArgumentError, ValueError) as exc:
        raise MRDeepReconError(f"--degrade {text!r}: {exc}") from None
    if unknown:
        raise MRDeepReconError(f"--degrade {text!r}: not a degrade flag: {' '.join(unknown)}")
    return _degradation_spec(args)


def _parse_slices(text: str | None) -> tuple[int, int] | None:
    """``START:STOP`` (either may be empty) → slice indices as given; ``None`` = all slices."""
    if text is None:
        return None
    parts = text.split(":")
    try:
        if len(parts) != 2:
            raise ValueError
        return tuple(int(p) if p.strip() else None for p in parts)  # type: ignore[return-value]
    except ValueError:
        raise MRDeepReconError(f"--slices must be START:STOP (slice indices), got {text!r}") from None


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluation.report import check_report_folder, write_evaluation_report
    from .evaluation.runner import run_evaluation

    check_report_folder(args.out)
    spec = _parse_degrade_text(args.degrade)
    slices = _parse_slices(args.slices)
    methods = None if args.methods is None else [m for m in args.methods.split(",") if m.strip()]
    reference, context = _load(args)
    if slices is not None:
        count = reference.shape[0]
        slices = (0 if slices[0] is None else slices[0], count if slices[1] is None else slices[1])
    result = run_evaluation(
        reference,
        spec,
        methods=methods,
        noise_reduction=args.noise_reduction,
        seed=args.seed,
        acquisition=context,
        model_path=args.model,
        slices=slices,
        device=args.device,
        progress=_Progress.of(args),
    )
    for method, why in result.skipped.items():
        _say(args, f"skipped {method}: {why}")
    written = write_evaluation_report(result, args.out)
    _say(args, f"wrote {', '.join(p.name for p in written)} to {args.out}")
    for row in result.rows:
        s, f = row.scores, row.foreground
        _say(
            args,
            f"  {row.method:9s} PSNR {s['psnr_db']:6.2f} dB  SSIM {s['ssim']:.4f}  HFEN {s['hfen']:.3f}  "
            f"| foreground PSNR {f['psnr_db']:6.2f} dB  SSIM {f['ssim']:.4f}  ({row.seconds:.1f} s)",
        )
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from .training.allocator import retain_freed_memory
    from .training.train import TrainConfig, train

    retain_freed_memory()
    out = train(TrainConfig(**_given(args, TrainConfig)))
    from .distributed import Rank

    if Rank.from_environment().leader:
        print(f"wrote {out} and {out.with_suffix('.json')}")
    return 0


def _cmd_train_recon(args: argparse.Namespace) -> int:
    from .training.allocator import retain_freed_memory
    from .training.train_unrolled import ReconTrainConfig, train_recon

    retain_freed_memory()
    out = train_recon(ReconTrainConfig(**_given(args, ReconTrainConfig)))
    print(f"wrote {out} and {out.with_suffix('.json')}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(args.out, device=args.device)
    return 0


def build_parser(train_flags: bool = True) -> argparse.ArgumentParser:
    """The ``mrdeeprecon`` parser. ``train``'s flags come from
    :class:`~mrdeeprecon.training.train.TrainConfig` and ``train-recon``'s from
    :class:`~mrdeeprecon.training.train_unrolled.ReconTrainConfig`, whose modules import torch:
    ``train_flags`` ``False`` leaves them out, so that the other commands start without torch (:func:`main`)."""
    from .batch import MANIFEST_COLUMNS

    parser = argparse.ArgumentParser(prog="mrdeeprecon", description="Deep-learning MR enhancement: denoising and super-resolution.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("info", help="print the volume geometry and scan context of a DICOM series or NIfTI/NRRD file")
    p.add_argument("input", type=Path, help="a DICOM folder or file, or a NIfTI (.nii, .nii.gz) / NRRD (.nrrd, .nhdr) file")
    _add_selection_flags(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    _add_context_flags(p)
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("degrade", help="simulate a faster acquisition by degrading k-space")
    p.add_argument("input", type=Path, help="a DICOM folder or file, or a NIfTI (.nii, .nii.gz) / NRRD (.nrrd, .nhdr) file")
    p.add_argument("output", type=Path, help="NIfTI (.nii, .nii.gz) or NRRD (.nrrd) file to write")
    _add_selection_flags(p)
    _add_degradation_flags(p)
    p.add_argument("--seed", type=int, default=0)
    _add_context_flags(p)
    p.set_defaults(func=_cmd_degrade)

    p = sub.add_parser("enhance", help="denoise and super-resolve a DICOM series or NIfTI/NRRD volume")
    p.add_argument("input", type=Path, help="a DICOM folder or file, or a NIfTI (.nii, .nii.gz) / NRRD (.nrrd, .nhdr) file")
    p.add_argument("output", type=Path, help="NIfTI (.nii, .nii.gz) or NRRD (.nrrd) file, or with --format dicom a new folder")
    p.add_argument("--format", choices=("auto", "nifti", "nrrd", "dicom"), default="auto", help="output format (auto: from the file name)")
    _add_selection_flags(p)
    _add_settings_flags(p)
    p.add_argument("--record", type=Path, metavar="JSON", help="NIfTI/NRRD output: also write the enhancement record (settings, model name and SHA-256, device) as JSON")
    _add_dicom_flags(p)
    _add_context_flags(p)
    p.set_defaults(func=_cmd_enhance)

    p = sub.add_parser("recon", help="reconstruct raw multi-coil k-space (ISMRMRD/fastMRI .h5, BART .cfl, Siemens .dat, .npy) with ESPIRiT coil maps")
    p.add_argument("input", type=Path, metavar="RAWFILE", help="raw k-space: .h5 (ISMRMRD/MRD or fastMRI), .cfl/.hdr (BART), .dat (Siemens twix) or .npy")
    p.add_argument("output", type=Path, help="NIfTI (.nii, .nii.gz) or NRRD (.nrrd) file to write, or with --format dicom a new series folder; the reconstruction record with its data-consistency report goes beside it as OUTPUT.consistency.json")
    p.add_argument("--method", choices=("zerofill", "sense", "l1wavelet", "unrolled"), default="sense", help="zero-filled RSS, CG-SENSE, L1-wavelet compressed sensing or the unrolled SENSE network (default sense)")
    p.add_argument("--model", type=Path, metavar="SAFETENSORS", help="with --method unrolled: weights with their model card (default: bundled)")
    p.add_argument("--format", choices=("auto", "nifti", "nrrd", "dicom"), default="auto", help="output format (auto: from the file name); dicom: an ORIGINAL MR Image series in a new study with a research placeholder patient")
    p.add_argument("--like", type=Path, metavar="DICOM_FOLDER", help="with --format dicom: take the patient and study from this existing series (the new series joins its study)")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--progress", choices=("auto", "bar", "lines", "none"), default="auto", help="auto: a bar on a terminal; lines: 'PROGRESS <fraction> <message>' on stdout for a parent process")
    p.set_defaults(func=_cmd_recon)

    p = sub.add_parser("batch", help="enhance many series: a manifest (.csv), a DICOMDIR or a folder; resumable, with a CSV/HTML report")
    p.add_argument("input", type=Path, metavar="SOURCE", help=f"MANIFEST.csv (columns {', '.join(MANIFEST_COLUMNS)}), a DICOMDIR, or a folder searched with its sub-folders")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder: <name>.nii.gz (or .nrrd, or a DICOM series folder) per item, batch_report.csv/.html; rerun to resume")
    p.add_argument("--format", choices=("nifti", "nrrd", "dicom"), default="nifti", help="output format (default nifti)")
    _add_settings_flags(p)
    group = p.add_argument_group("DICOM output", "with --format dicom: a derived MR series per item")
    group.add_argument("--series-number-offset", type=int, default=1000, metavar="N", help="added to the source SeriesNumber (default 1000)")
    group.add_argument("--uid-prefix", metavar="PREFIX", help="root for the new UIDs (default: pydicom's)")
    group.add_argument("--enhanced-multiframe", action="store_true", help="one Enhanced MR multi-frame file per series")
    p.set_defaults(func=_cmd_batch)

    p = sub.add_parser("qa", help="quality assurance of an enhancement: ROI noise, edge sharpness, change map, k-space consistency")
    p.add_argument("input", type=Path, metavar="ORIGINAL", help="the original DICOM series or NIfTI/NRRD volume")
    p.add_argument("enhanced", type=Path, metavar="ENHANCED", help="its enhancement (any grid, e.g. super-resolved)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="report folder: qa.json, qa.md, PNG plots")
    _add_selection_flags(p, "of the original ")
    p.add_argument("--enhanced-series", metavar="UID", help="SeriesInstanceUID of the enhanced series")
    p.add_argument("--roi", action="append", metavar="SPEC", help="noise ROI (repeatable): box:I0,J0,K0:I1,J1,K1 | sphere:I,J,K:R_MM | sphere-ras:R,A,S:R_MM | mask:FILE; indices of the original (default: an automatic homogeneous box)")
    p.add_argument("--line", action="append", metavar="SPEC", help="edge profile (repeatable): I0,J0,K0:I1,J1,K1 or ras:R0,A0,S0:R1,A1,S1")
    p.add_argument("--noise-reduction", type=float, metavar="F", help="the factor requested of the enhancement, to compare with the measured one")
    p.add_argument("--quiet", action="store_true")
    _add_context_flags(p)
    p.set_defaults(func=_cmd_qa)

    p = sub.add_parser("evaluate", help="degrade a clean volume and score the enhancement against BM4D, NLM, wavelet, Gaussian and interpolation baselines")
    p.add_argument("input", type=Path, metavar="REFERENCE", help="the clean reference: DICOM series or NIfTI/NRRD volume")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="new report folder: results.csv/.md/.json, planes.png, differences.png")
    _add_selection_flags(p)
    p.add_argument("--degrade", default="", metavar="FLAGS", help="the degradation as `mrdeeprecon degrade` flags in one string, e.g. \"--noise 0.06\" or \"--kmax-phase 0.5 --kmax-frequency 0.5\" (k_max relative to the reference's own band); without a space use --degrade=--elliptical")
    p.add_argument("--slices", metavar="START:STOP", help="use only these slices of the reference (array axis 0)")
    p.add_argument("--methods", metavar="LIST", help="comma-separated from ours,bm4d,nlm,wavelet,gaussian,lanczos,cubic,zerofill (default: all available)")
    p.add_argument("--noise-reduction", type=float, default=5.0, metavar="F", help="noise reduction asked of ours (default 5)")
    p.add_argument("--model", type=Path, metavar="SAFETENSORS", help="weights for ours with their model card (default: bundled)")
    p.add_argument("--seed", type=int, default=0, help="seed of the degradation (default 0)")
    p.add_argument("--device", choices=DEVICES, default="auto")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--progress", choices=("auto", "bar", "lines", "none"), default="auto")
    _add_context_flags(p)
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("train", help="train a CE U-Net on real volumes (pairs made on the fly in torch)")
    if train_flags:
        from .training.train import TrainConfig

        _add_field_flags(p, TrainConfig)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("train-recon", help="train the unrolled SENSE network on multi-coil k-space simulated from real volumes")
    if train_flags:
        from .training.train_unrolled import ReconTrainConfig

        _add_field_flags(p, ReconTrainConfig)
    p.set_defaults(func=_cmd_train_recon)

    p = sub.add_parser("demo", help="degrade and enhance nilearn's MNI152 T1; write volumes, a PNG and metrics")
    p.add_argument("--out", type=Path, default=Path("demo-output"))
    p.add_argument("--device", choices=DEVICES, default="auto")
    p.set_defaults(func=_cmd_demo)
    return parser


def _warning_line(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ARG001 - warnings.showwarning's signature
    """Show a Python warning as one ``warning: ...`` line on stderr (not a source location)."""
    print(f"warning: {' '.join(str(message).split())}", file=sys.stderr)


def _terminated(signum, frame) -> None:  # noqa: ARG001 - a signal handler's signature
    """SIGTERM (a job scheduler, ``kill``, the Slicer panel's Cancel) ends the work like Ctrl-C:
    through the ``finally`` blocks that remove staged files."""
    raise Cancelled(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code: 0, 2 for a refused input, 3 for a failed PACS
    send, 4 for a batch with refused or failed items, 130 when interrupted (SIGINT) and 143 when
    terminated (SIGTERM)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(train_flags=argv[:1] in (["train"], ["train-recon"]))
    args = parser.parse_args(argv)
    shown = warnings.showwarning
    warnings.showwarning = _warning_line
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminated) if in_main_thread else None
    try:
        return args.func(args)
    except MRDeepReconError as exc:
        source = getattr(args, "input", None)
        where = f"{source}: " if exc.path is None and source is not None else ""
        print(f"mrdeeprecon: error: {where}{exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mrdeeprecon: cancelled", file=sys.stderr)
        return 130
    except Cancelled as exc:
        print("mrdeeprecon: cancelled", file=sys.stderr)
        return 143 if str(exc) == f"signal {signal.SIGTERM}" else 130
    finally:
        warnings.showwarning = shown
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
