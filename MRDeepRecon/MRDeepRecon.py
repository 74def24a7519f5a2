"""MRDeepRecon: deep-learning MR enhancement in 3D Slicer (thin module; the work is in MRDeepReconLib).

The panel is ``Resources/UI/MRDeepRecon.ui``; every widget that holds a setting carries a
``SlicerParameterName`` dynamic property naming a field of :class:`MRDeepReconParameterNode`, and
``connectGui`` keeps the two in step. Nothing heavy is imported when Slicer loads the module: the
engine (``mrdeeprecon``), ``MRDeepReconLib`` and PyTorch are imported inside the methods that need
them, after :meth:`MRDeepReconWidget.ensure_dependencies`.
"""

import importlib
import importlib.util
import json
import logging
import os
import pathlib
import shutil
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
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

#: Super-resolution factors offered per encoding direction, and how the combo boxes show them.
SR_FACTORS = [1.0, 1.5, 2.0]
SR_LABELS = ["×1", "×1.5", "×2"]
DEVICES = ["auto", "cuda", "cpu"]
MODEL_KINDS = ["auto", "2d", "3d"]
PHASE_AXES = {"COL": 1, "ROW": 2}  # DICOM InPlanePhaseEncodingDirection -> ScanContext.phase_axis

#: Below this much free GPU memory the enhancement runs on the CPU (the network is small and
#: tiled, so this covers a batch of 8 tiles of 256² with headroom).
MIN_GPU_FREE_BYTES = 2 * 1024**3

#: Python packages the engine needs besides PyTorch: pip requirement -> import name. Slicer's own
#: numpy, SimpleITK and pydicom are used as they are (pinned while installing, never replaced).
PIP_REQUIREMENTS = {
    "safetensors>=0.4": "safetensors",
    "scikit-image>=0.21": "skimage",
    "pynetdicom>=2.0": "pynetdicom",
    "nibabel>=5": "nibabel",
    "pynrrd>=1.0": "nrrd",
    "python-gdcm>=3.0.10": "gdcm",
}
QA_REQUIREMENTS = {"matplotlib>=3.5": "matplotlib"}
SLICER_PACKAGES = ("numpy", "SimpleITK", "pydicom")

#: MRDeepReconLib modules in dependency order, for "Reload" (developer mode); others follow them.
LIB_MODULES = ["parameters", "node_volume", "dicom_source", "image_sets", "logic", "background", "comparison", "export"]


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
    noiseReduction: Annotated[float, WithinRange(1.0, 5.0)] = 2.0
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


def pythonSlicerExecutable() -> str:
    """The PythonSlicer launcher: Slicer's Python with Slicer's environment, for the background run."""
    found = shutil.which("PythonSlicer")
    if found:
        return found
    candidate = os.path.join(os.path.dirname(sys.executable), "PythonSlicer" + (".exe" if os.name == "nt" else ""))
    if os.path.isfile(candidate):
        return candidate
    raise RuntimeError(_("The PythonSlicer executable was not found next to {path}.").format(path=sys.executable))


def moduleDir() -> str:
    """This module's folder: it holds ``MRDeepReconLib``, the engine ``mrdeeprecon`` and Resources."""
    return os.path.dirname(os.path.abspath(__file__))


def isUsableInput(node) -> bool:
    return node is not None and node.GetClassName() == "vtkMRMLScalarVolumeNode" and node.GetImageData() is not None


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
        self._job = None  # MRDeepReconLib.background.BackgroundEnhancement while a run is in progress
        self._jobInput = None
        self._jobOutput = None
        self._timer = None
        self._scanContext = None
        self._scanContextKey = None
        self._scanContextError = ""
        self._imageSets = ()
        self._inputRefusal = None
        self._lastInputId = None
        self._comparison = None  # MRDeepReconLib.comparison.Comparison once the layout is shown
        self._comparisonPair = None
        self._comparisonApplied = {}
        self._comparisonSeen = None
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
        self._comparison, self._comparisonPair, self._comparisonApplied = None, None, {}
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
        if not node.inputVolume:
            candidates = [
                n for n in slicer.util.getNodesByClass("vtkMRMLScalarVolumeNode")
                if isUsableInput(n) and not n.GetAttribute("MRDeepRecon.parameters") and not n.GetAttribute("MRDeepRecon.DifferenceOf")
            ]
            if candidates:
                node.inputVolume = candidates[0]
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
            self._comparisonSeen = None
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
        inputNode, outputNode = node.inputVolume, node.outputVolume
        inputId = inputNode.GetID() if inputNode is not None else None
        changed, self._lastInputId = inputId != self._lastInputId, inputId
        if changed and outputNode is not None and inputId is not None:
            source = outputNode.GetAttribute("MRDeepRecon.sourceNodeID")
            if source and source != inputId:
                node.outputVolume = None

    # ------------------------------------------------------------------ scan context

    def _updateScanContext(self) -> None:
        """Read the input's scan context from its DICOM files (once per input) and, unless the
        user overrides it, copy it into the override fields."""
        node = self._parameterNode.inputVolume
        key = None if node is None else (node.GetID(), node.GetAttribute("DICOM.instanceUIDs") or "")
        if key == self._scanContextKey:
            return
        self._scanContextKey = key
        self._scanContext, self._scanContextError = None, ""
        self._imageSets, self._inputRefusal = (), None
        if node is not None:
            try:
                self._scanContext = lib("dicom_source").scan_context_for_node(node, file_for_instance=self._fileForInstance())
            except Exception as error:  # the panel must stay usable: show why
                logging.warning(f"MRDeepRecon: scan context of {node.GetName()}: {error}")
                self._scanContextError = str(error)
            try:
                self._updateImageSets(node)
            except Exception as error:  # unreadable files: no run either, and the reason shown
                logging.warning(f"MRDeepRecon: image sets of {node.GetName()}: {error}")
                self._inputRefusal = str(error)
        self._showImageSets()
        if self._scanContext is not None and not self._parameterNode.overrideAcquisition:
            self._copyContextToOverrides(self._scanContext)

    def _updateImageSets(self, node) -> None:
        """The image sets of the input's DICOM files, and why it cannot be enhanced as it is."""
        fileForInstance = self._fileForInstance()
        if fileForInstance is None or not lib("dicom_source").instance_uids(node):
            return
        self._imageSets = lib("dicom_source").image_sets_for_node(node, fileForInstance)
        lowest = float(slicer.util.arrayFromVolume(node).min()) if node.GetImageData() is not None else 0.0
        self._inputRefusal = lib("image_sets").refusal(self._imageSets, lowest)

    def _showImageSets(self) -> None:
        several = len(self._imageSets) > 1
        for widget in (self.ui.imageSetLabel, self.ui.imageSetComboBox, self.ui.loadImageSetButton):
            widget.visible = several
        self.ui.imageSetComboBox.clear()
        for imageSet, count in self._imageSets if several else ():
            self.ui.imageSetComboBox.addItem(_("{set}: {count} images").format(set=imageSet.describe(), count=count))
        self.ui.inputRefusalLabel.text = self._inputRefusal or ""
        self.ui.inputRefusalLabel.visible = bool(self._inputRefusal)

    def onLoadImageSet(self) -> None:
        """Read the chosen image set of the input into a new volume and make it the input."""
        index = self.ui.imageSetComboBox.currentIndex
        if not (0 <= index < len(self._imageSets)):
            return
        inputNode = self._parameterNode.inputVolume
        with slicer.util.tryWithErrorDisplay(_("The image set could not be loaded."), waitCursor=True):
            node = lib("image_sets").load_image_set(slicer.mrmlScene, inputNode, self._fileForInstance(), self._imageSets[index][0])
            self._parameterNode.inputVolume = node
            slicer.util.setSliceViewerLayers(background=node, fit=True)

    @staticmethod
    def _fileForInstance():
        database = getattr(slicer, "dicomDatabase", None)
        if database is None or not database.isOpen:
            return None
        return database.fileForInstance

    def _copyContextToOverrides(self, context) -> None:
        node = self._parameterNode
        with slicer.util.NodeModify(node):
            node.acqType = context.acquisition
            node.acqPhaseAxis = "ROW" if context.phase_axis == 2 else "COL"
            node.acqKmaxFrequency = max(0.05, float(context.kmax[0]))
            node.acqKmaxPhase = max(0.05, float(context.kmax[1]))
            node.acqKmaxSlice = max(0.05, float(context.kmax[2]))
            node.acqPartialFourierPhase = float(context.partial_fourier[0])
            node.acqPartialFourierSlice = float(context.partial_fourier[1])

    def effectiveAcquisition(self) -> str:
        """"2D" or "3D": the override when set, else what the DICOM tags say (2D without them)."""
        node = self._parameterNode
        if node.overrideAcquisition:
            return node.acqType
        return self._scanContext.acquisition if self._scanContext is not None else "2D"

    def contextOverrides(self) -> dict:
        node = self._parameterNode
        if not node.overrideAcquisition:
            return {}
        return {
            "acquisition": node.acqType,
            "phase_axis": PHASE_AXES[node.acqPhaseAxis],
            "kmax": [node.acqKmaxFrequency, node.acqKmaxPhase, node.acqKmaxSlice],
            "partial_fourier": [node.acqPartialFourierPhase, node.acqPartialFourierSlice],
        }

    def _updateAcquisitionGui(self) -> None:
        node = self._parameterNode
        self.ui.acquisitionOverridesWidget.enabled = node.overrideAcquisition
        self.ui.resetAcquisitionButton.enabled = node.overrideAcquisition and self._scanContext is not None
        self.ui.acquisitionLabel.text = self._contextHtml()
        is3d = self.effectiveAcquisition() == "3D"
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
        if self._scanContextError:
            return _("Scan parameters could not be read: {error}").format(error=self._scanContextError)
        context = self._scanContext
        if context is None:
            return ""
        sources = context.sources or {}
        if not node.GetAttribute("DICOM.instanceUIDs") or all(v == "default" for v in sources.values()):
            intro = _("<i>{name}</i> carries no acquisition parameters (not loaded from DICOM, or its files are not in the database): defaults are used; describe the acquisition with the override below.").format(name=node.GetName())
        else:
            intro = _("Read from the DICOM tags of <i>{name}</i>:").format(name=node.GetName())

        def fmt(values):
            return " × ".join(f"{v:g}" for v in values)

        rows = [
            (_("Acquisition"), context.acquisition, "acquisition"),
            (_("Phase encoding"), "ROW (x)" if context.phase_axis == 2 else "COL (y)", "phase_axis"),
            (_("k-space extent (f, p, s)"), fmt(context.kmax), "kmax"),
            (_("Partial Fourier (p, s)"), fmt(context.partial_fourier), "partial_fourier"),
            (_("Acceleration (p, s)"), f"{fmt(context.acceleration)} ({context.undersampling})", "acceleration"),
        ]
        if context.acquired_matrix:
            rows.append((_("Acquired matrix"), " × ".join(str(v) for v in context.acquired_matrix), "acquired_matrix"))
        if context.displayed_matrix:
            rows.append((_("Image matrix"), " × ".join(str(v) for v in context.displayed_matrix), "displayed_matrix"))
        if context.slice_thickness:
            rows.append((_("Slice thickness / spacing"), f"{context.slice_thickness:g} / {context.slice_spacing or 0:g} mm", "slice_thickness"))
        if context.manufacturer:
            rows.append((_("Manufacturer"), context.manufacturer, "manufacturer"))
        cells = "".join(
            f"<tr><td>{label}</td><td><b>{value}</b></td><td><small>{sources.get(field, '')}</small></td></tr>"
            for label, value, field in rows
        )
        return f"{intro}<table cellspacing='4'>{cells}</table>"

    def onResetAcquisition(self) -> None:
        if self._scanContext is not None:
            self._copyContextToOverrides(self._scanContext)

    # ------------------------------------------------------------------ buttons state

    def _updateButtons(self) -> None:
        node = self._parameterNode
        running = self._job is not None
        inputNode, outputNode = node.inputVolume, node.outputVolume
        if running:
            self.ui.applyButton.text = _("Cancel")
            self.ui.applyButton.toolTip = _("Stop the enhancement; the scene stays as it was.")
            self.ui.applyButton.enabled = True
        else:
            self.ui.applyButton.text = _("Apply")
            canApply = isUsableInput(inputNode) and outputNode is not inputNode and not self._inputRefusal
            self.ui.applyButton.enabled = canApply
            self.ui.applyButton.toolTip = (
                _("Enhance the input in a background process.") if canApply
                else self._inputRefusal or _("Select an input volume (and an output volume different from it).")
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
        node = self._parameterNode
        out = node.outputVolume
        return (
            isUsableInput(node.inputVolume)
            and out is not None and out.GetImageData() is not None
            and bool(out.GetAttribute("MRDeepRecon.enhancement"))
            and out.GetAttribute("MRDeepRecon.sourceNodeID") == node.inputVolume.GetID()
        )

    # ------------------------------------------------------------------ dependencies

    def ensure_dependencies(self, extra: Optional[dict] = None) -> bool:
        """Make sure PyTorch and the engine's other packages can be imported; install what is
        missing after asking. Returns False (after telling the user why) when they are not there.

        PyTorch comes from the PyTorch extension (``PyTorchUtilsLogic().installTorch``: the right
        CUDA or CPU build for this computer); safetensors, scikit-image, pynetdicom, nibabel (Siemens
        mosaics, NIfTI), pynrrd (NRRD headers) and python-gdcm (compressed DICOM) (and matplotlib for the QA plots) from pip, with Slicer's numpy, SimpleITK and pydicom pinned.
        """
        if importlib.util.find_spec("torch") is None:
            try:
                import PyTorchUtils
            except ModuleNotFoundError:
                slicer.util.errorDisplay(_(
                    "MRDeepRecon needs PyTorch, which the 'PyTorch' extension installs. Install"
                    " 'PyTorch' from the Extensions Manager, restart Slicer and try again."
                ))
                return False
            torch = PyTorchUtils.PyTorchUtilsLogic().installTorch(askConfirmation=True)
            if torch is None:
                slicer.util.errorDisplay(_("PyTorch is not installed: the enhancement cannot run."))
                return False
        requirements = dict(PIP_REQUIREMENTS)
        requirements.update(extra or {})
        missing = [req for req, module in requirements.items() if importlib.util.find_spec(module) is None]
        if missing:
            constraints = self._constraintsFile()
            try:
                import slicer.packaging as packaging
                ensure = packaging.pip_ensure
            except (ImportError, AttributeError):
                ensure = None
            try:
                if ensure is not None:
                    ensure(missing, constraints=constraints, requester="MRDeepRecon")
                else:
                    if not slicer.util.confirmOkCancelDisplay(
                        _("MRDeepRecon needs these Python packages: {packages}. Install them now?").format(packages=", ".join(missing))
                    ):
                        return False
                    with slicer.util.WaitCursor():
                        slicer.util.pip_install(["-c", constraints, *missing])
            except RuntimeError as error:  # the user declined
                logging.info(f"MRDeepRecon: packages not installed: {error}")
                return False
            importlib.invalidate_caches()
            still = [req for req, module in requirements.items() if importlib.util.find_spec(module) is None]
            if still:
                slicer.util.errorDisplay(_("These Python packages are missing: {packages}.").format(packages=", ".join(still)))
                return False
        return True

    @staticmethod
    def _constraintsFile() -> str:
        """A pip constraints file that keeps Slicer's own numpy, SimpleITK and pydicom."""
        from importlib.metadata import PackageNotFoundError, version

        lines = []
        for name in SLICER_PACKAGES:
            try:
                lines.append(f"{name}=={version(name)}")
            except PackageNotFoundError:
                pass
        path = os.path.join(slicer.app.temporaryPath, "MRDeepRecon-constraints.txt")
        with open(path, "w", encoding="utf-8") as stream:
            stream.write("\n".join(lines) + "\n")
        return path

    def getLogic(self):
        if self.logic is None:
            self.logic = lib("logic").MRDeepReconLogic(slicer.mrmlScene)
        return self.logic

    # ------------------------------------------------------------------ device

    def onDetectDevice(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Could not query the GPU."), waitCursor=True):
            if self.ensure_dependencies():
                self.refreshDevices()

    @staticmethod
    def gpuInfo():
        """(name, free bytes, total bytes) of CUDA device 0, or None without a usable CUDA GPU."""
        import torch

        if not torch.cuda.is_available():
            return None
        free, total = torch.cuda.mem_get_info(0)
        return torch.cuda.get_device_name(0), int(free), int(total)

    def refreshDevices(self) -> None:
        """Show the GPU and its free memory in the device combo box."""
        try:
            info = self.gpuInfo()
        except Exception as error:
            logging.warning(f"MRDeepRecon: GPU query failed: {error}")
            info = None
        gib = 1024.0**3
        if info is None:
            self._deviceLabels = {"auto": _("auto (CPU: no CUDA GPU)"), "cuda": _("cuda (not available)"), "cpu": "cpu"}
            self.ui.deviceComboBox.toolTip = _("No CUDA GPU found: the enhancement runs on the CPU.")
        else:
            name, free, total = info
            self._deviceLabels = {
                "auto": _("auto ({name})").format(name=name),
                "cuda": f"cuda: {name}, {free / gib:.1f} of {total / gib:.1f} GiB free",
                "cpu": "cpu",
            }
            self.ui.deviceComboBox.toolTip = f"{name}: {free / gib:.1f} GiB free of {total / gib:.1f} GiB"
        self._relabelComboBoxes()

    def chooseDevice(self, requested: str):
        """The device to run on and, when it is not the one asked for, why (GPU missing or too full)."""
        if requested == "cpu":
            return "cpu", ""
        info = self.gpuInfo()
        if info is None:
            if requested == "cuda":
                return "cpu", _("No CUDA GPU is available: running on the CPU.")
            return requested, ""
        name, free, _total = info
        if free < MIN_GPU_FREE_BYTES:
            return "cpu", _("The GPU {name} has only {free:.1f} GiB free (at least {need:.1f} GiB needed): running on the CPU.").format(
                name=name, free=free / 1024.0**3, need=MIN_GPU_FREE_BYTES / 1024.0**3)
        return ("cuda" if requested in ("auto", "cuda") else requested), ""

    # ------------------------------------------------------------------ weights

    def onImportWeights(self) -> None:
        path = qt.QFileDialog.getOpenFileName(
            self.parent, _("Import MRDeepRecon weights"), "", _("MRDeepRecon weights (*.safetensors)"))
        if not path:
            return
        with slicer.util.tryWithErrorDisplay(_("These weights cannot be used."), waitCursor=True):
            if not self.ensure_dependencies():
                return
            card = self.verifyWeights(path)
            self._parameterNode.modelPath = str(path)
            self._showCard([(path, card)])

    @staticmethod
    def verifyWeights(path):
        """Load the weights with the engine (SHA-256 against the card, architecture, context fields)
        and return the model card; raises ``MRDeepReconError`` naming the problem."""
        from mrdeeprecon.model.weights import load_model

        model, card = load_model(pathlib.Path(path), device="cpu")
        del model
        return card

    def onBundledWeights(self) -> None:
        self._parameterNode.modelPath = ""

    def _updateModelCard(self) -> None:
        path = self._parameterNode.modelPath
        if path == self._cardPath:
            return
        self._cardPath = path
        cards = []
        paths = [path] if path else [os.path.join(moduleDir(), "Resources", "models", f"ce_unet_{k}.safetensors") for k in ("2d", "3d")]
        for weights in paths:
            try:
                with open(os.path.splitext(weights)[0] + ".json", encoding="utf-8") as stream:
                    cards.append((weights, json.load(stream)))
            except (OSError, ValueError) as error:
                cards.append((weights, {"name": os.path.basename(weights), "error": str(error)}))
        self._showCard(cards)

    def _showCard(self, cards) -> None:
        """Name, training data and held-out metrics of each model card, as HTML."""
        parts = []
        for weights, card in cards:
            if "error" in card:
                parts.append(f"<b>{card.get('name')}</b>: {card['error']}")
                continue
            data = ", ".join(
                str(entry.get("file", entry)) if isinstance(entry, dict) else str(entry)
                for entry in (card.get("training", {}) or {}).get("data", [])
            )
            evaluation = card.get("evaluation", {}) or {}
            metrics = []
            degraded = evaluation.get("degraded") or {}
            if degraded:
                metrics.append(f"degraded {degraded.get('psnr_db', float('nan')):.2f} dB / {degraded.get('ssim', float('nan')):.3f}")
            for label, values in (evaluation.get("enhanced") or {}).items():
                if isinstance(values, dict) and "psnr_db" in values:
                    metrics.append(f"{label} {values['psnr_db']:.2f} dB / {values.get('ssim', float('nan')):.3f}")
            holdout = evaluation.get("holdout", "")
            parts.append(
                f"<b>{card.get('name', os.path.basename(weights))}</b> ({card.get('kind', '?')}, version {card.get('version', '?')},"
                f" {card.get('parameter_count', card.get('parameters', '?'))} parameters)<br>"
                f"{_('Training data')}: {data or '?'}<br>"
                + (f"{_('Held-out')} {holdout}: {'; '.join(metrics)}" if metrics else "")
            )
        self.ui.modelCardLabel.text = "<br><br>".join(parts)

    # ------------------------------------------------------------------ Apply / Cancel

    def processParameters(self):
        """The parameter node as ``MRDeepReconLib.parameters.ProcessParameters``."""
        node = self._parameterNode
        is3d = self.effectiveAcquisition() == "3D"
        return lib("parameters").ProcessParameters(
            noise_reduction=node.noiseReduction,
            super_resolution=(node.srFrequency, node.srPhase, node.srSlice if is3d else 1.0),
            artifact_correction=node.artifactCorrection,
            device=node.device,
            model_kind=node.model,
            model_path=node.modelPath or None,
            context_overrides=self.contextOverrides(),
        )

    def onApplyButton(self) -> None:
        if self._job is not None:
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
        parameters = self.processParameters()
        parameters.to_settings()  # validates; raises a message naming the bad value
        device, note = self.chooseDevice(parameters.device)
        parameters.device = device
        context = self._scanContext
        if context is None:
            context = lib("dicom_source").scan_context_for_node(inputNode, file_for_instance=self._fileForInstance())
        job = lib("background").BackgroundEnhancement()
        self.ui.logTextEdit.clear()
        if note:
            self._log(note)
            slicer.util.warningDisplay(note, windowTitle="MRDeepRecon")
        job.start(inputNode, parameters, context, pythonSlicerExecutable(), moduleDir())
        self._job, self._jobInput, self._jobOutput = job, inputNode, node.outputVolume
        self._log(_("Enhancing {name}: noise reduction {nr:g}, super-resolution {sr}, device {device}.").format(
            name=inputNode.GetName(), nr=parameters.noise_reduction,
            sr=" × ".join(f"{f:g}" for f in parameters.super_resolution), device=device))
        self.ui.progressBar.value = 0
        self.ui.progressBar.show()
        self.ui.statusLabel.text = _("Starting…")
        self._timer.start()
        self._updateButtons()

    def _pollJob(self) -> None:
        job = self._job
        if job is None:
            self._timer.stop()
            return
        try:
            status = job.poll()
        except Exception as error:
            self._finishRun(_("The background process failed: {error}").format(error=error))
            return
        for line in status.log_lines or []:
            self._log(line)
        self.ui.progressBar.value = int(round(1000 * max(0.0, min(1.0, status.fraction or 0.0))))
        if status.message:
            self.ui.statusLabel.text = status.message
        if status.running:
            return
        if status.error or status.returncode:
            self._finishRun(status.error or _("The background process ended with code {code}.").format(code=status.returncode))
            return
        output = self._jobOutput
        if output is not None and output.GetScene() is None:  # removed while the run went on
            output = None
        try:
            output = job.finish(self.getLogic(), self._jobInput, output)
        except Exception as error:
            logging.exception("MRDeepRecon: storing the result failed")
            self._finishRun(_("The result could not be stored: {error}").format(error=error))
            return
        self._finishRun("", output)

    def _finishRun(self, error: str, output=None) -> None:
        self._timer.stop()
        self._job = self._jobInput = self._jobOutput = None
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
        if self._job is None:
            return
        job = self._job
        self._timer.stop()
        try:
            job.cancel()
        finally:
            self._job = self._jobInput = self._jobOutput = None
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
        self._comparison = self.comparison(original, enhanced)
        self._comparison.show(original, enhanced)
        self._comparisonPair = (original.GetID(), enhanced.GetID())
        self._comparisonApplied = {}
        self._applyComparisonToggles(force=True)

    def comparison(self, original, enhanced):
        """The ``MRDeepReconLib.comparison.Comparison`` of this application's views (one object
        per original/enhanced pair)."""
        if self._comparison is not None and self._comparisonPair == (original.GetID(), enhanced.GetID()):
            return self._comparison
        return lib("comparison").Comparison(
            slicer.mrmlScene,
            slicer.app.applicationLogic(),
            slicer.app.layoutManager().layoutLogic().GetLayoutNode(),
            slicer.modules.volumerendering.logic(),
        )

    def _comparisonToggles(self) -> dict:
        node = self._parameterNode
        return {"slab": (node.slabMip, node.slabThicknessMm), "mip3d": node.mip3d, "difference": node.difference}

    def _updateComparison(self) -> None:
        """Enable the toggles for a result; when one changed, apply it (showing the comparison
        layout first if it is not shown for this pair)."""
        node = self._parameterNode
        have = self._haveResult()
        for widget in (self.ui.slabMipCheckBox, self.ui.slabThicknessSliderWidget, self.ui.mip3dCheckBox, self.ui.differenceCheckBox):
            widget.enabled = have
        wanted = self._comparisonToggles()
        seen, self._comparisonSeen = self._comparisonSeen, wanted
        pair = (node.inputVolume.GetID(), node.outputVolume.GetID()) if have else None
        if pair != self._comparisonPair:
            self._comparison, self._comparisonPair, self._comparisonApplied = None, None, {}
        if not have or seen is None or seen == wanted:
            return  # first look at this parameter node, or nothing of the comparison changed
        switchedOn = wanted["slab"][0] and not seen["slab"][0] or any(
            wanted[key] and not seen[key] for key in ("mip3d", "difference"))
        try:
            if self._comparison is None:
                if switchedOn:  # a view was asked for: show the comparison layout with it
                    self.showComparison(node.inputVolume, node.outputVolume)
            else:
                self._applyComparisonToggles()
        except Exception as error:
            logging.exception("MRDeepRecon: comparison")
            self.ui.statusLabel.text = _("Comparison: {error}").format(error=error)

    def _applyComparisonToggles(self, force: bool = False) -> None:
        wanted = self._comparisonToggles()
        changed = {key for key, value in wanted.items() if force or self._comparisonApplied.get(key) != value}
        comparison = self._comparison
        if "slab" in changed:
            comparison.set_slab_mip(*wanted["slab"])
        if "mip3d" in changed:
            comparison.set_3d_mip(wanted["mip3d"])
        if "difference" in changed:
            comparison.show_difference(wanted["difference"])
        self._comparisonApplied.update({key: wanted[key] for key in changed})

    # ------------------------------------------------------------------ export and QA

    @staticmethod
    def newFolderIn(folder: pathlib.Path, name: str) -> pathlib.Path:
        """``folder`` itself when it is missing or empty, else a new sub-folder named ``name``."""
        folder = pathlib.Path(folder)
        if not folder.exists() or (folder.is_dir() and not any(folder.iterdir())):
            return folder
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "MRDeepRecon"
        candidate, index = folder / safe, 2
        while candidate.exists():
            candidate, index = folder / f"{safe}_{index}", index + 1
        return candidate

    def onExport(self) -> None:
        node = self._parameterNode
        with slicer.util.tryWithErrorDisplay(_("The DICOM export failed."), waitCursor=True):
            if not self.ensure_dependencies():
                return
            if str(node.exportFolder) in ("", "."):
                raise ValueError(_("Choose an export folder."))
            fromDicom = bool(node.inputVolume.GetAttribute("DICOM.instanceUIDs"))
            if not fromDicom and not slicer.util.confirmOkCancelDisplay(_(
                "{name} was not loaded from DICOM, so there is no patient or study to keep. Write the series"
                " with a research placeholder patient (RESEARCH^PLACEHOLDER)?").format(name=node.inputVolume.GetName()),
                windowTitle="MRDeepRecon",
            ):
                return
            from mrdeeprecon.io.dicom_write import DerivedSeriesOptions

            options = DerivedSeriesOptions(
                series_description=node.seriesDescription.strip() or None,
                enhanced=node.exportMultiframe,
                research_placeholder=not fromDicom,
            )
            outDir = self.newFolderIn(node.exportFolder, node.outputVolume.GetName())
            outDir.parent.mkdir(parents=True, exist_ok=True)
            progress = self._modalProgress(_("Writing the derived DICOM series…"))
            try:
                series = lib("export").export_derived_series(
                    node.outputVolume, node.inputVolume, outDir, options,
                    file_for_instance=self._fileForInstance(), progress=progress.update)
            finally:
                progress.close()
            self.ui.exportStatusLabel.text = _("Wrote {count} file(s) of series {uid} to {folder}").format(
                count=len(series.files), uid=series.series_instance_uid, folder=series.folder)
            self._log(self.ui.exportStatusLabel.text)

    def onQualityAssurance(self) -> None:
        node = self._parameterNode
        with slicer.util.tryWithErrorDisplay(_("The quality assurance failed."), waitCursor=True):
            if not self.ensure_dependencies(QA_REQUIREMENTS):
                return
            if str(node.qaFolder) in ("", "."):
                raise ValueError(_("Choose a report folder."))
            outDir = self.newFolderIn(node.qaFolder, node.outputVolume.GetName() + "_QA")
            outDir.parent.mkdir(parents=True, exist_ok=True)
            context = self.enhancementContext(node.inputVolume, node.outputVolume)
            report = lib("export").qa_for_nodes(node.inputVolume, node.outputVolume, context, out_dir=outDir)
            self.ui.qaResultLabel.text = self.qaHtml(report, outDir)

    def enhancementContext(self, inputNode, outputNode):
        """The scan context the enhancement of ``outputNode`` used: the input's, with the
        overrides recorded on the result (its ``MRDeepRecon.parameters``)."""
        base = lib("dicom_source").scan_context_for_node(inputNode, file_for_instance=self._fileForInstance())
        recorded = outputNode.GetAttribute("MRDeepRecon.parameters")
        if recorded:
            return lib("parameters").ProcessParameters.from_dict(json.loads(recorded)).scan_context(base)
        return self.processParameters().scan_context(base)

    @staticmethod
    def qaHtml(report, outDir) -> str:
        """Measured against requested noise reduction and the flagged slices, as HTML."""
        summary = report.noise_reduction_summary()
        measured, requested = summary.get("measured"), summary.get("requested")
        lines = []
        if requested:
            lines.append(_("Noise reduction: measured <b>×{m:.2f}</b>, requested ×{r:.2f} ({e:+.0%}).").format(
                m=measured, r=requested, e=summary.get("relative_error") or 0.0))
        else:
            lines.append(_("Noise reduction: measured <b>×{m:.2f}</b>.").format(m=measured))
        flagged = list(getattr(report.consistency, "flagged", []) or [])
        if flagged:
            lines.append(_("<b>Flagged slices</b> (low-frequency k-space inconsistent with the original): {slices}").format(
                slices=", ".join(str(s) for s in flagged)))
        else:
            lines.append(_("No slice flagged by the k-space consistency check."))
        lines.append(_("Report: {folder}").format(folder=outDir))
        return "<br>".join(lines)

    def _modalProgress(self, text):
        dialog = slicer.util.createProgressDialog(parent=self.parent, windowTitle="MRDeepRecon", labelText=text, maximum=1000)
        dialog.setCancelButton(None)

        class _Progress:
            @staticmethod
            def update(fraction, message=""):
                dialog.value = int(round(1000 * max(0.0, min(1.0, fraction))))
                if message:
                    dialog.labelText = message
                slicer.app.processEvents()

            @staticmethod
            def close():
                dialog.close()

        return _Progress()


#
# MRDeepReconTest
#


class MRDeepReconTest(ScriptedLoadableModuleTest):
    """Runs in Slicer's ctest (``slicer_add_python_unittest``) and from the module's Reload & Test."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_ParameterNodeAndGui()
        self.setUp()
        self.test_ProcessAndCompare()
        self.setUp()
        self.test_ImageSetChoice()

    # helpers ------------------------------------------------------------

    def _inputVolume(self):
        """SampleData's MRHead (cropped to keep the test short), or a synthetic volume offline."""
        import numpy as np

        try:
            import SampleData

            head = SampleData.SampleDataLogic().downloadSample("MRHead")
        except Exception:
            head = None
        if head is not None and head.GetImageData() is not None:
            array = slicer.util.arrayFromVolume(head)[60:68, 40:200, 40:200].astype(np.float32)
            matrix = vtk.vtkMatrix4x4()
            head.GetIJKToRASMatrix(matrix)
            corner = matrix.MultiplyPoint((40, 40, 60, 1))  # the crop's first voxel (i, j, k)
            for axis in range(3):
                matrix.SetElement(axis, 3, corner[axis])
            slicer.mrmlScene.RemoveNode(head)
        else:
            z, y, x = np.mgrid[0:8, 0:96, 0:96].astype(np.float32)
            inside = ((y - 48) ** 2 + (x - 48) ** 2) < 35**2
            rng = np.random.default_rng(0)
            array = (100.0 * inside + 20.0 * np.sin(x / 4.0) * inside + rng.normal(0, 5, inside.shape)).astype(np.float32)
            matrix = vtk.vtkMatrix4x4()
            for axis, spacing in enumerate((0.9, 0.9, 3.0)):
                matrix.SetElement(axis, axis, spacing)
        return slicer.util.addVolumeFromArray(array, ijkToRAS=slicer.util.arrayFromVTKMatrix(matrix), name="MRDeepReconTestInput")

    @staticmethod
    def _mixedSeries(folder: str) -> dict:
        """Four slices written twice, as magnitude and as phase, in one classic DICOM series:
        SOP Instance UID → file."""
        import numpy as np
        import pydicom
        from pydicom.dataset import FileMetaDataset
        from pydicom.uid import ExplicitVRLittleEndian, generate_uid

        series, study, files = generate_uid(), generate_uid(), {}
        for component, letter in (("magnitude", "M"), ("phase", "P")):
            for k in range(4):
                ds = pydicom.Dataset()
                ds.file_meta = FileMetaDataset()
                ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
                ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
                ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
                ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.Modality = study, series, "MR"
                ds.ImageType = ["ORIGINAL", "PRIMARY", letter, "ND"]
                ds.EchoNumbers, ds.EchoTime = 1, 5.0
                ds.ImagePositionPatient = [0.0, 0.0, 3.0 * k]
                ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
                ds.PixelSpacing = [1.0, 1.0]
                ds.Rows = ds.Columns = 16
                ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
                ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
                ds.PixelData = np.full((16, 16), 100 + k, np.uint16).tobytes()
                path = os.path.join(folder, f"{component}{k}.dcm")
                ds.save_as(path, enforce_file_format=True)
                files[str(ds.SOPInstanceUID)] = path
        return files

    @staticmethod
    def _engineAvailable() -> bool:
        return all(importlib.util.find_spec(name) is not None for name in ("torch", "safetensors", "skimage"))

    # tests --------------------------------------------------------------

    def test_ParameterNodeAndGui(self):
        self.delayDisplay("Parameter node and panel")
        slicer.util.selectModule("MRDeepRecon")
        widget = slicer.modules.MRDeepReconWidget
        inputNode = self._inputVolume()
        node = widget._parameterNode
        self.assertIsNotNone(node)
        node.inputVolume = inputNode
        self.assertEqual(widget.ui.inputSelector.currentNode(), inputNode)
        self.assertIsNone(node.outputVolume)

        node.noiseReduction = 3.5
        self.assertAlmostEqual(widget.ui.noiseReductionSliderWidget.value, 3.5)
        self.assertEqual((widget.ui.noiseReductionSliderWidget.minimum, widget.ui.noiseReductionSliderWidget.maximum), (1.0, 5.0))
        widget.ui.noiseReductionSliderWidget.value = 2.5
        self.assertAlmostEqual(node.noiseReduction, 2.5)

        node.srPhase = 1.5
        self.assertEqual(widget.ui.srPhaseComboBox.currentText, "×1.5")
        # A volume without DICOM tags is a 2D acquisition unless overridden: no slice SR.
        self.assertFalse(widget.ui.srSliceComboBox.enabled)
        node.overrideAcquisition = True
        node.acqType = "3D"
        self.assertTrue(widget.ui.srSliceComboBox.enabled)
        node.srSlice = 2.0
        self.assertEqual(widget.ui.srSliceComboBox.currentText, "×2")
        node.acqType = "2D"
        self.assertFalse(widget.ui.srSliceComboBox.enabled)
        self.assertEqual(node.srSlice, 1.0)

        node.artifactCorrection = False
        self.assertFalse(widget.ui.artifactCorrectionCheckBox.checked)
        node.device = "cpu"
        self.assertEqual(widget.ui.deviceComboBox.currentIndex, DEVICES.index("cpu"))
        node.model = "3d"
        self.assertEqual(widget.ui.modelComboBox.currentText, "3d")

        parameters = widget.processParameters()
        self.assertEqual(parameters.noise_reduction, 2.5)
        self.assertEqual(parameters.super_resolution, (1.0, 1.5, 1.0))
        self.assertEqual(parameters.context_overrides["acquisition"], "2D")
        self.assertFalse(parameters.artifact_correction)
        self.assertTrue(widget.ui.applyButton.enabled)
        self.assertEqual(widget.ui.applyButton.text, "Apply")
        self.assertFalse(widget.ui.comparisonLayoutButton.enabled)  # no result yet
        self.delayDisplay("Parameter node and panel: OK")

    def test_ProcessAndCompare(self):
        self.delayDisplay("Blocking enhancement, subject hierarchy, comparison")
        if not self._engineAvailable():
            self.delayDisplay("PyTorch, safetensors or scikit-image missing in this Slicer: enhancement not tested")
            return
        import numpy as np

        from MRDeepReconLib.logic import MRDeepReconLogic, default_output_name
        from MRDeepReconLib.parameters import ProcessParameters

        inputNode = self._inputVolume()
        hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(slicer.mrmlScene)
        study = hierarchy.CreateStudyItem(hierarchy.CreateSubjectItem(hierarchy.GetSceneItemID(), "Subject"), "Study")
        hierarchy.SetItemParent(hierarchy.GetItemByDataNode(inputNode), study)

        logic = MRDeepReconLogic(slicer.mrmlScene)
        outputNode = logic.process(inputNode, None, ProcessParameters(noise_reduction=1.5, device="cpu"))
        self.assertEqual(outputNode.GetName(), default_output_name(inputNode))
        self.assertTrue(outputNode.GetName().endswith("_DLR"))
        self.assertEqual(outputNode.GetImageData().GetDimensions(), inputNode.GetImageData().GetDimensions())
        for a, b in zip(outputNode.GetSpacing(), inputNode.GetSpacing()):
            self.assertAlmostEqual(a, b, places=4)
        for a, b in zip(outputNode.GetOrigin(), inputNode.GetOrigin()):
            self.assertAlmostEqual(a, b, places=3)
        self.assertEqual(hierarchy.GetItemParent(hierarchy.GetItemByDataNode(outputNode)), study)
        self.assertTrue(np.isfinite(slicer.util.arrayFromVolume(outputNode)).all())

        slicer.util.selectModule("MRDeepRecon")
        widget = slicer.modules.MRDeepReconWidget
        node = widget._parameterNode
        node.inputVolume = inputNode
        node.outputVolume = outputNode
        self.assertTrue(widget.ui.comparisonLayoutButton.enabled)
        widget.ui.comparisonLayoutButton.click()
        from MRDeepReconLib import comparison

        layoutManager = slicer.app.layoutManager()
        self.assertEqual(layoutManager.layout, comparison.comparison_layout_id())
        views = [layoutManager.sliceWidget(comparison.slice_view_name(column, "Axial")).mrmlSliceNode()
                 for column in (comparison.ORIGINAL, comparison.ENHANCED)]
        widget.ui.slabThicknessSliderWidget.value = 6.0
        widget.ui.slabMipCheckBox.checked = True
        self.assertTrue(node.slabMip)
        self.assertAlmostEqual(node.slabThicknessMm, 6.0)
        for view in views:
            self.assertTrue(view.GetSlabReconstructionEnabled())
            self.assertAlmostEqual(view.GetSlabReconstructionThickness(), 6.0)
        node.slabMip = False  # the parameter node drives the checkbox and the views
        self.assertFalse(widget.ui.slabMipCheckBox.checked)
        for view in views:
            self.assertFalse(view.GetSlabReconstructionEnabled())

        node.outputVolume = None
        for volume in (outputNode, inputNode):
            slicer.mrmlScene.RemoveNode(volume)
        self.delayDisplay("Blocking enhancement, subject hierarchy, comparison: OK")

    def test_ImageSetChoice(self):
        self.delayDisplay("A series holding magnitude and phase: choose, load, refuse phase")
        import tempfile

        import numpy as np

        slicer.util.selectModule("MRDeepRecon")
        widget = slicer.modules.MRDeepReconWidget
        with tempfile.TemporaryDirectory() as folder:
            files = self._mixedSeries(folder)
            widget._fileForInstance = lambda: files.get  # the DICOM database's lookup
            mixed = slicer.util.addVolumeFromArray(np.zeros((8, 16, 16), np.float32), name="mixed")
            mixed.SetAttribute("DICOM.instanceUIDs", " ".join(files))
            node = widget._parameterNode
            node.inputVolume = mixed
            self.assertTrue(widget.ui.imageSetComboBox.visible)
            self.assertEqual(widget.ui.imageSetComboBox.count, 2)
            self.assertFalse(widget.ui.applyButton.enabled)
            self.assertIn("2 image sets", widget.ui.applyButton.toolTip)

            widget.ui.imageSetComboBox.currentIndex = 0  # echo 1, magnitude
            widget.ui.loadImageSetButton.click()
            magnitude = node.inputVolume
            self.assertEqual(magnitude.GetName(), "mixed E1 magnitude")
            self.assertEqual(slicer.util.arrayFromVolume(magnitude).shape, (4, 16, 16))
            self.assertFalse(widget.ui.imageSetComboBox.visible)
            self.assertTrue(widget.ui.applyButton.enabled)

            node.inputVolume = mixed
            widget.ui.imageSetComboBox.currentIndex = 1  # echo 1, phase
            widget.ui.loadImageSetButton.click()
            self.assertEqual(node.inputVolume.GetName(), "mixed E1 phase")
            self.assertFalse(widget.ui.applyButton.enabled)
            self.assertIn("is not enhanced", widget.ui.inputRefusalLabel.text)
            del widget._fileForInstance
        self.delayDisplay("A series holding magnitude and phase: OK")
