"""The classical baselines the enhancement is compared with, each at its best parameter.

Denoisers (run on the degraded volume, on the reference grid):

* **BM4D** (``bm4d`` package, optional: closed binary, non-commercial licence, the ``bm4d``
  extra), ``sigma_psd`` = the true added noise SD in image units, profile ``"np"``.
* **Non-local means**: ``skimage.restoration.denoise_nl_means`` in 2D, slice by slice (axis 0),
  fast mode, 5×5 patches, search distance 6, ``sigma`` = the true noise SD; the filter strength
  ``h`` is chosen by oracle from :data:`NLM_H_FACTORS` × σ.
* **Wavelet**: ``skimage.restoration.denoise_wavelet``, BayesShrink, soft thresholds, Daubechies-1,
  3D transform of the whole volume, ``sigma`` = the true noise SD, ``rescale_sigma=True``
  (needs PyWavelets).
* **Gaussian smoothing**: ``scipy.ndimage.gaussian_filter``, isotropic σ in voxels chosen by oracle
  from :data:`GAUSSIAN_SIGMAS` (0 = the degraded volume itself).

Interpolators (start from the acquired matrix, :attr:`.scenario.Scenario.low_resolution`, whose
samples lie on the centred-FFT grid of the same field of view):

* **cubic**: SimpleITK ``sitkBSpline`` (interpolating cubic B-spline), resampled through physical
  space onto the reference grid (the nearest sample beyond the outermost half voxel);
* **Lanczos**: separable Lanczos-3 (``sinc(t)·sinc(t/3)``, 6 taps per axis, weights normalised to
  sum 1, edge samples repeated beyond the border), along each axis whose matrix differs;
* **zero-filled**: the degraded volume itself (zero-padded k-space = sinc interpolation).

*Oracle* = the parameter of the grid whose output has the highest PSNR against the reference
inside the given mask (the runner passes the reference's foreground: in the background, magnitude
noise leaves a positive bias no smoothing removes, which would otherwise steer the choice); every
grid value is run. ``seconds`` is the time of one run at the chosen
parameter, ``tuning_seconds`` the whole search.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from ..errors import MRDeepReconError
from ..io.itk import image_from_volume
from ..metrics import psnr
from ..volume import Volume

#: Non-local-means filter strengths tried, as multiples of the true noise SD.
NLM_H_FACTORS = (0.4, 0.6, 0.8, 1.0, 1.2)
#: Non-local-means patch edge and search distance (pixels).
NLM_PATCH, NLM_DISTANCE = 5, 6
#: Gaussian smoothing σ (voxels) tried.
GAUSSIAN_SIGMAS = (0.0, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)
#: Lobes of the Lanczos kernel (taps per axis = 2 × this).
LANCZOS_LOBES = 3
#: The interpolation baselines.
INTERPOLATIONS = ("lanczos", "cubic")


@dataclass(frozen=True, eq=False)
class BaselineOutput:
    """One baseline's result on the reference grid.

    Attributes:
        image: float32 ``(z, y, x)``.
        parameter: the parameter used, in words (with the oracle's grid when tuned).
        seconds: wall time of one run with that parameter.
        tuning_seconds: wall time of the whole oracle search (0 when not tuned).
    """

    image: np.ndarray
    parameter: str
    seconds: float
    tuning_seconds: float = 0.0


def _timed(run: Callable[[], np.ndarray]) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    image = np.asarray(run(), dtype=np.float32)
    return image, time.perf_counter() - start


def module_available(name: str) -> bool:
    """Whether ``name`` imports (BM4D ships a binary that may not load on every platform)."""
    try:
        importlib.import_module(name)
    except (ImportError, OSError):
        return False
    return True


def _oracle(
    run: Callable[[float], np.ndarray],
    grid: Sequence[float],
    reference: np.ndarray,
    mask: np.ndarray | None,
) -> tuple[float, np.ndarray, float, float]:
    """Best grid value by PSNR against ``reference`` inside ``mask``: (value, output, its seconds,
    total seconds)."""
    best: tuple[float, float, np.ndarray, float] | None = None
    total = 0.0
    for value in grid:
        image, seconds = _timed(lambda: run(value))
        total += seconds
        score = psnr(reference, image, mask=mask)
        if best is None or score > best[0]:
            best = (score, value, image, seconds)
    assert best is not None
    return best[1], best[2], best[3], total


def _need_noise(sigma: float, method: str) -> None:
    if not sigma > 0:
        raise MRDeepReconError(f"{method} needs the added noise SD (> 0), got {sigma!r}")


def bm4d_denoise(image: np.ndarray, sigma: float) -> BaselineOutput:
    """BM4D with ``sigma_psd`` = ``sigma`` (image units), default profile."""
    _need_noise(sigma, "BM4D")
    bm4d: Any = importlib.import_module("bm4d")
    data = np.asarray(image, dtype=np.float64)
    out, seconds = _timed(lambda: bm4d.bm4d(data, sigma))
    return BaselineOutput(out, f"sigma = {sigma:.4g} (true noise SD), profile np", seconds)


def nl_means(
    image: np.ndarray, sigma: float, reference: np.ndarray, mask: np.ndarray | None = None
) -> BaselineOutput:
    """2D non-local means per slice, ``h`` by oracle from ``NLM_H_FACTORS`` × ``sigma``."""
    from skimage.restoration import denoise_nl_means

    _need_noise(sigma, "non-local means")
    data = np.asarray(image, dtype=np.float64)

    def run(factor: float) -> np.ndarray:
        return np.stack(
            [
                denoise_nl_means(
                    s,
                    h=factor * sigma,
                    sigma=sigma,
                    fast_mode=True,
                    patch_size=NLM_PATCH,
                    patch_distance=NLM_DISTANCE,
                )
                for s in data
            ]
        )

    factor, out, seconds, total = _oracle(run, NLM_H_FACTORS, reference, mask)
    grid = ", ".join(f"{f:g}" for f in NLM_H_FACTORS)
    parameter = (
        f"h = {factor:g} sigma = {factor * sigma:.4g} (oracle over {{{grid}}} x sigma), "
        f"2D per slice, patch {NLM_PATCH}, distance {NLM_DISTANCE}"
    )
    return BaselineOutput(out, parameter, seconds, total)


def bayes_shrink(image: np.ndarray, sigma: float) -> BaselineOutput:
    """3D BayesShrink wavelet denoising with the true noise SD."""
    from skimage.restoration import denoise_wavelet

    _need_noise(sigma, "wavelet denoising")
    data = np.asarray(image, dtype=np.float64)
    out, seconds = _timed(
        lambda: denoise_wavelet(
            data, sigma=sigma, method="BayesShrink", mode="soft", rescale_sigma=True
        )
    )
    return BaselineOutput(out, f"BayesShrink, soft, db1, 3D, sigma = {sigma:.4g}", seconds)


def gaussian_smoothing(
    image: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None
) -> BaselineOutput:
    """Isotropic Gaussian smoothing, σ (voxels) by oracle from ``GAUSSIAN_SIGMAS``."""
    data = np.asarray(image, dtype=np.float64)
    width, out, seconds, total = _oracle(
        lambda s: ndimage.gaussian_filter(data, s) if s > 0 else data,
        GAUSSIAN_SIGMAS,
        reference,
        mask,
    )
    grid = ", ".join(f"{s:g}" for s in GAUSSIAN_SIGMAS)
    return BaselineOutput(
        out, f"sigma = {width:g} voxels (oracle over {{{grid}}})", seconds, total
    )


def _lanczos_axis(data: np.ndarray, axis: int, size: int) -> np.ndarray:
    """Lanczos-3 resampling of ``data`` along ``axis`` to ``size`` samples of the same field of view
    (output index ``i`` reads input position ``(i - size // 2) · m / size + m // 2``)."""
    m = data.shape[axis]
    position = (np.arange(size) - size // 2) * (m / size) + m // 2
    base = np.floor(position).astype(int)
    taps = np.arange(1 - LANCZOS_LOBES, LANCZOS_LOBES + 1)
    t = position[:, None] - (base[:, None] + taps[None, :])
    weights = np.sinc(t) * np.sinc(t / LANCZOS_LOBES)
    weights /= weights.sum(axis=1, keepdims=True)
    index = np.clip(base[:, None] + taps[None, :], 0, m - 1)
    moved = np.moveaxis(data, axis, -1)
    out = np.einsum("...ij,ij->...i", moved[..., index], weights)
    return np.moveaxis(out, -1, axis)


def lanczos_resample(data: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Separable Lanczos-3 resampling of ``data`` to ``shape`` (same field of view, centred-FFT
    sample positions), float64."""
    out = np.asarray(data, dtype=np.float64)
    for axis, size in enumerate(shape):
        if out.shape[axis] != size:
            out = _lanczos_axis(out, axis, size)
    return out


def _bspline_resample(low_resolution: Volume, target: Volume) -> np.ndarray:
    moving = image_from_volume(low_resolution, np.asarray(low_resolution.data, dtype=np.float32))
    grid = image_from_volume(target, np.zeros(target.shape, dtype=np.float32))
    resampled = sitk.Resample(
        moving, grid, sitk.Transform(), sitk.sitkBSpline, 0.0, sitk.sitkFloat32, True
    )
    return sitk.GetArrayFromImage(resampled)


def interpolate(low_resolution: Volume, target: Volume, kind: str) -> BaselineOutput:
    """``low_resolution`` (the acquired matrix) resampled onto ``target``'s grid by ``kind``:
    ``"cubic"`` (SimpleITK cubic B-spline through physical space) or ``"lanczos"`` (separable
    Lanczos-3 on the centred-FFT grid)."""
    shape = "x".join(str(n) for n in low_resolution.shape)
    if kind == "cubic":
        out, seconds = _timed(lambda: _bspline_resample(low_resolution, target))
        return BaselineOutput(out, f"cubic B-spline (SimpleITK sitkBSpline) from {shape} (z, y, x)", seconds)
    if kind == "lanczos":
        out, seconds = _timed(lambda: lanczos_resample(low_resolution.data, target.shape))
        return BaselineOutput(out, f"separable Lanczos-3 from {shape} (z, y, x)", seconds)
    raise MRDeepReconError(f"unknown interpolation {kind!r}; use one of {', '.join(INTERPOLATIONS)}")
