"""What the clean reference itself brings: a slice range, the k-space band it really has, its own noise.

A real reference is not noise-free and may have been reconstructed from a smaller matrix by zero
padding (interpolation), so its k-space beyond the acquired extent holds nothing but leakage.

**Band** (:func:`estimate_band`), per array axis ``(z, y, x)``. The power profile of an axis is the
mean of ``|fftc(data)|²`` over the other two axes, one value per k index (orthonormal centred FFT;
about ``10⁴`` samples per value, so it is smooth). Inside the acquired band every k index carries
at least the acquisition's noise floor; beyond a zero-padding edge only the leakage of the
magnitude operation is left, orders of magnitude lower. Walking outward from the centre on each
side, the first index from which the profile never again rises above :data:`BAND_DROP` times the
value two indices inside (a drop of ≥ 7 dB that the rest of the axis never climbs back over) marks
the edge. Magnitude leakage and the unpaired edge line of an even matrix (whose power the real
image shares between ``±k``) smear a zero-padding edge over two samples, so those two count in
part, each by where its log power lies between the level inside (two samples before the edge) and
the leakage level outside (the lower of the two samples after the edge), and the extent is found to
a fraction of a sample.
Spectra that decay naturally fall by a few percent per index away from the centre, so an axis
without such an edge gets the whole extent (fraction 1). Edges within :data:`MIN_BAND` of the
extent plus two samples from the centre are not looked for.

**Noise** (:func:`describe_reference`): the noise power per k-space sample is
``median(|K|²) / ln 2`` (``|K|²`` of complex Gaussian noise is exponential) over the in-band
corner: the samples whose every axis lies in the outer :data:`CORNER` of its band's half-extent,
where a brain's own spectrum is weakest. Its square root times ``sqrt(product of the band
fractions)`` is the image-domain noise SD (orthonormal FFT: white noise of SD σ in the image is
σ per k sample). Remaining signal in that corner makes it an upper bound, as is the wavelet MAD
estimate of :func:`mrdeeprecon.metrics.estimate_noise_sigma`. A perfect denoiser (the noise-free
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

#: Beyond the band edge the axis power profile stays below this fraction of the value two
#: indices inside.
BAND_DROP = 0.2
#: Band edges are looked for only beyond this fraction of the extent (plus two samples).
MIN_BAND = 0.25
#: Outer fraction of each in-band half-extent whose corner holds the noise floor.
CORNER = 0.25

BAND_METHOD = (
    "per array axis: mean k-space power over the other axes; the band ends where the profile drops "
    f"below {BAND_DROP:g} x the value two samples inside and never climbs back (zero-padding edge)"
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


def _side_extent(profile: np.ndarray, start: int) -> float:
    """In-band samples of a one-sided profile (index 0 = DC), see the module docstring: the first
    index ``m`` past ``start + 2`` whose whole tail stays below ``BAND_DROP`` times
    ``profile[m - 2]`` marks the edge; samples ``m - 1`` and ``m`` count by the position of their
    log power between the outside level (0) and ``profile[m - 2]`` (1). The profile's length when
    there is no edge."""
    tail_max = np.maximum.accumulate(profile[::-1])[::-1]
    for m in range(start + 2, profile.size):
        inside = float(profile[m - 2])
        if tail_max[m] <= BAND_DROP * inside:
            outside = max(float(np.min(profile[m : m + 2])), 1e-12 * float(profile.max()))
            shares = [
                min(1.0, math.log(max(float(v), outside) / outside) / math.log(inside / outside))
                for v in profile[m - 1 : m + 1]
            ]
            return m - 1 + sum(shares)
    return float(profile.size)


def _axis_band(profile: np.ndarray) -> AxisBand:
    n = profile.size
    centre = n // 2
    start = max(1, math.ceil(MIN_BAND * n / 2))
    return AxisBand(n, _side_extent(profile[centre::-1], start), _side_extent(profile[centre:], start))


def _bands(power: np.ndarray) -> tuple[AxisBand, ...]:
    axes = range(power.ndim)
    return tuple(
        _axis_band(power.mean(axis=tuple(b for b in axes if b != a))) for a in axes
    )


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
