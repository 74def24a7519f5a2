"""The panel's settings (the fields of the module's parameter node) as the engine's records.

The parameter node itself needs Slicer's ``parameterNodeWrapper`` and is in
``MRDeepReconGui/parameter_node.py``; :class:`PanelSettings` names the fields read here.
:func:`process_parameters` makes the :class:`~MRDeepReconLib.parameters.ProcessParameters` of a
run; the acquisition fields (``acq*``) describe the scan context when ``overrideAcquisition`` is on
(:func:`context_overrides`) and are filled from the context read from DICOM otherwise
(:func:`override_fields`).
"""

from __future__ import annotations

from typing import Any, Optional, Protocol

from mrdeeprecon import ScanContext
from mrdeeprecon.errors import MRDeepReconError
from mrdeeprecon.planes import check_planes
from mrdeeprecon.sampling import PHASE_AXIS_OF_DICOM

from .parameters import ProcessParameters

#: The smallest k-space extent the panel's kmax fields accept (their slider minimum).
KMAX_FIELD_MINIMUM = 0.05


class PanelSettings(Protocol):
    """The parameter-node fields read here (``MRDeepReconGui.parameter_node.MRDeepReconParameterNode``).

    Super-resolution factors are per encoding direction (frequency, phase, slice); kmax is the
    fraction of k-space sampled along (frequency, phase, slice); partial Fourier the fraction
    along (phase, slice); ``acqPhaseAxis`` is DICOM's InPlanePhaseEncodingDirection (``COL`` or
    ``ROW``); ``modelPath`` ``""`` means the bundled models; ``threePlanes`` runs the network
    along all three axes (``EnhanceSettings.planes = 3``); ``adaptationSteps`` is
    ``EnhanceSettings.adaptation_steps`` (0: off).
    """

    noiseReduction: float
    srFrequency: float
    srPhase: float
    srSlice: float
    artifactCorrection: bool
    device: str
    model: str
    modelPath: str
    threePlanes: bool
    adaptationSteps: int
    overrideAcquisition: bool
    acqType: str
    acqPhaseAxis: str
    acqKmaxFrequency: float
    acqKmaxPhase: float
    acqKmaxSlice: float
    acqPartialFourierPhase: float
    acqPartialFourierSlice: float


def context_overrides(settings: PanelSettings) -> dict[str, Any]:
    """The :class:`~mrdeeprecon.ScanContext` fields the acquisition override replaces (field →
    value), or ``{}`` when the override is off."""
    if not settings.overrideAcquisition:
        return {}
    return {
        "acquisition": settings.acqType,
        "phase_axis": PHASE_AXIS_OF_DICOM[settings.acqPhaseAxis],
        "kmax": [settings.acqKmaxFrequency, settings.acqKmaxPhase, settings.acqKmaxSlice],
        "partial_fourier": [settings.acqPartialFourierPhase, settings.acqPartialFourierSlice],
    }


def process_parameters(settings: PanelSettings) -> ProcessParameters:
    """The panel's settings as checked :class:`ProcessParameters`.

    Raises:
        MRDeepReconError: naming the value the engine refuses.
    """
    return ProcessParameters(
        noise_reduction=settings.noiseReduction,
        super_resolution=(settings.srFrequency, settings.srPhase, settings.srSlice),
        artifact_correction=settings.artifactCorrection,
        device=settings.device,
        model_kind=settings.model,
        model_path=settings.modelPath or None,
        planes=3 if settings.threePlanes else 1,
        adaptation_steps=settings.adaptationSteps,
        context_overrides=context_overrides(settings),
    )


def override_fields(context: ScanContext) -> dict[str, Any]:
    """The acquisition fields (name → value) that describe ``context``: what the panel shows
    while the override is off. kmax values are raised to :data:`KMAX_FIELD_MINIMUM`."""
    kmax = [max(KMAX_FIELD_MINIMUM, float(value)) for value in context.kmax]
    return {
        "acqType": context.acquisition,
        "acqPhaseAxis": "ROW" if context.phase_axis == PHASE_AXIS_OF_DICOM["ROW"] else "COL",
        "acqKmaxFrequency": kmax[0],
        "acqKmaxPhase": kmax[1],
        "acqKmaxSlice": kmax[2],
        "acqPartialFourierPhase": float(context.partial_fourier[0]),
        "acqPartialFourierSlice": float(context.partial_fourier[1]),
    }


def three_planes_refusal(settings: PanelSettings, context: Optional[ScanContext]) -> Optional[str]:
    """Why three planes cannot run on the input as the panel describes it (the context read from
    DICOM, or the defaults, with the acquisition override and the artifact-correction switch
    applied), in the engine's words; ``None`` when they can."""
    described = ProcessParameters(artifact_correction=settings.artifactCorrection,
                                  context_overrides=context_overrides(settings))
    try:
        check_planes(described.scan_context(context or ScanContext()))
    except MRDeepReconError as error:
        return error.problem
    return None


def effective_acquisition(settings: PanelSettings, context: Optional[ScanContext]) -> str:
    """``"2D"`` or ``"3D"``: the override when it is on, else what ``context`` (read from the
    DICOM tags) says; ``"2D"`` without a context."""
    if settings.overrideAcquisition:
        return settings.acqType
    return context.acquisition if context is not None else "2D"
