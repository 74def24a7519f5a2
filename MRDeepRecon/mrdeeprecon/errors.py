"""One error type for every input problem the engine reports to a user."""

from __future__ import annotations

from pathlib import Path


class MRDeepReconError(Exception):
    """A problem with the user's input, settings or files.

    The message always names the file (when there is one) and the problem, so the CLI can
    print it as a single line and exit non-zero.
    """

    def __init__(self, problem: str, path: str | Path | None = None) -> None:
        self.problem = problem
        self.path = None if path is None else str(path)
        super().__init__(problem if path is None else f"{path}: {problem}")


def one_line(exc: BaseException, limit: int | None = 200, first_line: bool = False) -> str:
    """An exception's message on one line (whitespace runs, newlines included, become one
    space), at most ``limit`` characters: libraries spread their reasons over several lines.
    ``first_line``: only the message's first line (pydicom appends a traceback after it)."""
    text = str(exc).strip()
    if first_line:
        text = text.splitlines()[0] if text else ""
    text = " ".join(text.split()) or type(exc).__name__
    return text if limit is None else text[:limit]


class Cancelled(BaseException):
    """Raised inside long work when its :class:`~mrdeeprecon.progress.CancelToken` was set, or
    by the CLI on SIGTERM.

    A ``BaseException`` like ``KeyboardInterrupt``: code that turns a library's ``Exception`` into
    a one-line error must not swallow a cancel.
    """
