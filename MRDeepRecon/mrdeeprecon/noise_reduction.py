"""The noise-reduction knob: from the network's clean estimate to the requested noise level.

The network estimates the clean image ``x̂``. Noise reduction ``k`` is applied afterwards as

    output = x̂ + α · band(y − x̂),

``y`` the input, ``band`` the projection onto the acquired k-space extent (:func:`band_limit`).
Detail that super-resolution restored outside the band is kept at every ``k``; ``k = 1`` (α = 1)
gives the input inside the band, "super-resolution only".

**Calibration.** ``α`` is chosen so that the output's noise is the input's divided by ``k``, given
the model's own residual noise. Over two noise realisations ``a, b`` of one image (pseudo-replica),
with ``d_x = x̂_a − x̂_b`` and ``d_y = y_a − y_b``, the output's noise variance is exactly quadratic
in α:

    Var(o_a − o_b) / Var(d_y) = A − 2α·C + α²·D,
    A = Var(d_x) / Var(d_y),  C = Cov(d_x, band(d_x − d_y)) / Var(d_y),
    D = Var(band(d_x − d_y)) / Var(d_y).

``A, C, D`` are measured by pseudo-replica in homogeneous tissue: on the volume being enhanced
(:mod:`mrdeeprecon.volume_calibration`: one table row, the volume's band, a few noise levels) or,
where it has too little homogeneous tissue, on the training volumes (never the evaluation volumes)
for a grid of noise levels and acquired band fractions, the table in the model card
(:func:`mrdeeprecon.training.calibration.measure_calibration`). Every voxel reads the table at its
own noise level (the local noise SD map) and band fraction, and α solves
``A − 2αC + α²D = 1 / k²`` (the larger root, α ≤ 1). Where even α = ``C / D`` (the least noise the
model leaves) does not reach ``k``, that least-noise α is used, and the achieved factor is
reported, never silently less.

Everything runs in torch on the volume's device. α and the achieved factor depend on a voxel only
through its noise SD, so :meth:`Calibration.levels` solves them once per volume in float64 on
:data:`LEVELS` log-spaced noise levels and each voxel reads them by linear interpolation
(within 2e-4 of the per-voxel solution, ``Testing/test_noise_reduction.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from .errors import MRDeepReconError
from .kspace.fft import fftc, ifftc
from .kspace.masks import centred_extent
from .order_statistics import median

#: Slices (in-plane band, α) or rows (slice band) handled at a time: bounds the memory of FFTs and
#: of the per-voxel coefficients.
_CHUNK = 16
#: Normalised intensity above which a voxel counts as tissue for the achieved factor.
TISSUE_LEVEL = 0.2


def band_limit(volume: torch.Tensor, kmax: Sequence[float], axes: Sequence[int]) -> torch.Tensor:
    """Project real ``volume`` onto the acquired k-space band: along each ``axes[i]``, the
    frequencies ``|k| ≤ (m - 1) // 2`` of the ``m = round(kmax[i] · n)`` acquired lines
    (:func:`~mrdeeprecon.kspace.masks.centred_extent`). The band is symmetric (an even ``m`` leaves
    out its unpaired ``-m/2`` line), so the result is real and projecting twice changes nothing;
    axes with ``kmax = 1`` are left alone."""
    out = volume
    for axis, fraction in zip(axes, kmax):
        n = out.shape[axis]
        box = centred_extent(n, fraction)
        m = box.stop - box.start
        if m == n:
            continue
        offset = torch.arange(n, device=out.device) - n // 2
        shape = [1] * out.dim()
        shape[axis] = n
        keep = (offset.abs() <= (m - 1) // 2).reshape(shape)
        out = ifftc(fftc(out.to(torch.complex64), (axis,)) * keep, (axis,)).real
    return out


@dataclass(frozen=True)
class Calibration:
    """The residual table of one model (see the module docstring).

    Attributes:
        band_fractions: acquired fraction of the in-plane k-space area of each table row, ascending.
        noise_sd: ``(rows, levels)`` noise SD (normalised intensity, as the local noise map
            measures it) of each column, ascending along each row.
        a, c, d: ``(rows, levels)`` quadratic coefficients.
    """

    band_fractions: np.ndarray
    noise_sd: np.ndarray
    a: np.ndarray
    c: np.ndarray
    d: np.ndarray

    @classmethod
    def from_card(cls, card: dict[str, Any], path=None) -> "Calibration":
        table = card.get("calibration")
        if not isinstance(table, dict):
            raise MRDeepReconError("the model card has no noise-reduction calibration", path)
        try:
            values = {k: np.asarray(table[k], dtype=np.float64) for k in ("band_fractions", "noise_sd", "a", "c", "d")}
        except (KeyError, TypeError, ValueError) as error:
            raise MRDeepReconError(f"the model card's calibration is malformed: {error}", path) from error
        rows, levels = values["noise_sd"].shape
        if values["band_fractions"].shape != (rows,) or any(values[k].shape != (rows, levels) for k in "acd"):
            raise MRDeepReconError("the model card's calibration arrays do not fit together", path)
        return cls(**values)

    def coefficients(self, band_fraction: float, noise_sd: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``A, C, D`` at each noise SD (any shape), interpolated linearly in log noise and log band
        fraction, constant beyond the table."""
        low, high, weight = self._rows(band_fraction)
        level = np.log(np.maximum(noise_sd, 1e-8))
        out = []
        for values in (self.a, self.c, self.d):
            rows = [np.interp(level, np.log(self.noise_sd[r]), values[r]) for r in (low, high)]
            out.append((1 - weight) * rows[0] + weight * rows[1])
        return out[0], out[1], out[2]

    def _rows(self, band_fraction: float) -> tuple[int, int, float]:
        """The two table rows around ``band_fraction`` (in log) and the weight of the second."""
        log_bands = np.log(self.band_fractions)
        position = np.interp(math.log(band_fraction), log_bands, np.arange(len(log_bands)))
        low = int(np.floor(position))
        return low, min(low + 1, len(log_bands) - 1), float(position - low)

    def levels(self, band_fraction: float, factor: float, noise_sd: torch.Tensor) -> "LevelTable":
        """α and the achieved factor (:func:`solve_alpha`) for the noise SDs of ``noise_sd``.

        Both depend on a voxel only through its log noise SD, so they are solved once, in float64,
        on :data:`LEVELS` evenly spaced log levels between the volume's smallest and largest noise
        SD (clamped to the table's range, beyond which the coefficients are constant).
        """
        low, high, _ = self._rows(band_fraction)
        logs = np.log(np.concatenate([self.noise_sd[low], self.noise_sd[high]]))
        bounds = (float(np.exp(logs.min())), float(np.exp(logs.max())))
        lo, hi = (math.log(min(max(float(v), bounds[0]), bounds[1])) for v in torch.aminmax(noise_sd))
        grid = np.linspace(lo, hi, LEVELS)
        alpha, achieved = solve_alpha(*self.coefficients(band_fraction, np.exp(grid)), factor)
        return LevelTable(bounds, lo, (LEVELS - 1) / (hi - lo) if hi > lo else 0.0,
                          torch.as_tensor(np.stack([alpha, achieved]), dtype=torch.float32, device=noise_sd.device))


#: Noise levels α is solved on for one volume (:meth:`Calibration.levels`).
LEVELS = 1 << 16


@dataclass(frozen=True)
class LevelTable:
    """α (row 0) and the achieved factor (row 1) at evenly spaced log noise levels: level ``i`` is
    ``start + i / scale``; noise SDs are clamped to ``bounds`` first."""

    bounds: tuple[float, float]
    start: float
    scale: float
    values: torch.Tensor

    def read(self, noise_sd: torch.Tensor, where: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """α at each noise SD (float32, same shape) and the achieved factor at the voxels
        ``where`` selects (1D), both interpolated linearly."""
        position = noise_sd.clamp(*self.bounds).log_().sub_(self.start).mul_(self.scale)
        index = position.long().clamp_(0, max(0, self.values.shape[1] - 2))
        fraction = position.sub_(index).clamp_(0.0, 1.0)
        upper = (index + 1).clamp_(max=self.values.shape[1] - 1)
        alpha, achieved = self.values
        at = (index[where], upper[where], fraction[where])
        chosen = (achieved[at[1]] - achieved[at[0]]).mul_(at[2]).add_(achieved[at[0]])
        below = alpha[index]
        return (alpha[upper] - below).mul_(fraction).add_(below), chosen


def solve_alpha(a: np.ndarray, c: np.ndarray, d: np.ndarray, factor: float) -> tuple[np.ndarray, np.ndarray]:
    """α for noise reduction ``factor`` and the factor each voxel achieves (equal where reachable).

    ``A − 2αC + α²D = 1 / factor²``: the larger root in [0, 1]; where there is none, the α in
    [0, 1] that leaves the least noise.
    """
    d = np.maximum(d, 1e-12)
    least = np.clip(c / d, 0.0, 1.0)
    target = 1.0 / factor**2
    discriminant = c**2 - d * (a - target)
    root = (c + np.sqrt(np.maximum(discriminant, 0.0))) / d
    alpha = np.where(discriminant >= 0, np.clip(root, least, 1.0), least)
    variance = np.maximum(a - 2 * alpha * c + alpha**2 * d, 1e-12)
    return alpha, 1.0 / np.sqrt(variance)


@dataclass(frozen=True)
class NoiseReduction:
    """Result of :func:`reduce_noise`.

    Attributes:
        image: the output ``(z, y, x)``, float32 tensor on the inputs' device.
        achieved: median achieved noise-reduction factor over tissue voxels (normalised input above
            ``TISSUE_LEVEL``); equal to the requested factor where the model can reach it.
        reachable: share of those voxels where the requested factor is reached (within 1 %).
    """

    image: torch.Tensor
    achieved: float
    reachable: float


def reduce_noise(
    data: torch.Tensor,
    estimate: torch.Tensor,
    noise_sd: torch.Tensor,
    kmax: Sequence[float],
    factor: float,
    calibration: Calibration,
) -> NoiseReduction:
    """Apply noise reduction ``factor`` to the network's clean ``estimate`` of the standardised
    input ``data`` (float32 tensors ``(z, y, x)`` on one device, z = slice, y = frequency,
    x = phase); neither is modified.

    Args:
        noise_sd: local noise SD of ``data`` (:func:`mrdeeprecon.noise_map.local_noise_sd`).
        kmax: acquired k-space extent (frequency, phase, slice) relative to the grid.
        factor: requested noise reduction, ≥ 1; 1 gives the input inside the band.
        calibration: the model's residual table.
    """
    if factor < 1:
        raise MRDeepReconError(f"noise reduction must be >= 1, got {factor:g}")
    image = data - estimate  # the residual, band-limited, then the output, in place
    if min(kmax[:2]) < 1:
        for start in range(0, image.shape[0], _CHUNK):
            part = slice(start, start + _CHUNK)
            image[part] = band_limit(image[part], kmax[:2], (1, 2))
    if kmax[2] < 1:
        for start in range(0, image.shape[1], _CHUNK):
            part = (slice(None), slice(start, start + _CHUNK))
            image[part] = band_limit(image[part], kmax[2:], (0,))
    band_fraction = float(kmax[0] * kmax[1])
    table = calibration.levels(band_fraction, factor, noise_sd) if factor != 1 else None
    achieved_parts = []
    for start in range(0, image.shape[0], _CHUNK):
        part = slice(start, start + _CHUNK)
        tissue = data[part] > TISSUE_LEVEL
        if factor == 1:
            image[part] += estimate[part]
            achieved_parts.append(torch.ones(int(tissue.sum()), device=data.device))
            continue
        alpha, achieved = table.read(noise_sd[part], tissue)
        image[part].mul_(alpha).add_(estimate[part])
        achieved_parts.append(achieved)
    achieved = torch.cat(achieved_parts)
    if not len(achieved):
        return NoiseReduction(image=image, achieved=factor, reachable=1.0)
    return NoiseReduction(
        image=image,
        achieved=median(achieved),
        reachable=float((achieved >= 0.99 * factor).float().mean()),
    )
