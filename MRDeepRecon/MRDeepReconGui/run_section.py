"""Apply / Cancel: the background enhancement it starts (followed by a
:class:`~.followed_run.FollowedRun`: progress, status and log), and which parts of the panel can be
used while it runs."""

from pathlib import Path
from typing import Callable, Optional

import slicer
from slicer.i18n import tr as _

from .dependencies_dialog import ensure_dependencies
from .followed_run import FollowedRun, pythonSlicerExecutable
from .lib_loader import lib, moduleDir
from .model_section import ModelSection
from .parameter_node import MRDeepReconParameterNode, hasResult, processParameters
from .scan_context_section import ScanContextSection


def adaptationCache() -> Path:
    """Where the scan-specific fine-tunes are kept between runs: in Slicer's temporary folder."""
    return Path(slicer.app.temporaryPath) / lib("background").ADAPTATION_CACHE_NAME


class RunSection:
    """The Apply button (Cancel while a run is in progress), the progress bar, status and log."""

    def __init__(
        self,
        ui,
        parameterNode: Callable[[], Optional[MRDeepReconParameterNode]],
        scanContext: ScanContextSection,
        devices: ModelSection,
        refreshPanel: Callable[[], None],
        reconstructing: Callable[[], bool] = lambda: False,
    ) -> None:
        """``scanContext`` gives the input's scan context, refusal and DICOM files; ``devices``
        picks the device; ``refreshPanel`` updates the panel from the parameter node when a run
        ends; ``reconstructing`` says whether a raw k-space reconstruction is running (Apply
        waits for it: the two would share the CPU or GPU)."""
        self.ui = ui
        self._getParameterNode = parameterNode
        self._scanContext = scanContext
        self._devices = devices
        self._refreshPanel = refreshPanel
        self._reconstructing = reconstructing
        self.logic = None  # MRDeepReconLib.logic.MRDeepReconLogic, created after the dependencies
        self._followed = FollowedRun(self.ui.progressBar, self.ui.statusLabel, self.log, self.getLogic, self._finishRun)
        #: The .ui's tool tips of the buttons that need a result, shown once there is one.
        self._resultToolTips = {
            b.objectName: b.toolTip for b in (self.ui.comparisonLayoutButton, self.ui.exportButton, self.ui.qaButton)}

    @property
    def running(self) -> bool:
        """Whether an enhancement is in progress."""
        return self._followed.running

    def getLogic(self):
        if self.logic is None:
            self.logic = lib("logic").MRDeepReconLogic(slicer.mrmlScene)
        return self.logic

    def log(self, line: str) -> None:
        """Append a line to the panel's log."""
        self.ui.logTextEdit.appendPlainText(line.rstrip("\n"))
        self.ui.logTextEdit.ensureCursorVisible()

    # ------------------------------------------------------------------ Apply / Cancel

    def onApplyButton(self) -> None:
        if self._followed.running:
            self.cancelJob()
            return
        with slicer.util.tryWithErrorDisplay(_("The enhancement could not start."), waitCursor=True):
            if not ensure_dependencies():
                return
            self._devices.refreshDevices()
            self.startJob()

    def startJob(self) -> None:
        node = self._getParameterNode()
        inputNode = node.inputVolume
        parameters = processParameters(node)  # checked: raises a message naming the bad value
        device, note = self._devices.chooseDevice(parameters.device)
        parameters.device = device
        context = self._scanContext.input.context
        if context is None:
            context = lib("dicom_source").scan_context_for_node(inputNode, file_for_instance=self._scanContext.fileForInstance())
        job = lib("background").BackgroundEnhancement()
        self.ui.logTextEdit.clear()
        if note:
            self.log(note)
            slicer.util.warningDisplay(note, windowTitle="MRDeepRecon")
        job.start(inputNode, parameters, context, pythonSlicerExecutable(), moduleDir(), adaptationCache())
        self._followed.start(
            lib("enhancement_run").EnhancementRun(job, inputNode, node.outputVolume),
            _("Enhancing {name}: noise reduction {nr:g}, super-resolution {sr}, device {device}.").format(
                name=inputNode.GetName(), nr=parameters.noise_reduction,
                sr=" × ".join(f"{f:g}" for f in parameters.super_resolution), device=device))
        self._refreshPanel()

    def _finishRun(self, error: str, output=None) -> None:
        """The followed run ended (``error`` is already shown): the result, then the panel."""
        if not error and output is not None:
            summary = lib("logic").noise_reduction_summary(output)
            self.ui.statusLabel.text = _("Done: {name}. {summary}").format(name=output.GetName(), summary=summary)
            self.log(summary)
            self._getParameterNode().outputVolume = output
            slicer.util.setSliceViewerLayers(background=output, fit=True)
        self._refreshPanel()

    def cancelJob(self) -> None:
        """Stop a running enhancement: the process tree is killed, nothing enters the scene."""
        if self._followed.cancel() and self._getParameterNode():
            self._refreshPanel()

    # ------------------------------------------------------------------ buttons state

    def updateButtons(self) -> None:
        """Apply or Cancel; the settings sections locked while a run is in progress; the buttons
        that need a result (comparison, export, QA) enabled once there is one."""
        node = self._getParameterNode()
        running = self._followed.running
        inputNode, outputNode = node.inputVolume, node.outputVolume
        refusal = self._scanContext.input.refusal
        if running:
            self.ui.applyButton.text = _("Cancel")
            self.ui.applyButton.toolTip = _("Stop the enhancement; the scene stays as it was.")
            self.ui.applyButton.enabled = True
        else:
            self.ui.applyButton.text = _("Apply")
            canApply = lib("logic").is_usable_input(inputNode) and outputNode is not inputNode and not refusal
            reconstructing = self._reconstructing()
            self.ui.applyButton.enabled = canApply and not reconstructing
            self.ui.applyButton.toolTip = (
                _("A raw k-space reconstruction is running.") if reconstructing
                else _("Enhance the input in a background process.") if canApply
                else refusal or _("Select an input volume (and an output volume different from it).")
            )
        for section in (self.ui.inputsCollapsibleButton, self.ui.enhancementCollapsibleButton,
                        self.ui.acquisitionCollapsibleButton, self.ui.advancedCollapsibleButton):
            section.enabled = not running
        haveResult = hasResult(node)
        self.ui.comparisonLayoutButton.enabled = haveResult
        self.ui.exportButton.enabled = haveResult and not running
        self.ui.qaButton.enabled = haveResult and not running
        for button in (self.ui.comparisonLayoutButton, self.ui.exportButton, self.ui.qaButton):
            button.toolTip = self._resultToolTips[button.objectName] if haveResult else _(
                "Run the enhancement first (the output volume must be an MRDeepRecon result of the input).")
