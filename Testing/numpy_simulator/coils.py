"""Simulated receive coils and parallel-imaging reconstruction (SENSE).

Coil arrays carry a leading coil axis: shape ``(C, *grid)``, the grid axes being the image's.
Sensitivities are smooth analytic functions of position in field-of-view (FOV) units, so the same
coil array can be evaluated on any grid covering the FOV (the full matrix or a reduced, k_max
truncated one): index ``i`` along an axis of length ``n`` sits at ``(i - n // 2) / n`` FOV, the
pixel convention of the centred FFT.

Reconstructions, all returning the coil-combined complex image on the grid:

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

from typing import Sequence

import numpy as np

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


def coil_sensitivities(
    shape: Sequence[int],
    n_coils: int,
    frequency_axis: int,
    phase_axis: int,
    slice_axis: int | None = None,
) -> np.ndarray:
    """Smooth complex sensitivities of ``n_coils`` loops on a ring around the object.

    Each loop's magnitude falls off like the on-axis Biot–Savart field of a circular loop of radius
    ``a`` (``LOOP_RADIUS``), ``(a² / (a² + d²))^{3/2}``, applied to the in-plane distance ``d`` from
    its centre, times a Gaussian profile along the slice axis for 3D grids (coils alternate between
    two rings); its phase is its angular position plus a gentle linear ramp. The result is normalised so that ``Σ_c |S_c|² = 1`` at
    every pixel.

    Args:
        shape: grid shape (2D or 3D).
        n_coils: number of coils ``C``.
        frequency_axis, phase_axis: grid axes of the in-plane encoding directions.
        slice_axis: grid axis of the slice direction for 3D grids, else ``None``.

    Returns:
        complex64 array ``(C, *shape)``.
    """
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
    return np.moveaxis(profile, [1 + i for i in range(len(axes))], [1 + a for a in axes])


def sense_combine(coil_images: np.ndarray, sens: np.ndarray) -> np.ndarray:
    """Sensitivity-weighted coil combination ``Σ_c S_c* c_c`` (``Σ_c |S_c|² = 1``)."""
    return np.sum(np.conj(sens) * coil_images, axis=0)


def sense_unmixing(
    sens: np.ndarray, acceleration: int, phase_axis: int, regularization: float = REGULARIZATION
) -> np.ndarray:
    """Per-pixel unfolding matrices for uniform undersampling by ``acceleration`` along ``phase_axis``.

    Aliased pixel group ``y`` holds the pixels ``y + m·L`` (``m = 0 … R-1``, ``L = n / R`` along the
    phase axis). Its encoding matrix is ``E[c, m] = S_c(y + m·L)``, and the returned matrix is the
    regularised pseudo-inverse ``(EᴴE + λI)⁻¹ Eᴴ``.

    Args:
        sens: coil sensitivities ``(C, *grid)``; ``grid[phase_axis]`` must be a multiple of R.
        acceleration: integer R.
        phase_axis: grid axis (without the coil axis) of the phase-encoding direction.
        regularization: Tikhonov weight λ.

    Returns:
        array ``(R, C, *group_grid)``, ``group_grid`` being ``grid`` with the phase axis of length L.
    """
    n = sens.shape[phase_axis + 1]
    if n % acceleration:
        raise ValueError(f"phase extent {n} is not a multiple of R = {acceleration}")
    length = n // acceleration
    groups = np.stack(
        [sens.take(np.arange(m * length, (m + 1) * length), axis=phase_axis + 1) for m in range(acceleration)]
    )  # (R, C, *group_grid)
    gram = np.einsum("mc...,nc...->...mn", np.conj(groups), groups)
    gram += regularization * np.eye(acceleration, dtype=gram.dtype)
    adjoint = np.moveaxis(np.conj(groups), (0, 1), (-2, -1))  # (*group_grid, R, C)
    unmixing = np.linalg.solve(gram, adjoint)
    return np.moveaxis(unmixing, (-2, -1), (0, 1))


def sense_unfold(kspace: np.ndarray, unmixing: np.ndarray, phase_axis: int) -> np.ndarray:
    """SENSE reconstruction of uniformly undersampled coil k-space.

    Only the lattice lines (every R-th line through the centre, :func:`~.masks.lattice_lines`) are
    used; zero-filling them gives aliased coil images ``A_c(y) = (1/R) Σ_m c_c(y + m·L)``, which are
    unfolded group by group with ``unmixing`` from :func:`sense_unmixing`.

    Args:
        kspace: centred coil k-space ``(C, *grid)``, zero where not acquired.
        unmixing: ``(R, C, *group_grid)`` from :func:`sense_unmixing`.
        phase_axis: grid axis of the phase-encoding direction.

    Returns:
        complex image on the grid.
    """
    acceleration = unmixing.shape[0]
    ax = phase_axis + 1
    n = kspace.shape[ax]
    grid_axes = tuple(range(1, kspace.ndim))
    aliased = ifftc(kspace * place(lattice_lines(n, acceleration), [ax], kspace.ndim), grid_axes)
    folded = acceleration * aliased.take(np.arange(n // acceleration), axis=ax)
    unfolded = np.einsum("rc...,c...->r...", unmixing, folded)
    return np.concatenate(list(unfolded), axis=phase_axis)


def restore_acquired(
    image: np.ndarray, kspace: np.ndarray, lines: np.ndarray, sens: np.ndarray
) -> np.ndarray:
    """Put measured samples back into the coil k-spaces of a reconstruction and combine again.

    Used after :func:`sense_unfold` for the calibration lines, which SENSE unfolding does not use.

    Args:
        image: reconstructed complex image on the grid.
        kspace: measured centred coil k-space ``(C, *grid)``.
        lines: boolean mask (broadcastable to the grid) of the samples to restore.
        sens: coil sensitivities ``(C, *grid)``.
    """
    grid_axes = tuple(range(1, kspace.ndim))
    estimate = fftc(sens * image, grid_axes)
    estimate = np.where(lines, kspace, estimate)
    return sense_combine(ifftc(estimate, grid_axes), sens)


def cg_sense(
    kspace: np.ndarray,
    sampled: np.ndarray,
    sens: np.ndarray,
    iterations: int = CG_ITERATIONS,
    regularization: float = REGULARIZATION,
) -> np.ndarray:
    """CG-SENSE reconstruction for an arbitrary Cartesian sampling pattern.

    Solves ``(EᴴE + λI) x = Eᴴ y`` with ``E x = {M ⊙ F(S_c x)}_c`` by ``iterations`` conjugate-gradient
    steps from ``x = 0``. Along axes where ``sampled`` is constant (the fully sampled readout) the
    problem decouples, so the data are moved to the image domain along them once and the
    iterations only transform along the undersampled axes.

    Args:
        kspace: centred coil k-space ``(C, *grid)``, zero where not sampled.
        sampled: boolean grid-shaped mask of the acquired samples.
        sens: coil sensitivities ``(C, *grid)``.
        iterations: number of CG iterations.
        regularization: Tikhonov weight λ.

    Returns:
        complex image on the grid.
    """
    ndim = sampled.ndim
    varying = tuple(a for a in range(ndim) if not np.array_equal(sampled.all(axis=a), sampled.any(axis=a)))
    constant = tuple(a + 1 for a in range(ndim) if a not in varying)
    coil_axes = tuple(a + 1 for a in varying)
    data = ifftc(kspace, constant) if constant else kspace
    # Work with uncentred transforms along the varying axes: shift every operand once.
    data = np.fft.ifftshift(data, axes=coil_axes)
    s = np.fft.ifftshift(sens, axes=coil_axes)
    mask = np.fft.ifftshift(sampled, axes=varying)

    def normal(x: np.ndarray) -> np.ndarray:
        k = np.fft.fftn(s * x, axes=coil_axes, norm="ortho")
        k *= mask
        return np.sum(np.conj(s) * np.fft.ifftn(k, axes=coil_axes, norm="ortho"), axis=0) + regularization * x

    rhs = np.sum(np.conj(s) * np.fft.ifftn(data * mask, axes=coil_axes, norm="ortho"), axis=0)
    x = np.zeros_like(rhs)
    residual = rhs
    direction = residual.copy()
    power = np.vdot(residual, residual).real
    for _ in range(iterations):
        if power == 0.0:
            break
        product = normal(direction)
        step = power / np.vdot(direction, product).real
        x += step * direction
        residual = residual - step * product
        new_power = np.vdot(residual, residual).real
        direction = residual + (new_power / power) * direction
        power = new_power
    return np.fft.fftshift(x, axes=varying)
