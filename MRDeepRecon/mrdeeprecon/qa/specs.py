"""ROIs and line segments written as text (the ``mrdeeprecon qa --roi/--line`` syntax).

Indices are continuous voxel indices ``(i, j, k)`` = (column, row, slice) of the ORIGINAL volume,
0-based; RAS coordinates are Slicer's (mm, ``R = −L``, ``A = −P``, ``S = S``), so a point read off
Slicer's data probe can be pasted as it is.

ROI: ``box:I0,J0,K0:I1,J1,K1`` (voxels ``start ≤ index < stop``), ``sphere:I,J,K:RADIUS_MM``,
``sphere-ras:R,A,S:RADIUS_MM`` or ``mask:FILE`` (a NIfTI/NRRD label image on the original's
grid; every non-zero voxel is inside).
Line: ``I0,J0,K0:I1,J1,K1`` or ``ras:R0,A0,S0:R1,A1,S1``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import MRDeepReconError
from ..volume import Volume
from .roi import ROI, BoxROI, MaskROI, SphereROI
from .sharpness import LineSegment

RAS_TO_LPS = np.array([-1.0, -1.0, 1.0])


def _numbers(text: str, count: int, what: str, spec: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != count or not all(np.isfinite(values)):
        raise MRDeepReconError(f"{what} needs {count} comma-separated numbers in {spec!r}")
    return values


def _parts(spec: str, count: int, syntax: str) -> list[str]:
    parts = spec.split(":")
    if len(parts) != count:
        raise MRDeepReconError(f"cannot read {spec!r}; expected {syntax}")
    return parts


def parse_roi(spec: str, original: Volume, index: int = 1) -> ROI:
    """The ROI a ``--roi`` text describes on ``original``; ``index`` numbers its default name."""
    kind = spec.split(":", 1)[0]
    name = f"roi{index}"
    if kind == "box":
        _, start, stop = _parts(spec, 3, "box:I0,J0,K0:I1,J1,K1")
        begin = tuple(int(round(v)) for v in _numbers(start, 3, "a box start", spec))
        end = tuple(int(round(v)) for v in _numbers(stop, 3, "a box stop", spec))
        return BoxROI.from_indices(original, begin, end, name=name)  # type: ignore[arg-type]
    if kind in ("sphere", "sphere-ras"):
        _, centre, radius = _parts(spec, 3, f"{kind}:A,B,C:RADIUS_MM")
        point = _numbers(centre, 3, "a sphere centre", spec)
        (r,) = _numbers(radius, 1, "a sphere radius", spec)
        if kind == "sphere":
            return SphereROI.from_indices(original, point, r, name=name)
        return SphereROI(tuple(np.asarray(point) * RAS_TO_LPS), r, name=name)
    if kind == "mask":
        from ..io import load_volume

        path = Path(spec.split(":", 1)[1]) if ":" in spec else Path("")
        labels = load_volume(path)
        if labels.shape != original.shape:
            raise MRDeepReconError(
                f"ROI mask shape {labels.shape} differs from the original's {original.shape}", path
            )
        return MaskROI.on(original, labels.data != 0, name=path.name)
    raise MRDeepReconError(
        f"unknown ROI {spec!r}; use box:I0,J0,K0:I1,J1,K1, sphere:I,J,K:R_MM, "
        "sphere-ras:R,A,S:R_MM or mask:FILE"
    )


def parse_line(spec: str, original: Volume, index: int = 1) -> LineSegment:
    """The segment a ``--line`` text describes on ``original``."""
    ras = spec.startswith("ras:")
    body = spec[4:] if ras else spec
    start_text, end_text = _parts(body, 2, "I0,J0,K0:I1,J1,K1 or ras:R0,A0,S0:R1,A1,S1")
    start = _numbers(start_text, 3, "a line start", spec)
    end = _numbers(end_text, 3, "a line end", spec)
    name = f"line{index}"
    if ras:
        return LineSegment(
            tuple(np.asarray(start) * RAS_TO_LPS), tuple(np.asarray(end) * RAS_TO_LPS), name
        )
    return LineSegment.from_indices(original, start, end, name=name)
