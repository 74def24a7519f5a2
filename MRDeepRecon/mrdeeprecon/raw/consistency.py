"""The data-consistency report of a reconstruction (the hallucination guard).

* **Residual**: ``r = M ⊙ (A x − y)`` at the sampled positions, its RMS over every sampled
  coil sample, relative to the noise SD ``σ`` of one complex k-space sample (``σ² = E|n|²``). A
  least-squares fit of ``N`` unknowns to ``m`` noisy samples leaves ``√(1 − N/m)·σ`` (CG-SENSE:
  0.87 at 8 coils and R = 2); far above 1 the image does not explain the data, far below it the
  noise was fitted.
* **Added energy** (a method against CG-SENSE, the image the data and the coil maps alone
  explain): ``‖x − x_SENSE‖² / ‖x_SENSE‖²``, and the part of it the measurement does not see,
  ``(‖d‖² − ‖A d‖²) / ‖x_SENSE‖²`` with ``d = x − x_SENSE`` (``‖A d‖ ≤ ‖d‖`` since
  ``Σ_c |S_c|² ≤ 1``): energy a regulariser put where no sample constrains it.

The noise SD comes from the noise scan (mean coil variance), is 1 for pre-whitened data, or is
estimated from the sampled outer k-space (where ``max(|ky|/ny, |kx|/nx) ≥`` :data:`OUTER_RADIUS`
of the half-extent) as ``√(median |y|² / ln 2)``: ``|n|²`` of complex Gaussian noise is
exponential, and the median resists the little signal left there.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

from .kspace_data import RawKSpace
from .operators import SenseOperator

OUTER_RADIUS = 0.8
"""Outer k-space used for the noise estimate: beyond this fraction of the half-extent (Chebyshev)."""
MIN_OUTER_SAMPLES = 256
"""Fewest sampled outer coil samples for an estimate; fewer gives no noise SD."""


@dataclass(frozen=True)
class ConsistencyReport:
    """How well a reconstruction explains its k-space (JSON-ready through :meth:`to_dict`).

    Attributes:
        method: the reconstruction method.
        noise_sd: SD of the noise of one complex k-space sample (``√E|n|²``), or None if unknown.
        noise_source: ``"noise scan"``, ``"pre-whitened"``, ``"outer k-space"`` or ``"unknown"``.
        residual_rms: RMS of ``A x − y`` over the sampled coil samples (k-space units).
        residual_to_noise: ``residual_rms / noise_sd`` (None without a noise SD).
        sampled_fraction: acquired fraction of the (slices, ky, kx) positions.
        added_energy_fraction: ``‖x − x_SENSE‖² / ‖x_SENSE‖²`` (None for SENSE itself).
        unmeasured_added_fraction: the part of it the measurement does not see (None for SENSE).
    """

    method: str
    noise_sd: float | None
    noise_source: str
    residual_rms: float
    residual_to_noise: float | None
    sampled_fraction: float
    added_energy_fraction: float | None = None
    unmeasured_added_fraction: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        """One line for the command line."""
        text = f"data consistency ({self.method}): residual {self.residual_rms:.4g}"
        if self.residual_to_noise is not None:
            text += f" = {self.residual_to_noise:.3g} x noise SD ({self.noise_source})"
        else:
            text += " (noise SD unknown)"
        if self.added_energy_fraction is not None:
            text += (f"; energy added vs CG-SENSE {100 * self.added_energy_fraction:.2f} %"
                     f", unseen by the data {100 * self.unmeasured_added_fraction:.2f} %")
        return text


def noise_sd(raw: RawKSpace, kspace: np.ndarray, mask: np.ndarray) -> tuple[float | None, str]:
    """The noise SD of one complex k-space sample and where it came from (module docstring).

    Args:
        raw: the raw data (its noise scan and whitening).
        kspace, mask: the coil k-space ``(coils, slices, ky, kx)`` and its mask as reconstructed.
    """
    if raw.noise is not None:
        return float(np.sqrt(np.mean(np.abs(raw.noise) ** 2))), "noise scan"
    if raw.whitened:
        return 1.0, "pre-whitened"
    ny, nx = kspace.shape[-2:]
    ky = np.abs(np.arange(ny) - ny // 2) / (ny / 2)
    kx = np.abs(np.arange(nx) - nx // 2) / (nx / 2)
    outer = np.maximum(ky[:, None], kx[None, :]) >= OUTER_RADIUS
    selected = np.broadcast_to(mask, kspace.shape[1:]) & outer
    samples = kspace[:, selected]
    samples = samples[samples != 0]
    if samples.size < MIN_OUTER_SAMPLES:
        return None, "unknown"
    return float(np.sqrt(np.median(np.abs(samples) ** 2) / math.log(2))), "outer k-space"


def consistency_report(
    method: str,
    image: np.ndarray,
    kspace: np.ndarray,
    mask: np.ndarray,
    maps: np.ndarray,
    noise: tuple[float | None, str],
    sense_image: np.ndarray | None = None,
) -> ConsistencyReport:
    """The :class:`ConsistencyReport` of ``image``.

    Args:
        method: its method's name.
        image: complex ``(slices, y, x)``.
        kspace: measured coil k-space ``(coils, slices, ky, kx)``.
        mask: sampled positions, broadcastable to ``(slices, ky, kx)``.
        maps: coil maps ``(coils, slices, y, x)`` of the operator.
        noise: ``(noise SD, source)`` from :func:`noise_sd`.
        sense_image: the CG-SENSE image of the same data, for the added-energy fractions.
    """
    operator = SenseOperator(torch.from_numpy(maps), torch.from_numpy(np.ascontiguousarray(mask)))
    measured = torch.from_numpy(kspace)
    residual = operator.forward(torch.from_numpy(image)) - measured * operator.mask
    samples = float(np.broadcast_to(mask, kspace.shape[1:]).sum()) * kspace.shape[0]
    rms = float(torch.linalg.vector_norm(residual)) / math.sqrt(max(samples, 1.0))
    sd, source = noise
    added = unmeasured = None
    if sense_image is not None:
        difference = torch.from_numpy(image - sense_image)
        reference = float(np.sum(np.abs(sense_image) ** 2)) or 1.0
        energy = float(torch.sum(torch.abs(difference) ** 2))
        seen = float(torch.sum(torch.abs(operator.forward(difference)) ** 2))
        added, unmeasured = energy / reference, max(energy - seen, 0.0) / reference
    return ConsistencyReport(
        method=method,
        noise_sd=sd,
        noise_source=source,
        residual_rms=rms,
        residual_to_noise=None if not sd else rms / sd,
        sampled_fraction=float(np.broadcast_to(mask, kspace.shape[1:]).mean()),
        added_energy_fraction=added,
        unmeasured_added_fraction=unmeasured,
    )
