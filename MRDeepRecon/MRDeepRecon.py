"""MRDeepRecon: deep-learning MR enhancement in 3D Slicer.

This file is the scripted module and its panel's wiring: the widget loads
``Resources/UI/MRDeepRecon.ui``, binds it to the parameter node and connects its buttons to the
panel's sections, one file each in ``MRDeepReconGui`` (Qt, with their sentences); what they do is
computed in ``MRDeepReconLib`` (no Qt) and the engine ``mrdeeprecon``. Nothing heavy is imported
when Slicer loads the module: ``MRDeepReconGui`` imports only qt, slicer, vtk and the standard
library, and ``MRDeepReconLib`` inside the methods that need it; PyTorch only after
``MRDeepReconGui.dependencies_dialog.ensure_dependencies``.
"""

import importlib
import importlib.util
import os
import sys
from typing import Optional

import qt
import slicer
import vtk
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.ScriptedLoadableModule import ScriptedLoadableModule, ScriptedLoadableModuleWidget
from slicer.util import VTKObservationMixin

from MRDeepReconGui.comparison_section import ComparisonSection
from MRDeepReconGui.export_section import ExportSection
from MRDeepReconGui.lib_loader import moduleDir
from MRDeepReconGui.model_section import ModelSection
from MRDeepReconGui.parameter_node import MRDeepReconParameterLogic, MRDeepReconParameterNode
from MRDeepReconGui.raw_section import RawSection
from MRDeepReconGui.run_section import RunSection
from MRDeepReconGui.scan_context_section import ScanContextSection

#: MRDeepReconLib modules in dependency order, for "Reload" (developer mode); others follow them.
LIB_MODULES = [
    "dependencies", "device", "export_policy", "parameters", "panel_settings", "node_volume", "dicom_source",
    "image_sets", "input_reading", "context_display", "model_card", "comparison", "logic", "background",
    "background_run", "enhancement_run", "raw_input", "comparison_session", "export",
]
#: MRDeepReconGui modules in dependency order (each imports only those before it), for "Reload".
GUI_MODULES = [
    "lib_loader", "parameter_node", "dependencies_dialog", "scan_context_section", "model_section",
    "comparison_section", "followed_run", "run_section", "raw_section", "export_section",
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
            " Raw multi-coil k-space (ISMRMRD/MRD, fastMRI, BART, Siemens twix, .npy) is reconstructed first"
            " (zero-filled, CG-SENSE, L1-wavelet or the unrolled SENSE network) into the input volume."
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
# MRDeepReconWidget
#


class MRDeepReconWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    """The panel: binds the .ui to the parameter node and its buttons to the ``MRDeepReconGui`` sections."""

    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self._parameterLogic: Optional[MRDeepReconParameterLogic] = None
        self._parameterNode: Optional[MRDeepReconParameterNode] = None
        self._parameterNodeGuiTag = None
        self._updating = False
        # The panel's sections, created in setup().
        self.scanContextSection: Optional[ScanContextSection] = None
        self.modelSection: Optional[ModelSection] = None
        self.runSection: Optional[RunSection] = None
        self.rawSection: Optional[RawSection] = None
        self.comparisonSection: Optional[ComparisonSection] = None
        self.exportSection: Optional[ExportSection] = None

    # ------------------------------------------------------------------ set-up

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/MRDeepRecon.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)

        self._parameterLogic = MRDeepReconParameterLogic()

        def parameterNode() -> Optional[MRDeepReconParameterNode]:
            return self._parameterNode

        self.scanContextSection = ScanContextSection(self.ui, parameterNode)
        self.modelSection = ModelSection(self.ui, parameterNode, self.parent)
        self.comparisonSection = ComparisonSection(self.ui, parameterNode)
        self.runSection = RunSection(
            self.ui, parameterNode, self.scanContextSection, self.modelSection, self._onParameterNodeModified,
            reconstructing=lambda: self.rawSection.running)
        self.rawSection = RawSection(
            self.ui, parameterNode, self.runSection.log, lambda: self.runSection.running, self._onParameterNodeModified)
        self.exportSection = ExportSection(self.ui, parameterNode, self.scanContextSection, self.runSection.log, self.parent)

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        self.ui.applyButton.connect("clicked(bool)", self.runSection.onApplyButton)
        self.ui.reconstructButton.connect("clicked(bool)", self.rawSection.onReconstructButton)
        self.ui.detectDeviceButton.connect("clicked(bool)", self.modelSection.onDetectDevice)
        self.ui.importWeightsButton.connect("clicked(bool)", self.modelSection.onImportWeights)
        self.ui.bundledWeightsButton.connect("clicked(bool)", self.modelSection.onBundledWeights)
        self.ui.resetAcquisitionButton.connect("clicked(bool)", self.scanContextSection.onResetAcquisition)
        self.ui.comparisonLayoutButton.connect("clicked(bool)", self.comparisonSection.onComparisonLayout)
        self.ui.exportButton.connect("clicked(bool)", self.exportSection.onExport)
        self.ui.qaButton.connect("clicked(bool)", self.exportSection.onQualityAssurance)
        self.ui.loadImageSetButton.connect("clicked(bool)", self.scanContextSection.onLoadImageSet)

        if "torch" in sys.modules:  # already imported by something else: showing the GPU is free
            self.modelSection.refreshDevices()
        self.initializeParameterNode()

    def cleanup(self) -> None:
        """Called when the application closes and the module widget is destroyed."""
        self._cancelJobs()
        self.removeObservers()
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None

    def _cancelJobs(self) -> None:
        """Stop the background enhancement and reconstruction, if any."""
        self.runSection.cancelJob()
        self.rawSection.cancelJob()

    def enter(self) -> None:
        self.initializeParameterNode()

    def exit(self) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._onParameterNodeModified)

    def onSceneStartClose(self, caller, event) -> None:
        self._cancelJobs()
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        self.comparisonSection.forget()
        if self.parent.isEntered:
            self.initializeParameterNode()

    def onReload(self) -> None:
        """Developer mode "Reload": also reload the MRDeepReconLib and MRDeepReconGui modules
        already imported, before this file is imported again."""
        self._cancelJobs()
        _reloadPackage("MRDeepReconLib", LIB_MODULES)
        _reloadPackage("MRDeepReconGui", GUI_MODULES)
        ScriptedLoadableModuleWidget.onReload(self)

    # ------------------------------------------------------------------ parameter node

    def initializeParameterNode(self) -> None:
        self.setParameterNode(self._parameterLogic.getParameterNode())
        self._parameterLogic.setDefaults(self._parameterNode)

    def setParameterNode(self, inputParameterNode: Optional[MRDeepReconParameterNode]) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._onParameterNodeModified)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            # The .ui names each bound widget's parameter in its "SlicerParameterName" property.
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.modelSection.relabelComboBoxes()
            self.rawSection.relabelComboBox()
            self.comparisonSection.forgetToggles()
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._onParameterNodeModified)
            self._onParameterNodeModified()

    def _onParameterNodeModified(self, caller=None, event=None) -> None:
        """Bring every section up to date with the parameter node (once: its own changes to the
        node do not call this again)."""
        if self._updating or not self._parameterNode:
            return
        self._updating = True
        try:
            self.scanContextSection.update()
            self.modelSection.updateModelCard()
            self.runSection.updateButtons()
            self.rawSection.updateButtons()
            self.comparisonSection.update()
        finally:
            self._updating = False


def _reloadPackage(package: str, order: list[str]) -> None:
    """Reload the modules of ``package`` already imported, those named in ``order`` first and in
    that order, then the package itself."""
    loaded = [name for name in sys.modules if name.startswith(f"{package}.")]
    ordered = [f"{package}.{name}" for name in order]
    for name in sorted(loaded, key=lambda n: ordered.index(n) if n in ordered else len(ordered)):
        importlib.reload(sys.modules[name])
    if package in sys.modules:
        importlib.reload(sys.modules[package])
