"""Noise pre-whitening of multi-coil k-space from a noise-only scan, and the matching of that scan
to the imaging readouts.

**Noise per sample.** Receiver (thermal) noise has a flat spectral density ``N₀`` over the
receiver's pass band; a complex sample taken every dwell time ``Δt`` (µs) sees the bandwidth
``1/Δt``, so its variance is ``E|n|² ∝ N₀ / Δt``. A noise scan acquired with another dwell time
than the imaging readouts (another receiver bandwidth) therefore has another variance per sample:
``σ²_imaging = σ²_noise · Δt_noise / Δt_imaging``. :func:`noise_scan_for_imaging` multiplies the
noise samples by ``√(Δt_noise / Δt_imaging)`` (its covariance by the ratio), the ratio the
Gadgetron's NoiseAdjustGadget applies (it scales the whitening matrix by the inverse square root).

**Readout band.** The receiver's anti-aliasing filter rolls off towards the edges of the sampled
band, so a raw sample's variance is ``ρ · N₀/Δt`` with ``ρ < 1`` the relative receiver noise
bandwidth (the Gadgetron assumes ``ρ = 0.793`` for Siemens receivers; the background of the Skyra
file ``kspace/twix/gre.dat`` gives about 0.80). The readers remove the readout oversampling by
keeping the centre of the readout band (orthonormal FFT, crop, FFT back), where the spectrum is
flat: that keeps the variance per sample of white noise and drops the filtered edges, so the imaging
data have ``N₀/Δt`` per sample, not ``ρ · N₀/Δt``. Instead of the Gadgetron's vendor constant ``ρ``,
each noise readout is cropped to the same centre fraction of its band, which puts it on the same
flat spectrum (and changes nothing for white noise).

Not applied: the Gadgetron's factor 2 (its SNR unit convention, unit variance per real channel);
here the whitened noise has unit *complex* variance, ``E|n|² = 1``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np

from mrdeeprecon.errors import MRDeepReconError
from mrdeeprecon.raw.kspace_data import RawKSpace
from mrdeeprecon.raw.readouts import remove_readout_oversampling


def noise_scan_for_imaging(
    readouts: Sequence[np.ndarray],
    band_fraction: float,
    noise_dwell_us: float | None,
    imaging_dwell_us: float | None,
) -> tuple[np.ndarray, float | None, tuple[str, ...]]:
    """The noise scan with the imaging data's noise variance per sample (see the module docstring).

    Args:
        readouts: the noise readouts, each (coils, samples) as acquired.
        band_fraction: the fraction of the readout band the imaging data keep after the readout
            oversampling removal (reconstructed / acquired samples; 1 when nothing is removed).
        noise_dwell_us, imaging_dwell_us: dwell times per acquired sample, µs; None where the file
            does not record them.

    Returns:
        the noise scan (coils, samples) complex64: each readout cropped to the centre
        ``band_fraction`` of its band, then multiplied by ``√(noise_dwell_us / imaging_dwell_us)``
        when both dwell times are known; that ratio (None when not applied); and a warning when a
        dwell time is unknown (the scan is then left unscaled).
    """
    cropped = [remove_readout_oversampling(r, max(1, round(r.shape[-1] * band_fraction))) for r in readouts]
    noise = np.concatenate(cropped, axis=1).astype(np.complex64)
    unknown = [name for name, dwell in (("noise scan", noise_dwell_us), ("imaging readouts", imaging_dwell_us)) if dwell is None]
    if unknown:
        return noise, None, (
            f"the dwell time of the {' and the '.join(unknown)} is not recorded: the noise scan is not rescaled "
            "to the imaging dwell time (if they differ, the whitened noise variance is off by their ratio)",
        )
    ratio = noise_dwell_us / imaging_dwell_us
    return noise * np.float32(math.sqrt(ratio)), ratio, ()


def noise_covariance(noise: np.ndarray) -> np.ndarray:
    """(coils, coils) complex covariance ``n nᴴ / samples`` of a (coils, samples) noise scan (zero
    mean assumed, as for receiver noise)."""
    noise = noise.astype(np.complex128)
    return noise @ noise.conj().T / noise.shape[1]


def prewhiten(raw: RawKSpace) -> RawKSpace:
    """Whiten the coils with the noise scan: ``W = L⁻¹`` where ``L Lᴴ`` (Cholesky) is the noise
    covariance, applied along the coil axis. Afterwards each coil's noise has unit complex variance
    (E|n|² = 1) and no correlation with another, provided the noise scan has the data's variance
    per sample (the readers see to it, :func:`noise_scan_for_imaging`); ``whitened`` is True and
    ``noise`` None. A raw k-space without a noise scan is refused, one already whitened returned
    unchanged."""
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
