"""Accuracy of tunable denoising (seed 001, section 3.2 and Fig. 4).

A clean volume is degraded with complex Gaussian noise of σ = ``noise`` × its 99th percentile
(:func:`mrdeeprecon.simulate.simulate_acquisition`, no other degradation), enhanced with each
requested noise-reduction factor NR, and measured in several homogeneous tissue ROIs.

Definitions, per ROI (every array ``(z, y, x)`` on the clean volume's grid):

* **reference** = the noise-free degraded image (the clean volume through the same simulated
  acquisition without noise; for noise-only degradation it equals the clean volume up to
  rounding).
* **measured NR** = ``SD(input − reference) / SD(output − reference)``, SDs about the ROI mean of
  each difference. The input's difference is exactly the added noise. The output's difference
  is its residual noise plus any spatially varying error the enhancement makes (smoothed texture,
  invented detail); a constant offset is not counted as noise but reported as the mean-signal
  change. So the measured NR is conservative: an output that blurs anatomy measures a lower NR
  than the noise reduction it achieved.
* **detrended NR** = ``SD_detrended(input) / SD_detrended(output)`` as :func:`mrdeeprecon.qa.roi.
  compare_roi` computes it: what a user without a reference measures. The reference's own noise
  and texture are in both SDs, so it is biased towards 1; the reference's detrended SD is
  reported beside it.
* **mean-signal change** = ``100 · (mean(output) / mean(input) − 1)`` %.

Per factor the median over ROIs is reported, with its relative error ``measured / requested − 1``
and pass flags at ±10 % and ±2 %.

ROIs are chosen automatically in the clean volume (:func:`find_homogeneous_rois`) or given.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from scipy import ndimage

from ..context import ScanContext
from ..errors import MRDeepReconError
from ..inference import enhance
from ..kspace.degrade import DegradationSpec
from ..kspace.noise import reference_level
from ..qa.foreground import foreground_mask
from ..reporting import plotting
from ..qa.roi import (
    AUTO_ROI_SIZE_MM,
    ROI,
    BoxROI,
    compare_roi,
    find_homogeneous_roi,
    region_stats,
    roi_region,
)
from ..settings import EnhanceSettings
from ..simulate import degrade_with_reference
from ..volume import Volume

#: An enhancement with the signature of :func:`mrdeeprecon.inference.enhance`
#: ``(volume, settings, context) -> Volume`` (tests pass oracles).
Enhancer = Callable[[Volume, EnhanceSettings, ScanContext], Volume]

#: Relative-error tolerances of the pass flags.
TOLERANCE_LOOSE = 0.10
TOLERANCE_STRICT = 0.02
#: Default noise σ as a fraction of the clean volume's 99th percentile.
DEFAULT_NOISE = 0.05
#: Default requested factors.
DEFAULT_FACTORS = (1.5, 2.0, 3.0, 4.0)
#: Default number of automatic ROIs.
DEFAULT_ROI_COUNT = 5

DEFINITION = (
    "measured NR = SD(input - reference) / SD(output - reference) in each ROI (SD about the ROI "
    "mean), reference = noise-free degraded image; output errors other than a constant offset "
    "count as noise. Detrended NR = SD_detrended(input) / SD_detrended(output) (qa.roi, no "
    "reference)."
)


def find_homogeneous_rois(
    volume: Volume,
    count: int = DEFAULT_ROI_COUNT,
    size_mm: float | tuple[float, float, float] = AUTO_ROI_SIZE_MM,
    foreground: np.ndarray | None = None,
) -> list[BoxROI]:
    """Up to ``count`` non-touching homogeneous boxes inside the object, most homogeneous first.

    Repeats :func:`mrdeeprecon.qa.roi.find_homogeneous_roi` (lowest local SD / mean of the
    smoothed image, box entirely in ``foreground``, default Otsu) with every chosen box, grown by
    half its size on each side, removed from the allowed region.

    Raises:
        MRDeepReconError: when not even one box fits.
    """
    if count < 1:
        raise MRDeepReconError(f"ROI count must be >= 1, got {count}")
    allowed = np.array(foreground_mask(volume) if foreground is None else foreground, dtype=bool)
    rois: list[BoxROI] = []
    for number in range(1, count + 1):
        try:
            roi = find_homogeneous_roi(volume, size_mm, allowed)
        except MRDeepReconError:
            if rois:
                break
            raise
        roi = dataclasses.replace(roi, name=f"roi-{number}")
        block, inside = roi_region(roi, volume)
        taken = np.zeros(volume.shape, dtype=bool)
        taken[block] = inside
        grown = ndimage.maximum_filter(taken, size=tuple(2 * (s.stop - s.start) for s in block))
        allowed &= ~grown
        rois.append(roi)
    return rois


@dataclass
class ROINoise:
    """One ROI at one factor (intensities in the volume's units).

    Attributes:
        name: the ROI's label.
        voxels: voxels inside.
        input_error_sd: ``SD(input − reference)`` (the added noise).
        output_error_sd: ``SD(output − reference)``.
        output_bias: ``mean(output − reference)``.
        measured: ``input_error_sd / output_error_sd``.
        reference_sd_detrended: detrended SD of the reference (its own noise and texture).
        input_sd_detrended: detrended SD of the input.
        output_sd_detrended: detrended SD of the output.
        measured_detrended: ``input_sd_detrended / output_sd_detrended``.
        input_mean: mean of the input.
        output_mean: mean of the output.
        mean_change_percent: ``100 · (output_mean / input_mean − 1)``.
    """

    name: str
    voxels: int
    input_error_sd: float
    output_error_sd: float
    output_bias: float
    measured: float
    reference_sd_detrended: float
    input_sd_detrended: float
    output_sd_detrended: float
    measured_detrended: float
    input_mean: float
    output_mean: float
    mean_change_percent: float


@dataclass
class FactorAccuracy:
    """One requested factor: medians over the ROIs.

    Attributes:
        requested: the factor asked of the enhancement.
        measured: median measured NR (module docstring).
        relative_error: ``measured / requested − 1``.
        measured_detrended: median detrended NR.
        relative_error_detrended: ``measured_detrended / requested − 1``.
        mean_change_percent: median mean-signal change, %.
        within_10_percent: ``|relative_error| ≤ 0.10``.
        within_2_percent: ``|relative_error| ≤ 0.02``.
        rois: per-ROI numbers.
    """

    requested: float
    measured: float
    relative_error: float
    measured_detrended: float
    relative_error_detrended: float
    mean_change_percent: float
    within_10_percent: bool
    within_2_percent: bool
    rois: list[ROINoise]


@dataclass
class TunableDenoisingResult:
    """Accuracy of tunable denoising on one volume.

    Attributes:
        definition: how the NR is measured (:data:`DEFINITION`).
        noise_fraction: σ as a fraction of the clean volume's 99th percentile.
        noise_sigma: σ in intensity units.
        seed: noise seed.
        rois: the ROIs (``to_dict()`` of each).
        factors: one entry per requested factor, in request order.
        all_within_10_percent: every factor's measured NR within ±10 %.
        all_within_2_percent: every factor's measured NR within ±2 %.
    """

    definition: str
    noise_fraction: float
    noise_sigma: float
    seed: int
    rois: list[dict[str, Any]]
    factors: list[FactorAccuracy]
    all_within_10_percent: bool
    all_within_2_percent: bool


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator > 0 else float("inf")


def _roi_noise(
    roi: ROI, reference: Volume, noisy: Volume, output: Volume, requested: float
) -> ROINoise:
    block, inside = roi_region(roi, reference)
    ref = np.asarray(reference.data[block], dtype=np.float64)[inside]
    before = np.asarray(noisy.data[block], dtype=np.float64)[inside]
    after = np.asarray(output.data[block], dtype=np.float64)[inside]
    input_error_sd = float(np.std(before - ref, ddof=1))
    output_error_sd = float(np.std(after - ref, ddof=1))
    detrended = compare_roi(roi, noisy, output, requested)
    return ROINoise(
        name=roi.name,
        voxels=int(inside.sum()),
        input_error_sd=input_error_sd,
        output_error_sd=output_error_sd,
        output_bias=float(np.mean(after - ref)),
        measured=_ratio(input_error_sd, output_error_sd),
        reference_sd_detrended=float(region_stats(roi, reference).sd_detrended),
        input_sd_detrended=float(detrended.original.sd_detrended),
        output_sd_detrended=float(detrended.enhanced.sd_detrended),
        measured_detrended=float(detrended.measured_noise_reduction),
        input_mean=float(before.mean()),
        output_mean=float(after.mean()),
        mean_change_percent=float(100.0 * (after.mean() / before.mean() - 1.0)),
    )


def measure_tunable_denoising(
    clean: Volume,
    context: ScanContext,
    settings: EnhanceSettings | None = None,
    noise: float = DEFAULT_NOISE,
    noise_reductions: Sequence[float] = DEFAULT_FACTORS,
    rois: Sequence[ROI] | None = None,
    roi_count: int = DEFAULT_ROI_COUNT,
    roi_size_mm: float = AUTO_ROI_SIZE_MM,
    seed: int = 0,
    enhancer: Enhancer = enhance,
) -> TunableDenoisingResult:
    """Degrade ``clean`` with noise, enhance it at each factor and measure the achieved NR.

    Args:
        clean: the clean volume ``(z, y, x)``.
        context: its scan context (how it was sampled; noise does not change it).
        settings: enhancement settings; ``noise_reduction`` is replaced by each factor and the
            output must lie on the input's grid (super-resolution 1). Default: bundled model.
        noise: σ as a fraction of the clean volume's 99th percentile.
        noise_reductions: requested factors, each in [1, 5].
        rois: ROIs in LPS mm; default :func:`find_homogeneous_rois` on ``clean``.
        roi_count: number of automatic ROIs.
        roi_size_mm: edge of each automatic ROI (mm).
        seed: noise seed.
        enhancer: the enhancement (default :func:`mrdeeprecon.inference.enhance`).

    Raises:
        MRDeepReconError: no noise, no factor, an output on another grid, or no ROI fits.
    """
    if not noise > 0:
        raise MRDeepReconError(f"tunable denoising needs noise > 0, got {noise!r}")
    if not noise_reductions:
        raise MRDeepReconError("give at least one noise-reduction factor")
    settings = settings or EnhanceSettings()
    spec = DegradationSpec(noise=noise)
    noisy, reference, noisy_context = degrade_with_reference(clean, spec, context, seed)
    chosen = list(rois) if rois else find_homogeneous_rois(clean, roi_count, roi_size_mm)
    factors = []
    for requested in noise_reductions:
        factor_settings = dataclasses.replace(settings, noise_reduction=float(requested))
        output = enhancer(noisy, factor_settings, noisy_context)
        if output.shape != noisy.shape:
            raise MRDeepReconError(
                f"the enhanced volume {output.shape} is not on the input grid {noisy.shape}; "
                "measure tunable denoising without super-resolution"
            )
        per_roi = [_roi_noise(roi, reference, noisy, output, float(requested)) for roi in chosen]
        measured = float(np.median([r.measured for r in per_roi]))
        detrended = float(np.median([r.measured_detrended for r in per_roi]))
        error = measured / float(requested) - 1.0
        factors.append(
            FactorAccuracy(
                requested=float(requested),
                measured=measured,
                relative_error=error,
                measured_detrended=detrended,
                relative_error_detrended=detrended / float(requested) - 1.0,
                mean_change_percent=float(np.median([r.mean_change_percent for r in per_roi])),
                within_10_percent=bool(abs(error) <= TOLERANCE_LOOSE),
                within_2_percent=bool(abs(error) <= TOLERANCE_STRICT),
                rois=per_roi,
            )
        )
    return TunableDenoisingResult(
        definition=DEFINITION,
        noise_fraction=float(noise),
        noise_sigma=float(noise * reference_level(np.asarray(clean.data, dtype=np.float32))),
        seed=int(seed),
        rois=[roi.to_dict() for roi in chosen],
        factors=factors,
        all_within_10_percent=all(f.within_10_percent for f in factors),
        all_within_2_percent=all(f.within_2_percent for f in factors),
    )


def plot_tunable_denoising(result: TunableDenoisingResult, path: str | Path) -> Path:
    """PNG: measured vs requested NR (per ROI and median, identity line, ±10 % band) and the
    mean-signal change per factor."""
    figure_type, canvas = plotting("tunable-denoising plots")
    figure = figure_type(figsize=(10.0, 4.2))
    requested = np.array([f.requested for f in result.factors])
    span = np.linspace(1.0, max(requested.max(), 1.0) * 1.05, 50)
    axes = figure.add_subplot(1, 2, 1)
    axes.fill_between(span, span * 0.9, span * 1.1, color="0.85", label="±10 %")
    axes.plot(span, span, "k--", linewidth=1, label="identity")
    for factor in result.factors:
        axes.plot([factor.requested] * len(factor.rois), [r.measured for r in factor.rois], "o",
                  color="tab:blue", alpha=0.35, markersize=4)
    axes.plot(requested, [f.measured for f in result.factors], "o-", color="tab:blue",
              label="measured (vs reference)")
    axes.plot(requested, [f.measured_detrended for f in result.factors], "s-", color="tab:orange",
              label="detrended SD ratio")
    axes.set_xlabel("requested noise reduction")
    axes.set_ylabel("measured noise reduction")
    axes.set_title(f"σ = {100 * result.noise_fraction:g} % of p99, {len(result.rois)} ROIs",
                   fontsize=9)
    axes.legend(fontsize=8)
    axes = figure.add_subplot(1, 2, 2)
    axes.axhline(0.0, color="k", linewidth=1)
    changes = [f.mean_change_percent for f in result.factors]
    axes.plot(requested, changes, "o-")
    limit = max(1.0, 1.2 * max(abs(c) for c in changes))
    axes.set_ylim(-limit, limit)
    axes.set_xlabel("requested noise reduction")
    axes.set_ylabel("mean-signal change in ROIs (%)")
    figure.tight_layout()
    path = Path(path)
    canvas(figure)
    figure.savefig(path, dpi=100)
    return path
