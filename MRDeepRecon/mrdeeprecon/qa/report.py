"""Run every quality-assurance tool on an original/enhanced pair and write the report.

:func:`run_qa` measures; :func:`write_qa_report` writes ``qa.json`` (every number), ``qa.md``
(tables for a reader) and four PNG plots (``profiles.png``, ``noise_reduction.png``,
``change_map.png``, ``consistency.png``) into a folder, atomically: all files are made in a
temporary folder beside the target, which is then renamed (or, when the target folder exists,
its files are moved in one by one, each by an atomic rename), so a failure leaves nothing behind.

``qa.json`` keys: ``original`` and ``enhanced`` (grids), ``scan_context``,
``requested_noise_reduction``, ``roi_source`` (``"user"`` or ``"auto"``), ``rois``,
``noise_reduction`` (median measured factor over the ROIs, requested, relative error),
``sharpness`` (``axes``: per encoding direction; ``lines``: the user's lines), ``change``,
``consistency``, ``data_consistency`` (when the original is a reconstruction from raw k-space:
its :class:`~mrdeeprecon.raw.consistency.ConsistencyReport` as a dict, else null) and ``methods``
(one sentence per measurement saying what was computed).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..context import ScanContext
from ..errors import MRDeepReconError
from ..raw.consistency_sidecar import data_consistency_of
from ..reporting import (
    PanelRow,
    json_safe,
    markdown_table,
    orthogonal_displays,
    orthogonal_planes,
    plotting,
    save_figure,
    write_plane_panel,
)
from ..volume import Volume
from .change import ChangeResult, change_map
from .consistency import ConsistencyResult, kspace_consistency
from .foreground import foreground_mask
from .roi import ROI, NOISE_SD_METHOD, ROIComparison, compare_roi, find_homogeneous_roi
from .sharpness import AxisSharpness, LineComparison, LineSegment, axis_sharpness, compare_line

JSON_NAME = "qa.json"
MARKDOWN_NAME = "qa.md"
PLOT_NAMES = ("profiles.png", "noise_reduction.png", "change_map.png", "consistency.png")
#: Components listed in the Markdown report (all are in the JSON).
MARKDOWN_COMPONENTS = 10
#: Resolution of the PNG plots (dots per inch).
PLOT_DPI = 100

METHODS = {
    "noise": f"SD inside each ROI on each volume's own voxels, {NOISE_SD_METHOD}; "
    "measured noise reduction = SD_original / SD_enhanced.",
    "sharpness": "max slope of the line profile in the edge's rising direction divided by the "
    "edge height (plateau difference), 1/mm; ratio enhanced / original, median per encoding "
    "direction.",
    "change": "enhanced - original on the original grid; structured change = change smoothed by a "
    "Gaussian; components: connected foreground regions where the structured change exceeds "
    "max(k SDs of smoothed noise, 0.5 noise SD of the original); edge or blob by whether most of "
    "the component lies on strong edges of the original.",
    "consistency": "per slice, ||M (F(W enh) - F(W orig))|| / ||M F(W orig)|| over the "
    "low-frequency core M of the acquired band, W = object window; flagged above "
    "max(factor x noise-removal residual, median + k x 1.4826 x MAD over slices).",
    "data_consistency": "of the original's reconstruction from raw k-space (mrdeeprecon recon): "
    "RMS of A x - y at the sampled positions relative to the noise SD of one k-space sample, and "
    "the image energy added beyond CG-SENSE (with the part of it the samples do not see).",
}


@dataclass(frozen=True, eq=False)
class QAReport:
    """Everything :func:`run_qa` measured (see the module docstring for the JSON keys).

    Attributes:
        original: grid of the original (shape ``(z, y, x)``, spacing/origin ``(i, j, k)`` LPS mm).
        enhanced: grid of the enhanced volume.
        context: the original's scan context.
        requested_noise_reduction: the factor asked of the enhancement, if known.
        roi_source: ``"user"`` or ``"auto"`` (:func:`~mrdeeprecon.qa.roi.find_homogeneous_roi`).
        rois: noise statistics per ROI.
        sharpness: automatic relative edge sharpness per encoding direction.
        lines: the user's line profiles.
        change: the change map summary.
        consistency: the k-space consistency per slice.
        data_consistency: the original's data-consistency report when it is a reconstruction
            from raw k-space (:meth:`~mrdeeprecon.raw.consistency.ConsistencyReport.to_dict`).
    """

    original: dict[str, Any]
    enhanced: dict[str, Any]
    context: ScanContext
    requested_noise_reduction: float | None
    roi_source: str
    rois: tuple[ROIComparison, ...]
    sharpness: tuple[AxisSharpness, ...]
    lines: tuple[LineComparison, ...]
    change: ChangeResult = field(repr=False)
    consistency: ConsistencyResult = field(repr=False)
    data_consistency: dict[str, Any] | None = None

    def noise_reduction_summary(self) -> dict[str, Any]:
        """Median measured factor over the ROIs, the request and the relative error."""
        measured = float(np.median([r.measured_noise_reduction for r in self.rois]))
        requested = self.requested_noise_reduction
        return {
            "measured": measured,
            "requested": requested,
            "relative_error": None if requested is None else measured / requested - 1.0,
        }

    def to_dict(self) -> dict[str, Any]:
        return json_safe(
            {
                "original": self.original,
                "enhanced": self.enhanced,
                "scan_context": self.context.to_dict(),
                "requested_noise_reduction": self.requested_noise_reduction,
                "roi_source": self.roi_source,
                "rois": [r.to_dict() for r in self.rois],
                "noise_reduction": self.noise_reduction_summary(),
                "sharpness": {
                    "axes": [a.to_dict() for a in self.sharpness],
                    "lines": [line.to_dict() for line in self.lines],
                },
                "change": self.change.to_dict(),
                "consistency": self.consistency.to_dict(),
                "data_consistency": self.data_consistency,
                "methods": METHODS,
            }
        )


def _grid(volume: Volume) -> dict[str, Any]:
    return {
        "shape_zyx": list(volume.shape),
        "spacing_ijk_mm": list(volume.spacing),
        "origin_lps_mm": list(volume.origin),
        "direction": volume.direction.tolist(),
    }


def requested_factor(enhanced: Volume, requested: float | None) -> float | None:
    """``requested``, else ``enhanced.metadata["enhancement"]["noise_reduction"]``, else None."""
    if requested is not None:
        return float(requested)
    value = (enhanced.metadata.get("enhancement") or {}).get("noise_reduction")
    return None if value is None else float(value)


def run_qa(
    original: Volume,
    enhanced: Volume,
    context: ScanContext,
    rois: Sequence[ROI] | None = None,
    lines: Sequence[LineSegment] | None = None,
    requested_noise_reduction: float | None = None,
    data_consistency: dict[str, Any] | None = None,
) -> QAReport:
    """Measure noise in ROIs, relative edge sharpness, the change map and k-space consistency.

    Args:
        original: the volume before enhancement (its grid is the reference grid).
        enhanced: the enhanced volume, on its own (possibly refined) grid.
        context: the original's scan context (encoding directions, measured band).
        rois: ROIs for the noise statistics; ``None`` = one automatic homogeneous box.
        lines: segments for user line profiles (in addition to the automatic ones).
        requested_noise_reduction: the factor asked of the enhancement; ``None`` = the one in
            ``enhanced.metadata["enhancement"]``, if any.
        data_consistency: the original's data-consistency report (a raw reconstruction read
            from a file: its sidecar, :func:`~mrdeeprecon.raw.consistency_sidecar.data_consistency_of`);
            ``None`` = the one in ``original.metadata["raw_recon"]``, if any.
    """
    requested = requested_factor(enhanced, requested_noise_reduction)
    foreground = foreground_mask(original)
    source = "user" if rois else "auto"
    chosen = list(rois) if rois else [find_homogeneous_roi(original, foreground=foreground)]
    return QAReport(
        original=_grid(original),
        enhanced=_grid(enhanced),
        context=context,
        requested_noise_reduction=requested,
        roi_source=source,
        rois=tuple(compare_roi(roi, original, enhanced, requested) for roi in chosen),
        sharpness=axis_sharpness(original, enhanced, context, foreground=foreground),
        lines=tuple(compare_line(original, enhanced, line) for line in (lines or [])),
        change=change_map(original, enhanced, foreground=foreground),
        consistency=kspace_consistency(
            original, enhanced, context, requested, foreground=foreground
        ),
        data_consistency=data_consistency or data_consistency_of(original, None),
    )


def _number(value: float | None, digits: int = 3) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.{digits}g}"


def _spacing(grid: dict[str, Any]) -> str:
    return " × ".join(_number(s) for s in grid["spacing_ijk_mm"]) + " mm (i, j, k)"


def _header_section(report: QAReport) -> list[str]:
    c = report.context
    return [
        "# MRDeepRecon quality assurance",
        "",
        f"* Original: {report.original['shape_zyx']} voxels (z, y, x), {_spacing(report.original)}",
        f"* Enhanced: {report.enhanced['shape_zyx']} voxels (z, y, x), {_spacing(report.enhanced)}",
        f"* Acquisition {c.acquisition}, phase axis {c.phase_axis}, kmax {list(c.kmax)}, "
        f"partial Fourier {list(c.partial_fourier)}",
        f"* Requested noise reduction: {_number(report.requested_noise_reduction)}",
    ]


def _roi_section(report: QAReport) -> list[str]:
    header = [
        "ROI",
        "voxels orig / enh",
        "mean orig",
        "mean enh",
        "SD orig",
        "SD enh",
        "SNR orig",
        "SNR enh",
        "measured NR",
        "requested NR",
        "relative error",
    ]
    rows = [
        [
            f"{r.roi['name']} ({r.roi['type']})",
            f"{r.original.voxels} / {r.enhanced.voxels}",
            _number(r.original.mean, 4),
            _number(r.enhanced.mean, 4),
            _number(r.original.sd_detrended),
            _number(r.enhanced.sd_detrended),
            _number(r.original.snr),
            _number(r.enhanced.snr),
            _number(r.measured_noise_reduction),
            _number(r.requested_noise_reduction),
            _number(r.relative_error, 2),
        ]
        for r in report.rois
    ]
    intro = f"ROIs: {report.roi_source}. Noise SD: {NOISE_SD_METHOD}."
    return ["", "## Noise in ROIs", "", intro, "", *markdown_table(header, rows)]


def _sharpness_section(report: QAReport) -> list[str]:
    rows = [
        [a.axis, a.array_axis, a.profiles, _number(a.median_ratio), a.note]
        for a in report.sharpness
    ]
    lines = [
        "",
        "## Relative edge sharpness (enhanced / original)",
        "",
        METHODS["sharpness"],
        "",
        *markdown_table(["direction", "array axis", "profiles", "median ratio", "note"], rows),
    ]
    if report.lines:
        header = ["line", "length (mm)", "sharpness orig (1/mm)", "sharpness enh (1/mm)", "ratio"]
        rows = [
            [
                c.segment.name,
                _number(c.segment.length),
                _number(c.original.sharpness),
                _number(c.enhanced.sharpness),
                _number(c.ratio),
            ]
            for c in report.lines
        ]
        lines += ["", *markdown_table(header, rows)]
    return lines


def _change_section(report: QAReport) -> list[str]:
    ch = report.change
    header = [
        "mean",
        "SD",
        "p1",
        "p99",
        "σ_noise",
        f"share with abs(Δ) > {_number(ch.k_sigma)} σ",
        "structured energy",
        "share on edges",
    ]
    summary = [
        _number(v)
        for v in (
            ch.mean,
            ch.sd,
            ch.p1,
            ch.p99,
            ch.noise_sigma,
            ch.fraction_above,
            ch.structured_energy_fraction,
            ch.edge_energy_fraction,
        )
    ]
    groups = {kind: [c for c in ch.components if c.kind == kind] for kind in ("blob", "edge")}
    lines = [
        "",
        "## Change map (enhanced − original, original grid, foreground)",
        "",
        f"Resampling: {ch.resampling} (coverage {_number(ch.coverage)}).",
        "",
        *markdown_table(header, [summary]),
        "",
        f"Structured-change components (smoothing {_number(ch.smoothing_mm)} mm, threshold "
        f"{_number(ch.threshold)}): {len(groups['blob'])} blob(s), {len(groups['edge'])} along "
        f"edges (edges are {_number(ch.edge_fraction_of_foreground, 2)} of the foreground).",
    ]
    for title, group in (("Blobs", groups["blob"]), ("Along edges", groups["edge"])):
        if group:
            shown = group[:MARKDOWN_COMPONENTS]
            rows = [
                [
                    "+" if c.sign > 0 else "−",
                    _number(c.volume_mm3),
                    ", ".join(f"{v:.1f}" for v in c.centroid_lps),
                    _number(c.peak),
                    _number(c.mean_change),
                    _number(c.edge_fraction, 2),
                ]
                for c in shown
            ]
            header = [
                "sign",
                "volume (mm³)",
                "centroid LPS (mm)",
                "peak",
                "mean change",
                "on edges",
            ]
            lines += [
                "",
                f"{title} (largest {len(shown)} of {len(group)}):",
                "",
                *markdown_table(header, rows),
            ]
    return lines


def _consistency_section(report: QAReport) -> list[str]:
    co = report.consistency
    evaluated = [r for r in co.residuals if r is not None]
    header = [
        "slices evaluated",
        "core fraction",
        "core samples",
        "σ_k",
        "median residual",
        "max residual",
        "robust bound",
        "flagged slices",
    ]
    summary = [
        len(evaluated),
        _number(co.core_fraction),
        co.core_samples,
        _number(co.noise_sigma_k),
        _number(float(np.median(evaluated)) if evaluated else None),
        _number(max(evaluated) if evaluated else None),
        _number(co.robust_bound),
        ", ".join(map(str, co.flagged)) or "none",
    ]
    lines = [
        "",
        "## Low-frequency k-space consistency",
        "",
        METHODS["consistency"],
        "",
        *markdown_table(header, [summary]),
    ]
    if co.flagged:
        rows = [
            [
                z,
                _number(co.residuals[z], 4),
                _number(co.expected[z], 4),
                _number(co.thresholds[z], 4),
            ]
            for z in co.flagged
        ]
        lines += ["", *markdown_table(["slice", "residual", "noise-removal residual", "threshold"], rows)]
    return lines


def _data_consistency_section(report: QAReport) -> list[str]:
    dc = report.data_consistency
    if dc is None:
        return []
    added = dc.get("added_energy_fraction")
    unseen = dc.get("unmeasured_added_fraction")
    row = [
        dc.get("method", "–"),
        f"{_number(dc.get('noise_sd'))} ({dc.get('noise_source', 'unknown')})",
        _number(dc.get("residual_rms"), 4),
        _number(dc.get("residual_to_noise")),
        _number(dc.get("sampled_fraction")),
        "–" if added is None else f"{100 * added:.2f} %",
        "–" if unseen is None else f"{100 * unseen:.2f} %",
    ]
    header = ["method", "noise SD (source)", "residual RMS", "residual / noise SD", "sampled fraction",
              "energy added vs CG-SENSE", "unseen by the data"]
    return ["", "## Data consistency of the raw reconstruction", "", METHODS["data_consistency"], "",
            *markdown_table(header, [row])]


def _markdown(report: QAReport) -> str:
    sections = (
        _header_section,
        _roi_section,
        _sharpness_section,
        _change_section,
        _consistency_section,
        _data_consistency_section,
    )
    return "\n".join(line for section in sections for line in section(report)) + "\n"


def _plot_profiles(report: QAReport, path: Path, figure_type: Any, canvas: Any) -> None:
    shown = [
        (f"{a.axis}: median ratio {_number(a.median_ratio)} ({a.profiles})", a.comparisons[0])
        for a in report.sharpness
        if a.comparisons
    ]
    shown += [(f"{c.segment.name}: ratio {_number(c.ratio)}", c) for c in report.lines]
    figure = figure_type(figsize=(4.5 * max(1, len(shown)), 3.6))
    if not shown:
        figure.text(0.5, 0.5, "no edge profile", ha="center", va="center")
    for index, (title, comparison) in enumerate(shown, start=1):
        axes = figure.add_subplot(1, len(shown), index)
        axes.plot(
            comparison.original_profile.distance,
            comparison.original_profile.values,
            label="original",
        )
        axes.plot(
            comparison.enhanced_profile.distance,
            comparison.enhanced_profile.values,
            label="enhanced",
        )
        axes.set_title(title, fontsize=9)
        axes.set_xlabel("distance along the line (mm)")
        axes.set_ylabel("intensity")
        axes.legend(fontsize=8)
    figure.tight_layout()
    save_figure(figure, canvas, path, PLOT_DPI)


def _plot_noise(report: QAReport, path: Path, figure_type: Any, canvas: Any) -> None:
    figure = figure_type(figsize=(5.0, 3.6))
    axes = figure.add_subplot(1, 1, 1)
    names = [r.roi["name"] for r in report.rois]
    axes.bar(range(len(names)), [r.measured_noise_reduction for r in report.rois], label="measured")
    if report.requested_noise_reduction is not None:
        axes.axhline(report.requested_noise_reduction, color="k", linestyle="--", label="requested")
    axes.set_xticks(range(len(names)))
    axes.set_xticklabels(names)
    axes.set_ylabel("noise reduction SD_orig / SD_enh")
    axes.legend(fontsize=8)
    figure.tight_layout()
    save_figure(figure, canvas, path, PLOT_DPI)


def _focus(report: QAReport) -> tuple[int, int, int]:
    """``(z, y, x)`` index of the largest structured change: the first component's centroid, else
    the largest smoothed change."""
    change = report.change
    if change.components:
        index = np.round(change.components[0].centroid_index).astype(int)
    else:
        index = np.unravel_index(int(np.argmax(np.abs(change.structured))), change.structured.shape)
    return tuple(int(v) for v in index)  # type: ignore[return-value]


def _plot_change(report: QAReport, path: Path, figure_type: Any, canvas: Any) -> None:
    at = _focus(report)
    titles = [f"{axis} = {index}" for axis, index in zip("zyx", at)]
    rows = []
    for name, data in (("change", report.change.change), ("structured (smoothed)", report.change.structured)):
        limit = float(np.percentile(np.abs(data), 99.5)) or 1.0
        rows.append(PanelRow(orthogonal_planes(data, at), [f"{name}, {t}" for t in titles], (-limit, limit)))
    write_plane_panel(
        path,
        rows,
        orthogonal_displays(report.original["spacing_ijk_mm"]),
        figure_type=figure_type,
        canvas=canvas,
        figure_size=(12.0, 7.5),
        cmap="RdBu_r",
        title_size=9,
        dpi=PLOT_DPI,
        colorbar=True,
    )


def _plot_consistency(report: QAReport, path: Path, figure_type: Any, canvas: Any) -> None:
    co = report.consistency
    slices = [z for z, r in enumerate(co.residuals) if r is not None]
    figure = figure_type(figsize=(6.5, 3.8))
    axes = figure.add_subplot(1, 1, 1)
    axes.plot(slices, [co.residuals[z] for z in slices], "o", markersize=3, label="residual")
    axes.plot(slices, [co.thresholds[z] for z in slices], "-", color="k", label="threshold")
    if co.flagged:
        axes.plot(
            list(co.flagged),
            [co.residuals[z] for z in co.flagged],
            "o",
            color="red",
            label="flagged",
        )
    axes.set_xlabel("slice (array axis 0 of the original)")
    axes.set_ylabel("relative low-frequency residual")
    axes.legend(fontsize=8)
    figure.tight_layout()
    save_figure(figure, canvas, path, PLOT_DPI)


def _write_files(report: QAReport, folder: Path) -> list[str]:
    figure_type, canvas = plotting("QA plots")
    (folder / JSON_NAME).write_text(json.dumps(report.to_dict(), indent=2, allow_nan=False) + "\n")
    (folder / MARKDOWN_NAME).write_text(_markdown(report), encoding="utf-8")
    plots = (_plot_profiles, _plot_noise, _plot_change, _plot_consistency)
    for name, plot in zip(PLOT_NAMES, plots):
        plot(report, folder / name, figure_type, canvas)
    return [JSON_NAME, MARKDOWN_NAME, *PLOT_NAMES]


def write_qa_report(report: QAReport, out_dir: str | Path) -> list[Path]:
    """Write ``qa.json``, ``qa.md`` and the PNG plots into ``out_dir`` (created if needed).

    Returns:
        The written paths, JSON first.

    Raises:
        MRDeepReconError: when the parent folder is missing, ``out_dir`` is a file, matplotlib is
            not installed or a write fails; nothing is left behind then.
    """
    out_dir = Path(out_dir)
    if not out_dir.parent.is_dir():
        raise MRDeepReconError("the folder for the QA report does not exist", out_dir.parent)
    if out_dir.exists() and not out_dir.is_dir():
        raise MRDeepReconError("exists and is not a folder", out_dir)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        names = _write_files(report, staging)
        if out_dir.is_dir():
            for name in names:
                os.replace(staging / name, out_dir / name)
            staging.rmdir()
        else:
            os.replace(staging, out_dir)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise MRDeepReconError(
            f"cannot write the QA report ({exc.strerror or exc})", out_dir
        ) from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [out_dir / name for name in names]
