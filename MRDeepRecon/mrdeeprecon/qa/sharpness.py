"""Relative edge sharpness from line profiles (seed 001, section 3.3, after Lebel 2020).

Seed 001 plots line profiles parallel to each encoding direction across a structure and takes
"the ratio of the maximum gradient in these line profiles in the DLR images to that in the
original images". Here each profile's maximum gradient is divided by its own edge height, so that
a change of intensity scale or offset (or denoising, which keeps the plateaus) does not change the
measure; when both images have the same edge height the ratio is exactly seed 001's.

What is computed, for a profile ``p(s)`` sampled along a segment of length ``L`` (mm):

* **profile**: ``p`` at points ``Δs`` apart (default a quarter of the volume's smallest voxel
  size), interpolated linearly on the volume's own grid (each volume on its own voxels, so a
  super-resolved output shows its finer detail);
* **edge height** ``h`` = mean of ``p`` over the last ``f·L`` minus its mean over the first
  ``f·L`` (the plateaus, ``f`` = :data:`PLATEAU_FRACTION`);
* **maximum gradient** ``g`` = the largest ``sign(h) · dp/ds`` (central differences, intensity per
  mm) between the plateaus, i.e. the steepest slope in the direction the edge rises;
* **edge sharpness** ``S = g / |h|`` in 1/mm. For an ideal step blurred by a Gaussian of SD ``σ``
  mm, ``S = 1 / (σ·√(2π))``, so ``S`` is inversely proportional to the blur width.

The relative edge sharpness of a profile is ``S_enhanced / S_original``. Noise steepens the
profile of the original locally, so with noisy originals the ratio is a conservative (low)
estimate. Automatic mode (:func:`axis_sharpness`) takes the strongest, well-separated edges of the
original along each encoding direction and reports the median ratio per direction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from ..context import ScanContext
from ..errors import MRDeepReconError
from ..volume import Volume
from .foreground import foreground_mask
from .grid import index_to_lps, lps_to_index

#: Fraction of the profile length at each end taken as a plateau.
PLATEAU_FRACTION = 0.25
#: Profile sampling step as a fraction of the volume's smallest voxel size.
STEP_FRACTION = 0.25
#: Automatic profiles reach this many original voxels to each side of the edge.
HALF_LENGTH_VOXELS = 5
#: Automatic edges per encoding direction.
EDGES_PER_AXIS = 8
#: Gaussian smoothing (voxels) of the gradient that ranks candidate edges.
EDGE_SMOOTHING_VOXELS = 1.0
#: An automatic edge is kept when its height is at least this fraction of the profile's range
#: (a step, not a thin line whose plateaus are level).
STEP_FRACTION_OF_RANGE = 0.6
#: Most candidate profiles examined per requested edge.
PROFILES_PER_EDGE = 50
#: Encoding directions in report order.
AXES = ("frequency", "phase", "slice")


def _point(values: Any, what: str) -> tuple[float, float, float]:
    point = np.asarray(values, dtype=np.float64)
    if point.shape != (3,) or not np.all(np.isfinite(point)):
        raise MRDeepReconError(f"{what} must be three finite numbers, got {values!r}")
    return tuple(float(v) for v in point)  # type: ignore[return-value]


@dataclass(frozen=True)
class LineSegment:
    """A straight segment between two LPS points (mm)."""

    start: tuple[float, float, float]
    end: tuple[float, float, float]
    name: str = "line"

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _point(self.start, "line start"))
        object.__setattr__(self, "end", _point(self.end, "line end"))
        if not self.length > 0:
            raise MRDeepReconError("a line needs two distinct points")

    @classmethod
    def from_indices(
        cls,
        volume: Volume,
        start: tuple[float, float, float],
        end: tuple[float, float, float],
        name: str = "line",
    ) -> "LineSegment":
        """The segment between two continuous voxel indices ``(i, j, k)`` of ``volume``."""
        points = index_to_lps(volume, np.asarray([start, end], dtype=np.float64))
        return cls(tuple(points[0]), tuple(points[1]), name)

    @property
    def length(self) -> float:
        """Length in mm."""
        return float(np.linalg.norm(np.subtract(self.end, self.start)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "start_lps": list(self.start),
            "end_lps": list(self.end),
            "length_mm": self.length,
        }


@dataclass(frozen=True, eq=False)
class Profile:
    """Intensities along a segment: ``values[n]`` at ``distance[n]`` mm from its start."""

    distance: np.ndarray
    values: np.ndarray


def line_profile(volume: Volume, segment: LineSegment, step_mm: float | None = None) -> Profile:
    """``volume`` sampled along ``segment`` by linear interpolation on its own grid.

    Args:
        step_mm: sample spacing; default :data:`STEP_FRACTION` × the smallest voxel size.

    Raises:
        MRDeepReconError: when the segment leaves the volume (beyond the outer voxel cells).
    """
    step = STEP_FRACTION * min(volume.spacing) if step_mm is None else float(step_mm)
    count = max(2, int(np.ceil(segment.length / step)) + 1)
    distance = np.linspace(0.0, segment.length, count)
    direction = np.subtract(segment.end, segment.start) / segment.length
    ijk = lps_to_index(volume, np.asarray(segment.start) + distance[:, None] * direction)
    sizes = np.asarray(volume.shape[::-1])
    if np.any(ijk < -0.5 - 1e-6) or np.any(ijk > sizes - 0.5 + 1e-6):
        raise MRDeepReconError(f"line {segment.name!r} leaves the volume of shape {volume.shape}")
    values = ndimage.map_coordinates(
        np.asarray(volume.data, dtype=np.float64), ijk[:, ::-1].T, order=1, mode="nearest"
    )
    return Profile(distance, values)


@dataclass(frozen=True)
class EdgeSharpness:
    """Sharpness of the edge a profile crosses (module docstring).

    Attributes:
        sharpness: ``max_gradient / |height|`` in 1/mm.
        max_gradient: steepest slope in the rising direction of the edge, intensity per mm.
        height: far plateau minus near plateau, intensity units.
        position_mm: distance from the segment start of the steepest point.
    """

    sharpness: float
    max_gradient: float
    height: float
    position_mm: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def edge_sharpness(profile: Profile, plateau_fraction: float = PLATEAU_FRACTION) -> EdgeSharpness:
    """Edge sharpness of one profile (module docstring).

    Raises:
        MRDeepReconError: when the plateaus are level (no edge) or no sample lies between them.
    """
    distance, values = profile.distance, profile.values
    length = float(distance[-1])
    near = distance <= plateau_fraction * length
    far = distance >= (1.0 - plateau_fraction) * length
    between = ~near & ~far
    if not between.any():
        raise MRDeepReconError("the profile has no samples between its plateaus")
    height = float(values[far].mean() - values[near].mean())
    scale = float(np.max(np.abs(values))) or 1.0
    if abs(height) <= 1e-9 * scale:
        raise MRDeepReconError("no edge along the line: both plateaus have the same level")
    slope = np.sign(height) * np.gradient(values, distance)
    slope = np.where(between, slope, -np.inf)
    steepest = int(np.argmax(slope))
    return EdgeSharpness(
        sharpness=float(slope[steepest] / abs(height)),
        max_gradient=float(slope[steepest]),
        height=height,
        position_mm=float(distance[steepest]),
    )


@dataclass(frozen=True)
class LineComparison:
    """One segment measured on both volumes.

    Attributes:
        segment: where the profile runs.
        axis: encoding direction of an automatic profile, ``None`` for a user's line.
        original: edge sharpness of the original's profile.
        enhanced: edge sharpness of the enhanced profile.
        ratio: relative edge sharpness ``enhanced.sharpness / original.sharpness``.
        original_profile: the original's samples (not in :meth:`to_dict`).
        enhanced_profile: the enhanced samples (not in :meth:`to_dict`).
    """

    segment: LineSegment
    axis: str | None
    original: EdgeSharpness
    enhanced: EdgeSharpness
    ratio: float
    original_profile: Profile = field(repr=False)
    enhanced_profile: Profile = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "segment": self.segment.to_dict(),
            "axis": self.axis,
            "original": self.original.to_dict(),
            "enhanced": self.enhanced.to_dict(),
            "ratio": self.ratio,
        }


def compare_line(
    original: Volume, enhanced: Volume, segment: LineSegment, axis: str | None = None
) -> LineComparison:
    """Profiles of both volumes along ``segment`` and their relative edge sharpness."""
    before, after = line_profile(original, segment), line_profile(enhanced, segment)
    s_before, s_after = edge_sharpness(before), edge_sharpness(after)
    return LineComparison(
        segment, axis, s_before, s_after, s_after.sharpness / s_before.sharpness, before, after
    )


def encoding_array_axis(context: ScanContext, axis: str) -> int:
    """Array axis (0 = z, 1 = y, 2 = x) of the encoding direction ``axis``."""
    axes = {"frequency": context.frequency_axis, "phase": context.phase_axis, "slice": 0}
    if axis not in axes:
        raise MRDeepReconError(f"encoding direction must be one of {AXES}, got {axis!r}")
    return axes[axis]


def find_edges(
    volume: Volume,
    context: ScanContext,
    axis: str,
    count: int = EDGES_PER_AXIS,
    foreground: np.ndarray | None = None,
) -> list[LineSegment]:
    """Up to ``count`` segments across the strongest, well-separated edges along ``axis``.

    Candidates are local maxima along the encoding direction's array axis of the absolute
    Gaussian-smoothed derivative along it (:data:`EDGE_SMOOTHING_VOXELS`), within two voxels of
    the foreground, far enough from the volume's border; strongest first, a candidate is kept
    when it lies at least one profile length (``2 ×`` :data:`HALF_LENGTH_VOXELS` voxels) from
    every kept edge and its profile is a step (:data:`STEP_FRACTION_OF_RANGE`); at most
    ``count ×`` :data:`PROFILES_PER_EDGE` profiles are examined. Each segment runs
    along the axis through the edge voxel, :data:`HALF_LENGTH_VOXELS` voxels to each side.
    An axis with fewer than ``2 × HALF_LENGTH_VOXELS + 1`` samples gives no segment.
    """
    array_axis = encoding_array_axis(context, axis)
    size = volume.shape[array_axis]
    half = HALF_LENGTH_VOXELS
    if size < 2 * half + 1:
        return []
    data = np.asarray(volume.data, dtype=np.float32)
    order = [0, 0, 0]
    order[array_axis] = 1
    gradient = np.abs(ndimage.gaussian_filter(data, EDGE_SMOOTHING_VOXELS, order=order))
    if foreground is None:
        foreground = foreground_mask(volume)
    allowed = ndimage.binary_dilation(foreground, iterations=2)
    shape = [1, 1, 1]
    shape[array_axis] = size
    index = np.arange(size).reshape(shape)
    allowed &= (index >= half) & (index < size - half)
    allowed &= gradient >= np.roll(gradient, 1, axis=array_axis)
    allowed &= gradient >= np.roll(gradient, -1, axis=array_axis)
    allowed &= gradient > 0
    flat = np.flatnonzero(allowed)
    if flat.size == 0:
        return []
    strongest = flat[np.argsort(-gradient.ravel()[flat], kind="stable")]
    index_axis = 2 - array_axis  # array axis 2 (x) is index axis i = 0
    step = volume.spacing[index_axis]
    unit = volume.direction[:, index_axis]
    separation = 2 * half * step
    segments: list[LineSegment] = []
    centres: list[np.ndarray] = []
    examined = 0
    for flat_index in strongest:
        if len(segments) == count or examined == count * PROFILES_PER_EDGE:
            break
        z, y, x = np.unravel_index(int(flat_index), volume.shape)
        centre = index_to_lps(volume, np.array([x, y, z], dtype=np.float64))
        if any(np.linalg.norm(centre - c) < separation for c in centres):
            continue
        segment = LineSegment(
            tuple(centre - half * step * unit),
            tuple(centre + half * step * unit),
            f"{axis}-{len(segments) + 1}",
        )
        examined += 1
        profile = line_profile(volume, segment)
        try:
            edge = edge_sharpness(profile)
        except MRDeepReconError:
            continue
        if abs(edge.height) < STEP_FRACTION_OF_RANGE * float(np.ptp(profile.values)):
            continue
        segments.append(segment)
        centres.append(centre)
    return segments


@dataclass(frozen=True)
class AxisSharpness:
    """Relative edge sharpness along one encoding direction.

    Attributes:
        axis: ``"frequency"``, ``"phase"`` or ``"slice"``.
        array_axis: its array axis (0 = z, 1 = y, 2 = x).
        profiles: number of edges measured.
        median_ratio: median of the per-profile ratios enhanced / original (``None`` without
            profiles).
        comparisons: the measured profiles.
        note: why the axis has no profile, when it has none.
    """

    axis: str
    array_axis: int
    profiles: int
    median_ratio: float | None
    comparisons: tuple[LineComparison, ...] = field(repr=False)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "axis": self.axis,
            "array_axis": self.array_axis,
            "profiles": self.profiles,
            "median_ratio": self.median_ratio,
            "ratios": [c.ratio for c in self.comparisons],
            "lines": [c.to_dict() for c in self.comparisons],
            "note": self.note,
        }


def axis_sharpness(
    original: Volume,
    enhanced: Volume,
    context: ScanContext,
    count: int = EDGES_PER_AXIS,
    foreground: np.ndarray | None = None,
) -> tuple[AxisSharpness, ...]:
    """Automatic relative edge sharpness along frequency, phase and slice (module docstring).

    Edges are found in the original (:func:`find_edges`); a profile is dropped when the enhanced
    volume shows no edge along it (level plateaus).
    """
    if foreground is None:
        foreground = foreground_mask(original)
    results = []
    for axis in AXES:
        array_axis = encoding_array_axis(context, axis)
        comparisons = []
        for segment in find_edges(original, context, axis, count, foreground):
            try:
                comparisons.append(compare_line(original, enhanced, segment, axis))
            except MRDeepReconError:
                continue
        note = ""
        if not comparisons:
            size = original.shape[array_axis]
            note = (
                f"only {size} samples along this axis"
                if size < 2 * HALF_LENGTH_VOXELS + 1
                else "no step edge found"
            )
        ratios = [c.ratio for c in comparisons]
        results.append(
            AxisSharpness(
                axis,
                array_axis,
                len(comparisons),
                float(np.median(ratios)) if ratios else None,
                tuple(comparisons),
                note,
            )
        )
    return tuple(results)


@dataclass(frozen=True)
class Recovery:
    """How much of a degradation's sharpness loss an enhancement recovered.

    Attributes:
        fraction: ``(S_enhanced - S_degraded) / (S_reference - S_degraded)``; 1 = fully recovered,
            0 = no better than the degraded input, above 1 = sharper than the reference.
        overshoot: ``S_enhanced / S_reference - 1``; positive when the output is sharper than the
            clean reference (over-sharpening, possible ringing or invented detail).
    """

    fraction: float
    overshoot: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def sharpness_recovery(reference: float, degraded: float, enhanced: float) -> Recovery:
    """Recovered fraction and overshoot of edge sharpness (any consistent unit, e.g. 1/mm or
    ratios to a common original) given a clean reference, its degraded version and the enhanced
    degraded version.

    Raises:
        MRDeepReconError: when the degradation did not change the sharpness or the reference is 0.
    """
    if reference == degraded or reference == 0:
        raise MRDeepReconError(
            f"recovery is undefined: reference sharpness {reference:g}, degraded {degraded:g}"
        )
    return Recovery((enhanced - degraded) / (reference - degraded), enhanced / reference - 1.0)
