"""The noise-reduction knob calibrated on the volume being enhanced: one pseudo-replica pair.

The model card's table (:mod:`mrdeeprecon.noise_reduction`) was measured on the training volumes,
with spatially uniform noise the network was told exactly, and no lower than those volumes' own
noise (about 1.5 % of their 99th percentile). Outside those conditions the network's residual
noise is not the table's and the knob misses: where a g-factor raises the noise above the slice's
median (the level a scalar-input model is told), the network keeps more noise than the table says;
on a high-SNR scan (a phantom at 0.2 % noise) the table is read beyond its range and the output
can be noisier than the input while the table reports the factor as reached.

So the coefficients ``A, C, D`` of :mod:`mrdeeprecon.noise_reduction` are measured on the input
itself, from the model and the input alone (never a reference):

1. **The slab.** :data:`SLAB` slices around the tissue-weighted centre of the volume, read with
   the neighbours a multi-slice model needs.
2. **The perturbation.** ``n`` = white Gaussian noise projected onto the acquired k-space band
   (in-plane; along the slice too when the slice is band-limited), scaled to unit SD, times the
   input's local noise SD map, times :data:`PERTURBATION`.
3. **The pair.** The network estimates the slab plus ``n`` and minus ``n``, told the input's own
   noise map both times. ``d_x`` is the difference of the two estimates and ``d_y = 2n``; the
   antithetic pair cancels the network's even-order response, so the small perturbation measures
   its slope at this input.
4. **The moments** ``A = Var(d_x) / Var(d_y)``, ``C = Cov(d_x, band(d_x − d_y)) / Var(d_y)``,
   ``D = Var(band(d_x − d_y)) / Var(d_y)``, in homogeneous tissue
   (:func:`mrdeeprecon.tissue.homogeneous_tissue`) of the input smoothed by a Gaussian of
   :data:`MASK_SMOOTHING_PX` pixels in-plane (the stand-in for the clean image the evaluation
   defines it on; the network's estimate would select where the network itself is flat), in
   :data:`BINS` bins of equal count along the local noise SD, so that each voxel reads the
   coefficients at its own noise level.

Voxels whose local noise SD is 0 (a constant region, a noise-free image) are left out. Each bin
holds at least :data:`MIN_VOXELS` voxels (fewer bins where the slab has fewer); below one bin's
worth :func:`measure_volume_calibration` gives ``None`` and the card's table is used. Along a
band-limited slice axis the band is taken over all the slices the network reads (the measured
ones and their neighbours), on which the perturbation was drawn. The perturbation is seeded: enhancing a volume twice
gives one output.

``PERTURBATION`` and the mask were chosen on the quality benchmark's tunable, spatially varying
noise and Philips phantom cases (``benchmarks/QUALITY.md``): ε = 1 over-reduced by up to 18 % at
NR 3 (the network's response is not linear over a full noise SD); the estimate's own homogeneous
region hid the texture the network adds on the phantom.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from .noise_reduction import TISSUE_LEVEL, Calibration, band_limit
from .stage_timing import stage
from .tissue import gaussian_in_plane, homogeneous_tissue

#: Slices measured (all of a smaller volume).
SLAB = 8
#: Perturbation SD relative to the input's local noise SD.
PERTURBATION = 0.5
#: Bins along the local noise SD, and the fewest homogeneous voxels each one needs.
BINS = 4
MIN_VOXELS = 2000
#: In-plane Gaussian σ (pixels) of the smoothed input whose homogeneous tissue is measured.
MASK_SMOOTHING_PX = 2.0
#: Seed of the perturbation.
SEED = 20261205

#: ``network(slab, read, slices)``: the network's clean estimate of the slices ``slices`` of a
#: slab ``(z, y, x)`` of standardised slices (perturbed), told the noise of the input's slices
#: ``read`` it was cut from: ``(len(slices), y, x)``.
SlabNetwork = Callable[[torch.Tensor, slice, range], torch.Tensor]


@dataclass(frozen=True)
class VolumeCalibration:
    """A calibration measured on one input.

    Attributes:
        calibration: one table row (the input's in-plane band fraction), up to :data:`BINS` noise
            levels.
        slices: ``(start, stop)`` of the measured slices.
        voxels: homogeneous tissue voxels the moments were measured on.
    """

    calibration: Calibration
    slices: tuple[int, int]
    voxels: int


def slab_bounds(tissue_per_slice: Sequence[float], pad: int) -> tuple[slice, slice]:
    """The measured slices (:data:`SLAB` around the centre of the volume weighted by
    ``tissue_per_slice``) and the slices the network reads for them (``pad`` more on each side,
    within the volume)."""
    n = len(tissue_per_slice)
    weights = np.asarray(tissue_per_slice, dtype=np.float64)
    centre = int(round(float(np.average(np.arange(n), weights=weights)))) if weights.sum() > 0 else n // 2
    start = min(max(centre - SLAB // 2, 0), max(n - SLAB, 0))
    measured = slice(start, min(start + SLAB, n))
    return measured, slice(max(measured.start - pad, 0), min(measured.stop + pad, n))


def band_noise(shape: tuple[int, int, int], kmax: Sequence[float], generator: torch.Generator,
               device: torch.device) -> torch.Tensor:
    """Unit-SD Gaussian noise ``(z, y, x)`` inside the acquired band: ``kmax`` = (frequency,
    phase, slice) fractions; drawn on the CPU, so every device gets the same noise."""
    noise = _in_band(torch.randn(shape, generator=generator).to(device), kmax)
    return noise / noise.std()


def _in_band(volume: torch.Tensor, kmax: Sequence[float]) -> torch.Tensor:
    """``volume`` projected onto the in-plane band, and onto the slice band where it is below 1."""
    banded = band_limit(volume, kmax[:2], (1, 2))
    return band_limit(banded, kmax[2:], (0,)) if kmax[2] < 1 else banded


def measurement_mask(data: torch.Tensor) -> torch.Tensor:
    """Homogeneous tissue of standardised slices ``(z, y, x)`` smoothed in-plane by a Gaussian of
    :data:`MASK_SMOOTHING_PX` pixels (bool, on their device; in float32, a third of float64's time,
    which would change about 1 voxel in 10 000)."""
    return homogeneous_tissue(gaussian_in_plane(data.float(), MASK_SMOOTHING_PX))


def measure_volume_calibration(
    data: torch.Tensor,
    noise_sd: torch.Tensor,
    kmax: Sequence[float],
    pad: int,
    network: SlabNetwork,
) -> VolumeCalibration | None:
    """``A, C, D`` of the network on this input (module docstring); ``None`` where the measured
    slices hold fewer than :data:`MIN_VOXELS` homogeneous tissue voxels.

    Args:
        data: the standardised input ``(z, y, x)`` (z = slice, y = frequency, x = phase), float32.
        noise_sd: local noise SD map of ``data`` (:func:`mrdeeprecon.noise_map.local_noise_sd`).
        kmax: acquired k-space extent (frequency, phase, slice) relative to the grid.
        pad: neighbouring slices the network reads on each side of a slice.
        network: the network's estimate of a slab (:data:`SlabNetwork`).
    """
    with stage("calibration", data.device):
        tissue = torch.count_nonzero(data > TISSUE_LEVEL, dim=(1, 2)).cpu().numpy()
        measured, read = slab_bounds(tissue, pad)
        # where the local noise SD is 0 (a constant region, a noise-free image) there is nothing to reduce
        mask = measurement_mask(data[measured]) & (noise_sd[measured] > 0)
        bins = min(BINS, int(mask.sum()) // MIN_VOXELS)
        if bins < 1:
            return None
        inner = slice(measured.start - read.start, measured.stop - read.start)
        slab, slab_sd = data[read], noise_sd[read]
        generator = torch.Generator().manual_seed(SEED)
        perturbation = band_noise(tuple(slab.shape), kmax, generator, data.device).mul_(slab_sd).mul_(PERTURBATION)
    # the slice band is taken over the slices the perturbation was drawn on: all that are read
    estimated = range(inner.start, inner.stop) if kmax[2] >= 1 else range(slab.shape[0])
    d_x = network(slab + perturbation, read, estimated) - network(slab - perturbation, read, estimated)
    with stage("calibration", data.device):
        d_y = 2 * perturbation[estimated.start : estimated.stop]
        banded = _in_band(d_x - d_y, kmax)
        keep = slice(inner.start - estimated.start, inner.stop - estimated.start)
        return _moments(d_x[keep], d_y[keep], banded[keep], noise_sd[measured], mask, bins, kmax, measured)


def _moments(d_x: torch.Tensor, d_y: torch.Tensor, banded: torch.Tensor, noise_sd: torch.Tensor, mask: torch.Tensor,
             bins: int, kmax: Sequence[float], measured: slice) -> VolumeCalibration:
    """``A, C, D`` per noise-SD bin over the ``mask`` voxels of the measured slices (on the host,
    in float64: some devices have no float64)."""
    levels = noise_sd[mask].cpu().double()
    dx, dy, bd = (t[mask].cpu().double() for t in (d_x, d_y, banded))
    rows: dict[str, list[float]] = {key: [] for key in ("noise_sd", "a", "c", "d")}
    for part in torch.tensor_split(levels.argsort(), bins):
        x, y, b = dx[part], dy[part], bd[part]
        var_y = y.var(unbiased=False)
        rows["noise_sd"].append(float(levels[part].median()))
        rows["a"].append(float(x.var(unbiased=False) / var_y))
        rows["c"].append(float(((x - x.mean()) * (b - b.mean())).mean() / var_y))
        rows["d"].append(float(b.var(unbiased=False) / var_y))
    # equal medians (a uniform map) would stall the interpolation: make the levels strictly rise
    noise = np.maximum.accumulate(np.asarray(rows["noise_sd"]) * (1 + 1e-6 * np.arange(bins)))
    calibration = Calibration(
        band_fractions=np.asarray([float(kmax[0] * kmax[1])]),
        noise_sd=noise[None],
        **{key: np.asarray(rows[key])[None] for key in "acd"},
    )
    return VolumeCalibration(calibration, (measured.start, measured.stop), int(mask.sum()))
