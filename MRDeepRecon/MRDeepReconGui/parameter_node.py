"""The module's settings: the parameter node saved with the scene, the choices it offers, and what
the panel reads from it.

Every widget of ``Resources/UI/MRDeepRecon.ui`` that holds a setting carries a
``SlicerParameterName`` dynamic property naming a field of :class:`MRDeepReconParameterNode`, and
``connectGui`` keeps the two in step.
"""

import pathlib
from typing import Annotated

import slicer
from slicer import vtkMRMLScalarVolumeNode
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import ScriptedLoadableModuleLogic

from .lib_loader import lib

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
#: Raw k-space reconstruction methods: mrdeeprecon.raw.recon.RECON_METHODS, the default the command
#: line's (checked by the same test).
RAW_METHODS = ["zerofill", "sense", "l1wavelet", "unrolled"]


@parameterNodeWrapper
class MRDeepReconParameterNode:
    """The module's settings, saved with the scene. Each field is bound to the widget of the .ui
    whose ``SlicerParameterName`` property names it."""

    # Raw k-space: reconstructed into a new volume, which becomes the input
    rawFile: pathlib.Path
    rawMethod: Annotated[str, Choice(RAW_METHODS)] = "sense"

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
    threePlanes: bool = False  # EnhanceSettings.planes 3 (3D acquisitions)
    adaptationSteps: Annotated[int, WithinRange(0, 10000)] = 0  # EnhanceSettings.adaptation_steps (0: off)

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

    @staticmethod
    def setDefaults(node: MRDeepReconParameterNode) -> None:
        """Fill in what is unset: the input (``MRDeepReconLib.logic.default_input`` of the scene)
        and the export and QA folders (``MRDeepRecon/dicom`` and ``MRDeepRecon/qa`` under the
        application's default scene folder)."""
        candidate = None if node.inputVolume else lib("logic").default_input(slicer.mrmlScene)
        if candidate is not None:
            node.inputVolume = candidate
        base = pathlib.Path(slicer.app.defaultScenePath)
        if node.exportFolder == pathlib.Path():
            node.exportFolder = base / "MRDeepRecon" / "dicom"
        if node.qaFolder == pathlib.Path():
            node.qaFolder = base / "MRDeepRecon" / "qa"


def processParameters(node: MRDeepReconParameterNode):
    """The parameter node as ``MRDeepReconLib.parameters.ProcessParameters`` (checked: raises a
    message naming the bad value)."""
    return lib("panel_settings").process_parameters(node)


def hasResult(node: MRDeepReconParameterNode) -> bool:
    """Whether the output volume is an MRDeepRecon result of the input volume."""
    return lib("logic").is_result_of(node.outputVolume, node.inputVolume)
