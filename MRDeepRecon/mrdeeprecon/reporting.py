"""What the reports share: matplotlib on first use, strict-JSON values, atomic JSON files,
Markdown tables and panels of image planes (the evaluation's ``planes.png`` and
``differences.png``, the QA's ``change_map.png``)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .errors import MRDeepReconError


def plotting(purpose: str) -> tuple[Any, Any]:
    """matplotlib's ``Figure`` class and Agg canvas, imported on first use.

    ``purpose`` names the plots in the error raised when matplotlib is missing (e.g. "QA plots").
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise MRDeepReconError(
            f"{purpose} need matplotlib; install it (pip install matplotlib, or the 'evaluation' extra)"
        ) from exc
    return Figure, FigureCanvasAgg


def json_safe(value: Any) -> Any:
    """``value`` for strict JSON: tuples and arrays as lists, numpy scalars as Python numbers,
    paths as strings and non-finite floats as ``None``."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, Path):
        return str(value)
    return value


def write_json_atomically(path: str | Path, content: dict[str, Any]) -> Path:
    """Write ``content`` as indented JSON: a temporary file beside ``path``, then renamed, so a
    reader never sees half a file."""
    path = Path(path)
    staged = path.with_name(f".{path.name}.tmp")
    staged.write_text(json.dumps(json_safe(content), indent=2))
    staged.replace(path)
    return path


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """The lines of a Markdown table: ``header``, the separator and one line per row."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]


@dataclass(frozen=True)
class PlaneDisplay:
    """How a 2D plane is drawn: ``aspect`` = height / width of one pixel (mm / mm); ``origin`` =
    where row 0 goes (matplotlib's ``"upper"`` or ``"lower"``)."""

    aspect: float
    origin: str


@dataclass(frozen=True)
class PanelRow:
    """One row of :func:`write_plane_panel`: 2D planes from left to right, the title of each,
    and the intensity window ``(low, high)`` they share (in the planes' units)."""

    planes: Sequence[np.ndarray]
    titles: Sequence[str]
    window: tuple[float, float]


def orthogonal_planes(volume: np.ndarray, at: tuple[int, int, int]) -> list[np.ndarray]:
    """The planes of a ``(z, y, x)`` volume through voxel ``at`` = ``(z, y, x)``: axial
    ``(y, x)``, coronal ``(z, x)`` and sagittal ``(z, y)``."""
    z, y, x = at
    return [volume[z], volume[:, y], volume[:, :, x]]


def orthogonal_displays(spacing_ijk_mm: Sequence[float]) -> list[PlaneDisplay]:
    """How to draw the :func:`orthogonal_planes` of a volume of voxel spacing ``(i, j, k)`` mm:
    true proportions, the axial plane with row 0 on top, the others with slice 0 at the bottom."""
    sx, sy, sz = spacing_ijk_mm
    return [PlaneDisplay(sy / sx, "upper"), PlaneDisplay(sz / sx, "lower"), PlaneDisplay(sz / sy, "lower")]


def save_figure(figure: Any, canvas: Any, path: Path, dpi: int) -> None:
    """Render ``figure`` on the Agg ``canvas`` class and write it to ``path`` (PNG) at ``dpi``."""
    canvas(figure)
    figure.savefig(path, dpi=dpi)


def write_plane_panel(
    path: Path,
    rows: Sequence[PanelRow],
    displays: Sequence[PlaneDisplay],
    *,
    figure_type: Any,
    canvas: Any,
    figure_size: tuple[float, float],
    cmap: str,
    title_size: float,
    dpi: int,
    colorbar: bool = False,
) -> None:
    """A PNG grid of image planes: one line of subplots per row, one column per display (the
    ``displays[c]`` of column ``c``), no ticks, nearest-neighbour pixels, each row in its own
    window of ``cmap``, with a colour bar per plane when ``colorbar``.

    ``figure_type`` and ``canvas`` come from :func:`plotting`; ``figure_size`` is in inches.
    """
    figure = figure_type(figsize=figure_size)
    columns = len(displays)
    for r, row in enumerate(rows):
        for c, (plane, title, display) in enumerate(zip(row.planes, row.titles, displays)):
            axes = figure.add_subplot(len(rows), columns, columns * r + c + 1)
            image = axes.imshow(
                plane,
                cmap=cmap,
                vmin=row.window[0],
                vmax=row.window[1],
                aspect=display.aspect,
                origin=display.origin,
                interpolation="nearest",
            )
            axes.set_title(title, fontsize=title_size)
            axes.set_xticks([])
            axes.set_yticks([])
            if colorbar:
                figure.colorbar(image, ax=axes, shrink=0.8)
    figure.tight_layout()
    save_figure(figure, canvas, path, dpi)
