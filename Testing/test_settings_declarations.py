"""Each setting is declared once: ``EnhanceSettings`` and ``TrainConfig`` (their fields' defaults
and ``FieldSpec``) are the command line's flags, and the module panel, which cannot import the
engine when Slicer loads it, agrees with them.

The panel is read as ``test_module_files`` reads it (``ast`` and ``xml.etree``, no Slicer). The
background run's command line and ``ProcessParameters`` are checked in ``test_slicer_background``
and ``test_slicer_logic`` (they need slicer-core).
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from test_module_files import PARAMETER_NODE, UI, _bound, _constants, _fields, _property

from mrdeeprecon.cli import _settings, build_parser, settings_arguments
from mrdeeprecon.settings import (
    ADAPTATION_STEPS_RANGE,
    DEVICES,
    MODEL_KINDS,
    NOISE_REDUCTION_RANGE,
    PLANE_CHOICES,
    SR_AXES,
    SUPER_RESOLUTION_RANGE,
    EnhanceSettings,
    field_spec,
)
from mrdeeprecon.training.train import TrainConfig

DEFAULTS = EnhanceSettings()


def _subparser(name: str, parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    parser = parser or build_parser()
    return parser._subparsers._group_actions[0].choices[name]


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {flag: action for action in parser._actions for flag in action.option_strings}


# ------------------------------------------------------------------------------ command line


@pytest.mark.parametrize("command", ["enhance", "batch"])
def test_settings_flags_are_the_fields_of_enhance_settings(command):
    options = _options(_subparser(command))
    expected = {"--noise-reduction", *(f"--sr-{axis}" for axis in SR_AXES), "--device", "--model-kind", "--model",
                "--planes", "--batch-size", "--tile-size", "--adapt-steps"}
    assert expected <= set(options)
    assert all(options[flag].default is None for flag in expected), "defaults are EnhanceSettings'"
    assert options["--device"].choices == DEVICES and options["--model-kind"].choices == MODEL_KINDS
    assert options["--planes"].choices == PLANE_CHOICES and options["--planes"].type is int
    assert f"{NOISE_REDUCTION_RANGE[0]:g}-{NOISE_REDUCTION_RANGE[1]:g} (default {DEFAULTS.noise_reduction:g})" in options["--noise-reduction"].help
    assert f"{SUPER_RESOLUTION_RANGE[0]:g}-{SUPER_RESOLUTION_RANGE[1]:g}" in options["--sr-slice"].help
    args = build_parser().parse_args([command, "in", "out.nii.gz"] if command == "enhance" else [command, "in", "--out", "o"])
    assert _settings(args) == DEFAULTS


@pytest.mark.parametrize(
    "settings",
    [
        DEFAULTS,
        EnhanceSettings(noise_reduction=3.25, super_resolution=(1.5, 2.0, 1.0), device="cpu", model_kind="3d",
                        model_path=Path("/models/m.safetensors"), planes=3, batch_size=3, tile_size=64,
                        adaptation_steps=1500),
    ],
)
def test_settings_arguments_give_the_same_settings_back(settings):
    args = build_parser().parse_args(["enhance", "in", "out.nii.gz", *settings_arguments(settings)])
    assert _settings(args) == settings


def test_train_flags_are_the_fields_of_train_config():
    options = {action.dest: action for action in _subparser("train")._actions if action.dest != "help"}
    fields = {item.name: item for item in dataclasses.fields(TrainConfig)}
    assert set(options) == set(fields)
    for name, action in options.items():
        assert action.default is None, f"--{name}: the default is TrainConfig's"
        assert action.choices == field_spec(fields[name]).choices, name
    assert options["out_dir"].option_strings == ["--out"]
    args = build_parser().parse_args(["train"])
    assert TrainConfig(**{k: v for k, v in vars(args).items() if k in fields and v is not None}) == TrainConfig()


def test_only_train_imports_torch_to_build_its_flags():
    code = (
        "import sys\n"
        "from mrdeeprecon.cli import main\n"
        "try:\n"
        "    main(['enhance', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "assert 'torch' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# ------------------------------------------------------------------------------ module panel


def test_panel_noise_reduction_is_a_named_part_of_the_engines_range():
    """The panel offers 1 to PANEL_NOISE_REDUCTION_MAX (the engine and the CLI accept up to 10)."""
    tree = ast.parse(PARAMETER_NODE.read_text(encoding="utf-8"))
    field = _fields(tree)["noiseReduction"]
    panel_max = _constants(tree)["PANEL_NOISE_REDUCTION_MAX"]
    assert field.validators["WithinRange"] == [NOISE_REDUCTION_RANGE[0], panel_max]
    assert NOISE_REDUCTION_RANGE[0] < panel_max <= NOISE_REDUCTION_RANGE[1]
    assert field.default == DEFAULTS.noise_reduction
    slider = _bound(ET.parse(UI).getroot())["noiseReduction"]
    assert (_property(slider, "minimum"), _property(slider, "maximum")) == (NOISE_REDUCTION_RANGE[0], panel_max)
    assert _property(slider, "value") == DEFAULTS.noise_reduction


def test_panel_adaptation_steps_are_the_engines_range():
    tree = ast.parse(PARAMETER_NODE.read_text(encoding="utf-8"))
    field = _fields(tree)["adaptationSteps"]
    assert field.validators["WithinRange"] == list(ADAPTATION_STEPS_RANGE)
    assert field.default == DEFAULTS.adaptation_steps == 0, "off by default: minutes on the CPU"
    spin_box = _bound(ET.parse(UI).getroot())["adaptationSteps"]
    assert (_property(spin_box, "minimum"), _property(spin_box, "maximum")) == ADAPTATION_STEPS_RANGE
    assert _property(spin_box, "value") == DEFAULTS.adaptation_steps


def test_panel_choices_are_the_engines():
    tree = ast.parse(PARAMETER_NODE.read_text(encoding="utf-8"))
    fields = _fields(tree)
    low, high = SUPER_RESOLUTION_RANGE
    for axis, default in zip(SR_AXES, DEFAULTS.super_resolution):
        sr = fields[f"sr{axis.capitalize()}"]
        assert all(low <= factor <= high for factor in sr.validators["Choice"][0]) and sr.default == default
    devices = fields["device"].validators["Choice"][0]
    assert set(devices) <= set(DEVICES) and fields["device"].default == DEFAULTS.device, "the panel offers no MPS"
    assert tuple(fields["model"].validators["Choice"][0]) == MODEL_KINDS and fields["model"].default == DEFAULTS.model_kind


def test_raw_reconstruction_methods_are_the_engines():
    """``recon --method``, the panel's method choices and their default are the engine's
    ``RECON_METHODS`` (the command line and the panel cannot import it when they are built)."""
    from mrdeeprecon.raw.recon import RECON_METHODS

    method = _options(_subparser("recon"))["--method"]
    assert tuple(method.choices) == RECON_METHODS
    field = _fields(ast.parse(PARAMETER_NODE.read_text(encoding="utf-8")))["rawMethod"]
    assert tuple(field.validators["Choice"][0]) == RECON_METHODS and field.default == method.default


def test_panel_phase_axes_are_the_engines():
    """The panel's phase-axis choices are the DICOM spellings of mrdeeprecon.sampling."""
    from mrdeeprecon.sampling import PHASE_AXIS_OF_DICOM

    assert _constants(ast.parse(PARAMETER_NODE.read_text(encoding="utf-8")))["PHASE_AXES"] == PHASE_AXIS_OF_DICOM
