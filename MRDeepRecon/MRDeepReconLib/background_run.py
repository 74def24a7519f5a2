"""One background run as the panel follows it: its progress, its end, and its result stored.

:class:`BackgroundRun` holds a started :class:`~MRDeepReconLib.background.BackgroundProcess`.
:meth:`BackgroundRun.poll` (from the panel's timer) turns the process's status into a
:class:`RunUpdate`: new log lines, progress, and once the process ended either the stored result
node or why there is none (:class:`RunFailure`, for the panel to say in its own words). What
"stored" means is the subclass's :meth:`BackgroundRun._store`: an enhancement
(:class:`~MRDeepReconLib.enhancement_run.EnhancementRun`) or a raw k-space reconstruction
(:class:`~MRDeepReconLib.raw_input.ReconstructionRun`).
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from typing import Any, Optional


class RunFailure(enum.Enum):
    """Why a run ended without a result (:attr:`RunUpdate.detail` says more)."""

    POLL_FAILED = "the background process could not be polled"
    """Asking the job for its status raised; ``detail`` is the exception."""
    ENGINE_ERROR = "the engine reported an error"
    """The process ended with an error message (or was cancelled); ``detail`` is that message."""
    EXIT_CODE = "the process ended with a non-zero exit code"
    """The process ended with a non-zero exit code and no message; ``detail`` is the code."""
    STORE_FAILED = "the result could not be stored"
    """Loading the result or putting it into the scene raised; ``detail`` is the exception."""


@dataclass
class RunUpdate:
    """What changed since the previous poll.

    Attributes:
        running: the process has not ended.
        fraction: the last reported progress, in [0, 1].
        message: the message of the last progress line ("" if none).
        log_lines: output lines received since the previous poll.
        failure: why the run ended without a result; ``None`` while running and after success.
        detail: the failure's message, exception text or exit code.
        output_node: the result node once the run succeeded and was stored.
    """

    running: bool
    fraction: float = 0.0
    message: str = ""
    log_lines: list[str] = field(default_factory=list)
    failure: Optional[RunFailure] = None
    detail: str = ""
    output_node: Any = None


class BackgroundRun:
    """A started background job (``poll()``, ``finish(...)``, ``cancel()``) followed by the panel."""

    def __init__(self, job) -> None:
        self.job = job

    def poll(self, destination) -> RunUpdate:
        """The job's status without blocking; when it ended successfully, the result is stored
        with ``destination`` (what :meth:`_store` needs: the logic, or the scene)."""
        try:
            status = self.job.poll()
        except Exception as error:
            return RunUpdate(running=False, failure=RunFailure.POLL_FAILED, detail=str(error))
        update = RunUpdate(
            running=status.running,
            fraction=max(0.0, min(1.0, status.fraction or 0.0)),
            message=status.message,
            log_lines=list(status.log_lines or []),
        )
        if status.running:
            return update
        if status.error:
            update.failure, update.detail = RunFailure.ENGINE_ERROR, status.error
            return update
        if status.returncode:
            update.failure, update.detail = RunFailure.EXIT_CODE, str(status.returncode)
            return update
        try:
            update.output_node = self._store(destination)
        except Exception as error:
            logging.exception("MRDeepRecon: storing the result failed")
            update.failure, update.detail = RunFailure.STORE_FAILED, str(error)
        return update

    def _store(self, destination):
        """Put the finished job's result into the scene and return its node."""
        raise NotImplementedError

    def cancel(self) -> None:
        """End the process tree and remove its files; nothing enters the scene."""
        self.job.cancel()
