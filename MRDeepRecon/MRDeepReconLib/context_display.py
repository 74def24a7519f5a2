"""The scan context as the panel shows it: one table row per acquisition parameter, with where it
was read (the DICOM attribute, ``default`` or ``override``).

The panel supplies the row labels (its translated words) by :class:`~mrdeeprecon.ScanContext`
field name (:data:`ROW_FIELDS`).
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

from mrdeeprecon import ScanContext

#: The fields a row can show, in table order; the labels the panel passes are keyed by them.
ROW_FIELDS = (
    "acquisition",
    "phase_axis",
    "kmax",
    "partial_fourier",
    "acceleration",
    "acquired_matrix",
    "displayed_matrix",
    "slice_thickness",
    "manufacturer",
)


def _factors(values: Sequence[float]) -> str:
    return " × ".join(f"{v:g}" for v in values)


def _matrix(values: Sequence[int]) -> str:
    return " × ".join(str(v) for v in values)


def context_rows(context: ScanContext) -> list[tuple[str, str]]:
    """(field, value as shown) of the context, in :data:`ROW_FIELDS` order. The first five rows
    are always there; the acquired and image matrices, the slice thickness / spacing (mm) and the
    manufacturer only when the context knows them. Phase encoding is shown as DICOM's
    InPlanePhaseEncodingDirection with the array axis: ``ROW (x)`` or ``COL (y)``."""
    rows = [
        ("acquisition", context.acquisition),
        ("phase_axis", "ROW (x)" if context.phase_axis == 2 else "COL (y)"),
        ("kmax", _factors(context.kmax)),
        ("partial_fourier", _factors(context.partial_fourier)),
        ("acceleration", f"{_factors(context.acceleration)} ({context.undersampling})"),
    ]
    if context.acquired_matrix:
        rows.append(("acquired_matrix", _matrix(context.acquired_matrix)))
    if context.displayed_matrix:
        rows.append(("displayed_matrix", _matrix(context.displayed_matrix)))
    if context.slice_thickness:
        rows.append(("slice_thickness", f"{context.slice_thickness:g} / {context.slice_spacing or 0:g} mm"))
    if context.manufacturer:
        rows.append(("manufacturer", context.manufacturer))
    return rows


def read_from_dicom(context: ScanContext, instance_uids: Optional[str]) -> bool:
    """Whether the context was read from DICOM tags: the node has DICOM instance UIDs
    (``instance_uids``, its ``DICOM.instanceUIDs`` attribute) and some field did not come from
    the defaults."""
    sources = context.sources or {}
    return bool(instance_uids) and not all(source == "default" for source in sources.values())


def context_table_html(context: ScanContext, labels: Mapping[str, str]) -> str:
    """The rows of :func:`context_rows` as an HTML table: label (``labels[field]``), value in
    bold, and the source of the field in small print."""
    sources = context.sources or {}
    cells = "".join(
        f"<tr><td>{labels[field]}</td><td><b>{value}</b></td><td><small>{sources.get(field, '')}</small></td></tr>"
        for field, value in context_rows(context)
    )
    return f"<table cellspacing='4'>{cells}</table>"
