"""Variations of the conventional reconstruction pipeline after k-space is complete.

* k-space anti-ringing filter (:func:`kspace_window`): Hamming or Tukey, over the acquired extent.
* Interpolation to the displayed matrix: zero padding (:func:`zero_pad`, sinc interpolation) or
  reconstruction on the reduced matrix followed by cubic interpolation (:func:`cubic_resample`).
* Output component (:func:`extract`): magnitude, or the real part after removing a smooth phase.
* Surface-coil intensity normalisation residual (:func:`bias_field`) and integer quantisation
  (:func:`quantize`).

Grids follow the centred-FFT pixel convention: index ``i`` of an axis of length ``n`` sits at
``(i - n // 2) / n`` field of view (FOV), on any matrix size covering the same FOV. Images are torch
tensors ``(B, *grid)`` (a batch of images, each with its own random draws); ``axes`` name grid
axes by their index in the grid, ``0 … ndim-1``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .fft import fftc, ifftc
from .noise import percentile

FILTERS = ("none", "hamming", "tukey")
OUTPUTS = ("magnitude", "real")
TUKEY_TAPER = 0.5
"""Fraction of the half-extent over which the Tukey window falls from 1 to 0."""
PHASE_SMOOTHING = 0.08
"""Standard deviation (FOV units) of the Gaussian that smooths the phase removed for real output."""
PHASE_FLOOR = 1e-3
"""Real offset, relative to the peak of the smoothed image, that keeps the empty background at phase 0."""
KEYS_A = -0.5
"""Parameter of the Keys cubic-convolution kernel (-0.5: third-order accurate)."""


def kspace_window(kind: str, shape: Sequence[int], axes: Sequence[int]) -> np.ndarray:
    """Separable anti-ringing window over a centred k-space extent (1 at the centre).

    ``"hamming"``: ``0.54 + 0.46 cos(π u)``; ``"tukey"``: 1 for ``|u| ≤ 1 - TUKEY_TAPER``, then a
    raised-cosine taper to 0 at ``|u| = 1``; ``u = (i - n // 2) / (n / 2)``. ``"none"``: all ones.

    Returns:
        float32 array broadcastable to the grid ``shape``.
    """
    if kind not in FILTERS:
        raise ValueError(f"unknown k-space filter {kind!r}")
    window = np.ones([1] * len(shape), dtype=np.float32)
    if kind == "none":
        return window
    for axis in axes:
        n = shape[axis]
        u = np.abs(np.arange(n) - n // 2) / (n / 2)
        if kind == "hamming":
            line = 0.54 + 0.46 * np.cos(np.pi * u)
        else:
            edge = 1.0 - TUKEY_TAPER
            taper = np.clip(u - edge, 0, None) / TUKEY_TAPER
            line = np.where(u <= edge, 1.0, 0.5 * (1.0 + np.cos(np.pi * taper)))
        shape_1d = [1] * len(shape)
        shape_1d[axis] = n
        window = window * line.reshape(shape_1d).astype(np.float32)
    return window


def zero_pad(kspace: torch.Tensor, shape: Sequence[int], box: Sequence[slice]) -> torch.Tensor:
    """Place centred k-spaces ``(..., *box)`` into larger zero k-spaces ``(..., *shape)`` at the
    index ranges ``box``."""
    leading = kspace.shape[: kspace.dim() - len(shape)]
    out = kspace.new_zeros((*leading, *shape))
    out[(..., *box)] = kspace
    return out


def _keys(t: torch.Tensor) -> torch.Tensor:
    t = t.abs()
    a = KEYS_A
    near = ((a + 2) * t - (a + 3)) * t**2 + 1
    far = ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return torch.where(t <= 1, near, torch.where(t < 2, far, torch.zeros_like(t)))


def cubic_resample(image: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """Resample real images ``(..., *grid)`` to ``(..., *shape)`` (same FOV) by separable Keys
    cubic convolution.

    Each output index ``i`` of an axis of length ``N`` reads the input (length ``M``) at
    ``(i - N // 2)·M/N + M // 2`` with periodic boundaries, the geometry of the centred FFT, so
    the result lines up with a zero-padded reconstruction of the same data.
    """
    out = image
    ndim = len(shape)
    for axis, n_out in enumerate(shape):
        dim = axis - ndim
        n_in = out.shape[dim]
        if n_in == n_out:
            continue
        position = (torch.arange(n_out, dtype=torch.float64, device=out.device) - n_out // 2) * (n_in / n_out) + n_in // 2
        base = torch.floor(position).long()
        frac = position - base
        shape_1d = [1] * ndim
        shape_1d[axis] = n_out
        acc = None
        for offset in (-1, 0, 1, 2):
            weight = _keys(frac - offset).to(out.dtype).reshape(shape_1d)
            term = weight * torch.index_select(out, out.dim() + dim, (base + offset) % n_in)
            acc = term if acc is None else acc + term
        out = acc
    return out


def smooth_phase(image: torch.Tensor, axes: Sequence[int]) -> torch.Tensor:
    """Unit phasor of each image low-passed by a Gaussian of ``PHASE_SMOOTHING`` FOV (computed in
    double).

    A real offset of ``PHASE_FLOOR`` times the low-passed peak (per image) is added first, so where
    the smoothed image is negligible (empty background, far ringing tails) the phase is 0 rather
    than the sign of round-off or of a truncated kernel's side lobes.
    """
    ndim = len(axes)
    dims = tuple(a - ndim for a in axes)
    kspace = fftc(image.to(torch.complex128), dims)
    shape = image.shape[-ndim:]
    for axis in axes:
        n = shape[axis]
        k = np.arange(n) - n // 2
        shape_1d = [1] * ndim
        shape_1d[axis] = n
        factor = np.exp(-2.0 * (np.pi * PHASE_SMOOTHING * k) ** 2).reshape(shape_1d)
        kspace = kspace * torch.from_numpy(factor).to(image.device)
    low = ifftc(kspace, dims)
    peak = low.abs().amax(dim=dims, keepdim=True)
    low = low + PHASE_FLOOR * peak
    magnitude = low.abs()
    return torch.where(magnitude > 0, low / torch.where(magnitude > 0, magnitude, 1.0), 1.0)


def extract(image: torch.Tensor, output: str, axes: Sequence[int]) -> torch.Tensor:
    """The displayed component of complex images: ``"magnitude"`` or ``"real"`` (float32).

    ``"real"`` is the real part after removing the smooth phase of :func:`smooth_phase`, as a
    phase-sensitive reconstruction does; the noise in it is Gaussian (σ), not Rician.
    """
    if output not in OUTPUTS:
        raise ValueError(f"unknown output component {output!r}")
    if output == "magnitude":
        return image.abs().float()
    return (image * torch.conj(smooth_phase(image, axes)).to(image.dtype)).real.float()


def bias_field(
    shape: Sequence[int],
    amplitude: float,
    generator: torch.Generator | None,
    batch: int = 1,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Smooth multiplicative intensity fields ``1 + amplitude · g`` of mean 1, one per batch item.

    ``g`` is a Gaussian bump (standard deviation 0.5 – 1 FOV) centred at a random point on the
    FOV's inscribed sphere, brighter or darker at random, shifted to zero mean and scaled so that
    ``max |g| = 1``: the peak relative deviation is exactly ``amplitude``.

    Returns:
        float32 tensor ``(batch, *shape)``.
    """
    ndim = len(shape)
    direction = torch.randn((batch, ndim), generator=generator, device=device, dtype=torch.float64)
    centre = 0.5 * direction / torch.linalg.vector_norm(direction, dim=1, keepdim=True)
    width = 0.5 + 0.5 * torch.rand(batch, generator=generator, device=device, dtype=torch.float64)
    sign = torch.where(torch.rand(batch, generator=generator, device=device) < 0.5, 1.0, -1.0).double()
    distance2 = torch.zeros((batch, *[1] * ndim), dtype=torch.float64, device=device)
    for axis, n in enumerate(shape):
        shape_1d = [batch] + [1] * ndim
        shape_1d[axis + 1] = n
        position = (torch.arange(n, dtype=torch.float64, device=device) - n // 2) / n
        distance2 = distance2 + ((position[None] - centre[:, axis : axis + 1]) ** 2).reshape(shape_1d)
    bump = torch.exp(-distance2 / (2.0 * width.reshape(batch, *[1] * ndim) ** 2))
    dims = tuple(range(1, ndim + 1))
    bump = bump - bump.mean(dim=dims, keepdim=True)
    peak = bump.abs().amax(dim=dims, keepdim=True)
    g = bump / torch.where(peak > 0, peak, 1.0)
    return (1.0 + (sign * amplitude).reshape(batch, *[1] * ndim) * g).float()


def quantize(
    image: torch.Tensor, levels: int, step: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Round each image of ``(B, ...)`` to integer multiples of its ``step`` (default: the 99.9th
    percentile of its ``|image|`` / levels).

    Models storing the image as integers with the 99.9th percentile at ``levels``, then scaling
    back to image units. Returns the quantised images and the steps used ``(B,)`` (0 for an image
    that is zero, which is left as it is).
    """
    if step is None:
        step = percentile(image.abs(), 99.9) / levels
    shaped = step.reshape(-1, *[1] * (image.dim() - 1)).to(image.dtype)
    safe = torch.where(shaped > 0, shaped, 1.0)
    rounded = torch.where(shaped > 0, torch.round(image / safe) * safe, image)
    return rounded, step
