"""What the user asks the enhancement to do: :class:`EnhanceSettings`.

Each setting is declared once, here: its default, its range or choices and its help text
(:class:`FieldSpec`, in the field's metadata). The command line's flags (``enhance``, ``batch``,
and the Slicer background run's command) and the module's ``ProcessParameters`` are derived from
it; the module panel, which cannot import the engine when Slicer loads it, is checked against it
by ``Testing/test_settings_declarations.py``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import MISSING, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .errors import MRDeepReconError

NOISE_REDUCTION_RANGE = (1.0, 10.0)
SUPER_RESOLUTION_RANGE = (1.0, 2.0)
#: The encoding directions of the super-resolution factors, in their order.
SR_AXES = ("frequency", "phase", "slice")
DEVICES = ("auto", "cpu", "cuda", "mps")
MODEL_KINDS = ("auto", "2d", "3d")
#: ``EnhanceSettings.planes``: the network along the slices, or along all three axes (:mod:`mrdeeprecon.planes`).
PLANE_CHOICES = (1, 3)
#: Smallest in-plane tile edge (pixels) fed to the network.
MIN_TILE_SIZE = 32
#: ``EnhanceSettings.adaptation_steps``: the scan-specific fine-tune's step limit (0: off).
ADAPTATION_STEPS_RANGE = (0, 10000)


@dataclass(frozen=True)
class FieldSpec:
    """How a settings field is offered to a user: its command-line flag and help.

    Attributes:
        help: what the value means (``--help``; the range, choices and default are added from
            the field). ``{axis}`` stands for the axis of a per-axis flag.
        flag: the command-line flag; ``None`` = ``--`` and the field's name with dashes.
        metavar: the value's placeholder in ``--help``.
        choices: the values allowed.
        range: the closed interval [low, high] a number (each number of a tuple) must lie in.
        axes: a tuple field has one flag per element, ``<flag>-<axis>``, in this order.
    """

    help: str
    flag: str | None = None
    metavar: str | None = None
    choices: tuple[str | int, ...] | None = None
    range: tuple[float, float] | None = None
    axes: tuple[str, ...] | None = None


def declared(spec: FieldSpec, default: Any = MISSING, default_factory: Callable[[], Any] | Any = MISSING) -> Any:
    """A dataclass field with its :class:`FieldSpec` (read back with :func:`field_spec`)."""
    return dataclasses.field(default=default, default_factory=default_factory, metadata={"spec": spec})


def field_spec(item: dataclasses.Field) -> FieldSpec:
    """The :class:`FieldSpec` a field was :func:`declared` with."""
    return item.metadata["spec"]


def default_batch_size(device_type: str) -> int:
    """Slices per network call when the settings leave it open on a device without a free-memory
    query: 2 on a CPU, where small batches stay in cache (batch 8 was 1.7× slower per slice on
    2 cores, see benchmarks/), 8 on MPS. CUDA follows its free memory
    (:func:`mrdeeprecon.device_memory.batch_size`)."""
    return 2 if device_type == "cpu" else 8


@dataclass
class EnhanceSettings:
    """User settings of one enhancement; each field's meaning is its :class:`FieldSpec` help.

    Checked when made (:meth:`validate`; raises :class:`~mrdeeprecon.errors.MRDeepReconError`
    naming the setting). Super-resolution along the slice needs the 3D model: that depends on
    the model chosen, so the engine checks it when it loads the model.
    """

    noise_reduction: float = declared(FieldSpec(
        "noise reduction factor: the output's noise SD is the input's divided by F (1 leaves the noise as it is)",
        metavar="F", range=NOISE_REDUCTION_RANGE), 2.0)
    super_resolution: tuple[float, float, float] = declared(FieldSpec(
        "refine the output grid along {axis} by F (2 halves the voxel size; the slice factor needs the 3D model)",
        flag="--sr", metavar="F", range=SUPER_RESOLUTION_RANGE, axes=SR_AXES), (1.0, 1.0, 1.0))
    device: str = declared(FieldSpec("where the network runs; auto: CUDA, then MPS, then CPU", choices=DEVICES), "auto")
    model_kind: str = declared(FieldSpec("auto: 3d for a 3D acquisition (MRAcquisitionType), else 2d", choices=MODEL_KINDS), "auto")
    model_path: Path | None = declared(FieldSpec(
        "weights (.safetensors) with their model card (.json) beside them (default: the bundled model)",
        flag="--model", metavar="SAFETENSORS"), None)
    planes: int = declared(FieldSpec(
        "1: the network along the slices; 3: along each of the three axes of a 3D acquisition, averaged "
        "(about 3x the network's time; not with partial Fourier, undersampling or elliptical corners)",
        metavar="N", choices=PLANE_CHOICES), 1)
    batch_size: int | None = declared(FieldSpec(
        f"slices (or tiles) per network call (default: {default_batch_size('cpu')} on CPU, {default_batch_size('mps')} on MPS, "
        "as many as half the free memory holds on CUDA)",
        metavar="N"), None)
    tile_size: int = declared(FieldSpec(
        "largest in-plane tile edge in pixels; larger images run in overlapping tiles of N x N to bound memory",
        metavar="N"), 256)
    adaptation_steps: int = declared(FieldSpec(
        "adapt the network to this scan first: a self-supervised fine-tune on the input itself (no reference) of at "
        "most N steps, stopped early when held-out slices stop improving (about 1 minute per 1000 steps on 2 CPU "
        "cores; 0: off)",
        flag="--adapt-steps", metavar="N", range=ADAPTATION_STEPS_RANGE), 0)

    def __post_init__(self) -> None:
        try:
            self.noise_reduction = float(self.noise_reduction)
            self.super_resolution = tuple(float(s) for s in self.super_resolution)  # type: ignore[assignment]
        except (TypeError, ValueError):
            raise MRDeepReconError(
                "noise reduction must be a number and super-resolution three numbers, got "
                f"{self.noise_reduction!r} and {self.super_resolution!r}"
            ) from None
        for name in ("batch_size", "tile_size", "adaptation_steps"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
                raise MRDeepReconError(f"{name.replace('_', ' ')} must be a whole number, got {value!r}")
        if self.model_path is not None:
            if not isinstance(self.model_path, (str, os.PathLike)):
                raise MRDeepReconError(f"model path must be a str or os.PathLike, got {type(self.model_path).__name__}")
            self.model_path = Path(self.model_path)
        self.validate()

    def validate(self) -> None:
        """Raise :class:`~mrdeeprecon.errors.MRDeepReconError` naming the first setting out of
        its range or choices. Run when the settings are made, and again by
        :func:`~mrdeeprecon.inference.enhance` (a field may have been changed since)."""
        lo, hi = NOISE_REDUCTION_RANGE
        if not lo <= self.noise_reduction <= hi:
            raise MRDeepReconError(
                f"noise reduction factor must be in [{lo:g}, {hi:g}], got {self.noise_reduction:g}"
            )
        lo, hi = SUPER_RESOLUTION_RANGE
        if len(self.super_resolution) != len(SR_AXES):
            raise MRDeepReconError(f"super-resolution needs three factors ({', '.join(SR_AXES)})")
        for name, f in zip(SR_AXES, self.super_resolution):
            if not lo <= f <= hi:
                raise MRDeepReconError(
                    f"super-resolution factor along {name} must be in [{lo:g}, {hi:g}], got {f:g}"
                )
        if self.device not in DEVICES:
            raise MRDeepReconError(f"device must be one of {DEVICES}, got {self.device!r}")
        if self.model_kind not in MODEL_KINDS:
            raise MRDeepReconError(f"model kind must be one of {MODEL_KINDS}, got {self.model_kind!r}")
        if isinstance(self.planes, bool) or not isinstance(self.planes, (int, np.integer)) or self.planes not in PLANE_CHOICES:
            raise MRDeepReconError(f"planes must be one of {PLANE_CHOICES}, got {self.planes!r}")
        if (self.batch_size is not None and self.batch_size < 1) or self.tile_size < MIN_TILE_SIZE:
            raise MRDeepReconError(f"batch size must be >= 1 and tile size >= {MIN_TILE_SIZE}")
        lo, hi = ADAPTATION_STEPS_RANGE
        if not lo <= self.adaptation_steps <= hi:
            raise MRDeepReconError(f"adaptation steps must be in [{lo}, {hi}], got {self.adaptation_steps}")
