"""What the reports share: matplotlib on first use, strict-JSON values, atomic JSON files."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

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
