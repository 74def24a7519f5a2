"""Write an :class:`~.runner.EvaluationResult` as a report folder.

Files: ``results.json`` (:meth:`EvaluationResult.to_dict`: header facts and one entry per method),
``results.csv`` (one row per method: parameter, PSNR, SSIM, NMSE, HFEN over the whole volume and
inside the foreground, seconds), ``results.md`` (the header and the same table for a reader),
``planes.png`` (per row — reference, then each method — the axial, coronal and sagittal mid planes
and an axial maximum-intensity projection, one grey window for all) and ``differences.png``
(``|method - reference|`` on the same planes, and the absolute difference of the two MIPs; one
window for all: 0 to the 99.5th percentile of the degraded volume's difference).

The folder is written atomically: everything is made in a temporary folder beside it, which is
then renamed; an existing non-empty folder is refused.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MRDeepReconError
from ..metrics import SCORES
from ..reporting import (
    PanelRow,
    markdown_table,
    orthogonal_displays,
    orthogonal_planes,
    plotting,
    write_plane_panel,
)
from .runner import EvaluationResult

JSON_NAME, CSV_NAME, MARKDOWN_NAME = "results.json", "results.csv", "results.md"
PLOT_NAMES = ("planes.png", "differences.png")
CSV_COLUMNS = (
    "method",
    "parameter",
    *SCORES,
    *(f"{name}_foreground" for name in SCORES),
    "seconds",
    "tuning_seconds",
)
#: Upper end of the image window: this percentile of the reference.
IMAGE_PERCENTILE = 99.5
#: Upper end of the difference window: this percentile of |degraded - reference|.
DIFFERENCE_PERCENTILE = 99.5
#: Resolution of the PNG panels (dots per inch).
PLOT_DPI = 80


def _number(value: float | None, digits: int = 4) -> str:
    if value is None or not math.isfinite(value):
        return "–" if value is None or math.isnan(value) else "∞"
    return f"{value:.{digits}g}"


def _csv_rows(result: EvaluationResult) -> list[list[Any]]:
    return [
        [
            row.method,
            row.parameter,
            *(row.scores[name] for name in SCORES),
            *(row.foreground[name] for name in SCORES),
            round(row.seconds, 3),
            round(row.tuning_seconds, 3),
        ]
        for row in result.rows
    ]


def _write_csv(result: EvaluationResult, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(CSV_COLUMNS)
        writer.writerows(_csv_rows(result))


def _spec_text(spec: dict[str, Any]) -> str:
    """The fields of a degradation spec that differ from no degradation."""
    defaults = {
        "noise": 0.0,
        "kmax": [1.0, 1.0, 1.0],
        "partial_fourier": [1.0, 1.0],
        "undersample_uniform": 1.0,
        "undersample_random": 1.0,
        "elliptical": False,
    }
    changed = [f"{k} {v}" for k, v in spec.items() if k in defaults and v != defaults[k]]
    return ", ".join(changed) or "none"


def _markdown(result: EvaluationResult) -> str:
    data = result.to_dict()
    ref, deg, model = data["reference"], data["degradation"], data["model"]
    band = ", ".join(f"{b:.3f}" for b in ref["band_zyx"])
    lines = [
        "# MRDeepRecon evaluation against classical baselines",
        "",
        f"* Reference: `{ref['source'] or 'in memory'}`, slices {ref['slices'][0]}:{ref['slices'][1]}, "
        f"shape {ref['shape_zyx']} (z, y, x), spacing {', '.join(_number(s) for s in ref['spacing_ijk_mm'])} mm (i, j, k)",
        f"* Reference k-space band (z, y, x): {band} — {ref['band_method']}",
        f"* Reference noise SD: {_number(ref['noise_sd'])} ({ref['noise_method']}); "
        f"perfect-denoiser PSNR {_number(ref['perfect_denoiser_psnr_db'])} dB",
        f"* Degradation requested: {_spec_text(deg['requested'])}; applied (k_max × band): "
        f"{_spec_text(deg['applied'])}; {deg['acquisition']} acquisition, phase axis {deg['phase_axis']}, "
        f"seed {deg['seed']}",
        f"* Added noise: σ {_number(deg['noise_sigma_kspace'])} per k-space sample, "
        f"{_number(deg['noise_sd_image'])} SD in the image (foreground RMS); acquired matrix "
        f"{deg['acquired_matrix_zyx']} (z, y, x)",
        f"* Ours: noise reduction {_number(data['noise_reduction'])}, model "
        + (f"{model['name']} (SHA-256 {model['sha256']})" if model else "not run"),
        "",
        "Metrics against the reference (data range = its maximum; SSIM per slice; HFEN: per-slice "
        "LoG, σ 1.5 px); *fg* = inside the reference's foreground. Oracle parameters maximise the "
        "PSNR inside the foreground; seconds = one run at that parameter (oracle search in the "
        "JSON). Whole-volume scores include the background, where magnitude (Rician) noise leaves "
        "a positive bias that only a method that zeroes the background removes: compare the fg "
        "columns for the object.",
        "",
    ]
    header = ["method", "parameter", "PSNR dB", "SSIM", "NMSE", "HFEN", "PSNR fg", "SSIM fg", "NMSE fg", "HFEN fg", "seconds"]
    rows = [
        [
            row.method,
            row.parameter,
            _number(row.scores["psnr_db"]),
            _number(row.scores["ssim"]),
            _number(row.scores["nmse"], 3),
            _number(row.scores["hfen"], 3),
            _number(row.foreground["psnr_db"]),
            _number(row.foreground["ssim"]),
            _number(row.foreground["nmse"], 3),
            _number(row.foreground["hfen"], 3),
            f"{row.seconds:.2f}",
        ]
        for row in result.rows
    ]
    lines += markdown_table(header, rows)
    if result.skipped:
        lines += ["", "Skipped: " + "; ".join(f"{m}: {why}" for m, why in result.skipped.items())]
    return "\n".join(lines) + "\n"


def _planes(volume: np.ndarray) -> list[np.ndarray]:
    """The axial, coronal and sagittal mid planes and the axial maximum-intensity projection."""
    middle = tuple(n // 2 for n in volume.shape)
    return [*orthogonal_planes(volume, middle), volume.max(axis=0)]  # type: ignore[arg-type]


def _write_plots(result: EvaluationResult, folder: Path) -> None:
    figure_type, canvas = plotting("evaluation plots")
    reference = np.asarray(result.reference.data, dtype=np.float32)
    outputs = dict(result.outputs)
    degraded = np.asarray(result.scenario.degraded.data, dtype=np.float32)
    if "zerofill" not in outputs:
        outputs = {"degraded": degraded, **outputs}
    names = {"zerofill": "zerofill (degraded)"}
    rows = [("reference", reference)] + [(names.get(m, m), image) for m, image in outputs.items()]
    z, y, x = (n // 2 for n in reference.shape)
    titles = (f"axial z={z}", f"coronal y={y}", f"sagittal x={x}", "axial MIP")
    displays = orthogonal_displays(result.reference.spacing)
    displays.append(displays[0])  # the MIP is an axial plane
    truth = _planes(reference)
    top = float(np.percentile(reference, IMAGE_PERCENTILE)) or 1.0
    limit = float(np.percentile(np.abs(degraded - reference), DIFFERENCE_PERCENTILE)) or 1.0
    shown = [PanelRow(_planes(image), [f"{name}: {t}" for t in titles], (0.0, top)) for name, image in rows]
    differences = [
        PanelRow(
            [np.abs(p - t) for p, t in zip(_planes(image), truth)],
            [f"|{name} - reference|: {t}" for t in titles],
            (0.0, limit),
        )
        for name, image in rows[1:]
    ]
    for name, panel in zip(PLOT_NAMES, (shown, differences)):
        write_plane_panel(
            folder / name,
            panel,
            displays,
            figure_type=figure_type,
            canvas=canvas,
            figure_size=(12.0, 2.6 * len(panel)),
            cmap="gray",
            title_size=8,
            dpi=PLOT_DPI,
        )


def _write_files(result: EvaluationResult, folder: Path) -> list[str]:
    (folder / JSON_NAME).write_text(json.dumps(result.to_dict(), indent=2, allow_nan=False) + "\n")
    _write_csv(result, folder / CSV_NAME)
    (folder / MARKDOWN_NAME).write_text(_markdown(result), encoding="utf-8")
    _write_plots(result, folder)
    return [JSON_NAME, CSV_NAME, MARKDOWN_NAME, *PLOT_NAMES]


def check_report_folder(out_dir: str | Path) -> Path:
    """``out_dir`` as a Path, refused when it is a file, a non-empty folder or has no parent folder."""
    out_dir = Path(out_dir)
    if not out_dir.parent.is_dir():
        raise MRDeepReconError("the folder for the evaluation report does not exist", out_dir.parent)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise MRDeepReconError("exists and is not an empty folder; choose a new one", out_dir)
    return out_dir


def write_evaluation_report(result: EvaluationResult, out_dir: str | Path) -> list[Path]:
    """Write ``results.json``, ``results.csv``, ``results.md`` and the PNG panels into ``out_dir``.

    Returns:
        The written paths, JSON first.

    Raises:
        MRDeepReconError: ``out_dir`` exists and is not an empty folder, its parent is missing,
            matplotlib is not installed or a write fails; nothing is left behind then.
    """
    out_dir = check_report_folder(out_dir)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        names = _write_files(result, staging)
        os.replace(staging, out_dir)  # also replaces an existing empty folder
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise MRDeepReconError(f"cannot write the evaluation report ({exc.strerror or exc})", out_dir) from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [out_dir / name for name in names]
