"""Noise pre-whitening of multi-coil k-space from a noise-only scan."""

from __future__ import annotations

import dataclasses

import numpy as np

from mrdeeprecon.errors import MRDeepReconError
from mrdeeprecon.raw.kspace_data import RawKSpace


def noise_covariance(noise: np.ndarray) -> np.ndarray:
    """(coils, coils) complex covariance ``n nᴴ / samples`` of a (coils, samples) noise scan (zero
    mean assumed, as for receiver noise)."""
    noise = noise.astype(np.complex128)
    return noise @ noise.conj().T / noise.shape[1]


def prewhiten(raw: RawKSpace) -> RawKSpace:
    """Whiten the coils with the noise scan: ``W = L⁻¹`` where ``L Lᴴ`` (Cholesky) is the noise
    covariance, applied along the coil axis. Afterwards each coil's noise has unit complex variance
    (E|n|² = 1) and no correlation with another; ``whitened`` is True and ``noise`` None. A raw
    k-space without a noise scan is refused, one already whitened returned unchanged."""
    if raw.whitened:
        return raw
    if raw.noise is None:
        raise MRDeepReconError("there is no noise scan to pre-whiten with", raw.source_path)
    coils, samples = raw.noise.shape
    if samples < coils:
        raise MRDeepReconError(f"the noise scan has {samples} samples, fewer than its {coils} coils: its covariance is singular", raw.source_path)
    try:
        lower = np.linalg.cholesky(noise_covariance(raw.noise))
    except np.linalg.LinAlgError:
        raise MRDeepReconError("the noise covariance is not positive definite (a silent or duplicated coil)", raw.source_path) from None
    whitening = np.linalg.inv(lower)
    data = np.tensordot(whitening, raw.data, axes=(1, 0)).astype(np.complex64)
    return dataclasses.replace(raw, data=data, noise=None, whitened=True)
