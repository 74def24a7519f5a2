"""What the user asks the enhancement to do."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import MRDeepReconError

NOISE_REDUCTION_RANGE = (1.0, 10.0)
SUPER_RESOLUTION_RANGE = (1.0, 2.0)
DEVICES = ("auto", "cpu", "cuda", "mps")
MODEL_KINDS = ("auto", "2d", "3d")


def default_batch_size(device_type: str) -> int:
    """Slices per network call when the settings leave it open: 2 on a CPU, where small batches
    stay in cache (batch 8 was 1.7× slower per slice on 2 cores, see benchmarks/), 8 elsewhere."""
    return 2 if device_type == "cpu" else 8


@dataclass
class EnhanceSettings:
    """User settings of one enhancement.

    Attributes:
        noise_reduction: requested noise reduction factor (output noise SD = input noise SD / factor),
            in [1, 10]; 1 leaves the noise as it is.
        super_resolution: refinement of the output grid along (frequency, phase, slice), each in
            [1, 2]; 2 halves the voxel size along that axis. The slice factor needs the 3D model.
        device: ``"auto"`` (CUDA, then MPS, then CPU), ``"cpu"``, ``"cuda"`` or ``"mps"``.
        model_kind: ``"auto"`` (from the acquisition type), ``"2d"`` or ``"3d"``.
        model_path: a ``.safetensors`` file with its ``.json`` model card; ``None`` = bundled model.
        batch_size: slices (or tiles) per network call; ``None`` = :func:`default_batch_size` of
            the device.
        tile_size: largest in-plane tile edge in pixels fed to the network (bounds memory).
    """

    noise_reduction: float = 2.0
    super_resolution: tuple[float, float, float] = (1.0, 1.0, 1.0)
    device: str = "auto"
    model_kind: str = "auto"
    model_path: Path | None = None
    batch_size: int | None = None
    tile_size: int = 256

    def __post_init__(self) -> None:
        try:
            self.noise_reduction = float(self.noise_reduction)
            self.super_resolution = tuple(float(s) for s in self.super_resolution)  # type: ignore[assignment]
        except (TypeError, ValueError):
            raise MRDeepReconError(
                "noise reduction must be a number and super-resolution three numbers, got "
                f"{self.noise_reduction!r} and {self.super_resolution!r}"
            ) from None
        for name in ("batch_size", "tile_size"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
                raise MRDeepReconError(f"{name.replace('_', ' ')} must be a whole number, got {value!r}")
        if self.model_path is not None:
            if not isinstance(self.model_path, (str, os.PathLike)):
                raise MRDeepReconError(f"model path must be a str or os.PathLike, got {type(self.model_path).__name__}")
            self.model_path = Path(self.model_path)
        self.validate()

    def validate(self) -> None:
        lo, hi = NOISE_REDUCTION_RANGE
        if not lo <= self.noise_reduction <= hi:
            raise MRDeepReconError(
                f"noise reduction factor must be in [{lo:g}, {hi:g}], got {self.noise_reduction:g}"
            )
        lo, hi = SUPER_RESOLUTION_RANGE
        names = ("frequency", "phase", "slice")
        if len(self.super_resolution) != 3:
            raise MRDeepReconError("super-resolution needs three factors (frequency, phase, slice)")
        for name, f in zip(names, self.super_resolution):
            if not lo <= f <= hi:
                raise MRDeepReconError(
                    f"super-resolution factor along {name} must be in [{lo:g}, {hi:g}], got {f:g}"
                )
        if self.device not in DEVICES:
            raise MRDeepReconError(f"device must be one of {DEVICES}, got {self.device!r}")
        if self.model_kind not in MODEL_KINDS:
            raise MRDeepReconError(f"model kind must be one of {MODEL_KINDS}, got {self.model_kind!r}")
        if (self.batch_size is not None and self.batch_size < 1) or self.tile_size < 32:
            raise MRDeepReconError("batch size must be >= 1 and tile size >= 32")
