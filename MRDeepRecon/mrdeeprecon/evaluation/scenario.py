"""One evaluation scenario: the reference degraded inside its own band, also on the acquired matrix.

:func:`simulate_scenario` degrades the reference exactly as
:func:`mrdeeprecon.simulate.simulate_acquisition` does (same reference level, the same seeded
generator drawn in the same order, 3D k-space for a 3D acquisition, slice by slice for 2D), so the
degraded volume is the one ``mrdeeprecon degrade`` writes for the same flags and seed. It also
keeps what the baselines need: the same reconstruction without noise, and the degraded image on the
acquired matrix (:attr:`~mrdeeprecon.kspace.degrade.DegradeResult.low_resolution`) as a volume
with its own geometry, from which the interpolation baselines start.

The requested k_max is relative to the band the reference really has
(:mod:`.reference`): the applied k_max is ``band × requested`` per encoding direction (slice only
for a 3D acquisition), so noise is added where the reference has data, and the scan context
describes that band.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..context import ScanContext
from ..kspace.degrade import DegradationSpec
from ..simulate import degrade_volume, degraded_volume, simulated_context
from ..volume import Volume


@dataclass(frozen=True, eq=False)
class Scenario:
    """A degraded reference and what the baselines and the report need about it.

    Attributes:
        spec: the degradation as applied (k_max already scaled by the reference band).
        context: the degraded volume's scan context.
        degraded: the degraded volume on the reference grid, float32 (``mrdeeprecon degrade``'s
            output for the same spec and seed).
        noise_free: the same sampling and reconstruction without added noise, float32 ``(z, y, x)``.
        low_resolution: the degraded image on the acquired matrix, float32, with the geometry of
            that matrix (same field of view, centred-FFT sample positions).
        noise_sigma: σ of the complex noise added per k-space sample and channel (image units).
        noise_sd: the added noise as it appears in the image: RMS of ``degraded - noise_free``
            over ``foreground`` (image units; 0 without noise).
    """

    spec: DegradationSpec
    context: ScanContext
    degraded: Volume
    noise_free: np.ndarray
    low_resolution: Volume
    noise_sigma: float
    noise_sd: float


def band_limited_spec(
    spec: DegradationSpec, band_zyx: tuple[float, float, float], context: ScanContext
) -> DegradationSpec:
    """``spec`` with k_max multiplied by the reference band of each encoding direction (frequency,
    phase; slice only for a 3D acquisition)."""
    band = (
        band_zyx[context.frequency_axis],
        band_zyx[context.phase_axis],
        band_zyx[0] if context.acquisition == "3D" else 1.0,
    )
    return dataclasses.replace(spec, kmax=tuple(k * b for k, b in zip(spec.kmax, band)))


def acquired_grid_geometry(
    volume: Volume, shape: tuple[int, int, int]
) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """Spacing and origin (``(i, j, k)`` LPS mm) of a matrix of ``shape`` ``(z, y, x)`` covering
    ``volume``'s field of view on the centred-FFT grid: its index ``j`` of an axis of ``m``
    samples lies at index ``n // 2 + (j - m // 2) · n / m`` of the volume's axis of ``n``."""
    full = np.asarray(volume.shape[::-1], dtype=np.float64)  # (i, j, k) order
    reduced = np.asarray(shape[::-1], dtype=np.float64)
    step = full / reduced
    offset = full // 2 - (reduced // 2) * step
    spacing = np.asarray(volume.spacing) * step
    origin = np.asarray(volume.origin) + volume.direction @ (np.asarray(volume.spacing) * offset)
    return tuple(spacing), tuple(origin)  # type: ignore[return-value]


def simulate_scenario(
    reference: Volume,
    spec: DegradationSpec,
    context: ScanContext,
    seed: int | None,
    foreground: np.ndarray,
) -> Scenario:
    """Degrade ``reference`` as ``spec`` says (k_max already band-limited, see
    :func:`band_limited_spec`) for the acquisition ``context`` describes.

    Args:
        reference: the clean volume.
        spec: the degradation to apply.
        context: the reference's scan context (acquisition type, phase axis, its k_max).
        seed: seed of the noise (and of any random mask).
        foreground: boolean ``(z, y, x)`` mask where the added noise SD is measured.

    Raises:
        MRDeepReconError: slice-direction degradation of a 2D acquisition.
    """
    result = degrade_volume(reference.data, spec, context, seed, low_resolution=True)
    out_context = simulated_context(context, spec)
    degraded = degraded_volume(reference, result.image, spec, out_context)
    low = result.low_resolution
    spacing, origin = acquired_grid_geometry(reference, low.shape)
    low_resolution = reference.with_data(low, spacing=spacing, origin=origin)
    added = (result.image - result.noise_free)[foreground].astype(np.float64)
    return Scenario(
        spec=spec,
        context=out_context,
        degraded=degraded,
        noise_free=result.noise_free,
        low_resolution=low_resolution,
        noise_sigma=result.sigma,
        noise_sd=float(np.sqrt(np.mean(added**2))),
    )
