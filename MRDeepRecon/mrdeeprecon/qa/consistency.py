"""Low-frequency k-space consistency: does the enhanced volume keep what the scanner measured?

A scanner measures the k-space band ``|k_freq| ≤ kmax_f·k_N``, ``|k_phase| ≤ kmax_p·k_N`` (minus
the high-k side partial Fourier skips, and the corners for elliptical 2D sampling); everything
else the reconstruction or the network supplies. An enhancement may remove noise from that band
but should not otherwise rewrite it, least of all its low frequencies, which hold the anatomy:
invented or removed structure (seeds 002/003) shows up there. Per slice of the original grid:

1. The enhanced volume is brought to the original grid (:func:`~mrdeeprecon.qa.grid.resample_like`;
   exact k-space cropping for a field-of-view-preserving refinement; original voxels it does not
   cover keep the original's values). For a 3D acquisition with a
   limited slice band (``kmax_slice < 1`` or slice partial Fourier) both volumes are first
   projected onto that band along the slice axis (1D FFT, the same band rules, see
   :func:`acquired_band`).
2. Both are multiplied by the same smooth **object window** ``W``: the original's foreground
   (:func:`~mrdeeprecon.qa.foreground.foreground_mask`) dilated in-plane by
   :data:`WINDOW_DILATION_MM` and blurred in-plane by :data:`WINDOW_SMOOTHING_MM`. Without it the
   noise floor of magnitude images in the air (a positive offset of about 1.25 σ), which any
   denoiser legitimately removes, dominates the low frequencies of every slice.
3. The **mask** ``M`` is the low-frequency **core** of the acquired band: the part of the band
   within ``core_fraction`` (default :data:`CORE_FRACTION`) of its extent along frequency and
   phase. Anatomy puts most of its energy there, and the noise in it is ``core_fraction²`` of
   the band's, so a structure of a few voxels stands out of the noise a denoiser removes.
4. **Relative residual** ``r = ‖M·(F(W·enh) − F(W·orig))‖ / ‖M·F(W·orig)‖`` (centred orthonormal
   2D FFT, :mod:`mrdeeprecon.kspace.fft`). Slices without foreground are not evaluated.

Flag threshold, per slice: ``max(expected_factor · r_noise, median(r) + mad_k · 1.4826 · MAD(r))``.

* ``r_noise`` is the residual that removing noise alone produces: a denoiser with factor ``NR``
  removes ``(1 − 1/NR)`` of the noise, whose energy in ``M`` is ``σ_k² · |M| · mean(W²)``, so
  ``r_noise = (1 − 1/NR) · σ_k · √(|M| · mean(W²)) / ‖M·F(W·orig)‖``. σ_k² (noise power per
  k-space sample in the band) is the median over slices of the median of ``|F(orig)|²`` over the
  corners of the band (normalised ``|k| ≥`` :data:`NOISE_CORNER` along both in-plane axes, where
  the signal is weakest) divided by ln 2 (the median of an exponential distribution); what signal
  remains there makes it an upper bound, a k-space filter of the reconstruction makes it low.
  Without a requested factor, ``NR = ∞`` (all noise removed).
* The robust bound catches a slice that differs from the others (median and MAD over the
  evaluated slices), whatever the enhancement does to every slice alike. It is used with at
  least :data:`MIN_SLICES_FOR_OUTLIERS` evaluated slices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from ..context import ScanContext
from ..kspace.fft import fftc, ifftc
from ..kspace.masks import centred_extent, elliptical, partial_fourier_count, place
from ..volume import Volume
from .foreground import foreground_mask
from .grid import resample_like

#: Kept fraction of the acquired band's extent (per in-plane axis) in the low-frequency core.
CORE_FRACTION = 0.15
#: In-plane dilation of the foreground into the object window (mm).
WINDOW_DILATION_MM = 3.0
#: In-plane Gaussian SD blurring the object window (mm).
WINDOW_SMOOTHING_MM = 2.0
#: Band corners from which samples estimate the noise power: normalised |k| at least this along
#: both in-plane axes.
NOISE_CORNER = 0.6
#: Multiple of the noise-removal residual a slice must exceed to be flagged.
EXPECTED_FACTOR = 1.5
#: Robust SDs above the median residual a slice must exceed to be flagged.
MAD_K = 5.0
#: Fewest evaluated slices for the robust outlier bound.
MIN_SLICES_FOR_OUTLIERS = 3


def _line(n: int, kmax: float, partial_fourier: float = 1.0) -> np.ndarray:
    """1D acquired lines: the centred ``kmax`` extent, its high-k side cut by partial Fourier.

    Without partial Fourier, the unpaired lowest line of an even extent shorter than ``n``
    (centred frequency ``-m/2``, whose mirror ``+m/2`` was not measured) is left out, so that the
    band is symmetric: a real image cannot hold an unpaired sample on its own.
    """
    line = np.zeros(n, dtype=bool)
    extent = centred_extent(n, kmax)
    size = extent.stop - extent.start
    count = partial_fourier_count(size, partial_fourier)
    line[extent.start : extent.start + count] = True
    if count == size < n and size % 2 == 0:
        line[extent.start] = False
    return line


def _kmax_by_axis(context: ScanContext) -> dict[int, float]:
    """In-plane ``kmax`` by 2D axis (0 = y, 1 = x)."""
    return {context.frequency_axis - 1: context.kmax[0], context.phase_axis - 1: context.kmax[1]}


def acquired_band(shape: tuple[int, int], context: ScanContext) -> np.ndarray:
    """Boolean in-plane ``(y, x)`` mask of the k-space band the acquisition measured: per axis the
    centred ``kmax`` extent (:func:`~mrdeeprecon.kspace.masks.centred_extent`), along phase its
    low-index partial-Fourier part (:func:`~mrdeeprecon.kspace.masks.partial_fourier_count`),
    without an unpaired edge line (a real image cannot hold one on its own), and for elliptical
    2D sampling the inscribed ellipse."""
    frequency, phase = context.frequency_axis - 1, context.phase_axis - 1
    band = place(_line(shape[frequency], context.kmax[0]), [frequency], 2) & place(
        _line(shape[phase], context.kmax[1], context.partial_fourier[0]), [phase], 2
    )
    band = np.broadcast_to(band, shape).copy()
    if context.elliptical and context.acquisition == "2D":
        kmax = _kmax_by_axis(context)
        extents = [centred_extent(shape[a], kmax[a]) for a in (0, 1)]
        ellipse = np.zeros(shape, dtype=bool)
        ellipse[extents[0], extents[1]] = elliptical([e.stop - e.start for e in extents])
        band &= ellipse
    return band


def _core(shape: tuple[int, int], context: ScanContext, fraction: float) -> np.ndarray:
    """Centred box of ``fraction`` of the acquired extent along each in-plane axis."""
    kmax = _kmax_by_axis(context)
    box = np.zeros(shape, dtype=bool)
    box[tuple(centred_extent(shape[a], fraction * kmax[a]) for a in (0, 1))] = True
    return box


def _band_corners(shape: tuple[int, int], context: ScanContext) -> np.ndarray:
    """In-plane ``(y, x)`` mask of the corners of the acquired extent: ``|k_a| / (extent_a / 2) ≥``
    :data:`NOISE_CORNER` along both axes."""
    kmax = _kmax_by_axis(context)
    radii = []
    for axis in (0, 1):
        extent = centred_extent(shape[axis], kmax[axis])
        half = max((extent.stop - extent.start) / 2.0, 1.0)
        radii.append(place(np.abs(np.arange(shape[axis]) - shape[axis] // 2) / half, [axis], 2))
    return np.minimum(*radii) >= NOISE_CORNER


def _slice_projection(data: np.ndarray, context: ScanContext) -> np.ndarray:
    """``data`` projected onto the acquired slice band (1D FFT along axis 0); complex."""
    line = _line(data.shape[0], context.kmax[2], context.partial_fourier[1])
    return ifftc(fftc(data, (0,)) * line[:, None, None], (0,))


def _object_window(original: Volume, foreground: np.ndarray) -> np.ndarray:
    """The in-plane dilated and blurred foreground, float ``(z, y, x)`` in [0, 1]."""
    spacing_yx = np.asarray(original.spacing[1::-1])
    radius = np.ceil(WINDOW_DILATION_MM / spacing_yx).astype(int)
    yy, xx = np.meshgrid(
        *(np.arange(-r, r + 1) * s for r, s in zip(radius, spacing_yx)), indexing="ij"
    )
    disk = (yy**2 + xx**2 <= WINDOW_DILATION_MM**2)[None]
    dilated = ndimage.binary_dilation(foreground, structure=disk)
    sigma = (0.0, *(WINDOW_SMOOTHING_MM / spacing_yx))
    return ndimage.gaussian_filter(dilated.astype(np.float64), sigma)


@dataclass(frozen=True)
class ConsistencyResult:
    """Per-slice low-frequency consistency (module docstring). Slice indices are array axis 0 of
    the original; entries of ``None`` are slices without foreground.

    Attributes:
        resampling: how the enhanced volume reached the original grid.
        slice_projection: whether both volumes were projected onto a limited slice band (3D).
        band_samples: in-plane samples of the acquired band.
        core_fraction: extent fraction of the low-frequency core.
        core_samples: samples of the mask ``M`` (core ∩ band).
        noise_sigma_k: estimated noise SD per k-space sample in the band (intensity units).
        noise_reduction: the factor ``NR`` of the noise-removal residual (``None`` = ∞).
        expected_factor: multiple of the noise-removal residual in the threshold.
        mad_k: robust SDs of the outlier bound.
        robust_bound: ``median + mad_k · 1.4826 · MAD`` of the residuals (``None`` when too few
            slices were evaluated).
        residuals: relative residual per slice.
        expected: noise-removal residual ``r_noise`` per slice.
        thresholds: flag threshold per slice.
        flagged: slices whose residual exceeds their threshold.
    """

    resampling: str
    slice_projection: bool
    band_samples: int
    core_fraction: float
    core_samples: int
    noise_sigma_k: float
    noise_reduction: float | None
    expected_factor: float
    mad_k: float
    robust_bound: float | None
    residuals: tuple[float | None, ...]
    expected: tuple[float | None, ...]
    thresholds: tuple[float | None, ...]
    flagged: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        for key in ("residuals", "expected", "thresholds", "flagged"):
            out[key] = list(out[key])
        out["max_residual"] = max((r for r in self.residuals if r is not None), default=None)
        return out


def kspace_consistency(
    original: Volume,
    enhanced: Volume,
    context: ScanContext,
    requested_noise_reduction: float | None = None,
    core_fraction: float = CORE_FRACTION,
    expected_factor: float = EXPECTED_FACTOR,
    mad_k: float = MAD_K,
    foreground: np.ndarray | None = None,
) -> ConsistencyResult:
    """Relative in-band residual of ``enhanced`` per slice of ``original`` and the flagged slices.

    Args:
        context: the original's scan context (band, partial Fourier, acquisition type).
        requested_noise_reduction: ``NR`` of the noise-removal residual; ``None`` = ∞.
        core_fraction: extent fraction of the low-frequency core (1 = the whole band).
        expected_factor: multiple of the noise-removal residual a flagged slice exceeds.
        mad_k: robust SDs above the median residual a flagged slice exceeds.
        foreground: boolean ``(z, y, x)`` object mask of the original; default Otsu.
    """
    resampled = resample_like(enhanced, original)
    before = np.asarray(original.data, dtype=np.float64)
    after = resampled.filled(original.data).astype(np.float64)
    project = context.acquisition == "3D" and (
        context.kmax[2] < 1 or context.partial_fourier[1] < 1
    )
    if project:
        before, after = _slice_projection(before, context), _slice_projection(after, context)
    if foreground is None:
        foreground = foreground_mask(original)
    window = _object_window(original, foreground)
    shape = original.shape[1:]
    band = acquired_band(shape, context)
    mask = band & _core(shape, context, core_fraction)
    corners = band & _band_corners(shape, context)
    axes = (0, 1)

    corner_medians, norms, residuals, window_power = [], [], [], []
    for z in range(original.shape[0]):
        corner_medians.append(float(np.median(np.abs(fftc(before[z], axes)[corners]) ** 2)))
        w = window[z]
        reference = fftc(w * before[z], axes)[mask]
        norm = float(np.linalg.norm(reference))
        if not w.any() or norm == 0.0:
            norms.append(None)
            residuals.append(None)
            window_power.append(None)
            continue
        difference = fftc(w * (after[z] - before[z]), axes)[mask]
        norms.append(norm)
        residuals.append(float(np.linalg.norm(difference)) / norm)
        window_power.append(float(np.mean(w**2)))
    sigma_k = float(np.sqrt(np.median(corner_medians) / np.log(2.0))) if corners.any() else 0.0
    removed = (
        1.0 if requested_noise_reduction is None else 1.0 - 1.0 / float(requested_noise_reduction)
    )
    expected = [
        None if n is None else removed * sigma_k * np.sqrt(mask.sum() * p) / n
        for n, p in zip(norms, window_power)
    ]
    evaluated = np.array([r for r in residuals if r is not None])
    bound = None
    if evaluated.size >= MIN_SLICES_FOR_OUTLIERS:
        median = float(np.median(evaluated))
        bound = median + mad_k * 1.4826 * float(np.median(np.abs(evaluated - median)))
    thresholds = [
        None if e is None else max(expected_factor * e, -np.inf if bound is None else bound)
        for e in expected
    ]
    flagged = tuple(
        z for z, (r, t) in enumerate(zip(residuals, thresholds)) if r is not None and r > t
    )
    return ConsistencyResult(
        resampling=resampled.method,
        slice_projection=project,
        band_samples=int(band.sum()),
        core_fraction=float(core_fraction),
        core_samples=int(mask.sum()),
        noise_sigma_k=sigma_k,
        noise_reduction=None
        if requested_noise_reduction is None
        else float(requested_noise_reduction),
        expected_factor=float(expected_factor),
        mad_k=float(mad_k),
        robust_bound=bound,
        residuals=tuple(residuals),
        expected=tuple(None if e is None else float(e) for e in expected),
        thresholds=tuple(None if t is None else float(t) for t in thresholds),
        flagged=flagged,
    )
