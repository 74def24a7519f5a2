"""Regions of interest: mean, noise SD, SNR and the measured noise-reduction factor.

An ROI is a box, a sphere or a boolean mask, defined in physical space (LPS mm); the
``from_indices`` / ``on`` constructors take voxel indices ``(i, j, k)`` of the *original* volume and
convert them. Every volume is evaluated on its **own voxels whose centres fall inside the ROI** —
no interpolation, which would smooth the noise and bias its SD down — so a super-resolved output
is measured on its fine grid (more voxels in the same region). Sinc upsampling keeps the per-voxel
noise SD of white noise, so the SDs of the two grids are comparable.

Noise SD. Seed 001 (section 3.2) measures noise as the SD inside a homogeneous ROI. Slow shading
(coil sensitivity, bias field) inflates a plain SD, so the noise SD used here is the
**detrended SD**: the SD of the residual after a least-squares fit of a planar trend
``a + b·x + c·y + d·z`` (LPS mm) inside the ROI, with ``n - 4`` degrees of freedom. The plain SD is
reported beside it. SNR = mean / detrended SD. The measured noise reduction is
``SD_original / SD_enhanced`` (both detrended) and its relative error against the requested
factor ``measured / requested - 1``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np
from scipy import ndimage

from ..errors import MRDeepReconError
from ..volume import Volume
from .foreground import foreground_mask
from .grid import index_to_lps, lps_to_index, voxel_volume

#: Fewest voxels an ROI must hold in each volume for its statistics.
MIN_VOXELS = 10
#: Points this close (mm) outside a box or sphere surface still count as inside.
SURFACE_TOLERANCE_MM = 1e-6
#: Default edge length (mm) of the automatic homogeneous ROI.
AUTO_ROI_SIZE_MM = 8.0
#: Fewest voxels of the automatic ROI along each in-plane axis (i, j): on a coarse grid (a 64²
#: EPI at 3.25 mm) 8 mm is 2 voxels, too few for :data:`MIN_VOXELS` and the planar detrend.
AUTO_ROI_MIN_IN_PLANE_VOXELS = 4
#: Gaussian smoothing (voxels) of the image the automatic ROI is chosen on (see
#: :func:`find_homogeneous_roi`).
AUTO_ROI_SMOOTHING_VOXELS = 1.5
#: Name of the noise SD the comparisons use.
NOISE_SD_METHOD = "detrended (planar trend removed inside the ROI)"

_IDENTITY_AXES = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))


def _triple(values: Any, what: str) -> tuple[float, float, float]:
    out = tuple(float(v) for v in np.broadcast_to(np.asarray(values, dtype=np.float64), (3,)))
    if not all(np.isfinite(out)):
        raise MRDeepReconError(f"{what} must be finite, got {values!r}")
    return out  # type: ignore[return-value]


@dataclass(frozen=True)
class BoxROI:
    """A rectangular box.

    Attributes:
        centre: LPS position of the box centre (mm).
        size: edge lengths (mm) along ``axes``.
        axes: the three unit LPS vectors of the box edges (default: the LPS axes).
        name: label used in reports.
    """

    centre: tuple[float, float, float]
    size: tuple[float, float, float]
    axes: tuple[tuple[float, float, float], ...] = _IDENTITY_AXES
    name: str = "box"

    def __post_init__(self) -> None:
        object.__setattr__(self, "centre", _triple(self.centre, "box centre"))
        object.__setattr__(self, "size", _triple(self.size, "box size"))
        axes = np.asarray(self.axes, dtype=np.float64).reshape(3, 3)
        if not np.allclose(axes @ axes.T, np.eye(3), atol=1e-6):
            raise MRDeepReconError("box axes must be three orthogonal unit vectors")
        if not all(s > 0 for s in self.size):
            raise MRDeepReconError(f"box edge lengths must be > 0 mm, got {self.size}")
        object.__setattr__(self, "axes", tuple(tuple(float(v) for v in row) for row in axes))

    @classmethod
    def from_indices(
        cls,
        volume: Volume,
        start: tuple[int, int, int],
        stop: tuple[int, int, int],
        name: str = "box",
    ) -> "BoxROI":
        """The box covering the voxels ``start ≤ (i, j, k) < stop`` of ``volume`` (the original).

        Its faces lie half a voxel beyond the outer voxel centres, along the volume's axes.
        """
        start_, stop_ = np.asarray(start, dtype=np.float64), np.asarray(stop, dtype=np.float64)
        if start_.shape != (3,) or stop_.shape != (3,) or np.any(stop_ <= start_):
            raise MRDeepReconError(
                f"box indices need start < stop along i, j, k, got {start}, {stop}"
            )
        centre = index_to_lps(volume, (start_ + stop_ - 1.0) / 2.0)
        size = (stop_ - start_) * np.asarray(volume.spacing)
        return cls(tuple(centre), tuple(size), tuple(map(tuple, volume.direction.T)), name)

    def contains(self, points: np.ndarray) -> np.ndarray:
        """Boolean ``(N,)``: which LPS points ``(N, 3)`` lie inside (surface included)."""
        local = (np.asarray(points) - np.asarray(self.centre)) @ np.asarray(self.axes).T
        return np.all(np.abs(local) <= np.asarray(self.size) / 2 + SURFACE_TOLERANCE_MM, axis=1)

    def corners(self) -> np.ndarray:
        """The 8 corners, LPS ``(8, 3)``."""
        signs = np.asarray(list(itertools.product((-0.5, 0.5), repeat=3)))
        return np.asarray(self.centre) + (signs * np.asarray(self.size)) @ np.asarray(self.axes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "box",
            "name": self.name,
            "centre_lps": list(self.centre),
            "size_mm": list(self.size),
            "axes_lps": [list(a) for a in self.axes],
        }


@dataclass(frozen=True)
class SphereROI:
    """A ball of ``radius`` mm around the LPS point ``centre``."""

    centre: tuple[float, float, float]
    radius: float
    name: str = "sphere"

    def __post_init__(self) -> None:
        object.__setattr__(self, "centre", _triple(self.centre, "sphere centre"))
        object.__setattr__(self, "radius", float(self.radius))
        if not self.radius > 0:
            raise MRDeepReconError(f"sphere radius must be > 0 mm, got {self.radius}")

    @classmethod
    def from_indices(
        cls, volume: Volume, centre: tuple[float, float, float], radius: float, name: str = "sphere"
    ) -> "SphereROI":
        """A sphere of ``radius`` mm centred on the continuous voxel index ``(i, j, k)`` of
        ``volume`` (the original)."""
        return cls(tuple(index_to_lps(volume, np.asarray(centre, dtype=np.float64))), radius, name)

    def contains(self, points: np.ndarray) -> np.ndarray:
        """Boolean ``(N,)``: which LPS points ``(N, 3)`` lie inside (surface included)."""
        distance = np.linalg.norm(np.asarray(points) - np.asarray(self.centre), axis=1)
        return distance <= self.radius + SURFACE_TOLERANCE_MM

    def corners(self) -> np.ndarray:
        """The 8 corners of the LPS-aligned bounding box, ``(8, 3)``."""
        signs = np.asarray(list(itertools.product((-1.0, 1.0), repeat=3)))
        return np.asarray(self.centre) + signs * self.radius

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "sphere",
            "name": self.name,
            "centre_lps": list(self.centre),
            "radius_mm": self.radius,
        }


@dataclass(frozen=True, eq=False)
class MaskROI:
    """A boolean mask on the original volume's grid.

    A point is inside when the original voxel whose cell contains it is set (nearest voxel), so an
    output voxel is measured when its centre falls in a masked original voxel.

    Attributes:
        mask: boolean ``(z, y, x)`` array of the original's shape.
        ijk_to_lps: the original's 4×4 index-to-LPS matrix.
        name: label used in reports.
    """

    mask: np.ndarray = field(repr=False)
    ijk_to_lps: np.ndarray = field(repr=False)
    name: str = "mask"

    @classmethod
    def on(cls, volume: Volume, mask: np.ndarray, name: str = "mask") -> "MaskROI":
        """A mask ROI on ``volume``'s grid; ``mask`` must have the volume's shape."""
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != volume.shape:
            raise MRDeepReconError(
                f"ROI mask shape {mask.shape} differs from the volume's {volume.shape}"
            )
        if not mask.any():
            raise MRDeepReconError("ROI mask is empty")
        return cls(mask.copy(), volume.ijk_to_lps(), name)

    def _index(self, points: np.ndarray) -> np.ndarray:
        matrix = np.asarray(self.ijk_to_lps)
        return np.linalg.solve(matrix[:3, :3], (np.asarray(points) - matrix[:3, 3]).T).T

    def contains(self, points: np.ndarray) -> np.ndarray:
        """Boolean ``(N,)``: which LPS points ``(N, 3)`` fall in a masked original voxel."""
        ijk = np.floor(self._index(points) + 0.5).astype(np.int64)
        sizes = np.asarray(self.mask.shape[::-1])
        valid = np.all((ijk >= 0) & (ijk < sizes), axis=1)
        inside = np.zeros(len(ijk), dtype=bool)
        i, j, k = ijk[valid].T
        inside[valid] = self.mask[k, j, i]
        return inside

    def corners(self) -> np.ndarray:
        """The 8 LPS corners of the cells of the mask's bounding block of voxels, ``(8, 3)``."""
        k, j, i = np.nonzero(self.mask)
        low = np.array([i.min(), j.min(), k.min()]) - 0.5
        high = np.array([i.max(), j.max(), k.max()]) + 0.5
        ijk = np.asarray(list(itertools.product(*zip(low, high))), dtype=np.float64)
        matrix = np.asarray(self.ijk_to_lps)
        return ijk @ matrix[:3, :3].T + matrix[:3, 3]

    def to_dict(self) -> dict[str, Any]:
        return {"type": "mask", "name": self.name, "original_voxels": int(self.mask.sum())}


ROI = Union[BoxROI, SphereROI, MaskROI]


def roi_region(roi: ROI, volume: Volume) -> tuple[tuple[slice, slice, slice], np.ndarray]:
    """The voxels of ``volume`` whose centres fall inside ``roi``.

    Returns:
        ``(block, inside)``: ``block`` indexes a ``(z, y, x)`` sub-array of ``volume.data``
        bounding the ROI, ``inside`` is the boolean mask over that sub-array.
    """
    index = lps_to_index(volume, roi.corners())
    sizes = np.asarray(volume.shape[::-1])
    low = np.clip(np.ceil(index.min(axis=0) - 1e-6), 0, sizes).astype(int)
    high = np.clip(np.floor(index.max(axis=0) + 1e-6) + 1, 0, sizes).astype(int)
    block = tuple(slice(int(low[a]), int(high[a])) for a in (2, 1, 0))
    shape = tuple(max(0, s.stop - s.start) for s in block)
    if 0 in shape:
        return block, np.zeros(shape, dtype=bool)  # type: ignore[return-value]
    k, j, i = np.meshgrid(*(np.arange(s.start, s.stop) for s in block), indexing="ij")
    ijk = np.stack([i.ravel(), j.ravel(), k.ravel()], axis=1)
    inside = roi.contains(index_to_lps(volume, ijk)).reshape(shape)
    return block, inside  # type: ignore[return-value]


@dataclass(frozen=True)
class RegionStats:
    """Statistics of one volume inside one ROI (intensities in the volume's units).

    Attributes:
        voxels: voxels of this volume whose centres lie in the ROI.
        volume_mm3: ``voxels`` × voxel volume.
        mean: mean intensity.
        sd: plain sample SD (``n - 1`` degrees of freedom).
        sd_detrended: SD after removing a least-squares planar trend (the noise SD used).
        snr: ``mean / sd_detrended``.
    """

    voxels: int
    volume_mm3: float
    mean: float
    sd: float
    sd_detrended: float
    snr: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def detrended_sd(values: np.ndarray, points: np.ndarray) -> float:
    """SD of ``values`` after a least-squares fit of ``a + b·x + c·y + d·z`` at ``points`` (LPS
    mm, ``(N, 3)``), with ``N - rank`` degrees of freedom (rank ≤ 4, lower for flat ROIs)."""
    design = np.column_stack([np.ones(len(points)), points - points.mean(axis=0)])
    coefficients, _, rank, _ = np.linalg.lstsq(design, values, rcond=None)
    residual = values - design @ coefficients
    return float(np.sqrt(np.sum(residual**2) / max(1, len(values) - rank)))


def region_stats(roi: ROI, volume: Volume) -> RegionStats:
    """Mean, plain and detrended SD and SNR of ``volume`` on its own voxels inside ``roi``.

    Raises:
        MRDeepReconError: when fewer than :data:`MIN_VOXELS` voxel centres fall inside.
    """
    block, inside = roi_region(roi, volume)
    count = int(inside.sum())
    if count < MIN_VOXELS:
        raise MRDeepReconError(
            f"ROI {roi.name!r} holds {count} voxel(s) of a {volume.shape} volume; "
            f"at least {MIN_VOXELS} are needed"
        )
    values = np.asarray(volume.data[block], dtype=np.float64)[inside]
    k, j, i = np.nonzero(inside)
    offsets = np.array([s.start for s in block[::-1]])
    points = index_to_lps(volume, np.stack([i, j, k], axis=1) + offsets)
    mean = float(values.mean())
    sd_trend = detrended_sd(values, points)
    return RegionStats(
        voxels=count,
        volume_mm3=count * voxel_volume(volume),
        mean=mean,
        sd=float(values.std(ddof=1)),
        sd_detrended=sd_trend,
        snr=mean / sd_trend if sd_trend > 0 else float("inf"),
    )


@dataclass(frozen=True)
class ROIComparison:
    """One ROI measured on the original and the enhanced volume.

    Attributes:
        roi: the ROI's description (``to_dict()`` of the ROI).
        original: statistics of the original on its voxels.
        enhanced: statistics of the enhanced volume on its own voxels.
        noise_sd: which SD the ratio uses (:data:`NOISE_SD_METHOD`).
        measured_noise_reduction: ``original.sd_detrended / enhanced.sd_detrended``.
        requested_noise_reduction: the factor asked of the enhancement, if known.
        relative_error: ``measured / requested - 1`` (``None`` without a request).
    """

    roi: dict[str, Any]
    original: RegionStats
    enhanced: RegionStats
    noise_sd: str
    measured_noise_reduction: float
    requested_noise_reduction: float | None
    relative_error: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "roi": self.roi,
            "original": self.original.to_dict(),
            "enhanced": self.enhanced.to_dict(),
            "noise_sd": self.noise_sd,
            "measured_noise_reduction": self.measured_noise_reduction,
            "requested_noise_reduction": self.requested_noise_reduction,
            "relative_error": self.relative_error,
        }


def compare_roi(
    roi: ROI, original: Volume, enhanced: Volume, requested_noise_reduction: float | None = None
) -> ROIComparison:
    """Statistics of both volumes in ``roi`` and the measured noise reduction (module docstring)."""
    before, after = region_stats(roi, original), region_stats(roi, enhanced)
    measured = before.sd_detrended / after.sd_detrended if after.sd_detrended > 0 else float("inf")
    error = None
    if requested_noise_reduction is not None:
        error = measured / float(requested_noise_reduction) - 1.0
    return ROIComparison(
        roi=roi.to_dict(),
        original=before,
        enhanced=after,
        noise_sd=NOISE_SD_METHOD,
        measured_noise_reduction=measured,
        requested_noise_reduction=None
        if requested_noise_reduction is None
        else float(requested_noise_reduction),
        relative_error=error,
    )


def _box_inside(foreground: np.ndarray, window: tuple[int, int, int]) -> np.ndarray:
    """bool ``(z, y, x)``: the box of ``window`` voxels centred there (as ``uniform_filter`` centres
    it) lies inside the volume and entirely in ``foreground``."""
    covered = ndimage.uniform_filter(np.asarray(foreground, dtype=np.float32), window, mode="constant")
    valid = covered > 1.0 - 0.5 / float(np.prod(window))  # every voxel, within float32 rounding
    del covered
    for axis, n in enumerate(window):  # the whole window must lie inside the volume
        index = np.arange(foreground.shape[axis])
        fits = (index - n // 2 >= 0) & (index - n // 2 + n <= foreground.shape[axis])
        valid &= fits.reshape([-1 if a == axis else 1 for a in range(3)])
    return valid


def _relative_box_sd(data: np.ndarray, foreground: np.ndarray, window: tuple[int, int, int], valid: np.ndarray) -> np.ndarray:
    """float32 ``(z, y, x)``: the SD of the smoothed image in each box over the box's mean (inf
    where not ``valid`` or the mean is not positive), in float32 with the image shifted and scaled
    to its foreground median and spread first, so that the variance ``E[s²] − E[s]²`` keeps its
    precision; about four volume-sized float32 arrays at the peak."""
    values = np.asarray(data)[np.asarray(foreground, dtype=bool)]
    values = values[np.isfinite(values)]
    centre = float(np.median(values)) if values.size else 0.0
    spread = float(np.percentile(np.abs(values - centre), 99)) if values.size else 1.0
    spread = spread if spread > 0 else 1.0
    shifted = (np.asarray(data, dtype=np.float32) - np.float32(centre)) / np.float32(spread)
    mean = ndimage.uniform_filter(shifted, window) + np.float32(centre / spread)  # of the image, scaled
    smoothed = ndimage.gaussian_filter(shifted, AUTO_ROI_SMOOTHING_VOXELS)
    del shifted
    variance = ndimage.uniform_filter(smoothed * smoothed, window)
    variance -= ndimage.uniform_filter(smoothed, window) ** 2
    del smoothed
    np.maximum(variance, 0.0, out=variance)
    score = np.sqrt(variance, out=variance)
    usable = valid & (mean > 0)
    score[usable] /= mean[usable]
    score[~usable] = np.inf
    return score


def find_homogeneous_roi(
    volume: Volume,
    size_mm: float | tuple[float, float, float] = AUTO_ROI_SIZE_MM,
    foreground: np.ndarray | None = None,
) -> BoxROI:
    """The most homogeneous box of about ``size_mm`` (per axis ``(i, j, k)``) inside the object.

    Every box position of whole voxels lying entirely in ``foreground`` (default: Otsu,
    :func:`~mrdeeprecon.qa.foreground.foreground_mask`) is scored by the local SD / local mean,
    and the lowest wins. The SD is taken of the image smoothed by a Gaussian of
    :data:`AUTO_ROI_SMOOTHING_VOXELS`, which suppresses the noise about tenfold and keeps anatomy:
    choosing on the raw image would pick the box whose noise happens to be lowest and bias the
    noise SD then measured in it downwards. The box has ``round(size / spacing)`` voxels per axis,
    at least :data:`AUTO_ROI_MIN_IN_PLANE_VOXELS` along i and j and 1 along k (at most the
    volume's size), and lies along the volume's axes.

    Raises:
        MRDeepReconError: when no box fits inside the foreground.
    """
    if foreground is None:
        foreground = foreground_mask(volume)
    sizes_ijk = np.broadcast_to(np.asarray(size_mm, dtype=np.float64), (3,))
    least = (AUTO_ROI_MIN_IN_PLANE_VOXELS, AUTO_ROI_MIN_IN_PLANE_VOXELS, 1)
    counts_ijk = np.clip(
        np.maximum(np.round(sizes_ijk / np.asarray(volume.spacing)), least), 1, volume.shape[::-1]
    )
    window = tuple(int(c) for c in counts_ijk[::-1])  # (z, y, x)
    score = _relative_box_sd(volume.data, foreground, window, _box_inside(foreground, window))
    if not np.isfinite(score).any():
        raise MRDeepReconError(
            f"no {window[::-1]}-voxel box fits inside the foreground; give an ROI or a smaller size"
        )
    z, y, x = np.unravel_index(int(np.argmin(score)), score.shape)
    start = np.array([x, y, z]) - np.asarray(window[::-1]) // 2
    return BoxROI.from_indices(
        volume, tuple(start), tuple(start + np.asarray(window[::-1])), "auto"
    )
