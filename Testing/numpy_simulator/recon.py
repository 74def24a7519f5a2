"""Variations of the conventional reconstruction pipeline after k-space is complete.

* k-space anti-ringing filter (:func:`kspace_window`): Hamming or Tukey, over the acquired extent.
* Interpolation to the displayed matrix: zero padding (:func:`zero_pad`, sinc interpolation) or
  reconstruction on the reduced matrix followed by cubic interpolation (:func:`cubic_resample`).
* Output component (:func:`extract`): magnitude, or the real part after removing a smooth phase.
* Surface-coil intensity normalisation residual (:func:`bias_field`) and integer quantisation
  (:func:`quantize`).

Grids follow the centred-FFT pixel convention: index ``i`` of an axis of length ``n`` sits at
``(i - n // 2) / n`` field of view (FOV), on any matrix size covering the same FOV.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .fft import fftc, ifftc

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
        float32 array broadcastable to ``shape``.
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


def zero_pad(kspace: np.ndarray, shape: Sequence[int], box: Sequence[slice]) -> np.ndarray:
    """Place a centred k-space into a larger zero k-space of ``shape`` at the index ranges ``box``."""
    out = np.zeros(tuple(shape), dtype=kspace.dtype)
    out[tuple(box)] = kspace
    return out


def _keys(t: np.ndarray) -> np.ndarray:
    t = np.abs(t)
    a = KEYS_A
    near = ((a + 2) * t - (a + 3)) * t**2 + 1
    far = ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return np.where(t <= 1, near, np.where(t < 2, far, 0.0))


def cubic_resample(image: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Resample a real image to ``shape`` (same FOV) by separable Keys cubic convolution.

    Each output index ``i`` of an axis of length ``N`` reads the input (length ``M``) at
    ``(i - N // 2)·M/N + M // 2`` with periodic boundaries, the geometry of the centred FFT, so
    the result lines up with a zero-padded reconstruction of the same data.
    """
    out = image
    for axis, n_out in enumerate(shape):
        n_in = out.shape[axis]
        if n_in == n_out:
            continue
        position = (np.arange(n_out) - n_out // 2) * (n_in / n_out) + n_in // 2
        base = np.floor(position).astype(int)
        frac = position - base
        shape_1d = [1] * out.ndim
        shape_1d[axis] = n_out
        acc = np.zeros(out.shape[:axis] + (n_out,) + out.shape[axis + 1 :], dtype=out.dtype)
        for offset in (-1, 0, 1, 2):
            weight = _keys(frac - offset).astype(out.dtype).reshape(shape_1d)
            acc += weight * np.take(out, (base + offset) % n_in, axis=axis)
        out = acc
    return out


def smooth_phase(image: np.ndarray, axes: Sequence[int]) -> np.ndarray:
    """Unit phasor of the image low-passed by a Gaussian of ``PHASE_SMOOTHING`` FOV (computed in double).

    A real offset of ``PHASE_FLOOR`` times the low-passed peak is added first, so where the
    smoothed image is negligible (empty background, far ringing tails) the phase is 0 rather than
    the sign of round-off or of a truncated kernel's side lobes.
    """
    kspace = fftc(image.astype(np.complex128), axes)
    for axis in axes:
        n = image.shape[axis]
        k = np.arange(n) - n // 2
        shape_1d = [1] * image.ndim
        shape_1d[axis] = n
        kspace *= np.exp(-2.0 * (np.pi * PHASE_SMOOTHING * k) ** 2).reshape(shape_1d)
    low = ifftc(kspace, axes)
    low += PHASE_FLOOR * np.abs(low).max()
    magnitude = np.abs(low)
    return np.where(magnitude > 0, low / np.where(magnitude > 0, magnitude, 1), 1)


def extract(image: np.ndarray, output: str, axes: Sequence[int]) -> np.ndarray:
    """The displayed component of a complex image: ``"magnitude"`` or ``"real"`` (float32).

    ``"real"`` is the real part after removing the smooth phase of :func:`smooth_phase`, as a
    phase-sensitive reconstruction does; the noise in it is Gaussian (σ), not Rician.
    """
    if output not in OUTPUTS:
        raise ValueError(f"unknown output component {output!r}")
    if output == "magnitude":
        return np.abs(image).astype(np.float32)
    return (image * np.conj(smooth_phase(image, axes))).real.astype(np.float32)


def bias_field(shape: Sequence[int], amplitude: float, rng: np.random.Generator) -> np.ndarray:
    """Smooth multiplicative intensity field ``1 + amplitude · g`` of mean 1.

    ``g`` is a Gaussian bump (standard deviation 0.5 – 1 FOV) centred at a random point on the
    FOV's inscribed sphere, brighter or darker at random, shifted to zero mean and scaled so that
    ``max |g| = 1``: the peak relative deviation is exactly ``amplitude``.

    Returns:
        float32 array of ``shape``.
    """
    direction = rng.standard_normal(len(shape))
    centre = 0.5 * direction / np.linalg.norm(direction)
    width = rng.uniform(0.5, 1.0)
    sign = 1.0 if rng.random() < 0.5 else -1.0
    distance2 = np.zeros([1] * len(shape))
    for axis, n in enumerate(shape):
        shape_1d = [1] * len(shape)
        shape_1d[axis] = n
        distance2 = distance2 + (((np.arange(n) - n // 2) / n - centre[axis]) ** 2).reshape(shape_1d)
    bump = np.exp(-distance2 / (2.0 * width**2))
    bump = bump - bump.mean()
    peak = np.abs(bump).max()
    g = bump / peak if peak > 0 else bump
    return (1.0 + sign * amplitude * g).astype(np.float32)


def quantize(image: np.ndarray, levels: int, step: float | None = None) -> tuple[np.ndarray, float]:
    """Round to integer multiples of ``step`` (default: the 99.9th percentile of ``|image|`` / levels).

    Models storing the image as integers with the 99.9th percentile at ``levels``, then scaling
    back to image units. Returns the quantised image and the step used (0 if the image is zero).
    """
    if step is None:
        step = float(np.percentile(np.abs(image), 99.9)) / levels
    if step <= 0:
        return image, 0.0
    return (np.round(image / step) * step).astype(image.dtype), step
