"""The network's context input: how the input was sampled, as one vector.

Training (:mod:`mrdeeprecon.training.pairs`) and inference (:mod:`mrdeeprecon.inference`) build
the vector with :func:`encode` only, from a :class:`~mrdeeprecon.sampling.KSpaceSampling`
(training: :func:`mrdeeprecon.training.pairs.pair_sampling`; inference:
:meth:`ScanContext.on_output_grid <mrdeeprecon.sampling.KSpaceSampling.on_output_grid>`), so the two
always agree. The field list is written into every model card and checked when weights are loaded.

All k-space extents are *relative to the output grid* the network writes: an acquisition with
``kmax`` 0.5 along phase, enhanced with super-resolution ×2 along phase, lacks 75 % of the output
grid's phase extent, so the network sees ``kmax_phase = 0.25``.

The requested noise reduction is not part of it: the network always estimates the clean image,
and the requested factor is applied afterwards (:mod:`mrdeeprecon.noise_reduction`).
"""

from __future__ import annotations

import numpy as np

from ..sampling import KSpaceSampling

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


def encode(sampling: KSpaceSampling) -> np.ndarray:
    """Context vector (float32, shape ``(SIZE,)``) in the order of :data:`FIELDS` of ``sampling``,
    taken relative to the output grid."""
    values = (
        *sampling.kmax,
        *sampling.partial_fourier,
        1.0 / sampling.acceleration_uniform,
        1.0 / sampling.acceleration_random,
        float(sampling.elliptical),
        float(sampling.is_3d),
    )
    return np.asarray(values, dtype=np.float32)
