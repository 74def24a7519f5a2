"""Lenient reading of DICOM numbers and multi-valued attributes.

Headers in the wild hold text where a number belongs (``"auto"`` in a DS), ``NaN``, or one value
where two are required; pydicom keeps such values as they are. Every reader of a numeric
attribute goes through these two functions, so a bad value is treated as missing (or reported by
the caller) rather than raising half-way.
"""

from __future__ import annotations

import math
from typing import Any

from pydicom.multival import MultiValue


def as_list(value: Any) -> list[Any]:
    """A multi-valued attribute as a list; a single value as a one-item list; ``None`` as ``[]``."""
    if value is None:
        return []
    if isinstance(value, (list, tuple, MultiValue)):
        return list(value)
    return [value]


def as_number(value: Any) -> float | None:
    """``value`` as a finite float, or ``None`` when it is missing, empty, text or not finite."""
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
