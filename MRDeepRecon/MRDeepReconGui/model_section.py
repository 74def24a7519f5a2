"""What runs the enhancement: the device (the CUDA GPU and its free memory, or the CPU) and the
network weights with their model cards."""

import logging
import pathlib
from typing import Callable, Optional

import qt
import slicer
from slicer.i18n import tr as _

from .dependencies_dialog import ensure_dependencies
from .lib_loader import lib
from .parameter_node import DEVICES, SR_LABELS, MRDeepReconParameterNode


class ModelSection:
    """The device combo box and its "Detect" button, the weights buttons and the model cards."""

    def __init__(self, ui, parameterNode: Callable[[], Optional[MRDeepReconParameterNode]], parent: qt.QWidget) -> None:
        self.ui = ui
        self._getParameterNode = parameterNode
        self._parent = parent  # of the file dialog
        self._deviceLabels: dict[str, str] = {}  # device choice -> what its combo box item says
        self._cardPath: Optional[str] = None  # the modelPath whose cards are shown

    # ------------------------------------------------------------------ device

    def onDetectDevice(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Could not query the GPU."), waitCursor=True):
            if ensure_dependencies():
                self.refreshDevices()

    def refreshDevices(self) -> None:
        """Show the GPU and its free memory in the device combo box."""
        try:
            gpu = lib("device").cuda_gpu()
        except Exception as error:
            logging.warning(f"MRDeepRecon: GPU query failed: {error}")
            gpu = None
        if gpu is None:
            self._deviceLabels = {"auto": _("auto (CPU: no CUDA GPU)"), "cuda": _("cuda (not available)"), "cpu": "cpu"}
            self.ui.deviceComboBox.toolTip = _("No CUDA GPU found: the enhancement runs on the CPU.")
        else:
            self._deviceLabels = {
                "auto": _("auto ({name})").format(name=gpu.name),
                "cuda": f"cuda: {gpu.name}, {gpu.free_gib:.1f} of {gpu.total_gib:.1f} GiB free",
                "cpu": "cpu",
            }
            self.ui.deviceComboBox.toolTip = f"{gpu.name}: {gpu.free_gib:.1f} GiB free of {gpu.total_gib:.1f} GiB"
        self.relabelComboBoxes()

    def relabelComboBoxes(self) -> None:
        """connectGui fills Choice combo boxes with str(value); show ×1.5 and the GPU instead."""
        for combo in (self.ui.srFrequencyComboBox, self.ui.srPhaseComboBox, self.ui.srSliceComboBox):
            for index, text in enumerate(SR_LABELS):
                combo.setItemText(index, text)
        for index, device in enumerate(DEVICES):
            self.ui.deviceComboBox.setItemText(index, self._deviceLabels.get(device, device))

    def chooseDevice(self, requested: str) -> tuple[str, str]:
        """The device to run on and, when it is not the one asked for, why (GPU missing or too full)."""
        device = lib("device")
        choice = device.choose_device(requested)
        if choice.fallback is device.DeviceFallback.NO_GPU:
            return choice.device, _("No CUDA GPU is available: running on the CPU.")
        if choice.fallback is device.DeviceFallback.GPU_TOO_FULL:
            return choice.device, _("The GPU {name} has only {free:.1f} GiB free (at least {need:.1f} GiB needed): running on the CPU.").format(
                name=choice.gpu.name, free=choice.gpu.free_gib, need=device.MIN_GPU_FREE_BYTES / device.GIB)
        return choice.device, ""

    # ------------------------------------------------------------------ weights

    def onImportWeights(self) -> None:
        path = qt.QFileDialog.getOpenFileName(
            self._parent, _("Import MRDeepRecon weights"), "", _("MRDeepRecon weights (*.safetensors)"))
        if not path:
            return
        with slicer.util.tryWithErrorDisplay(_("These weights cannot be used."), waitCursor=True):
            if not ensure_dependencies():
                return
            card = lib("model_card").verified_card(pathlib.Path(path))
            self._getParameterNode().modelPath = str(path)
            self._showCards([(pathlib.Path(path), card)])

    def onBundledWeights(self) -> None:
        self._getParameterNode().modelPath = ""

    def updateModelCard(self) -> None:
        """Show the model cards of the weights the parameter node names, when they changed."""
        path = self._getParameterNode().modelPath
        if path == self._cardPath:
            return
        self._cardPath = path
        self._showCards(lib("model_card").model_cards(path))

    def _showCards(self, cards) -> None:
        """Name, training data and held-out metrics of each (weights, model card), as HTML."""
        self.ui.modelCardLabel.text = lib("model_card").model_cards_html(cards, _("Training data"), _("Held-out"))
