"""Building blocks of the written headers: a data set item from keywords, a code item, whether
a value is filled, the DA / TM / DT of a moment."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydicom.dataset import Dataset
from pydicom.sr.coding import Code


def item(**attributes: Any) -> Dataset:
    """A sequence item holding ``attributes`` (keyword → value)."""
    built = Dataset()
    built.update(attributes)
    return built


def code_item(code: Code) -> Dataset:
    """A Code Sequence Macro item (CodeValue, CodingSchemeDesignator, CodeMeaning) of ``code``
    (pydicom's :class:`~pydicom.sr.coding.Code` has no data set form)."""
    return item(
        CodeValue=code.value,
        CodingSchemeDesignator=code.scheme_designator,
        CodeMeaning=code.meaning,
    )


def filled(value: Any) -> bool:
    """Whether an attribute value is present and not empty."""
    return value is not None and value != "" and value != []


def date_time_values(now: datetime) -> tuple[str, str, str]:
    """(DA, TM, DT with UTC offset) of ``now``."""
    return now.strftime("%Y%m%d"), now.strftime("%H%M%S.%f"), now.strftime("%Y%m%d%H%M%S.%f%z")
