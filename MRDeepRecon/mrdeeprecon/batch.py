"""Many enhancements in one run (``mrdeeprecon batch``).

What is enhanced (:func:`find_items`):

* a **manifest** ``.csv``: one row per input, columns ``input`` (required; relative paths are
  relative to the manifest's folder) and optionally ``name``, ``series``, ``echo``,
  ``image_type`` (:class:`~mrdeeprecon.job.Selection`) and the per-row settings of
  :data:`ROW_SETTINGS` (empty cells take the command's settings). The manifest is checked whole
  before any work: a bad row is one error naming the file and the row;
* a **DICOMDIR**: every image series it lists;
* a **folder**: every DICOM image set (series × echo × component) in it and its sub-folders, and
  every NIfTI / NRRD file.

How it runs (:func:`run_batch`): each item is one :class:`~mrdeeprecon.job.EnhanceJob` writing
``OUT/<name>.nii.gz`` (or ``.nrrd``, or the DICOM series folder ``OUT/<name>``). Outputs appear
only complete, so the batch can be resumed: an item whose output exists is skipped, and what an
interrupted item had staged is removed and the item redone. One bad series does not stop the
batch: its refusal is reported. ``OUT/batch_report.csv`` and ``.html`` list every item with its
status, time, measured noise reduction and QA flags; they are rewritten after every item.

Under ``torchrun`` (``RANK`` / ``WORLD_SIZE`` set) each process takes every ``WORLD_SIZE``-th item
from its ``RANK``, and writes ``batch_report.rank<R>.csv``; rank 0 merges them into the report
when all are done (:func:`merge_reports`).
"""

from __future__ import annotations

import csv
import dataclasses
import html
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .adaptation_record import kept
from .errors import Cancelled, MRDeepReconError, one_line
from .job import EnhanceJob, JobResult, Selection, run_job
from .progress import CancelToken, ProgressCallback, check, report
from .settings import SR_AXES, EnhanceSettings

#: Manifest columns that override the command's settings for one row, and their field.
ROW_SETTINGS = {
    "noise_reduction": "noise_reduction",
    **{f"sr_{axis}": "super_resolution" for axis in SR_AXES},
    "model_kind": "model_kind",
}
MANIFEST_COLUMNS = ("input", "name", "series", "echo", "image_type", *ROW_SETTINGS)
#: The output suffix of each file format.
SUFFIXES = {"nifti": ".nii.gz", "nrrd": ".nrrd"}
REPORT_NAME = "batch_report"
REPORT_COLUMNS = (
    "name", "input", "series", "echo", "image_type", "output", "status", "seconds", "noise_reduction_requested",
    "noise_reduction_achieved", "noise_reduction_measured", "adapted_step", "qa_flags", "message",
)


@dataclass(frozen=True)
class BatchItem:
    """One input of a batch: its unique ``name`` (it names the output), what to read and with
    which settings."""

    name: str
    input: Path
    selection: Selection
    settings: EnhanceSettings


@dataclass
class ItemReport:
    """One row of the batch report. ``status``: ``done``, ``done earlier`` (skipped on resume),
    ``refused`` (a problem of the input, in ``message``), ``failed`` (an unexpected error) or
    ``not started``."""

    name: str
    input: str
    series: str = ""
    echo: str = ""
    image_type: str = ""
    output: str = ""
    status: str = "not started"
    seconds: str = ""
    noise_reduction_requested: str = ""
    noise_reduction_achieved: str = ""
    noise_reduction_measured: str = ""
    adapted_step: str = ""
    qa_flags: str = ""
    message: str = ""


# ------------------------------------------------------------------------------ finding items


def _safe_name(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-")
    return name[:120] or "item"


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        count = seen.get(name, 0)
        seen[name] = count + 1
        out.append(name if count == 0 else f"{name}_{count + 1}")
    return out


def _with_row_settings(defaults: EnhanceSettings, row: dict[str, str], where: str, manifest: Path) -> EnhanceSettings:
    changes: dict[str, object] = {}
    sr = list(defaults.super_resolution)
    for column, field in ROW_SETTINGS.items():
        value = (row.get(column) or "").strip()
        if not value:
            continue
        if field == "super_resolution":
            try:
                sr[SR_AXES.index(column.removeprefix("sr_"))] = float(value)
            except ValueError:
                raise MRDeepReconError(f"{where}: {column} {value!r} is not a number", manifest) from None
            changes["super_resolution"] = tuple(sr)
        else:
            changes[field] = value  # EnhanceSettings converts and checks it
    try:
        return dataclasses.replace(defaults, **changes)  # type: ignore[arg-type]
    except MRDeepReconError as exc:
        raise MRDeepReconError(f"{where}: {exc.problem}", manifest) from None


def _manifest_items(manifest: Path, defaults: EnhanceSettings) -> list[BatchItem]:
    try:
        with open(manifest, newline="", encoding="utf-8-sig") as stream:
            reader = csv.DictReader(stream)
            rows = list(reader)
            columns = [(c or "").strip().lower() for c in reader.fieldnames or []]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise MRDeepReconError(f"unreadable manifest ({exc})", manifest) from exc
    if not rows:
        raise MRDeepReconError("the manifest has no rows (a header line with an 'input' column, then one row per input)", manifest)
    unknown = sorted(set(columns) - set(MANIFEST_COLUMNS))
    if "input" not in columns or unknown:
        raise MRDeepReconError(
            f"manifest columns must include 'input' and may be {', '.join(MANIFEST_COLUMNS)}"
            + (f"; unknown: {', '.join(unknown)}" if unknown else ""),
            manifest,
        )
    items, names = [], []
    for number, raw in enumerate(rows, start=2):  # line 1 is the header
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
        where = f"line {number}"
        if not row.get("input"):
            raise MRDeepReconError(f"{where}: no input", manifest)
        path = Path(row["input"])
        path = path if path.is_absolute() else manifest.parent / path
        if not path.exists():
            raise MRDeepReconError(f"{where}: {path} does not exist", manifest)
        echo = row.get("echo") or None
        if echo is not None and not echo.isdigit():
            raise MRDeepReconError(f"{where}: echo {echo!r} is not a whole number", manifest)
        selection = Selection(row.get("series") or None, int(echo) if echo else None, row.get("image_type") or None)
        items.append((path, selection, _with_row_settings(defaults, row, where, manifest)))
        names.append(_safe_name(row.get("name") or _input_name(path, manifest.parent)))
    return [BatchItem(name, path, selection, settings) for name, (path, selection, settings) in zip(_unique(names), items)]


def _input_name(path: Path, root: Path) -> str:
    try:
        relative = path.resolve().relative_to(root.resolve())
    except ValueError:
        relative = Path(path.name)
    text = str(relative.with_suffix("") if path.is_file() else relative)
    return text[: -len(".nii")] if text.endswith(".nii") else text


def _set_items(folder: Path, root: Path) -> list[tuple[str, Path, Selection]]:
    """The image sets of every series directly in ``folder`` (none when it holds no DICOM)."""
    from .io.dicom import list_series, series_image_sets

    try:
        series = list_series(folder)
    except MRDeepReconError:
        return []
    out = []
    for info in series:
        base = f"{_input_name(folder, root)}_{info.description or info.series_instance_uid[-12:]}"
        try:
            sets = series_image_sets(folder, info.series_instance_uid)
        except MRDeepReconError:
            sets = ()
        if len(sets) <= 1:
            out.append((base, folder, Selection(info.series_instance_uid)))
            continue
        for image_set, _ in sets:
            kind = image_set.flavour or image_set.component
            echo = f"_E{image_set.echo_number}" if image_set.echo_number is not None else ""
            out.append((f"{base}{echo}_{kind}", folder, Selection(info.series_instance_uid, image_set.echo_number, kind)))
    return out


def _folder_items(root: Path, defaults: EnhanceSettings, exclude: Path | None) -> list[BatchItem]:
    from .io.itk import itk_format

    found: list[tuple[str, Path, Selection]] = []
    for folder, subfolders, files in os.walk(root):
        here = Path(folder)
        if exclude is not None and (here == exclude or exclude in here.parents):
            subfolders[:] = []
            continue
        subfolders.sort()
        for name in sorted(files):
            path = here / name
            if itk_format(path) is not None and not name.lower().endswith(".raw"):
                found.append((_input_name(path, root), path, Selection()))
        found += _set_items(here, root)
    if not found:
        raise MRDeepReconError("no DICOM series and no NIfTI/NRRD file in this folder or below", root)
    names = _unique([_safe_name(name) for name, _, _ in found])
    return [BatchItem(name, path, selection, defaults) for name, (_, path, selection) in zip(names, found)]


def _dicomdir_items(dicomdir: Path, defaults: EnhanceSettings) -> list[BatchItem]:
    import pydicom
    from pydicom.fileset import FileSet

    try:
        fileset = FileSet(pydicom.dcmread(dicomdir))
    except Exception as exc:  # pydicom raises many types for a damaged DICOMDIR
        raise MRDeepReconError(f"unreadable DICOMDIR ({one_line(exc)})", dicomdir) from exc
    series: dict[str, set[Path]] = {}
    descriptions: dict[str, str] = {}
    for instance in fileset:
        uid = str(instance.SeriesInstanceUID)
        series.setdefault(uid, set()).add(Path(instance.path).parent)
        descriptions.setdefault(uid, str(getattr(instance, "SeriesDescription", "") or uid[-12:]))
    if not series:
        raise MRDeepReconError("the DICOMDIR lists no series", dicomdir)
    items = []
    for uid, folders in sorted(series.items()):
        folder = sorted(folders)[0]  # a series spread over folders is refused when read (its images are missing)
        items.append((_safe_name(f"{_input_name(folder, dicomdir.parent)}_{descriptions[uid]}"), folder, Selection(uid)))
    names = _unique([name for name, _, _ in items])
    return [BatchItem(name, folder, selection, defaults) for name, (_, folder, selection) in zip(names, items)]


def find_items(source: Path, defaults: EnhanceSettings, out_dir: Path | None = None) -> list[BatchItem]:
    """The items of a manifest (``.csv``), a ``DICOMDIR`` or a folder (see the module docstring);
    ``out_dir`` is left out of a folder's search.

    Raises:
        MRDeepReconError: naming the file for a missing source, a bad manifest row or column, an
            unreadable DICOMDIR, or a folder with nothing to enhance.
    """
    source = Path(source)
    if not source.exists():
        raise MRDeepReconError("no such file or folder", source)
    if source.is_dir():
        return _folder_items(source, defaults, None if out_dir is None else Path(os.path.realpath(out_dir)))
    if source.suffix.lower() == ".csv":
        return _manifest_items(source, defaults)
    if source.name.upper() == "DICOMDIR":
        return _dicomdir_items(source, defaults)
    raise MRDeepReconError("a batch reads a manifest (.csv), a DICOMDIR or a folder", source)


# ------------------------------------------------------------------------------ running


def shard(items: list[BatchItem], rank: int, world_size: int) -> list[BatchItem]:
    """The items of process ``rank`` of ``world_size``: every ``world_size``-th from ``rank``."""
    if not 0 <= rank < world_size:
        raise MRDeepReconError(f"rank {rank} is not in 0..{world_size - 1}")
    return items[rank::world_size]


def output_of(item: BatchItem, out_dir: Path, output_format: str) -> Path:
    return out_dir / (item.name if output_format == "dicom" else item.name + SUFFIXES[output_format])


def _remove_staged(out_dir: Path, output: Path) -> None:
    """Remove what an interrupted job left staged for ``output`` (``.<name>.*.tmp`` of a NIfTI,
    ``.<name>.*.partial`` of a DICOM series)."""
    for entry in out_dir.glob(f".{output.name}.*"):
        if entry.name.endswith((".tmp", ".partial")):
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def _row(item: BatchItem, output: Path) -> ItemReport:
    s = item.selection
    return ItemReport(
        name=item.name, input=str(item.input), series=s.series_uid or "", echo="" if s.echo is None else str(s.echo),
        image_type=s.image_type or "", output=str(output), noise_reduction_requested=f"{item.settings.noise_reduction:g}",
    )


def _finished(row: ItemReport, result: JobResult) -> None:
    row.status = "done"
    row.seconds = f"{result.seconds:.2f}"
    row.noise_reduction_achieved = f"{result.noise_reduction_achieved:.2f}"
    row.noise_reduction_measured = "" if result.noise_reduction_measured is None else f"{result.noise_reduction_measured:.2f}"
    if result.adaptation is not None:
        row.adapted_step = kept(result.adaptation) + (", reused" if result.adaptation.get("reused") else "")
    row.qa_flags = " ".join(result.flags)
    if result.skipped_files:
        row.message = f"skipped {len(result.skipped_files)} file(s) that are not DICOM: " + ", ".join(Path(p).name for p in result.skipped_files[:5])


def _earlier_rows(out_dir: Path) -> dict[str, dict[str, str]]:
    """The rows of an earlier run's report, by name (carried over for the items it finished)."""
    rows: dict[str, dict[str, str]] = {}
    for path in sorted(out_dir.glob(f"{REPORT_NAME}*.csv")):
        try:
            with open(path, newline="", encoding="utf-8") as stream:
                rows.update({r["name"]: r for r in csv.DictReader(stream) if r.get("status", "").startswith("done")})
        except (OSError, csv.Error, KeyError):
            continue
    return rows


def run_batch(
    items: list[BatchItem],
    out_dir: Path,
    output_format: str = "nifti",
    dicom_options=None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    log: Callable[[str], None] | None = None,
    report_name: str = REPORT_NAME,
    adaptation_cache: Path | None = None,
) -> list[ItemReport]:
    """Enhance every item into ``out_dir`` (created); see the module docstring.

    Args:
        output_format: ``"nifti"``, ``"nrrd"`` or ``"dicom"``.
        dicom_options: ``DerivedSeriesOptions`` of DICOM outputs.
        progress: one fraction over all items.
        log: called with one line per item when it ends.
        report_name: the report's file stem in ``out_dir`` (a rank's part under torchrun).
        adaptation_cache: where each item's scan-specific fine-tune is kept and reused
            (:class:`~mrdeeprecon.job.EnhanceJob`).

    Returns:
        The report's rows (also written to ``out_dir/<report_name>.csv`` and ``.html``).

    Raises:
        Cancelled: ``cancel`` was set (the item under way leaves nothing; the report lists the
            items done so far).
    """
    if output_format not in ("dicom", *SUFFIXES):
        raise MRDeepReconError(f"output format must be nifti, nrrd or dicom, got {output_format!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    earlier = _earlier_rows(out_dir)
    rows = [_row(item, output_of(item, out_dir, output_format)) for item in items]
    say = log or (lambda line: None)
    for index, (item, row) in enumerate(zip(items, rows)):
        check(cancel)
        output = Path(row.output)
        head = f"[{index + 1}/{len(items)}] {item.name}"
        if output.exists():
            row.status = "done earlier"
            for column in ("seconds", "noise_reduction_achieved", "noise_reduction_measured", "adapted_step", "qa_flags", "message"):
                setattr(row, column, earlier.get(item.name, {}).get(column, ""))
            say(f"{head}: done earlier, skipped")
            continue
        _remove_staged(out_dir, output)

        def item_progress(fraction: float, message: str, index: int = index) -> None:
            report(progress, (index + fraction) / len(items), f"[{index + 1}/{len(items)}] {message}")

        job = EnhanceJob(item.input, output, output_format, item.settings, item.selection, dicom_options=dicom_options,
                         adaptation_cache=adaptation_cache)
        try:
            result = run_job(job, progress=item_progress, cancel=cancel)
        except (Cancelled, KeyboardInterrupt):
            write_report(rows, out_dir, report_name)
            raise
        except MRDeepReconError as exc:
            row.status, row.message = "refused", str(exc)
        except Exception as exc:  # noqa: BLE001 - one broken item must not stop the others
            row.status, row.message = "failed", f"{type(exc).__name__}: {one_line(exc, 300)}"
        else:
            _finished(row, result)
        say(f"{head}: {row.status}" + (f" in {row.seconds} s, noise reduction measured {row.noise_reduction_measured or '-'}"
                                       f"{', flags ' + row.qa_flags if row.qa_flags else ''}" if row.status == "done" else f": {row.message}"))
        write_report(rows, out_dir, report_name)
    write_report(rows, out_dir, report_name)
    report(progress, 1.0, "batch done")
    return rows


# ------------------------------------------------------------------------------ report


def write_report(rows: list[ItemReport], out_dir: Path, name: str = REPORT_NAME) -> tuple[Path, Path]:
    """``<name>.csv`` and ``<name>.html`` in ``out_dir``, each written atomically."""
    out_dir = Path(out_dir)
    csv_path, html_path = out_dir / f"{name}.csv", out_dir / f"{name}.html"
    staged = out_dir / f".{csv_path.name}.tmp"
    with open(staged, "w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=REPORT_COLUMNS)
        writer.writeheader()
        writer.writerows(dataclasses.asdict(r) for r in rows)
    staged.replace(csv_path)
    counts = {s: sum(r.status == s for r in rows) for s in ("done", "done earlier", "refused", "failed", "not started")}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    cells = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(getattr(r, c)))}</td>" for c in REPORT_COLUMNS) + "</tr>\n" for r in rows
    )
    page = (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>MRDeepRecon batch</title>"
        "<style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:2px 6px;"
        "font-size:90%}</style></head><body>\n"
        f"<h1>MRDeepRecon batch</h1><p>{len(rows)} item(s): {html.escape(summary)}. QA flags: model-limit (the model could "
        "not reach the requested noise reduction), noisier (measured below 1), nr-differs (measured differs from the request "
        "by more than 25 %), nr-not-measurable (no homogeneous region).</p>\n<table><tr>"
        + "".join(f"<th>{c}</th>" for c in REPORT_COLUMNS) + "</tr>\n" + cells + "</table></body></html>\n"
    )
    staged = out_dir / f".{html_path.name}.tmp"
    staged.write_text(page, encoding="utf-8")
    staged.replace(html_path)
    return csv_path, html_path


def merge_reports(out_dir: Path, world_size: int) -> tuple[Path, Path]:
    """Rank 0 under torchrun: the rank reports ``batch_report.rank<R>.csv`` merged (in the items'
    global order) into ``batch_report.csv`` / ``.html``; the parts are removed."""
    parts = [Path(out_dir) / f"{REPORT_NAME}.rank{r}.csv" for r in range(world_size)]
    per_rank = []
    for part in parts:
        with open(part, newline="", encoding="utf-8") as stream:
            per_rank.append([ItemReport(**row) for row in csv.DictReader(stream)])
    merged = [rows[i] for i in range(max(map(len, per_rank), default=0)) for rows in per_rank if i < len(rows)]
    written = write_report(merged, out_dir)
    for part in parts:
        part.unlink()
        part.with_suffix(".html").unlink(missing_ok=True)
    return written
