"""What the clean reference itself brings: a slice range, the k-space band it really has, its own noise.

A real reference is not noise-free and may have been reconstructed from a smaller matrix by zero
padding (interpolation), so its k-space beyond the acquired extent holds nothing but leakage.

**Band** (:func:`estimate_band`), per array axis ``(z, y, x)``. Inside the acquired band every k
index carries at least the acquisition's noise floor; beyond a zero-padding edge only leakage is
left (the magnitude operation spreads some power past the edge: little for signal, up to about half
the in-band floor for noise-dominated background). The edge is a *step* in the axis' log mean
power profile (``log`` of the mean of ``|fftc(data)|²`` over the other two axes; about ``10⁴``
samples per k index, so it is smooth): walking outward from the centre on either side, the edge is
at the first index ``k`` where

* the log power falls from index ``k - T`` to ``k`` (``T`` = :data:`TRANSITION`: leakage and the
  unpaired edge line of an even matrix, whose power a real image shares between ``±k``, smear the
  edge over up to ``T`` samples) by at least ``log 2`` (:data:`STEP`) *more* than the local slope
  explains (the mean of the slopes over the ``T`` samples before and after): a smooth decay, a
  gradual roll-off (an interpolation filter) or a decay flattening onto the noise floor has no such
  excess, a step does;
* and the profile never climbs back above its value at ``k - T`` divided by ``2``.

The ``T`` samples up to ``k`` count in part, each by where its log power lies between the levels
inside (index ``k - T``) and outside (the lower of indices ``k, k + 1``), so the extent is found to
a fraction of a sample (the leakage just beyond a noise-free edge adds a few tenths). Axes without
such a step get the whole extent (fraction 1). Steps within :data:`MIN_BAND` of the extent from the
centre or within ``T`` samples of its end (no slope after them to compare with: an edge there is
indistinguishable from a roll-off) are not looked for, and an axis of fewer than :data:`MIN_AXIS` samples is taken whole: there
one index is a large step of frequency, and a brain's spectrum has bumps and falls over a few
indices that look like steps (crop at least that many slices to estimate the slice band).
Limits: a noise-dominated magnitude image leaks up to about half its in-band noise power past the
edge, so its step can fall short of a factor 2 and the axis is then taken whole; a steep natural
bump of the spectrum can pass for an edge on an axis barely above :data:`MIN_AXIS`.

**Noise** (:func:`describe_reference`): the noise power per k-space sample is
``median(|K|²) / ln 2`` (``|K|²`` of complex Gaussian noise is exponential) over the in-band
corner: the samples whose every axis lies in the outer :data:`CORNER` of its band's half-extent,
where a brain's own spectrum is weakest. Its square root times ``sqrt(product of the band
fractions)`` is the image-domain noise SD (orthonormal FFT: white noise of SD σ in the image is
σ per k sample). Remaining signal in that corner makes it an upper bound, as is the wavelet MAD
estimate of :func:`mrdeeprecon.noise_map.global_noise_sd`. A perfect denoiser (the noise-free
truth) would score ``20 log10(max(reference) / noise SD)`` dB against the noisy reference: no
method can be credited beyond that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import MRDeepReconError
from ..kspace.fft import fftc
from ..volume import Volume

#: Samples over which a zero-padding edge may be smeared.
TRANSITION = 3
#: Excess fall of the log mean power at an edge (natural log: a factor of 2).
STEP = math.log(2.0)
#: Band edges are looked for only beyond this fraction of the extent.
MIN_BAND = 0.25
#: Axes shorter than this (samples) are taken whole.
MIN_AXIS = 64
#: Outer fraction of each in-band half-extent whose corner holds the noise floor.
CORNER = 0.25

BAND_METHOD = (
    "per array axis: the band ends at a step of the mean k-space power over the other axes (a fall "
    f"over {TRANSITION} samples at least 2x beyond the local slope, never climbed back: a "
    "zero-padding edge)"
)
NOISE_METHOD = (
    "k-space noise floor: sqrt(median |K|^2 / ln 2) over the in-band corner (outer "
    f"{CORNER:g} of every axis' band) x sqrt(band fractions); an upper bound"
)


def crop_slices(volume: Volume, start: int, stop: int) -> Volume:
    """Slices ``start:stop`` (array axis 0) of ``volume`` with their true geometry (origin moved
    along the slice direction); ``metadata["slices"] = (start, stop)``."""
    count = volume.shape[0]
    if not (0 <= start < stop <= count):
        raise MRDeepReconError(f"slice range {start}:{stop} is empty or not inside 0:{count}")
    shift = volume.direction[:, 2] * volume.spacing[2] * start
    return volume.with_data(
        np.ascontiguousarray(volume.data[start:stop]),
        origin=tuple(np.asarray(volume.origin) + shift),
        metadata={**volume.metadata, "slices": (int(start), int(stop))},
    )


@dataclass(frozen=True)
class AxisBand:
    """The band of an axis of ``size`` samples (DC at index ``size // 2``): ``lower`` and
    ``upper`` samples (DC included in each, fractional at a smeared edge) on either side."""

    size: int
    lower: float
    upper: float

    @property
    def fraction(self) -> float:
        """In-band fraction of the axis' k-space extent."""
        return (self.lower + self.upper - 1.0) / self.size

    def indices(self) -> np.ndarray:
        """The k indices wholly inside the band."""
        centre = self.size // 2
        return np.arange(centre - int(self.lower) + 1, centre + int(self.upper))


def _kspace_power(data: np.ndarray) -> np.ndarray:
    """``|fftc(data)|²`` over all axes, float64."""
    kspace = fftc(np.asarray(data, dtype=np.complex64), tuple(range(data.ndim)))
    return np.abs(kspace).astype(np.float64) ** 2


def _step(level: np.ndarray, k: int) -> float:
    """Excess fall of ``level`` over ``k - TRANSITION … k`` beyond the mean of the slopes over the
    ``TRANSITION`` samples before and after (``TRANSITION ≤ k ≤ size - 1 - TRANSITION``)."""
    t = TRANSITION
    before = (level[k - 2 * t] - level[k - t]) / t
    after = (level[k] - level[k + t]) / t
    return float(level[k - t] - level[k] - t * (before + after) / 2.0)


def _side_extent(profile: np.ndarray, start: int) -> float:
    """In-band samples (from DC, fractional) of a one-sided mean power profile (index 0 = DC); the
    profile's length when it has no edge beyond ``start`` (see the module docstring)."""
    level = np.log(np.maximum(profile, 1e-12 * float(profile.max())))
    tail_max = np.maximum.accumulate(level[::-1])[::-1]
    t = TRANSITION
    for k in range(max(start, 2 * t), profile.size - t):
        if _step(level, k) >= STEP and tail_max[k] <= level[k - t] - STEP:
            inside, outside = level[k - t], float(np.min(level[k : k + 2]))
            shares = np.clip((level[k - t + 1 : k + 1] - outside) / (inside - outside), 0.0, 1.0)
            return k - t + 1 + float(shares.sum())
    return float(profile.size)


def _axis_band(profile: np.ndarray) -> AxisBand:
    n = profile.size
    centre = n // 2
    if n < MIN_AXIS:
        return AxisBand(n, float(centre + 1), float(n - centre))
    start = math.ceil(MIN_BAND * n / 2)
    return AxisBand(n, _side_extent(profile[centre::-1], start), _side_extent(profile[centre:], start))


def _bands(power: np.ndarray) -> tuple[AxisBand, ...]:
    axes = range(power.ndim)
    return tuple(_axis_band(power.mean(axis=tuple(b for b in axes if b != a))) for a in axes)


def estimate_band(data: np.ndarray) -> tuple[float, ...]:
    """In-band fraction of the k-space extent per array axis (``(z, y, x)`` for a volume)."""
    return tuple(band.fraction for band in _bands(_kspace_power(_checked(data))))


def _checked(data: np.ndarray) -> np.ndarray:
    data = np.asarray(data)
    if data.ndim not in (2, 3) or min(data.shape) < 1 or not np.all(np.isfinite(data)):
        raise MRDeepReconError(f"reference must be a finite 2D or 3D array, got shape {data.shape}")
    return data


def _corner(bands: tuple[AxisBand, ...]) -> tuple[np.ndarray, ...]:
    """Per axis, the k indices in the outer ``CORNER`` of the band's half-extent (open mesh)."""
    picks = []
    for band in bands:
        k = band.indices()
        distance = np.abs(k - band.size // 2)
        half = max(int(distance.max()), 1)
        picks.append(k[distance >= (1.0 - CORNER) * half])
    return np.ix_(*picks)


@dataclass(frozen=True)
class ReferenceFacts:
    """The reference's own band and noise (see the module docstring).

    Attributes:
        band: in-band k-space fraction per array axis ``(z, y, x)``.
        noise_sd: image-domain noise SD of the reference (image units; an upper bound).
        perfect_denoiser_psnr_db: PSNR of the noise-free truth against this reference
            (data range = the reference maximum); ``inf`` for a noise-free reference.
    """

    band: tuple[float, ...]
    noise_sd: float
    perfect_denoiser_psnr_db: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "band_zyx": list(self.band),
            "band_method": BAND_METHOD,
            "noise_sd": self.noise_sd,
            "noise_method": NOISE_METHOD,
            "perfect_denoiser_psnr_db": self.perfect_denoiser_psnr_db,
        }


def describe_reference(data: np.ndarray) -> ReferenceFacts:
    """Band, noise SD and perfect-denoiser PSNR of a clean reference ``(z, y, x)``."""
    data = _checked(data)
    power = _kspace_power(data)
    bands = _bands(power)
    per_sample = float(np.median(power[_corner(bands)])) / math.log(2.0)
    noise_sd = math.sqrt(per_sample * math.prod(b.fraction for b in bands))
    peak = float(np.max(data))
    if peak <= 0.0:
        raise MRDeepReconError("reference has no positive voxel")
    perfect = float("inf") if noise_sd == 0.0 else 20.0 * math.log10(peak / noise_sd)
    return ReferenceFacts(tuple(b.fraction for b in bands), noise_sd, perfect)
