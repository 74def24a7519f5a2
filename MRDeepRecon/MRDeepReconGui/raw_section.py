"""Raw k-space: a raw multi-coil file reconstructed in the background process (Reconstruct turns
into Cancel) into a new volume under a study named after the file, which becomes the input volume,
so that enhance, compare, export and QA take it as they take any volume
(``MRDeepReconLib.raw_input``)."""

import pathlib
from typing import Callable, Optional

import qt
import slicer
from slicer.i18n import tr as _

from .dependencies_dialog import ensure_dependencies
from .lib_loader import lib, moduleDir
from .parameter_node import RAW_METHODS, MRDeepReconParameterNode
from .run_section import POLL_INTERVAL_MS, pythonSlicerExecutable, runError


class RawSection:
    """The raw file, the method, the Reconstruct button (Cancel while it runs), its progress and
    the reconstruction's data-consistency summary."""

    def __init__(
        self,
        ui,
        parameterNode: Callable[[], Optional[MRDeepReconParameterNode]],
        log: Callable[[str], None],
        enhancing: Callable[[], bool],
        refreshPanel: Callable[[], None],
    ) -> None:
        """``log`` appends a line to the panel's log; ``enhancing`` says whether an enhancement
        is running (Reconstruct waits for it); ``refreshPanel`` updates the panel from the
        parameter node when a run starts or ends."""
        self.ui = ui
        self._getParameterNode = parameterNode
        self._log = log
        self._enhancing = enhancing
        self._refreshPanel = refreshPanel
        self._run = None  # MRDeepReconLib.raw_input.ReconstructionRun while a run is in progress
        self._timer = qt.QTimer()
        self._timer.setInterval(POLL_INTERVAL_MS)
        self._timer.timeout.connect(self._pollJob)
        self.ui.rawProgressBar.hide()
        self._reconstructToolTip = self.ui.reconstructButton.toolTip  # the .ui's, shown once a file is chosen
        self._methodLabels = {
            "zerofill": _("zero-filled RSS"),
            "sense": _("CG-SENSE"),
            "l1wavelet": _("L1-wavelet (compressed sensing)"),
            "unrolled": _("unrolled SENSE network"),
        }

    @property
    def running(self) -> bool:
        """Whether a reconstruction is in progress."""
        return self._run is not None

    def relabelComboBox(self) -> None:
        """connectGui fills the method combo box with the method names; show what they are."""
        for index, method in enumerate(RAW_METHODS):
            self.ui.rawMethodComboBox.setItemText(index, self._methodLabels[method])

    # ------------------------------------------------------------------ Reconstruct / Cancel

    def onReconstructButton(self) -> None:
        if self._run is not None:
            self.cancelJob()
            return
        with slicer.util.tryWithErrorDisplay(_("The reconstruction could not start."), waitCursor=True):
            if not ensure_dependencies(lib("dependencies").RAW_REQUIREMENTS):
                return
            self.startJob()

    def startJob(self) -> None:
        """Start reconstructing the parameter node's raw file with its method (the packages
        must be there: :meth:`onReconstructButton` checks them)."""
        node = self._getParameterNode()
        rawPath, method = pathlib.Path(node.rawFile), node.rawMethod
        job = lib("raw_input").BackgroundReconstruction()
        job.start(rawPath, method, pythonSlicerExecutable(), moduleDir())
        self._run = lib("raw_input").ReconstructionRun(job, method)
        self._log(_("Reconstructing {file} ({method}).").format(file=rawPath.name, method=self._methodLabels[method]))
        self.ui.rawProgressBar.value = 0
        self.ui.rawProgressBar.show()
        self.ui.rawStatusLabel.text = _("Starting…")
        self._timer.start()
        self._refreshPanel()

    def _pollJob(self) -> None:
        if self._run is None:
            self._timer.stop()
            return
        update = self._run.poll(slicer.mrmlScene)
        for line in update.log_lines:
            self._log(line)
        self.ui.rawProgressBar.value = int(round(1000 * update.fraction))
        if update.message:
            self.ui.rawStatusLabel.text = update.message
        if not update.running:
            self._finishRun(runError(update), update.output_node)

    def _finishRun(self, error: str, output=None) -> None:
        self._timer.stop()
        self._run = None
        self.ui.rawProgressBar.hide()
        if error:
            self.ui.rawStatusLabel.text = error
            self._log(error)
            slicer.util.errorDisplay(error, windowTitle="MRDeepRecon")
        elif output is not None:
            rawInput = lib("raw_input")
            summary = output.GetAttribute(rawInput.ATTRIBUTE_DATA_CONSISTENCY) or ""
            self.ui.rawStatusLabel.text = _("Done: {name}. {summary}").format(name=output.GetName(), summary=summary)
            self._log(summary)
            for warning in rawInput.reconstruction_record(output).get("warnings", []):
                self._log(_("Warning: {warning}").format(warning=warning))
            node = self._getParameterNode()
            node.inputVolume = output
            node.outputVolume = None
            slicer.util.setSliceViewerLayers(background=output, fit=True)
        self._refreshPanel()

    def cancelJob(self) -> None:
        """Stop a running reconstruction: the process tree is killed, nothing enters the scene."""
        if self._run is None:
            return
        run = self._run
        self._timer.stop()
        try:
            run.cancel()
        finally:
            self._run = None
            self.ui.rawProgressBar.hide()
            self.ui.rawStatusLabel.text = _("Cancelled: the scene is unchanged.")
            self._log(self.ui.rawStatusLabel.text)
            if self._getParameterNode():
                self._refreshPanel()

    # ------------------------------------------------------------------ buttons state

    def updateButtons(self) -> None:
        """Reconstruct (once a file is chosen and no enhancement runs) or Cancel; the file and
        the method locked while a reconstruction runs."""
        running = self._run is not None
        if running:
            self.ui.reconstructButton.text = _("Cancel")
            self.ui.reconstructButton.toolTip = _("Stop the reconstruction; the scene stays as it was.")
            self.ui.reconstructButton.enabled = True
        else:
            haveFile = pathlib.Path(self._getParameterNode().rawFile) != pathlib.Path()
            enhancing = self._enhancing()
            self.ui.reconstructButton.text = _("Reconstruct")
            self.ui.reconstructButton.enabled = haveFile and not enhancing
            self.ui.reconstructButton.toolTip = (
                _("An enhancement is running.") if enhancing
                else self._reconstructToolTip if haveFile
                else _("Choose a raw k-space file.")
            )
        self.ui.rawFilePathLineEdit.enabled = not running
        self.ui.rawMethodComboBox.enabled = not running
