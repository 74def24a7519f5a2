"""MRDeepRecon: deep-learning MR enhancement in 3D Slicer (thin module; the work is in MRDeepReconLib).

The panel is ``Resources/UI/MRDeepRecon.ui``; every widget that holds a setting carries a
``SlicerParameterName`` dynamic property naming a field of :class:`MRDeepReconParameterNode`, and
``connectGui`` keeps the two in step. Nothing heavy is imported when Slicer loads the module: the
``MRDeepReconLib`` modules (and with them the engine ``mrdeeprecon``) are imported by :func:`lib`
inside the methods that need them, PyTorch only after :meth:`MRDeepReconWidget.ensure_dependencies`.
The panel's words stay here (translated with ``_``); what they say is computed in MRDeepReconLib.
"""

import importlib
import importlib.util
import logging
import os
import pathlib
import sys
from typing import Annotated, Optional

import qt
import slicer
import vtk
from slicer import vtkMRMLScalarVolumeNode
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

#: Super-resolution factors offered per encoding direction, and how the combo boxes show them.
SR_FACTORS = [1.0, 1.5, 2.0]
SR_LABELS = ["×1", "×1.5", "×2"]
#: The device and model-kind choices the panel offers: mrdeeprecon.settings.DEVICES without MPS
#: (chooseDevice knows CUDA and the CPU), and settings.MODEL_KINDS. The engine cannot be imported when
#: Slicer loads the module, so Testing/test_settings_declarations.py checks them against it.
DEVICES = ["auto", "cuda", "cpu"]
MODEL_KINDS = ["auto", "2d", "3d"]
#: The panel's noise-reduction slider ends here; the engine and the command line accept factors up
#: to mrdeeprecon.settings.NOISE_REDUCTION_RANGE[1] (10). Checked with the .ui by the same test.
PANEL_NOISE_REDUCTION_MAX = 5.0
#: DICOM InPlanePhaseEncodingDirection -> ScanContext.phase_axis: mrdeeprecon.sampling.PHASE_AXIS_OF_DICOM
#: (checked by the same test).
PHASE_AXES = {"COL": 1, "ROW": 2}

#: MRDeepReconLib modules in dependency order, for "Reload" (developer mode); others follow them.
LIB_MODULES = [
    "dependencies", "device", "export_policy", "parameters", "panel_settings", "node_volume", "dicom_source",
    "image_sets", "input_reading", "context_display", "model_card", "comparison", "logic", "background",
    "enhancement_run", "comparison_session", "export",
]


#
# MRDeepRecon
#


class MRDeepRecon(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("MR Deep Recon")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Filtering")]
        self.parent.dependencies = []
        self.parent.contributors = ["MRDeepRecon developers"]
        self.parent.helpText = _(
            "Vendor-neutral deep-learning enhancement of MR images: tunable noise reduction (the output's"
            " noise SD is the input's divided by the factor) and super-resolution along frequency, phase"
            " and slice, guided by the k-space sampling read from the DICOM tags of the source series."
            " The enhancement runs in a background process (Apply turns into Cancel); the result is a new"
            " volume next to the input, which can be compared side by side (thick-slab and 3D MIP,"
            " difference), checked (quality assurance report) and exported as a derived DICOM series."
            "<br><br>Research software: no image it produces is for diagnosis."
        )
        self.parent.acknowledgementText = _(
            "The network follows Jeong et al., <i>All-in-One Deep Learning Framework for MR Image"
            " Reconstruction</i>. The module layout follows the 3D Slicer scripted module template"
            " (Jean-Christophe Fillion-Robin, Kitware Inc., and Steve Pieper, Isomics, Inc.)."
        )
        iconPath = os.path.join(os.path.dirname(__file__), "Resources", "Icons", "MRDeepRecon.png")
        if os.path.isfile(iconPath):
            self.parent.icon = qt.QIcon(iconPath)

    def runTest(self, msec=100, **kwargs) -> None:
        """Developer mode "Reload and Test": run ``Testing/Python/MRDeepReconSelfTest.py`` of a
        source checkout (the extension does not ship its tests; Slicer's ctest runs that file)."""
        path = os.path.join(moduleDir(), "Testing", "Python", "MRDeepReconSelfTest.py")
        spec = importlib.util.spec_from_file_location("MRDeepReconSelfTest", path)
        selfTest = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(selfTest)
        testCase = selfTest.MRDeepReconTest()
        testCase.messageDelay = msec
        testCase.runTest(**kwargs)


#
# MRDeepReconParameterNode
#


@parameterNodeWrapper
class MRDeepReconParameterNode:
    """The module's settings, saved with the scene. Each field is bound to the widget of the .ui
    whose ``SlicerParameterName`` property names it."""

    # Inputs
    inputVolume: vtkMRMLScalarVolumeNode
    outputVolume: vtkMRMLScalarVolumeNode  # None: a new "<input>_DLR" volume when Apply succeeds

    # Enhancement
    noiseReduction: Annotated[float, WithinRange(1.0, PANEL_NOISE_REDUCTION_MAX)] = 2.0
    srFrequency: Annotated[float, Choice(SR_FACTORS)] = 1.0
    srPhase: Annotated[float, Choice(SR_FACTORS)] = 1.0
    srSlice: Annotated[float, Choice(SR_FACTORS)] = 1.0
    artifactCorrection: bool = True
    device: Annotated[str, Choice(DEVICES)] = "auto"
    model: Annotated[str, Choice(MODEL_KINDS)] = "auto"
    modelPath: str = ""  # "" = bundled models

    # Acquisition (scan context) overrides
    overrideAcquisition: bool = False
    acqType: Annotated[str, Choice(["2D", "3D"])] = "2D"
    acqPhaseAxis: Annotated[str, Choice(list(PHASE_AXES))] = "COL"
    acqKmaxFrequency: Annotated[float, WithinRange(0.05, 1.0)] = 1.0
    acqKmaxPhase: Annotated[float, WithinRange(0.05, 1.0)] = 1.0
    acqKmaxSlice: Annotated[float, WithinRange(0.05, 1.0)] = 1.0
    acqPartialFourierPhase: Annotated[float, WithinRange(0.5, 1.0)] = 1.0
    acqPartialFourierSlice: Annotated[float, WithinRange(0.5, 1.0)] = 1.0

    # Comparison
    slabThicknessMm: Annotated[float, WithinRange(1.0, 100.0)] = 10.0
    slabMip: bool = False
    mip3d: bool = False
    difference: bool = False

    # Export DICOM
    exportFolder: pathlib.Path
    exportMultiframe: bool = False
    seriesDescription: str = ""

    # Quality assurance
    qaFolder: pathlib.Path


class MRDeepReconParameterLogic(ScriptedLoadableModuleLogic):
    """Only the module's parameter node; the enhancement itself is ``MRDeepReconLib.logic``."""

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        self.moduleName = "MRDeepRecon"

    def getParameterNode(self) -> MRDeepReconParameterNode:
        return MRDeepReconParameterNode(super().getParameterNode())


def lib(name: str):
    """``MRDeepReconLib.<name>``, imported on first use (it imports the engine)."""
    return importlib.import_module(f"MRDeepReconLib.{name}")


def moduleDir() -> str:
    """This module's folder: it holds ``MRDeepReconLib``, the engine ``mrdeeprecon`` and Resources."""
    return os.path.dirname(os.path.abspath(__file__))


#
# MRDeepReconWidget
#


class MRDeepReconWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    """The panel: binds the .ui to the parameter node and calls MRDeepReconLib."""

    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None  # MRDeepReconLib.logic.MRDeepReconLogic, created after the dependencies
        self._parameterLogic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._updating = False
        self._run = None  # MRDeepReconLib.enhancement_run.EnhancementRun while a run is in progress
        self._timer = None
        self._input = None  # MRDeepReconLib.input_reading.InputReading of the input volume
        self._lastInputId = None
        self._comparisonSession = None  # MRDeepReconLib.comparison_session.ComparisonSession
        self._cardPath = None
        self._deviceLabels = {}
        self._toolTips = {}

    # ------------------------------------------------------------------ set-up

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/MRDeepRecon.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)

        self._parameterLogic = MRDeepReconParameterLogic()
        self._comparisonSession = lib("comparison_session").ComparisonSession(self._newComparison)
        self._input = lib("input_reading").InputReading()
        self._timer = qt.QTimer()
        self._timer.setInterval(250)
        self._timer.timeout.connect(self._pollJob)
        self.ui.progressBar.hide()
        self._toolTips = {b.objectName: b.toolTip for b in (self.ui.comparisonLayoutButton, self.ui.exportButton, self.ui.qaButton)}

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)
        self.ui.detectDeviceButton.connect("clicked(bool)", self.onDetectDevice)
        self.ui.importWeightsButton.connect("clicked(bool)", self.onImportWeights)
        self.ui.bundledWeightsButton.connect("clicked(bool)", self.onBundledWeights)
        self.ui.resetAcquisitionButton.connect("clicked(bool)", self.onResetAcquisition)
        self.ui.comparisonLayoutButton.connect("clicked(bool)", self.onComparisonLayout)
        self.ui.exportButton.connect("clicked(bool)", self.onExport)
        self.ui.qaButton.connect("clicked(bool)", self.onQualityAssurance)
        self.ui.loadImageSetButton.connect("clicked(bool)", self.onLoadImageSet)

        if "torch" in sys.modules:  # already imported by something else: showing the GPU is free
            self.refreshDevices()
        self.initializeParameterNode()

    def cleanup(self) -> None:
        """Called when the application closes and the module widget is destroyed."""
        self.cancelJob()
        self.removeObservers()
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None

    def enter(self) -> None:
        self.initializeParameterNode()

    def exit(self) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._onParameterNodeModified)

    def onSceneStartClose(self, caller, event) -> None:
        self.cancelJob()
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        self._comparisonSession.forget()
        if self.parent.isEntered:
            self.initializeParameterNode()

    def onReload(self) -> None:
        """Developer mode "Reload": also reload the MRDeepReconLib modules already imported."""
        self.cancelJob()
        loaded = [name for name in sys.modules if name.startswith("MRDeepReconLib.")]
        order = [f"MRDeepReconLib.{name}" for name in LIB_MODULES]
        for name in sorted(loaded, key=lambda n: order.index(n) if n in order else len(order)):
            importlib.reload(sys.modules[name])
        if "MRDeepReconLib" in sys.modules:
            importlib.reload(sys.modules["MRDeepReconLib"])
        ScriptedLoadableModuleWidget.onReload(self)

    # ------------------------------------------------------------------ parameter node

    def initializeParameterNode(self) -> None:
        self.setParameterNode(self._parameterLogic.getParameterNode())
        node = self._parameterNode
        candidate = None if node.inputVolume else lib("logic").default_input(slicer.mrmlScene)
        if candidate is not None:
            node.inputVolume = candidate
        base = pathlib.Path(slicer.app.defaultScenePath)
        if node.exportFolder == pathlib.Path():
            node.exportFolder = base / "MRDeepRecon" / "dicom"
        if node.qaFolder == pathlib.Path():
            node.qaFolder = base / "MRDeepRecon" / "qa"

    def setParameterNode(self, inputParameterNode: Optional[MRDeepReconParameterNode]) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._onParameterNodeModified)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            # The .ui names each bound widget's parameter in its "SlicerParameterName" property.
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self._relabelComboBoxes()
            self._comparisonSession.forget_toggles()
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._onParameterNodeModified)
            self._onParameterNodeModified()

    def _relabelComboBoxes(self) -> None:
        """connectGui fills Choice combo boxes with str(value); show ×1.5 and the GPU instead."""
        for combo in (self.ui.srFrequencyComboBox, self.ui.srPhaseComboBox, self.ui.srSliceComboBox):
            for index, text in enumerate(SR_LABELS):
                combo.setItemText(index, text)
        for index, device in enumerate(DEVICES):
            self.ui.deviceComboBox.setItemText(index, self._deviceLabels.get(device, device))

    def _onParameterNodeModified(self, caller=None, event=None) -> None:
        if self._updating or not self._parameterNode:
            return
        self._updating = True
        try:
            self._forgetOtherResult()
            self._updateScanContext()
            self._updateAcquisitionGui()
            self._updateModelCard()
            self._updateButtons()
            self._updateComparison()
        finally:
            self._updating = False

    def _forgetOtherResult(self) -> None:
        """A new input does not overwrite the result of another one: the output goes back to
        "Create new volume on Apply" when it is the enhancement of a different volume."""
        node = self._parameterNode
        inputId = node.inputVolume.GetID() if node.inputVolume is not None else None
        changed, self._lastInputId = inputId != self._lastInputId, inputId
        if changed and lib("logic").computed_from_other(node.outputVolume, node.inputVolume):
            node.outputVolume = None

    # ------------------------------------------------------------------ scan context

    def _updateScanContext(self) -> None:
        """Read the input (once per input: ``MRDeepReconLib.input_reading``) and, unless the user
        overrides it, copy its scan context into the override fields."""
        node = self._parameterNode.inputVolume
        reading = lib("input_reading")
        if reading.input_key(node) == self._input.key:
            return
        self._input = reading.read_input(node, self._fileForInstance())
        self._showImageSets()
        if self._input.context is not None and not self._parameterNode.overrideAcquisition:
            self._copyContextToOverrides()

    def _showImageSets(self) -> None:
        imageSets, refusal = self._input.image_sets, self._input.refusal
        several = len(imageSets) > 1
        for widget in (self.ui.imageSetLabel, self.ui.imageSetComboBox, self.ui.loadImageSetButton):
            widget.visible = several
        self.ui.imageSetComboBox.clear()
        for imageSet, count in imageSets if several else ():
            self.ui.imageSetComboBox.addItem(_("{set}: {count} images").format(set=imageSet.describe(), count=count))
        self.ui.inputRefusalLabel.text = refusal or ""
        self.ui.inputRefusalLabel.visible = bool(refusal)

    def onLoadImageSet(self) -> None:
        """Read the chosen image set of the input into a new volume and make it the input."""
        index = self.ui.imageSetComboBox.currentIndex
        if not (0 <= index < len(self._input.image_sets)):
            return
        inputNode = self._parameterNode.inputVolume
        with slicer.util.tryWithErrorDisplay(_("The image set could not be loaded."), waitCursor=True):
            node = lib("image_sets").load_image_set(slicer.mrmlScene, inputNode, self._fileForInstance(), self._input.image_sets[index][0])
            self._parameterNode.inputVolume = node
            slicer.util.setSliceViewerLayers(background=node, fit=True)

    @staticmethod
    def _fileForInstance():
        database = getattr(slicer, "dicomDatabase", None)
        if database is None or not database.isOpen:
            return None
        return database.fileForInstance

    def _copyContextToOverrides(self) -> None:
        node = self._parameterNode
        with slicer.util.NodeModify(node):
            for name, value in lib("panel_settings").override_fields(self._input.context).items():
                setattr(node, name, value)

    def _updateAcquisitionGui(self) -> None:
        node = self._parameterNode
        self.ui.acquisitionOverridesWidget.enabled = node.overrideAcquisition
        self.ui.resetAcquisitionButton.enabled = node.overrideAcquisition and self._input.context is not None
        self.ui.acquisitionLabel.text = self._contextHtml()
        is3d = lib("panel_settings").effective_acquisition(node, self._input.context) == "3D"
        self.ui.srSliceComboBox.enabled = is3d
        self.ui.srSliceLabel.enabled = is3d
        self.ui.srSliceComboBox.toolTip = (
            _("Refine the output grid along the slice direction (uses the 3D model).") if is3d
            else _("Slice super-resolution needs a 3D acquisition (MRAcquisitionType 3D, or the Acquisition override).")
        )
        if not is3d and node.srSlice != 1.0:
            node.srSlice = 1.0

    def _contextHtml(self) -> str:
        node = self._parameterNode.inputVolume
        if node is None:
            return _("Select an input volume.")
        if self._input.context_error:
            return _("Scan parameters could not be read: {error}").format(error=self._input.context_error)
        context = self._input.context
        if context is None:
            return ""
        display = lib("context_display")
        if display.read_from_dicom(context, node.GetAttribute(lib("dicom_source").INSTANCE_UIDS_ATTRIBUTE)):
            intro = _("Read from the DICOM tags of <i>{name}</i>:").format(name=node.GetName())
        else:
            intro = _("<i>{name}</i> carries no acquisition parameters (not loaded from DICOM, or its files are not in the database): defaults are used; describe the acquisition with the override below.").format(name=node.GetName())
        labels = {
            "acquisition": _("Acquisition"), "phase_axis": _("Phase encoding"), "kmax": _("k-space extent (f, p, s)"),
            "partial_fourier": _("Partial Fourier (p, s)"), "acceleration": _("Acceleration (p, s)"),
            "acquired_matrix": _("Acquired matrix"), "displayed_matrix": _("Image matrix"),
            "slice_thickness": _("Slice thickness / spacing"), "manufacturer": _("Manufacturer"),
        }
        return intro + display.context_table_html(context, labels)

    def onResetAcquisition(self) -> None:
        if self._input.context is not None:
            self._copyContextToOverrides()

    # ------------------------------------------------------------------ buttons state

    def _updateButtons(self) -> None:
        node = self._parameterNode
        running = self._run is not None
        inputNode, outputNode = node.inputVolume, node.outputVolume
        if running:
            self.ui.applyButton.text = _("Cancel")
            self.ui.applyButton.toolTip = _("Stop the enhancement; the scene stays as it was.")
            self.ui.applyButton.enabled = True
        else:
            self.ui.applyButton.text = _("Apply")
            canApply = lib("logic").is_usable_input(inputNode) and outputNode is not inputNode and not self._input.refusal
            self.ui.applyButton.enabled = canApply
            self.ui.applyButton.toolTip = (
                _("Enhance the input in a background process.") if canApply
                else self._input.refusal or _("Select an input volume (and an output volume different from it).")
            )
        for section in (self.ui.inputsCollapsibleButton, self.ui.enhancementCollapsibleButton,
                        self.ui.acquisitionCollapsibleButton, self.ui.advancedCollapsibleButton):
            section.enabled = not running
        haveResult = self._haveResult()
        self.ui.comparisonLayoutButton.enabled = haveResult
        self.ui.exportButton.enabled = haveResult and not running
        self.ui.qaButton.enabled = haveResult and not running
        for button in (self.ui.comparisonLayoutButton, self.ui.exportButton, self.ui.qaButton):
            button.toolTip = self._toolTips[button.objectName] if haveResult else _(
                "Run the enhancement first (the output volume must be an MRDeepRecon result of the input).")

    def _haveResult(self) -> bool:
        return lib("logic").is_result_of(self._parameterNode.outputVolume, self._parameterNode.inputVolume)

    # ------------------------------------------------------------------ dependencies

    def ensure_dependencies(self, extra: Optional[dict] = None) -> bool:
        """Make sure PyTorch and the engine's other packages (and ``extra``: pip requirement →
        import name) can be imported; install what is missing after asking
        (``MRDeepReconLib.dependencies``). Returns False (after telling the user why) when they
        are not there."""
        dependencies = lib("dependencies")
        check = dependencies.ensure_dependencies(
            extra,
            pathlib.Path(slicer.app.temporaryPath) / "MRDeepRecon-constraints.txt",
            confirm_install=lambda missing: slicer.util.confirmOkCancelDisplay(
                _("MRDeepRecon needs these Python packages: {packages}. Install them now?").format(packages=", ".join(missing))),
            busy=slicer.util.WaitCursor,
        )
        problems = {
            dependencies.DependencyOutcome.NO_PYTORCH_EXTENSION: _(
                "MRDeepRecon needs PyTorch, which the 'PyTorch' extension installs. Install"
                " 'PyTorch' from the Extensions Manager, restart Slicer and try again."
            ),
            dependencies.DependencyOutcome.TORCH_NOT_INSTALLED: _("PyTorch is not installed: the enhancement cannot run."),
            dependencies.DependencyOutcome.STILL_MISSING: _("These Python packages are missing: {packages}.").format(
                packages=", ".join(check.missing)),
        }
        if check.outcome in problems:
            slicer.util.errorDisplay(problems[check.outcome])
        return check.ready

    def getLogic(self):
        if self.logic is None:
            self.logic = lib("logic").MRDeepReconLogic(slicer.mrmlScene)
        return self.logic

    # ------------------------------------------------------------------ device

    def onDetectDevice(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Could not query the GPU."), waitCursor=True):
            if self.ensure_dependencies():
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
        self._relabelComboBoxes()

    def chooseDevice(self, requested: str):
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
            self.parent, _("Import MRDeepRecon weights"), "", _("MRDeepRecon weights (*.safetensors)"))
        if not path:
            return
        with slicer.util.tryWithErrorDisplay(_("These weights cannot be used."), waitCursor=True):
            if not self.ensure_dependencies():
                return
            card = lib("model_card").verified_card(pathlib.Path(path))
            self._parameterNode.modelPath = str(path)
            self._showCards([(pathlib.Path(path), card)])

    def onBundledWeights(self) -> None:
        self._parameterNode.modelPath = ""

    def _updateModelCard(self) -> None:
        path = self._parameterNode.modelPath
        if path == self._cardPath:
            return
        self._cardPath = path
        self._showCards(lib("model_card").model_cards(path))

    def _showCards(self, cards) -> None:
        """Name, training data and held-out metrics of each (weights, model card), as HTML."""
        self.ui.modelCardLabel.text = lib("model_card").model_cards_html(cards, _("Training data"), _("Held-out"))

    # ------------------------------------------------------------------ Apply / Cancel

    def processParameters(self):
        """The parameter node as ``MRDeepReconLib.parameters.ProcessParameters``."""
        return lib("panel_settings").process_parameters(self._parameterNode)

    def onApplyButton(self) -> None:
        if self._run is not None:
            self.cancelJob()
            return
        with slicer.util.tryWithErrorDisplay(_("The enhancement could not start."), waitCursor=True):
            if not self.ensure_dependencies():
                return
            self.refreshDevices()
            self.startJob()

    def startJob(self) -> None:
        node = self._parameterNode
        inputNode = node.inputVolume
        parameters = self.processParameters()  # checked: raises a message naming the bad value
        device, note = self.chooseDevice(parameters.device)
        parameters.device = device
        context = self._input.context
        if context is None:
            context = lib("dicom_source").scan_context_for_node(inputNode, file_for_instance=self._fileForInstance())
        job = lib("background").BackgroundEnhancement()
        self.ui.logTextEdit.clear()
        if note:
            self._log(note)
            slicer.util.warningDisplay(note, windowTitle="MRDeepRecon")
        pythonSlicer = lib("background").python_slicer_executable(sys.executable)
        if pythonSlicer is None:
            raise RuntimeError(_("The PythonSlicer executable was not found next to {path}.").format(path=sys.executable))
        job.start(inputNode, parameters, context, pythonSlicer, moduleDir())
        self._run = lib("enhancement_run").EnhancementRun(job, inputNode, node.outputVolume)
        self._log(_("Enhancing {name}: noise reduction {nr:g}, super-resolution {sr}, device {device}.").format(
            name=inputNode.GetName(), nr=parameters.noise_reduction,
            sr=" × ".join(f"{f:g}" for f in parameters.super_resolution), device=device))
        self.ui.progressBar.value = 0
        self.ui.progressBar.show()
        self.ui.statusLabel.text = _("Starting…")
        self._timer.start()
        self._updateButtons()

    def _pollJob(self) -> None:
        if self._run is None:
            self._timer.stop()
            return
        update = self._run.poll(self.getLogic())
        for line in update.log_lines:
            self._log(line)
        self.ui.progressBar.value = int(round(1000 * update.fraction))
        if update.message:
            self.ui.statusLabel.text = update.message
        if update.running:
            return
        failures = lib("enhancement_run").RunFailure
        error = {
            None: "",
            failures.POLL_FAILED: _("The background process failed: {error}"),
            failures.ENGINE_ERROR: "{error}",
            failures.EXIT_CODE: _("The background process ended with code {code}."),
            failures.STORE_FAILED: _("The result could not be stored: {error}"),
        }[update.failure].format(error=update.detail, code=update.detail)
        self._finishRun(error, update.output_node)

    def _finishRun(self, error: str, output=None) -> None:
        self._timer.stop()
        self._run = None
        self.ui.progressBar.hide()
        if error:
            self.ui.statusLabel.text = error
            self._log(error)
            slicer.util.errorDisplay(error, windowTitle="MRDeepRecon")
        elif output is not None:
            summary = lib("logic").noise_reduction_summary(output)
            self.ui.statusLabel.text = _("Done: {name}. {summary}").format(name=output.GetName(), summary=summary)
            self._log(summary)
            self._parameterNode.outputVolume = output
            slicer.util.setSliceViewerLayers(background=output, fit=True)
        self._onParameterNodeModified()

    def cancelJob(self) -> None:
        """Stop a running enhancement: the process tree is killed, nothing enters the scene."""
        if self._run is None:
            return
        run = self._run
        self._timer.stop()
        try:
            run.cancel()
        finally:
            self._run = None
            self.ui.progressBar.hide()
            self.ui.statusLabel.text = _("Cancelled: the scene is unchanged.")
            self._log(self.ui.statusLabel.text)
            if self._parameterNode:
                self._onParameterNodeModified()

    def _log(self, line: str) -> None:
        self.ui.logTextEdit.appendPlainText(line.rstrip("\n"))
        self.ui.logTextEdit.ensureCursorVisible()

    # ------------------------------------------------------------------ comparison

    def onComparisonLayout(self) -> None:
        node = self._parameterNode
        with slicer.util.tryWithErrorDisplay(_("The comparison layout could not be set up."), waitCursor=True):
            self.showComparison(node.inputVolume, node.outputVolume)

    def showComparison(self, original, enhanced) -> None:
        """Original | enhanced in axial, sagittal and coronal views, linked; then the toggles."""
        self._comparisonSession.show(original, enhanced, self._comparisonToggles())

    @staticmethod
    def _newComparison():
        """A ``MRDeepReconLib.comparison.Comparison`` of this application's views."""
        return lib("comparison").Comparison(
            slicer.mrmlScene,
            slicer.app.applicationLogic(),
            slicer.app.layoutManager().layoutLogic().GetLayoutNode(),
            slicer.modules.volumerendering.logic(),
        )

    def _comparisonToggles(self):
        node = self._parameterNode
        return lib("comparison_session").ComparisonToggles(node.slabMip, node.slabThicknessMm, node.mip3d, node.difference)

    def _updateComparison(self) -> None:
        """Enable the toggles for a result; when one changed, apply it (showing the comparison
        layout first if it is not shown for this pair)."""
        node = self._parameterNode
        have = self._haveResult()
        for widget in (self.ui.slabMipCheckBox, self.ui.slabThicknessSliderWidget, self.ui.mip3dCheckBox, self.ui.differenceCheckBox):
            widget.enabled = have
        original, enhanced = (node.inputVolume, node.outputVolume) if have else (None, None)
        try:
            self._comparisonSession.update(original, enhanced, self._comparisonToggles())
        except Exception as error:
            logging.exception("MRDeepRecon: comparison")
            self.ui.statusLabel.text = _("Comparison: {error}").format(error=error)

    # ------------------------------------------------------------------ export and QA

    def onExport(self) -> None:
        node = self._parameterNode
        with slicer.util.tryWithErrorDisplay(_("The DICOM export failed."), waitCursor=True):
            if not self.ensure_dependencies():
                return
            if not lib("export_policy").folder_is_chosen(node.exportFolder):
                raise ValueError(_("Choose an export folder."))
            fromDicom = bool(node.inputVolume.GetAttribute(lib("dicom_source").INSTANCE_UIDS_ATTRIBUTE))
            if not fromDicom and not slicer.util.confirmOkCancelDisplay(_(
                "{name} was not loaded from DICOM, so there is no patient or study to keep. Write the series"
                " with a research placeholder patient (RESEARCH^PLACEHOLDER)?").format(name=node.inputVolume.GetName()),
                windowTitle="MRDeepRecon",
            ):
                return
            options = lib("export").derived_series_options(node.seriesDescription, node.exportMultiframe, fromDicom)
            outDir = lib("export_policy").output_folder(node.exportFolder, node.outputVolume.GetName())
            dialog, progress = self._modalProgress(_("Writing the derived DICOM series…"))
            try:
                series = lib("export").export_derived_series(
                    node.outputVolume, node.inputVolume, outDir, options,
                    file_for_instance=self._fileForInstance(), progress=progress)
            finally:
                dialog.close()
            self.ui.exportStatusLabel.text = _("Wrote {count} file(s) of series {uid} to {folder}").format(
                count=len(series.files), uid=series.series_instance_uid, folder=series.folder)
            self._log(self.ui.exportStatusLabel.text)

    def onQualityAssurance(self) -> None:
        node = self._parameterNode
        with slicer.util.tryWithErrorDisplay(_("The quality assurance failed."), waitCursor=True):
            if not self.ensure_dependencies(lib("dependencies").QA_REQUIREMENTS):
                return
            if not lib("export_policy").folder_is_chosen(node.qaFolder):
                raise ValueError(_("Choose a report folder."))
            outDir = lib("export_policy").output_folder(node.qaFolder, node.outputVolume.GetName() + "_QA")
            context = self.enhancementContext(node.inputVolume, node.outputVolume)
            report = lib("export").qa_for_nodes(node.inputVolume, node.outputVolume, context, out_dir=outDir)
            sentences = {
                "requested": _("Noise reduction: measured <b>×{m:.2f}</b>, requested ×{r:.2f} ({e:+.0%})."),
                "measured": _("Noise reduction: measured <b>×{m:.2f}</b>."),
                "flagged": _("<b>Flagged slices</b> (low-frequency k-space inconsistent with the original): {slices}"),
                "none_flagged": _("No slice flagged by the k-space consistency check."),
                "report": _("Report: {folder}"),
            }
            self.ui.qaResultLabel.text = lib("export").qa_summary_html(report, outDir, sentences)

    def enhancementContext(self, inputNode, outputNode):
        """The scan context the enhancement of ``outputNode`` used: the input's, with the
        overrides recorded on the result (its ``MRDeepRecon.parameters``), else the panel's."""
        base = lib("dicom_source").scan_context_for_node(inputNode, file_for_instance=self._fileForInstance())
        parameters = lib("logic").recorded_parameters(outputNode) or self.processParameters()
        return parameters.scan_context(base)

    def _modalProgress(self, text):
        """A progress dialog without Cancel, and the ``progress(fraction, message)`` that moves it."""
        dialog = slicer.util.createProgressDialog(parent=self.parent, windowTitle="MRDeepRecon", labelText=text, maximum=1000)
        dialog.setCancelButton(None)

        def progress(fraction, message=""):
            dialog.value = int(round(1000 * max(0.0, min(1.0, fraction))))
            if message:
                dialog.labelText = message
            slicer.app.processEvents()

        return dialog, progress
