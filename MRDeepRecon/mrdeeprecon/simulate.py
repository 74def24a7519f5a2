"""Simulate a faster acquisition of a real volume and describe it as a scan context.

Used by ``mrdeeprecon degrade``, the demo and the model card's acceptance measurement: the
degraded volume keeps the input's geometry, and :func:`simulated_context` tells the enhancement
exactly how it was sampled.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from .context import ScanContext
from .errors import MRDeepReconError
from .kspace.degrade import AxisRoles, DegradationSpec, DegradeResult, degrade, degrade_batch, seeded_generator
from .kspace.noise import reference_level
from .volume import Volume


def simulated_context(base: ScanContext, spec: DegradationSpec) -> ScanContext:
    """The scan context of ``base`` after the degradation ``spec``
    (:meth:`~mrdeeprecon.sampling.KSpaceSampling.degraded_by`), those fields marked ``"simulated"``."""
    changed = ["kmax", "partial_fourier", "undersampling", "acceleration", "elliptical"]
    return dataclasses.replace(
        base.degraded_by(spec), sources={**base.sources, **{name: "simulated" for name in changed}}
    )


#: Slices of a 2D acquisition degraded in one batch (bounds the coil arrays' memory).
SLICES_PER_BATCH = 16


def degrade_volume(
    data: np.ndarray,
    spec: DegradationSpec,
    context: ScanContext,
    seed: int | None = 0,
    low_resolution: bool = False,
) -> DegradeResult:
    """:func:`~mrdeeprecon.kspace.degrade.degrade` applied to a ``(z, y, x)`` volume as its
    acquisition would be sampled (on the CPU).

    A 3D acquisition degrades the volume's 3D k-space (slice = array axis 0). A 2D multi-slice
    acquisition degrades each slice's 2D k-space on its own (batches of slices from one seeded
    generator, each slice with its own random mask, bias field and noise), so undersampling and
    elliptical masks never act through the slices; ``masks`` is then empty. The noise is relative
    to the whole volume's reference level.

    Raises:
        MRDeepReconError: slice-direction degradation of a 2D acquisition.
    """
    if context.acquisition == "2D" and (spec.kmax[2] < 1 or spec.partial_fourier[1] < 1):
        raise MRDeepReconError("slice-direction degradation needs a 3D acquisition (--acq-type 3D)")
    data = np.asarray(data, dtype=np.float32)
    level = reference_level(data)
    generator = seeded_generator(seed)
    axes = AxisRoles.for_phase_axis(context.phase_axis)
    if context.acquisition == "3D":
        return degrade(data, spec, axes=axes, rng=generator, reference_level=level, low_resolution=low_resolution)
    parts = []
    for start in range(0, data.shape[0], SLICES_PER_BATCH):
        chunk = torch.from_numpy(data[start : start + SLICES_PER_BATCH])
        parts.append(degrade_batch(chunk, spec, axes, generator, level, low_resolution))

    def stack(name: str) -> np.ndarray:
        return np.concatenate([getattr(part, name).numpy() for part in parts])

    return DegradeResult(
        image=stack("image"),
        noise_free=stack("noise_free"),
        target=stack("target"),
        sigma=float(parts[0].sigma[0]),
        masks={},
        low_resolution=stack("low_resolution") if low_resolution else None,
    )


def degraded_volume(volume: Volume, image: np.ndarray, spec: DegradationSpec, context: ScanContext) -> Volume:
    """``volume`` with the degraded ``image`` (float32), its scan context and the degradation in
    the metadata."""
    degraded = volume.with_data(np.asarray(image, dtype=np.float32))
    degraded.metadata["scan_context"] = context
    degraded.metadata["degradation"] = dataclasses.asdict(spec)
    return degraded


def simulate_acquisition(
    volume: Volume, spec: DegradationSpec, context: ScanContext, seed: int | None = 0
) -> tuple[Volume, ScanContext]:
    """Degrade ``volume`` in k-space as ``spec`` says (:func:`degrade_volume`); returns the
    float32 result and its context."""
    result = degrade_volume(volume.data, spec, context, seed)
    out_context = simulated_context(context, spec)
    return degraded_volume(volume, result.image, spec, out_context), out_context


def degrade_with_reference(
    volume: Volume, spec: DegradationSpec, context: ScanContext, seed: int | None = 0
) -> tuple[Volume, Volume, ScanContext]:
    """The degraded volume, the same acquisition without noise, and the degraded context.

    The degraded volume is :func:`simulate_acquisition`'s; the noise-free one comes from the same
    :func:`degrade_volume` call (a second run with ``noise = 0`` would draw a different bias field
    per slice).
    """
    result = degrade_volume(volume.data, spec, context, seed)
    out_context = simulated_context(context, spec)
    degraded = degraded_volume(volume, result.image, spec, out_context)
    return degraded, volume.with_data(result.noise_free), out_context
