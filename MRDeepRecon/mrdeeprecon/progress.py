"""Progress reporting and cooperative cancellation for long work (inference, training, I/O)."""

from __future__ import annotations

import threading
from typing import Callable, Optional

from .errors import Cancelled

#: ``progress(fraction, message)`` with ``fraction`` in [0, 1].
ProgressCallback = Callable[[float, str], None]


class CancelToken:
    """Thread-safe flag a caller sets to ask running work to stop at its next check."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled by the user")


def report(progress: Optional[ProgressCallback], fraction: float, message: str = "") -> None:
    """Call ``progress`` if given, clamping ``fraction`` to [0, 1]."""
    if progress is not None:
        progress(min(1.0, max(0.0, float(fraction))), message)


def check(cancel: Optional[CancelToken]) -> None:
    """Raise :class:`Cancelled` if ``cancel`` is set."""
    if cancel is not None:
        cancel.raise_if_cancelled()


def part(progress: Optional[ProgressCallback], start: float, width: float) -> Optional[ProgressCallback]:
    """The progress of one stage of longer work: the stage's ``fraction`` in [0, 1] reported as
    ``start + width × fraction`` of the whole (``None`` when ``progress`` is)."""
    if progress is None:
        return None
    return lambda fraction, message: report(progress, start + width * fraction, message)
