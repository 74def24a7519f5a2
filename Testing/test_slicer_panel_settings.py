"""MRDeepReconLib.panel_settings: the panel's parameter-node fields as the engine's records (the
parameter node itself needs Slicer's parameterNodeWrapper, so a namespace with its fields stands
in for it)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from mrdeeprecon import MRDeepReconError, ScanContext
from MRDeepReconLib.panel_settings import (
    KMAX_FIELD_MINIMUM,
    context_overrides,
    effective_acquisition,
    three_planes_refusal,
    override_fields,
    process_parameters,
)


def _settings(**changes) -> SimpleNamespace:
    """The parameter node's defaults (MRDeepReconGui/parameter_node.py), with ``changes``."""
    fields = dict(
        noiseReduction=2.0, srFrequency=1.0, srPhase=1.0, srSlice=1.0, artifactCorrection=True,
        device="auto", model="auto", modelPath="", threePlanes=False, adaptationSteps=0, overrideAcquisition=False, acqType="2D",
        acqPhaseAxis="COL", acqKmaxFrequency=1.0, acqKmaxPhase=1.0, acqKmaxSlice=1.0,
        acqPartialFourierPhase=1.0, acqPartialFourierSlice=1.0,
    )
    fields.update(changes)
    return SimpleNamespace(**fields)


def test_process_parameters_carry_the_panels_choices_without_overrides() -> None:
    parameters = process_parameters(_settings(
        noiseReduction=3.5, srPhase=1.5, srSlice=2.0, artifactCorrection=False, device="cpu", model="3d",
        threePlanes=True, adaptationSteps=2000, acqType="3D",  # acqType ignored: the override is off
    ))
    assert parameters.noise_reduction == 3.5
    assert parameters.super_resolution == (1.0, 1.5, 2.0)
    assert parameters.artifact_correction is False and parameters.planes == 3
    assert process_parameters(_settings()).planes == 1
    assert parameters.adaptation_steps == 2000 and process_parameters(_settings()).adaptation_steps == 0
    assert (parameters.device, parameters.model_kind, parameters.model_path) == ("cpu", "3d", None)
    assert parameters.context_overrides == {}


def test_model_path_names_imported_weights(tmp_path) -> None:
    weights = tmp_path / "mine.safetensors"
    assert str(process_parameters(_settings(modelPath=str(weights))).model_path) == str(weights)


def test_the_acquisition_override_describes_the_scan_context() -> None:
    settings = _settings(
        overrideAcquisition=True, acqType="3D", acqPhaseAxis="ROW", acqKmaxFrequency=1.0, acqKmaxPhase=0.5,
        acqKmaxSlice=0.75, acqPartialFourierPhase=0.625, acqPartialFourierSlice=1.0,
    )
    assert context_overrides(settings) == {
        "acquisition": "3D", "phase_axis": 2, "kmax": [1.0, 0.5, 0.75], "partial_fourier": [0.625, 1.0],
    }
    parameters = process_parameters(settings)
    assert parameters.context_overrides["kmax"] == (1.0, 0.5, 0.75)
    context = parameters.scan_context(ScanContext())
    assert (context.acquisition, context.phase_axis, context.kmax, context.partial_fourier) == (
        "3D", 2, (1.0, 0.5, 0.75), (0.625, 1.0))
    assert context_overrides(_settings(overrideAcquisition=True))["phase_axis"] == 1  # COL: y


def test_a_value_the_engine_refuses_is_named() -> None:
    with pytest.raises(MRDeepReconError, match="noise reduction"):
        process_parameters(_settings(noiseReduction=0.5))


def test_override_fields_show_a_context_and_describe_it_again() -> None:
    context = ScanContext(acquisition="3D", phase_axis=2, kmax=(1.0, 0.01, 0.5), partial_fourier=(0.625, 0.75))
    fields = override_fields(context)
    assert fields == {
        "acqType": "3D", "acqPhaseAxis": "ROW", "acqKmaxFrequency": 1.0, "acqKmaxPhase": KMAX_FIELD_MINIMUM,
        "acqKmaxSlice": 0.5, "acqPartialFourierPhase": 0.625, "acqPartialFourierSlice": 0.75,
    }
    again = context_overrides(_settings(overrideAcquisition=True, **fields))
    assert again == {"acquisition": "3D", "phase_axis": 2, "kmax": [1.0, 0.05, 0.5], "partial_fourier": [0.625, 0.75]}
    assert override_fields(ScanContext(phase_axis=1))["acqPhaseAxis"] == "COL"


def test_effective_acquisition_is_the_override_else_the_context_else_2d() -> None:
    three_d = ScanContext(acquisition="3D")
    assert effective_acquisition(_settings(), None) == "2D"
    assert effective_acquisition(_settings(), three_d) == "3D"
    assert effective_acquisition(_settings(overrideAcquisition=True, acqType="2D"), three_d) == "2D"
    assert effective_acquisition(_settings(overrideAcquisition=True, acqType="3D"), None) == "3D"


def test_three_planes_are_offered_where_the_engine_runs_them() -> None:
    """The panel's Three planes follow the engine's check on the input as the panel describes
    it: the context read from DICOM, the acquisition override, the artifact-correction switch."""
    assert three_planes_refusal(_settings(), ScanContext(acquisition="3D")) is None
    assert "need a 3D acquisition" in three_planes_refusal(_settings(), None)
    assert "need a 3D acquisition" in three_planes_refusal(_settings(), ScanContext(acquisition="2D"))
    read_pf = ScanContext(acquisition="3D", partial_fourier=(0.75, 1.0))
    assert "partial Fourier 0.75 / 1" in three_planes_refusal(_settings(), read_pf)
    # without artifact correction the model is told there was no partial Fourier: nothing to describe
    assert three_planes_refusal(_settings(artifactCorrection=False), read_pf) is None
    override = _settings(overrideAcquisition=True, acqType="3D", acqPartialFourierSlice=0.75)
    assert "partial Fourier 1 / 0.75" in three_planes_refusal(override, None)
    assert three_planes_refusal(_settings(overrideAcquisition=True, acqType="3D"), None) is None


def test_the_panel_settings_do_not_import_torch() -> None:
    """The panel reads them before PyTorch is installed (through the PyTorch extension)."""
    import subprocess
    import sys

    code = ("import sys; from MRDeepReconLib.panel_settings import three_planes_refusal;"
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
