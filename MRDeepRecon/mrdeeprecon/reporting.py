"""What the QA and evaluation reports share: matplotlib on first use, and strict-JSON values."""

from __future__ import annotations

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
