"""Simulate a faster acquisition of a real volume and describe it as a scan context.

Used by ``mrdeeprecon degrade``, the demo and the model card's acceptance measurement: the
degraded volume keeps the input's geometry, and :func:`simulated_context` tells the enhancement
exactly how it was sampled.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .context import ScanContext
from .errors import MRDeepReconError
from .kspace.degrade import AxisRoles, DegradationSpec, degrade
from .kspace.noise import reference_level
from .metrics import psnr, ssim
from .volume import Volume


def simulated_context(base: ScanContext, spec: DegradationSpec) -> ScanContext:
    """The scan context of ``base`` after the degradation ``spec`` (k-space extents multiply)."""
    kmax = tuple(b * s for b, s in zip(base.kmax, spec.kmax))
    partial_fourier = tuple(min(b, s) for b, s in zip(base.partial_fourier, spec.partial_fourier))
    if spec.undersample_uniform > 1:
        undersampling, rate = "uniform", spec.undersample_uniform
    elif spec.undersample_random > 1:
        undersampling, rate = "random", spec.undersample_random
    else:
        undersampling, rate = base.undersampling, base.acceleration[0]
    changed = ["kmax", "partial_fourier", "undersampling", "acceleration", "elliptical"]
    return dataclasses.replace(
        base,
        kmax=kmax,
        partial_fourier=partial_fourier,
        undersampling=undersampling,
        acceleration=(float(rate), base.acceleration[1]),
        elliptical=base.elliptical or spec.elliptical,
        sources={**base.sources, **{name: "simulated" for name in changed}},
    )


def simulate_acquisition(
    volume: Volume, spec: DegradationSpec, context: ScanContext, seed: int | None = 0
) -> tuple[Volume, ScanContext]:
    """Degrade ``volume`` in k-space as ``spec`` says; returns the float32 result and its context.

    A 3D acquisition degrades the volume's 3D k-space (slice = array axis 0). A 2D multi-slice
    acquisition degrades each slice's 2D k-space on its own (one random generator, slices in
    order), so undersampling and elliptical masks never act through the slices.
    """
    if context.acquisition == "2D" and (spec.kmax[2] < 1 or spec.partial_fourier[1] < 1):
        raise MRDeepReconError("slice-direction degradation needs a 3D acquisition (--acq-type 3D)")
    data = np.asarray(volume.data, dtype=np.float32)
    level = reference_level(data)
    rng = np.random.default_rng(seed)
    if context.acquisition == "3D":
        axes = AxisRoles(frequency=context.frequency_axis, phase=context.phase_axis, slice=0)
        image = degrade(data, spec, axes=axes, rng=rng, reference_level=level).image
    else:
        axes = AxisRoles(frequency=context.frequency_axis - 1, phase=context.phase_axis - 1)
        image = np.stack(
            [degrade(s, spec, axes=axes, rng=rng, reference_level=level).image for s in data]
        )
    degraded = volume.with_data(image.astype(np.float32))
    out_context = simulated_context(context, spec)
    degraded.metadata["scan_context"] = out_context
    degraded.metadata["degradation"] = dataclasses.asdict(spec)
    return degraded, out_context


def score(reference: np.ndarray, image: np.ndarray) -> dict[str, float]:
    """PSNR (dB) and mean per-slice SSIM of ``image`` against ``reference`` (data range = its max)."""
    return {"psnr_db": psnr(reference, image), "ssim": ssim(reference, image)}
