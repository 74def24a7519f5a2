"""A background run as a section of the panel follows it (and the ``PythonSlicer`` that runs it): a timer polls it every 250 ms, its
progress bar, status label and log show what it says, and Cancel ends it. The enhancement (Apply)
and the raw k-space reconstruction (Reconstruct) each follow theirs with one of these."""

import sys
from typing import Callable

import qt
import slicer
from slicer.i18n import tr as _

from .lib_loader import lib

#: How often the panel reads a background process's progress, in milliseconds.
POLL_INTERVAL_MS = 250


def pythonSlicerExecutable() -> str:
    """The ``PythonSlicer`` launcher that runs the engine's command line in the background."""
    pythonSlicer = lib("background").python_slicer_executable(sys.executable)
    if pythonSlicer is None:
        raise RuntimeError(_("The PythonSlicer executable was not found next to {path}.").format(path=sys.executable))
    return pythonSlicer


def runError(update) -> str:
    """Why a background run (``MRDeepReconLib.background_run.RunUpdate``) ended without a result,
    in the panel's words; "" when it succeeded."""
    failures = lib("background_run").RunFailure
    return {
        None: "",
        failures.POLL_FAILED: _("The background process failed: {error}"),
        failures.ENGINE_ERROR: "{error}",
        failures.EXIT_CODE: _("The background process ended with code {code}."),
        failures.STORE_FAILED: _("The result could not be stored: {error}"),
    }[update.failure].format(error=update.detail, code=update.detail)


class FollowedRun:
    """One section's background run (``MRDeepReconLib.background_run.BackgroundRun``), at most one
    at a time."""

    def __init__(
        self,
        progressBar,
        statusLabel,
        log: Callable[[str], None],
        destination: Callable[[], object],
        onEnd: Callable[[str, object], None],
    ) -> None:
        """``destination`` gives what the run stores its result with (the logic, or the scene);
        ``onEnd(error, output)`` is called once the run ended by itself: ``error`` "" and the
        result node, or why there is none (already shown in the status label, the log and a
        dialog)."""
        self._progressBar = progressBar
        self._statusLabel = statusLabel
        self._log = log
        self._destination = destination
        self._onEnd = onEnd
        self.run = None  # the BackgroundRun in progress
        self._timer = qt.QTimer()
        self._timer.setInterval(POLL_INTERVAL_MS)
        self._timer.timeout.connect(self._poll)
        self._progressBar.hide()

    @property
    def running(self) -> bool:
        return self.run is not None

    def start(self, run, message: str) -> None:
        """Follow the started ``run``; ``message`` goes to the log."""
        self.run = run
        self._log(message)
        self._progressBar.value = 0
        self._progressBar.show()
        self._statusLabel.text = _("Starting…")
        self._timer.start()

    def _poll(self) -> None:
        if self.run is None:
            self._timer.stop()
            return
        update = self.run.poll(self._destination())
        for line in update.log_lines:
            self._log(line)
        self._progressBar.value = int(round(1000 * update.fraction))
        if update.message:
            self._statusLabel.text = update.message
        if update.running:
            return
        self._stop()
        error = runError(update)
        if error:
            self._statusLabel.text = error
            self._log(error)
            slicer.util.errorDisplay(error, windowTitle="MRDeepRecon")
        self._onEnd(error, update.output_node)

    def _stop(self) -> None:
        self._timer.stop()
        self.run = None
        self._progressBar.hide()

    def cancel(self) -> bool:
        """End the run's process tree (nothing enters the scene); False when none was running."""
        if self.run is None:
            return False
        run = self.run
        self._timer.stop()
        try:
            run.cancel()
        finally:
            self.run = None
            self._progressBar.hide()
            self._statusLabel.text = _("Cancelled: the scene is unchanged.")
            self._log(self._statusLabel.text)
        return True
