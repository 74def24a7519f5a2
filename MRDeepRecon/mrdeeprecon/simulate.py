"""Simulate a faster acquisition of a real volume and describe it as a scan context.

Used by ``mrdeeprecon degrade``, the demo and the model card's acceptance measurement: the
degraded volume keeps the input's geometry, and :func:`simulated_context` tells the enhancement
exactly how it was sampled.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .context import ScanContext
from .kspace.degrade import AxisRoles, DegradationSpec, degrade
from .metrics import psnr, reference_level, ssim
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

    The slice direction is array axis 0 and is degraded only for 3D acquisitions (a 2D
    multi-slice acquisition samples each slice's 2D k-space).
    """
    axes = AxisRoles(frequency=context.frequency_axis, phase=context.phase_axis, slice=0)
    if context.acquisition == "2D" and (spec.kmax[2] < 1 or spec.partial_fourier[1] < 1):
        raise ValueError("slice-direction degradation needs a 3D acquisition")
    data = np.asarray(volume.data, dtype=np.float32)
    result = degrade(data, spec, axes=axes, rng=seed, reference_level=reference_level(data))
    degraded = volume.with_data(result.image.astype(np.float32))
    out_context = simulated_context(context, spec)
    degraded.metadata["scan_context"] = out_context
    degraded.metadata["degradation"] = dataclasses.asdict(spec)
    return degraded, out_context


def score(reference: np.ndarray, image: np.ndarray) -> dict[str, float]:
    """PSNR (dB) and mean per-slice SSIM of ``image`` against ``reference`` (data range = its max)."""
    return {"psnr_db": psnr(reference, image), "ssim": ssim(reference, image)}
