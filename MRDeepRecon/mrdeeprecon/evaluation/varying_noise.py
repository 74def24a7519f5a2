"""Denoising under spatially varying noise: does the requested factor hold where the noise is high?

Parallel imaging amplifies noise unevenly (the g-factor) and a receive bias field scales it with
the intensity, so one image holds quiet and noisy regions. A clean volume is degraded with the
simulator's coil/SENSE path (default uniform undersampling R = 3, 8 coils, σ = 5 % of the 99th
percentile; optionally a bias field) and enhanced with the requested noise reduction NR.

Definitions (arrays ``(z, y, x)`` on the clean volume's grid), by pseudo-replica as in
:mod:`.tunable`: two noise realisations ``a`` and ``b`` of the same acquisition, each enhanced.

* **noise** of an image pair = ``(a − b) / √2``: the noise alone, whatever the anatomy and any
  deterministic error of the enhancement.
* **local noise SD map** = the SD of the input's noise in a Gaussian window of SD ``window_mm``
  (mean removed, weighted within the tissue only).
* The tissue (:func:`mrdeeprecon.tissue.tissue_mask` of the clean volume) is split into **thirds
  by the input's local noise SD**: the quietest third, the middle third and the noisiest third.
* In each third, **achieved NR** = ``SD(input noise) / SD(output noise)`` over its voxels; the bar
  is the request ±15 % in the quietest and the noisiest third.

A model that ignores the local noise level removes the same *amount* of noise everywhere and
achieves less than NR in the noisiest third; one that reads a noise map keeps NR in both.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from ..context import ScanContext
from ..errors import MRDeepReconError
from ..inference import enhance
from ..kspace.degrade import DegradationSpec
from ..tissue import tissue_mask
from ..reporting import plotting
from ..settings import EnhanceSettings
from ..volume import Volume
from .tunable import Enhancer, replicas

#: Relative-error tolerance of the achieved NR in the quietest and noisiest thirds.
TOLERANCE = 0.15

#: Default degradation: SENSE R = 3 with 8 coils and σ = 5 % of the 99th percentile.
DEFAULT_SPEC = DegradationSpec(noise=0.05, undersample_uniform=3, n_coils=8)
#: Default SD (mm) of the Gaussian window of the local noise SD maps.
DEFAULT_WINDOW_MM = 4.0
#: Every how many voxels in-plane the stored map slices are sampled.
MAP_STEP = 2


def local_noise_sd(
    error: np.ndarray, foreground: np.ndarray, spacing: tuple[float, float, float], window_mm: float
) -> np.ndarray:
    """Local SD of ``error`` ``(z, y, x)`` in a Gaussian window of SD ``window_mm`` over the
    ``foreground`` voxels only (normalised convolution; the local mean is removed); 0 outside.

    ``spacing`` is the volume's ``(i, j, k)`` voxel size in mm.
    """
    sigma = tuple(window_mm / s for s in spacing[::-1])
    weight = ndimage.gaussian_filter(foreground.astype(np.float64), sigma)
    masked = np.where(foreground, error, 0.0).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = ndimage.gaussian_filter(masked, sigma) / weight
        square = ndimage.gaussian_filter(masked**2, sigma) / weight
    return np.where(foreground, np.sqrt(np.maximum(square - mean**2, 0.0)), 0.0)


@dataclass
class RegionNoise:
    """Noise in one region of the tissue.

    Attributes:
        name: ``"quietest third"``, ``"middle third"``, ``"noisiest third"`` or ``"tissue"``.
        voxels: voxels in the region.
        local_sd_range: ``[low, high]`` of the input's local noise SD that defines the region.
        input_noise_sd: SD of the input's noise over the region.
        output_noise_sd: SD of the output's noise over the region.
        achieved: ``input_noise_sd / output_noise_sd``.
        relative_error: ``achieved / requested − 1``.
        within_tolerance: ``|relative_error| ≤ TOLERANCE`` (15 %).
    """

    name: str
    voxels: int
    local_sd_range: list[float]
    input_noise_sd: float
    output_noise_sd: float
    achieved: float
    relative_error: float
    within_tolerance: bool


@dataclass
class VaryingNoiseResult:
    """Achieved noise reduction in quiet and noisy regions of one degraded volume.

    Attributes:
        degradation: the degradation (``dataclasses.asdict`` of the spec).
        seed: its seed.
        requested: the requested noise reduction.
        window_mm: SD of the local-map window.
        input_noise_ratio: input noise SD, noisiest / quietest third (how uneven the noise is).
        regions: quietest, middle, noisiest third and the whole tissue.
        evenness: achieved NR, noisiest / quietest third (1 = the factor holds everywhere).
        bar_met: the quietest and the noisiest third within ±15 % of the request.
        map_slice: index of the slice the stored maps show.
        map_step: the maps keep every ``map_step``-th row and column.
        input_map: input local noise SD on that slice (rows of floats, 0 outside the object).
        output_map: output local noise SD on that slice.
    """

    degradation: dict
    seed: int
    requested: float
    window_mm: float
    input_noise_ratio: float
    regions: list[RegionNoise]
    evenness: float
    bar_met: bool
    map_slice: int
    map_step: int
    input_map: list[list[float]]
    output_map: list[list[float]]


def _region(
    name: str, mask: np.ndarray, input_noise: np.ndarray, output_noise: np.ndarray,
    input_map: np.ndarray, requested: float,
) -> RegionNoise:
    if int(mask.sum()) < 2:
        raise MRDeepReconError(f"the {name} of the tissue holds fewer than 2 voxels")
    before = float(np.std(input_noise[mask], ddof=1))
    after = float(np.std(output_noise[mask], ddof=1))
    achieved = before / after if after > 0 else float("inf")
    error = achieved / requested - 1.0
    return RegionNoise(
        name=name,
        voxels=int(mask.sum()),
        local_sd_range=[float(input_map[mask].min()), float(input_map[mask].max())],
        input_noise_sd=before,
        output_noise_sd=after,
        achieved=achieved,
        relative_error=error,
        within_tolerance=bool(abs(error) <= TOLERANCE),
    )


def _map_rows(image: np.ndarray) -> list[list[float]]:
    return [[float(v) for v in row] for row in image[::MAP_STEP, ::MAP_STEP]]


def measure_varying_noise(
    clean: Volume,
    context: ScanContext,
    settings: EnhanceSettings | None = None,
    spec: DegradationSpec = DEFAULT_SPEC,
    seed: int = 0,
    window_mm: float = DEFAULT_WINDOW_MM,
    enhancer: Enhancer = enhance,
) -> VaryingNoiseResult:
    """Degrade ``clean`` twice with spatially varying noise, enhance both, and compare the achieved
    noise reduction in the quietest and noisiest thirds of the tissue (module docstring).

    Args:
        clean: the clean volume ``(z, y, x)``.
        context: its scan context.
        settings: enhancement settings (``noise_reduction`` = the requested factor; output on the
            input's grid). Default: bundled model, NR 2.
        spec: the degradation; it needs noise, and SENSE (``undersample_uniform`` > 1) and/or a
            bias field to make the noise vary.
        seed: the first realisation's seed (the second has ``seed + 1``).
        window_mm: SD (mm) of the Gaussian window of the local noise maps.
        enhancer: the enhancement (default :func:`mrdeeprecon.inference.enhance`).

    Raises:
        MRDeepReconError: no noise in ``spec``, randomness other than the noise, an output on
            another grid, or too small an object.
    """
    if not spec.noise > 0:
        raise MRDeepReconError("the varying-noise measurement needs a degradation with noise > 0")
    if not window_mm > 0:
        raise MRDeepReconError(f"window must be > 0 mm, got {window_mm!r}")
    settings = settings or EnhanceSettings()
    requested = float(settings.noise_reduction)
    pair = replicas(clean, spec, context, seed)
    outputs = [enhancer(volume, settings, pair.context) for volume in (pair.a, pair.b)]
    if outputs[0].shape != clean.shape:
        raise MRDeepReconError(
            f"the enhanced volume {outputs[0].shape} is not on the input grid {clean.shape}; "
            "measure varying noise without super-resolution"
        )
    tissue = tissue_mask(clean.data)
    input_noise = (pair.a.data.astype(np.float64) - pair.b.data) / np.sqrt(2.0)
    output_noise = (outputs[0].data.astype(np.float64) - outputs[1].data) / np.sqrt(2.0)
    input_map = local_noise_sd(input_noise, tissue, clean.spacing, window_mm)
    output_map = local_noise_sd(output_noise, tissue, clean.spacing, window_mm)
    low, high = np.percentile(input_map[tissue], [100 / 3, 200 / 3])
    masks = {
        "quietest third": tissue & (input_map <= low),
        "middle third": tissue & (input_map > low) & (input_map < high),
        "noisiest third": tissue & (input_map >= high),
        "tissue": tissue,
    }
    regions = [
        _region(name, mask, input_noise, output_noise, input_map, requested)
        for name, mask in masks.items()
    ]
    quiet, noisy_third = regions[0], regions[2]
    middle = int(np.argmax(tissue.sum(axis=(1, 2))))
    return VaryingNoiseResult(
        degradation=dataclasses.asdict(spec),
        seed=int(seed),
        requested=requested,
        window_mm=float(window_mm),
        input_noise_ratio=noisy_third.input_noise_sd / quiet.input_noise_sd,
        regions=regions,
        evenness=noisy_third.achieved / quiet.achieved,
        bar_met=quiet.within_tolerance and noisy_third.within_tolerance,
        map_slice=middle,
        map_step=MAP_STEP,
        input_map=_map_rows(input_map[middle]),
        output_map=_map_rows(output_map[middle]),
    )


def plot_varying_noise(result: VaryingNoiseResult, path: str | Path) -> Path:
    """PNG: the input's local noise SD and the output's local noise SD × NR on one slice (equal
    when the factor holds everywhere), and the achieved NR per region against the request."""
    figure_type, canvas = plotting("varying-noise plots")
    figure = figure_type(figsize=(13.0, 4.2))
    input_map = np.asarray(result.input_map)
    scaled_output = np.asarray(result.output_map) * result.requested
    top = float(np.percentile(input_map[input_map > 0], 99)) if np.any(input_map > 0) else 1.0
    for index, (title, image) in enumerate(
        (
            ("input local noise SD", input_map),
            (f"output local noise SD × {result.requested:g}", scaled_output),
        ),
        start=1,
    ):
        axes = figure.add_subplot(1, 3, index)
        shown = axes.imshow(image, cmap="magma", vmin=0.0, vmax=top)
        axes.set_title(f"{title} (slice {result.map_slice})", fontsize=9)
        axes.set_axis_off()
        figure.colorbar(shown, ax=axes, fraction=0.046)
    axes = figure.add_subplot(1, 3, 3)
    names = [r.name for r in result.regions]
    axes.bar(range(len(names)), [r.achieved for r in result.regions], color="tab:blue")
    axes.axhline(result.requested, color="k", linestyle="--", label="requested")
    axes.axhspan(result.requested * (1 - TOLERANCE), result.requested * (1 + TOLERANCE),
                 color="0.85", label="±15 %")
    axes.set_xticks(range(len(names)))
    axes.set_xticklabels([n.replace(" third", "\nthird") for n in names], fontsize=8)
    axes.set_ylabel("achieved noise reduction")
    axes.set_title(f"input noise noisiest / quietest = {result.input_noise_ratio:.2f}", fontsize=9)
    axes.legend(fontsize=8)
    figure.tight_layout()
    path = Path(path)
    canvas(figure)
    figure.savefig(path, dpi=100)
    return path
