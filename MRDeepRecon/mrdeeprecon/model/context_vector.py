"""The network's context input: how the input was sampled, as one vector.

Training (:mod:`mrdeeprecon.training.pairs`) and inference (:mod:`mrdeeprecon.inference`) build
the vector with :func:`encode` only, so the two always agree. The field list is written into every
model card and checked when weights are loaded.

All k-space extents are *relative to the output grid* the network writes: an acquisition with
``kmax`` 0.5 along phase, enhanced with super-resolution ×2 along phase, lacks 75 % of the output
grid's phase extent, so the network sees ``kmax_phase = 0.25``.

The requested noise reduction is not part of it: the network always estimates the clean image,
and the requested factor is applied afterwards (:mod:`mrdeeprecon.noise_reduction`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FIELDS: tuple[str, ...] = (
    "kmax_frequency",  # acquired k-space extent / output-grid extent, (0, 1]
    "kmax_phase",
    "kmax_slice",  # 1 for 2D acquisitions (the 2D model never restores through-plane)
    "partial_fourier_phase",  # acquired fraction on the partial side, [0.5, 1]
    "partial_fourier_slice",
    "inverse_acceleration_uniform",  # 1 / R of uniform (parallel-imaging) undersampling, (0, 1]
    "inverse_acceleration_random",  # 1 / R of random (compressed-sensing) undersampling, (0, 1]
    "elliptical",  # 1 if k-space corners were not acquired
    "is_3d",  # 1 for slice-encoded (3D) acquisitions
)
SIZE = len(FIELDS)


@dataclass(frozen=True)
class SamplingDescription:
    """How the network's input was sampled, relative to the output grid.

    This is the common ground between a :class:`~mrdeeprecon.context.ScanContext` plus user
    settings (inference) and a simulated degradation (training).
    """

    kmax: tuple[float, float, float] = (1.0, 1.0, 1.0)  # (frequency, phase, slice)
    partial_fourier: tuple[float, float] = (1.0, 1.0)  # (phase, slice)
    acceleration_uniform: float = 1.0
    acceleration_random: float = 1.0
    elliptical: bool = False
    is_3d: bool = False


def encode(sampling: SamplingDescription) -> np.ndarray:
    """Context vector (float32, shape ``(SIZE,)``) in the order of :data:`FIELDS`."""
    values = (
        *sampling.kmax,
        *sampling.partial_fourier,
        1.0 / sampling.acceleration_uniform,
        1.0 / sampling.acceleration_random,
        float(sampling.elliptical),
        float(sampling.is_3d),
    )
    return np.asarray(values, dtype=np.float32)


def from_scan(context, super_resolution: tuple[float, float, float]) -> SamplingDescription:
    """Sampling of a real acquisition (``ScanContext``) relative to a grid refined by ``super_resolution``.

    ``super_resolution`` is ordered (frequency, phase, slice), like ``context.kmax``.
    """
    kmax = tuple(k / s for k, s in zip(context.kmax, super_resolution))
    if context.acquisition == "2D":
        kmax = (kmax[0], kmax[1], 1.0)
    r_phase = context.acceleration[0] * context.acceleration[1]
    return SamplingDescription(
        kmax=kmax,  # type: ignore[arg-type]
        partial_fourier=tuple(context.partial_fourier),  # type: ignore[arg-type]
        acceleration_uniform=r_phase if context.undersampling == "uniform" else 1.0,
        acceleration_random=r_phase if context.undersampling == "random" else 1.0,
        elliptical=context.elliptical,
        is_3d=context.acquisition == "3D",
    )
