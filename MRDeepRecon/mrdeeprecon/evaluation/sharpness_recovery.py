"""How much edge sharpness an enhancement recovers after a resolution loss, per encoding axis.

Relative edge sharpness after seed 001 (section 3.3) and Lebel 2020: the ratio of the **maximum
gradients** of line profiles across the same edge. A clean volume is degraded (default k_max 0.35
along frequency and phase, :func:`mrdeeprecon.simulate.simulate_acquisition`) and enhanced; the
strongest, well-separated edges of the **clean** volume along each encoding direction
(:func:`mrdeeprecon.qa.sharpness.find_edges`) are profiled in all three volumes, each on its own
grid (:func:`mrdeeprecon.qa.sharpness.compare_line`), and each profile's maximum gradient is taken
in the direction the clean edge rises (``EdgeSharpness.max_gradient``, intensity/mm).

Why not :mod:`mrdeeprecon.qa.sharpness`'s height-normalised sharpness (gradient / edge height):
many of the strongest edges of a head are thin bright layers (skin, fat), and blurring such a layer
lowers its plateau-to-plateau height more than its slope, so the normalised sharpness *rises* when
the image is blurred (seg3D, phase axis, k_max 0.3: degraded / clean = 1.07). The three volumes
share the clean volume's intensity scale, so the raw maximum gradient, as Lebel uses it, is the
right measure here. A profile whose edge runs the other way in the degraded or enhanced volume, or
has no edge left, is dropped.

Per axis, with ``G`` the median over profiles of each profile's maximum gradient relative to the
clean one (so ``G_clean = 1``):

* **recovery** = ``(G_enhanced − G_degraded) / (1 − G_degraded)``
  (:func:`mrdeeprecon.qa.sharpness.sharpness_recovery`); 1 = the clean sharpness is back, 0 = no
  better than the degraded input, < 0 = blurrier than the input. Required: ≥ 0.8. Undefined
  (``None``) when the degradation lost less than :data:`MIN_SHARPNESS_LOSS` along the axis (e.g.
  the slice axis of a 2D acquisition), because the ratio would divide noise by noise.
* **overshoot** = ``G_enhanced − 1``: steeper than the clean volume (over-sharpening, ringing or
  invented detail). Allowed: ≤ 0.10.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..context import ScanContext
from ..errors import MRDeepReconError
from ..inference import enhance
from ..kspace.degrade import DegradationSpec
from ..qa.foreground import foreground_mask
from ..reporting import plotting
from ..qa.sharpness import (
    AXES,
    EDGES_PER_AXIS,
    compare_line,
    encoding_array_axis,
    find_edges,
    sharpness_recovery,
)
from ..settings import EnhanceSettings
from ..simulate import simulate_acquisition
from ..volume import Volume
from .tunable import Enhancer

#: Default degradation: 35 % of the k-space extent along frequency and phase (the smallest
#: k_max the bundled models are trained on). The held-out seg3D head's in-plane edges span about
#: two voxels, so k_max 0.5 removes less than 1 % of their sharpness there.
DEFAULT_SPEC = DegradationSpec(kmax=(0.35, 0.35, 1.0))
#: Smallest relative sharpness loss (1 − S_degraded) for which a recovery is computed.
MIN_SHARPNESS_LOSS = 0.05
#: Required recovered fraction.
MIN_RECOVERY = 0.8
#: Allowed overshoot.
MAX_OVERSHOOT = 0.10


@dataclass
class ProfileSharpness:
    """One edge profile: its name and maximum gradient (intensity/mm, in the direction the clean
    edge rises) in the three volumes."""

    name: str
    clean: float
    degraded: float
    enhanced: float


@dataclass
class AxisRecovery:
    """Sharpness recovery along one encoding direction.

    Attributes:
        axis: ``"frequency"``, ``"phase"`` or ``"slice"``.
        array_axis: its array axis (0 = z, 1 = y, 2 = x).
        profiles: edges measured in all three volumes.
        clean_max_gradient: median clean maximum gradient (intensity/mm).
        degraded_ratio: median of degraded / clean maximum gradient per profile.
        enhanced_ratio: median of enhanced / clean maximum gradient per profile.
        recovery: recovered fraction (module docstring), ``None`` when undefined.
        overshoot: ``enhanced_ratio − 1``.
        recovered: ``recovery ≥ 0.8`` (``None`` without a recovery).
        within_overshoot: ``overshoot ≤ 0.10`` (``None`` without profiles).
        note: why a number is missing.
        lines: the profiles.
    """

    axis: str
    array_axis: int
    profiles: int
    clean_max_gradient: float | None
    degraded_ratio: float | None
    enhanced_ratio: float | None
    recovery: float | None
    overshoot: float | None
    recovered: bool | None
    within_overshoot: bool | None
    note: str
    lines: list[ProfileSharpness]


@dataclass
class SharpnessRecoveryResult:
    """Sharpness recovery of one enhancement of one degraded volume.

    Attributes:
        degradation: the degradation (``dataclasses.asdict`` of the spec).
        noise_reduction: the enhancement's requested noise reduction.
        super_resolution: its (frequency, phase, slice) factors.
        seed: the degradation's seed.
        axes: frequency, phase, slice.
        all_recovered: every axis with a recovery reaches 0.8 (``False`` when none has one).
        all_within_overshoot: no measured axis overshoots more than 10 %.
    """

    degradation: dict
    noise_reduction: float
    super_resolution: list[float]
    seed: int
    axes: list[AxisRecovery]
    all_recovered: bool
    all_within_overshoot: bool


def _axis_recovery(
    axis: str,
    clean: Volume,
    degraded: Volume,
    enhanced: Volume,
    context: ScanContext,
    count: int,
    foreground: np.ndarray,
) -> AxisRecovery:
    lines = []
    for segment in find_edges(clean, context, axis, count, foreground):
        try:
            before = compare_line(clean, degraded, segment, axis)
            after = compare_line(clean, enhanced, segment, axis)
        except MRDeepReconError:  # no edge left along this profile in one of the volumes
            continue
        rising = np.sign(before.original.height)
        if np.sign(before.enhanced.height) != rising or np.sign(after.enhanced.height) != rising:
            continue
        lines.append(
            ProfileSharpness(
                segment.name,
                float(before.original.max_gradient),
                float(before.enhanced.max_gradient),
                float(after.enhanced.max_gradient),
            )
        )
    array_axis = encoding_array_axis(context, axis)
    if not lines:
        return AxisRecovery(axis, array_axis, 0, None, None, None, None, None, None, None,
                            "no step edge found", [])
    degraded_ratio = float(np.median([line.degraded / line.clean for line in lines]))
    enhanced_ratio = float(np.median([line.enhanced / line.clean for line in lines]))
    recovery, note = None, ""
    if 1.0 - degraded_ratio >= MIN_SHARPNESS_LOSS:
        recovery = float(sharpness_recovery(1.0, degraded_ratio, enhanced_ratio).fraction)
    else:
        note = (
            f"the degradation kept {degraded_ratio:.3f} of the clean sharpness along this axis "
            f"(loss < {MIN_SHARPNESS_LOSS:g}): no recovery to measure"
        )
    overshoot = enhanced_ratio - 1.0
    return AxisRecovery(
        axis=axis,
        array_axis=array_axis,
        profiles=len(lines),
        clean_max_gradient=float(np.median([line.clean for line in lines])),
        degraded_ratio=degraded_ratio,
        enhanced_ratio=enhanced_ratio,
        recovery=recovery,
        overshoot=overshoot,
        recovered=None if recovery is None else bool(recovery >= MIN_RECOVERY),
        within_overshoot=bool(overshoot <= MAX_OVERSHOOT),
        note=note,
        lines=lines,
    )


def measure_sharpness_recovery(
    clean: Volume,
    context: ScanContext,
    settings: EnhanceSettings | None = None,
    spec: DegradationSpec = DEFAULT_SPEC,
    seed: int = 0,
    edges_per_axis: int = EDGES_PER_AXIS,
    enhancer: Enhancer = enhance,
) -> SharpnessRecoveryResult:
    """Degrade ``clean`` as ``spec`` says, enhance it, and measure the recovered edge sharpness
    per encoding direction (module docstring).

    Args:
        clean: the clean volume ``(z, y, x)``.
        context: its scan context (encoding axes; 2D or 3D acquisition).
        settings: enhancement settings; default the bundled model with noise reduction 1 (keep
            the noise, restore the resolution).
        spec: the degradation (slice k_max < 1 needs a 3D acquisition).
        seed: the degradation's seed.
        edges_per_axis: edges profiled per axis.
        enhancer: the enhancement (default :func:`mrdeeprecon.inference.enhance`).
    """
    settings = settings or EnhanceSettings(noise_reduction=1.0)
    degraded, degraded_context = simulate_acquisition(clean, spec, context, seed)
    enhanced = enhancer(degraded, settings, degraded_context)
    foreground = foreground_mask(clean)
    axes = [
        _axis_recovery(axis, clean, degraded, enhanced, context, edges_per_axis, foreground)
        for axis in AXES
    ]
    measured = [a for a in axes if a.recovery is not None]
    return SharpnessRecoveryResult(
        degradation=dataclasses.asdict(spec),
        noise_reduction=float(settings.noise_reduction),
        super_resolution=[float(s) for s in settings.super_resolution],
        seed=int(seed),
        axes=axes,
        all_recovered=bool(measured) and all(a.recovered for a in measured),
        all_within_overshoot=all(a.within_overshoot for a in axes if a.profiles),
    )


def plot_sharpness_recovery(result: SharpnessRecoveryResult, path: str | Path) -> Path:
    """PNG: per axis, degraded and enhanced sharpness relative to clean (with the 1.10 overshoot
    limit) and the recovered fraction (with the 0.8 requirement)."""
    figure_type, canvas = plotting("sharpness plots")
    figure = figure_type(figsize=(10.0, 4.0))
    names = [a.axis for a in result.axes]
    position = np.arange(len(names))
    axes = figure.add_subplot(1, 2, 1)
    for offset, label, values in (
        (-0.2, "degraded", [a.degraded_ratio for a in result.axes]),
        (0.2, "enhanced", [a.enhanced_ratio for a in result.axes]),
    ):
        axes.bar(position + offset, [np.nan if v is None else v for v in values], 0.4, label=label)
    axes.axhline(1.0, color="k", linewidth=1, label="clean")
    axes.axhline(1.0 + MAX_OVERSHOOT, color="r", linestyle="--", linewidth=1,
                 label=f"overshoot limit +{MAX_OVERSHOOT:.0%}")
    axes.set_xticks(position)
    axes.set_xticklabels([f"{a.axis} ({a.profiles})" for a in result.axes])
    axes.set_ylabel("max edge gradient / clean (median)")
    ratios = [v for a in result.axes for v in (a.degraded_ratio, a.enhanced_ratio) if v is not None]
    axes.set_ylim(0.0, max([1.2 + MAX_OVERSHOOT, *ratios]) * 1.15)
    kmax = result.degradation.get("kmax")
    axes.set_title(f"k_max {kmax}, NR {result.noise_reduction:g}", fontsize=9)
    axes.legend(fontsize=8, ncol=2, loc="upper center")
    axes = figure.add_subplot(1, 2, 2)
    recoveries = [np.nan if a.recovery is None else a.recovery for a in result.axes]
    axes.bar(position, recoveries, 0.5, color="tab:green")
    axes.axhline(MIN_RECOVERY, color="r", linestyle="--", linewidth=1,
                 label=f"required {MIN_RECOVERY:g}")
    axes.axhline(0.0, color="k", linewidth=1)
    for x, axis in zip(position, result.axes):
        if axis.recovery is None:
            axes.text(x, 0.05, "n/a", ha="center", fontsize=8)
    axes.set_xticks(position)
    axes.set_xticklabels(names)
    axes.set_xlim(-0.6, len(names) - 0.4)
    axes.set_ylabel("recovered fraction of the sharpness loss")
    axes.legend(fontsize=8)
    figure.tight_layout()
    path = Path(path)
    canvas(figure)
    figure.savefig(path, dpi=100)
    return path
