"""Raw k-space: a raw multi-coil file reconstructed in the background process (Reconstruct turns
into Cancel) into a new volume under a study named after the file, which becomes the input volume,
so that enhance, compare, export and QA take it as they take any volume
(``MRDeepReconLib.raw_input``)."""

import pathlib
from typing import Callable, Optional

import slicer
from slicer.i18n import tr as _

from .dependencies_dialog import ensure_dependencies
from .lib_loader import lib, moduleDir
from .followed_run import FollowedRun, pythonSlicerExecutable
from .parameter_node import RAW_METHODS, MRDeepReconParameterNode


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
        self._followed = FollowedRun(
            self.ui.rawProgressBar, self.ui.rawStatusLabel, log, lambda: slicer.mrmlScene, self._finishRun)
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
        return self._followed.running

    def relabelComboBox(self) -> None:
        """connectGui fills the method combo box with the method names; show what they are."""
        for index, method in enumerate(RAW_METHODS):
            self.ui.rawMethodComboBox.setItemText(index, self._methodLabels[method])

    # ------------------------------------------------------------------ Reconstruct / Cancel

    def onReconstructButton(self) -> None:
        if self._followed.running:
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
        self._followed.start(
            lib("raw_input").ReconstructionRun(job, method),
            _("Reconstructing {file} ({method}).").format(file=rawPath.name, method=self._methodLabels[method]))
        self._refreshPanel()

    def _finishRun(self, error: str, output=None) -> None:
        """The followed run ended (``error`` is already shown): the result becomes the input."""
        if not error and output is not None:
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
        if self._followed.cancel() and self._getParameterNode():
            self._refreshPanel()

    # ------------------------------------------------------------------ buttons state

    def updateButtons(self) -> None:
        """Reconstruct (once a file is chosen and no enhancement runs) or Cancel; the file and
        the method locked while a reconstruction runs."""
        running = self._followed.running
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
