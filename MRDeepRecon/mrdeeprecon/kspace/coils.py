"""Simulated receive coils and parallel-imaging reconstruction (SENSE), on torch tensors.

Coil arrays carry a coil axis just before the grid axes: ``(C, *grid)`` for sensitivities,
``(B, C, *grid)`` for a batch of coil images or k-spaces; grid axes are named by their index in
the grid (``0 … ndim-1``) and work on any number of leading axes. Sensitivities are smooth
analytic functions of position in field-of-view (FOV) units, so the same coil array can be
evaluated on any grid covering the FOV (the full matrix or a reduced, k_max truncated one): index
``i`` along an axis of length ``n`` sits at ``(i - n // 2) / n`` FOV, the pixel convention of the
centred FFT.

Reconstructions, all returning the coil-combined complex image ``(B, *grid)``:

* :func:`sense_unfold` — uniform undersampling: exact per-aliased-pixel-group least squares
  (Pruessmann et al. 1999), Tikhonov-regularised by ``REGULARIZATION``; noise amplification
  (g-factor · √R) appears in the image as on a scanner.
* :func:`cg_sense` — any sampling pattern (random undersampling): ``CG_ITERATIONS`` conjugate-gradient
  iterations on the regularised normal equations ``(EᴴE + λI) x = Eᴴ y`` started from zero
  (CG-SENSE, Pruessmann et al. 2001). Early stopping leaves residual incoherent aliasing, as a
  fast iterative scanner reconstruction does.
* :func:`sense_combine` — sensitivity-weighted combination ``Σ_c S_c* c_c`` (the sensitivities are
  normalised so that ``Σ_c |S_c|² = 1``), which keeps full-sampling noise at σ.
"""

from __future__ import annotations

import functools
import math
from typing import Sequence

import numpy as np
import torch

from .fft import fftc, ifftc
from .masks import lattice_lines, place

RING_RADIUS = 0.55
"""Distance (FOV units) of the coil centres from the FOV centre, in the (phase, frequency) plane."""
LOOP_RADIUS = 0.2
"""Radius (FOV units) of each coil loop; sets how fast its sensitivity falls off."""
SLICE_OFFSET = 0.2
"""3D: coils alternate between two rings at ± this slice position (FOV units)."""
SLICE_WIDTH = 0.35
"""3D: standard deviation (FOV units) of each coil's Gaussian profile along the slice axis."""
PHASE_RAMP = 1.5
"""Slope (radians per FOV) of each coil's linear phase along its ring tangent."""
REGULARIZATION = 1e-4
"""Tikhonov weight λ, relative to the summed coil sensitivity power (1 at every pixel)."""
CG_ITERATIONS = 8
"""Conjugate-gradient iterations of :func:`cg_sense`."""


def _positions(n: int) -> np.ndarray:
    return (np.arange(n) - n // 2) / n


#: Largest sensitivity array (samples × coils) kept in the cache: the training sampler's grids
#: recur, a whole volume's would only fill memory.
_CACHED_SIZE = 1 << 22


def coil_sensitivities(
    shape: Sequence[int],
    n_coils: int,
    frequency_axis: int,
    phase_axis: int,
    slice_axis: int | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Smooth complex sensitivities of ``n_coils`` loops on a ring around the object.

    Each loop's magnitude falls off like the on-axis Biot–Savart field of a circular loop of radius
    ``a`` (``LOOP_RADIUS``), ``(a² / (a² + d²))^{3/2}``, applied to the in-plane distance ``d`` from
    its centre, times a Gaussian profile along the slice axis for 3D grids (coils alternate between
    two rings); its phase is its angular position plus a gentle linear ramp. The result is
    normalised so that ``Σ_c |S_c|² = 1`` at every pixel.

    Args:
        shape: grid shape (2D or 3D).
        n_coils: number of coils ``C``.
        frequency_axis, phase_axis: grid axes of the in-plane encoding directions.
        slice_axis: grid axis of the slice direction for 3D grids, else ``None``.
        device: where the tensor lives.

    Returns:
        complex64 tensor ``(C, *shape)`` (shared and cached for small grids: do not modify).
    """
    key = (tuple(int(n) for n in shape), n_coils, frequency_axis, phase_axis, slice_axis, str(device))
    if math.prod(key[0]) * n_coils <= _CACHED_SIZE:
        return _cached_sensitivities(*key)
    return torch.from_numpy(_sensitivities(*key[:5])).to(device)


@functools.lru_cache(maxsize=32)
def _cached_sensitivities(*key) -> torch.Tensor:
    return torch.from_numpy(_sensitivities(*key[:5])).to(key[5])


def _sensitivities(
    shape: tuple[int, ...], n_coils: int, frequency_axis: int, phase_axis: int, slice_axis: int | None
) -> np.ndarray:
    theta = 2.0 * np.pi * (np.arange(n_coils) + 0.5) / n_coils
    p = _positions(shape[phase_axis])[None, :, None]
    f = _positions(shape[frequency_axis])[None, None, :]
    dp = p - (RING_RADIUS * np.cos(theta))[:, None, None]
    df = f - (RING_RADIUS * np.sin(theta))[:, None, None]
    magnitude = (LOOP_RADIUS**2 / (LOOP_RADIUS**2 + dp**2 + df**2)) ** 1.5
    tangential = -dp * np.sin(theta)[:, None, None] + df * np.cos(theta)[:, None, None]
    phase = theta[:, None, None] + PHASE_RAMP * tangential
    profile = (magnitude * np.exp(1j * phase)).astype(np.complex64)
    axes = [phase_axis, frequency_axis]
    if slice_axis is not None:
        z = _positions(shape[slice_axis])[None, :]
        centres = np.where(np.arange(n_coils) % 2 == 0, SLICE_OFFSET, -SLICE_OFFSET)[:, None]
        along = np.exp(-((z - centres) ** 2) / (2.0 * SLICE_WIDTH**2)).astype(np.float32)
        profile = profile[:, None, :, :] * along[:, :, None, None]
        axes = [slice_axis, *axes]
    profile /= np.sqrt(np.sum(profile.real**2 + profile.imag**2, axis=0))
    return np.ascontiguousarray(np.moveaxis(profile, [1 + i for i in range(len(axes))], [1 + a for a in axes]))


def unmixing_for(
    shape: Sequence[int],
    n_coils: int,
    frequency_axis: int,
    phase_axis: int,
    slice_axis: int | None,
    acceleration: int,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """:func:`sense_unmixing` of :func:`coil_sensitivities` ``(shape, …)`` (cached like them)."""
    key = (tuple(int(n) for n in shape), n_coils, frequency_axis, phase_axis, slice_axis, str(device))
    if math.prod(key[0]) * n_coils <= _CACHED_SIZE:
        return _cached_unmixing(*key, acceleration)
    return sense_unmixing(coil_sensitivities(*key[:5], device=device), acceleration, phase_axis)


@functools.lru_cache(maxsize=32)
def _cached_unmixing(*key) -> torch.Tensor:
    *sens_key, acceleration = key
    return sense_unmixing(_cached_sensitivities(*sens_key), acceleration, sens_key[3])


def _grid_dims(ndim: int) -> tuple[int, ...]:
    """The grid axes of an ``ndim`` grid counted from the end of a tensor."""
    return tuple(range(-ndim, 0))


def sense_combine(coil_images: torch.Tensor, sens: torch.Tensor) -> torch.Tensor:
    """Sensitivity-weighted coil combination ``Σ_c S_c* c_c`` (``Σ_c |S_c|² = 1``):
    ``(B, C, *grid)`` → ``(B, *grid)``."""
    return torch.sum(torch.conj(sens) * coil_images, dim=-sens.dim())


def sense_unmixing(
    sens: torch.Tensor, acceleration: int, phase_axis: int, regularization: float = REGULARIZATION
) -> torch.Tensor:
    """Per-pixel unfolding matrices for uniform undersampling by ``acceleration`` along ``phase_axis``.

    Aliased pixel group ``y`` holds the pixels ``y + m·L`` (``m = 0 … R-1``, ``L = n / R`` along the
    phase axis). Its encoding matrix is ``E[c, m] = S_c(y + m·L)``, and the returned matrix is the
    regularised pseudo-inverse ``(EᴴE + λI)⁻¹ Eᴴ``.

    Args:
        sens: coil sensitivities ``(C, *grid)``; ``grid[phase_axis]`` must be a multiple of R.
        acceleration: integer R.
        phase_axis: grid axis of the phase-encoding direction.
        regularization: Tikhonov weight λ.

    Returns:
        tensor ``(R, C, *group_grid)``, ``group_grid`` being ``grid`` with the phase axis of length L.
    """
    n = sens.shape[phase_axis + 1]
    if n % acceleration:
        raise ValueError(f"phase extent {n} is not a multiple of R = {acceleration}")
    groups = torch.stack(torch.chunk(sens, acceleration, dim=phase_axis + 1))  # (R, C, *group_grid)
    gram = torch.einsum("mc...,nc...->...mn", torch.conj(groups), groups)
    gram = gram + regularization * torch.eye(acceleration, dtype=gram.dtype, device=gram.device)
    adjoint = torch.movedim(torch.conj(groups), (0, 1), (-2, -1))  # (*group_grid, R, C)
    unmixing = torch.linalg.solve(gram, adjoint)
    return torch.movedim(unmixing, (-2, -1), (0, 1))


def sense_unfold(kspace: torch.Tensor, unmixing: torch.Tensor, phase_axis: int) -> torch.Tensor:
    """SENSE reconstruction of uniformly undersampled coil k-space.

    Only the lattice lines (every R-th line through the centre, :func:`~.masks.lattice_lines`) are
    used; zero-filling them gives aliased coil images ``A_c(y) = (1/R) Σ_m c_c(y + m·L)``, which are
    unfolded group by group with ``unmixing`` from :func:`sense_unmixing`.

    Args:
        kspace: centred coil k-space ``(B, C, *grid)``, zero where not acquired.
        unmixing: ``(R, C, *group_grid)`` from :func:`sense_unmixing`.
        phase_axis: grid axis of the phase-encoding direction.

    Returns:
        complex image ``(B, *grid)``.
    """
    acceleration = unmixing.shape[0]
    ndim = unmixing.dim() - 2
    dim = phase_axis - ndim
    n = kspace.shape[dim]
    lattice = torch.from_numpy(place(lattice_lines(n, acceleration), [phase_axis], ndim)).to(kspace.device)
    aliased = ifftc(kspace * lattice, _grid_dims(ndim))
    folded = acceleration * aliased.narrow(dim, 0, n // acceleration)
    unfolded = torch.einsum("rc...,bc...->rb...", unmixing, folded)
    return torch.cat(list(unfolded), dim=dim)


def restore_acquired(
    image: torch.Tensor, kspace: torch.Tensor, lines: torch.Tensor, sens: torch.Tensor
) -> torch.Tensor:
    """Put measured samples back into the coil k-spaces of a reconstruction and combine again.

    Used after :func:`sense_unfold` for the calibration lines, which SENSE unfolding does not use.

    Args:
        image: reconstructed complex image ``(B, *grid)``.
        kspace: measured centred coil k-space ``(B, C, *grid)``.
        lines: boolean mask (broadcastable to the grid) of the samples to restore.
        sens: coil sensitivities ``(C, *grid)``.
    """
    dims = _grid_dims(sens.dim() - 1)
    estimate = fftc(sens * image.unsqueeze(-sens.dim()), dims)
    estimate = torch.where(lines, kspace, estimate)
    return sense_combine(ifftc(estimate, dims), sens)


def _batch_dot(a: torch.Tensor, b: torch.Tensor, ndim: int) -> torch.Tensor:
    """Real part of ``⟨a, b⟩`` per batch item over the ``ndim`` grid axes, shaped to broadcast."""
    return torch.sum((torch.conj(a) * b).real, dim=_grid_dims(ndim), keepdim=True)


def cg_sense(
    kspace: torch.Tensor,
    sampled: torch.Tensor,
    sens: torch.Tensor,
    iterations: int = CG_ITERATIONS,
    regularization: float = REGULARIZATION,
) -> torch.Tensor:
    """CG-SENSE reconstruction for arbitrary Cartesian sampling patterns, one per batch item.

    Solves ``(EᴴE + λI) x = Eᴴ y`` with ``E x = {M ⊙ F(S_c x)}_c`` by ``iterations`` conjugate-gradient
    steps from ``x = 0``, each batch item with its own step sizes. Along axes where ``sampled`` is
    constant (the fully sampled readout) the problem decouples, so the data are moved to the image
    domain along them once and the iterations only transform along the undersampled axes.

    Args:
        kspace: centred coil k-space ``(B, C, *grid)``, zero where not sampled.
        sampled: boolean mask of the acquired samples, ``(B, *grid)`` or broadcastable to it.
        sens: coil sensitivities ``(C, *grid)``.
        iterations: number of CG iterations.
        regularization: Tikhonov weight λ.

    Returns:
        complex image ``(B, *grid)``.
    """
    ndim = sens.dim() - 1
    grid_dims = _grid_dims(ndim)
    varying = tuple(
        d for d in grid_dims if not torch.equal(sampled.all(dim=d), sampled.any(dim=d))
    )
    constant = tuple(d for d in grid_dims if d not in varying)
    data = ifftc(kspace, constant) if constant else kspace
    # Work with uncentred transforms along the varying axes: shift every operand once.
    data = torch.fft.ifftshift(data, dim=varying)
    s = torch.fft.ifftshift(sens, dim=varying)
    mask = torch.fft.ifftshift(sampled, dim=varying).unsqueeze(-ndim - 1)
    coil_dim = -ndim - 1

    def normal(x: torch.Tensor) -> torch.Tensor:
        k = torch.fft.fftn(s * x.unsqueeze(coil_dim), dim=varying, norm="ortho") * mask
        return torch.sum(torch.conj(s) * torch.fft.ifftn(k, dim=varying, norm="ortho"), dim=coil_dim) + regularization * x

    rhs = torch.sum(torch.conj(s) * torch.fft.ifftn(data * mask, dim=varying, norm="ortho"), dim=coil_dim)
    x = torch.zeros_like(rhs)
    residual = rhs
    direction = residual.clone()
    power = _batch_dot(residual, residual, ndim)
    for _ in range(iterations):
        if not bool((power > 0).any()):
            break
        product = normal(direction)
        curvature = _batch_dot(direction, product, ndim)
        step = torch.where(power > 0, power / torch.where(power > 0, curvature, 1.0), 0.0)
        x = x + step * direction
        residual = residual - step * product
        new_power = _batch_dot(residual, residual, ndim)
        direction = residual + torch.where(power > 0, new_power / torch.where(power > 0, power, 1.0), 0.0) * direction
        power = new_power
    return torch.fft.fftshift(x, dim=varying)
