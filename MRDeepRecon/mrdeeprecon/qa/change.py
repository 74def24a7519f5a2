"""The change map (enhanced − original) and its split into noise-like and structured change.

Seeds 002 and 003 warn that a network can remove real detail or invent plausible structure
(hallucination). Removing noise changes every voxel a little and independently; removing or
inventing structure changes neighbouring voxels together. So the change map is smoothed by a
Gaussian of :data:`SMOOTHING_MM` mm: white noise loses almost all its energy (in 3D a fraction
``1 / ((2√π)³ σx σy σz)``, σ in voxels), while edges, blobs and shifts survive.

All of it is computed on the **original grid**: the enhanced volume is resampled there by
:func:`~mrdeeprecon.qa.grid.resample_like` (exact k-space cropping for a field-of-view-preserving
refinement); original voxels it does not cover count as unchanged. Statistics are over the
original's foreground (Otsu, :func:`~mrdeeprecon.qa.foreground.foreground_mask`); changes in
air are mostly the noise floor of magnitude images and are left out.

* ``mean``, ``sd``, ``p1``, ``p99`` of the change; ``fraction_above``: fraction of foreground
  voxels with ``|change| > k·σ_noise`` (σ_noise: the original's noise SD, by default
  :func:`mrdeeprecon.noise_map.global_noise_sd`, an upper bound).
* ``structured_energy_fraction`` = Σ smoothed² / Σ change² over the foreground.
* ``edge_energy_fraction``: share of the smoothed change's energy lying on edges, i.e. voxels
  whose gradient magnitude in the original is at least :data:`EDGE_LEVEL` × its 99th percentile
  over the foreground (strong boundaries with their blurred flanks, where sharpening and
  shifted boundaries change the image); ``edge_fraction_of_foreground`` says how much of the
  foreground that is, the share to expect for change unrelated to edges.
* **Components**: connected regions (6-connectivity) of the foreground where the smoothed change
  exceeds the threshold ``max(detection_k · σ_c · √pass, MIN_AMPLITUDE_SIGMA · σ_noise)`` in
  absolute value (bright and dark changes separately). σ_c is the robust SD (1.4826 × MAD over
  the foreground) of the noise-like part (change − smoothed change) and ``pass`` the fraction of
  white-noise energy the smoothing lets through (the squared norm of the discrete Gaussian
  kernel), so the first term is ``detection_k`` SDs of smoothed noise; the second keeps out
  structure too faint to see in the original's noise (σ_noise as above); the threshold is at
  least :data:`NUMERICAL_FLOOR` × the original's 99th percentile. Each component is described
  by its peak (signed smoothed change), its *core* (its voxels reaching half the peak): the
  LPS centroid of the core weighted by the smoothed change, the mean raw change over the core,
  the fraction of the core on edges — above one half it is an ``"edge"`` change (sharpening,
  shifted boundaries), otherwise a ``"blob"`` change (removed or invented structure) — and an
  *equivalent volume* ``∫ smoothed change dV / mean core change``, the integral taken over the
  component grown by :data:`GROWTH_SMOOTHING_WIDTHS` smoothing SDs to include the tails:
  smoothing keeps the integral, which is ``A·V`` for a uniform blob of amplitude ``A`` and volume
  ``V``, and the core (inside the blob) has mean change ``A``. (The core itself is smaller than
  the blob unless the blob is many smoothing widths wide.) When the core's mean change has the
  other sign, the core's volume is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from ..noise_map import global_noise_sd
from ..volume import Volume
from .foreground import foreground_mask
from .grid import index_to_lps, resample_like, voxel_volume

#: Gaussian smoothing (mm) separating structured from noise-like change.
SMOOTHING_MM = 2.0
#: ``|change| > NOISE_K · σ_noise`` counts as a large change.
NOISE_K = 3.0
#: Components exceed this many SDs of smoothed noise.
DETECTION_K = 6.0
#: Edges: gradient magnitude of the original at least this fraction of its 99th percentile over
#: the foreground.
EDGE_LEVEL = 0.3
#: Components depart by at least this many noise SDs of the original (fainter structure is
#: invisible in the original's noise; it still counts in the energy fractions).
MIN_AMPLITUDE_SIGMA = 0.5
#: A component's equivalent volume integrates the smoothed change over the component grown by
#: this many smoothing SDs.
GROWTH_SMOOTHING_WIDTHS = 2.0
#: Smallest component threshold, relative to the original's 99th percentile (float32 round-off).
NUMERICAL_FLOOR = 1e-6
#: Gaussian scale (voxels) of the original's gradient magnitude.
GRADIENT_SMOOTHING_VOXELS = 1.0


@dataclass(frozen=True)
class ChangeComponent:
    """One region of structured change (module docstring).

    Attributes:
        kind: ``"edge"`` or ``"blob"``.
        sign: +1 where the enhancement brightened, -1 where it darkened.
        voxels: voxels of the component (smoothed change beyond the threshold, original grid).
        volume_mm3: equivalent volume (module docstring), mm³.
        centroid_lps: centre of the core weighted by the smoothed change, LPS mm.
        centroid_index: the same point as a continuous ``(z, y, x)`` index of the original.
        peak: the smoothed change of largest magnitude, signed, intensity units.
        mean_change: mean raw change (enhanced − original) over the core.
        edge_fraction: fraction of the core's voxels on edges of the original.
    """

    kind: str
    sign: int
    voxels: int
    volume_mm3: float
    centroid_lps: tuple[float, float, float]
    centroid_index: tuple[float, float, float]
    peak: float
    mean_change: float
    edge_fraction: float

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["centroid_lps"] = list(self.centroid_lps)
        out["centroid_index"] = list(self.centroid_index)
        return out


@dataclass(frozen=True, eq=False)
class ChangeResult:
    """Summary of the change map (module docstring); arrays are on the original grid.

    Attributes:
        resampling: how the enhanced volume reached the original grid (``grid.Resampled.method``).
        coverage: fraction of original voxels the enhanced volume covers.
        noise_sigma: σ_noise of the original used for ``fraction_above``.
        mean: mean change over the foreground.
        sd: SD of the change over the foreground.
        p1: 1st percentile of the change over the foreground.
        p99: 99th percentile.
        k_sigma: the ``k`` of ``fraction_above``.
        fraction_above: fraction of foreground voxels with ``|change| > k_sigma · noise_sigma``.
        smoothing_mm: SD of the Gaussian separating structured change.
        structured_energy_fraction: Σ smoothed² / Σ change² over the foreground.
        edge_energy_fraction: share of the smoothed change's energy on edges.
        edge_fraction_of_foreground: share of the foreground on edges.
        threshold: magnitude of the smoothed change that defines a component.
        components: regions of structured change, largest ``volume × |peak|`` first.
        change: enhanced − original (not in :meth:`to_dict`).
        structured: the smoothed change (not in :meth:`to_dict`).
    """

    resampling: str
    coverage: float
    noise_sigma: float
    mean: float
    sd: float
    p1: float
    p99: float
    k_sigma: float
    fraction_above: float
    smoothing_mm: float
    structured_energy_fraction: float
    edge_energy_fraction: float
    edge_fraction_of_foreground: float
    threshold: float
    components: tuple[ChangeComponent, ...]
    change: np.ndarray = field(repr=False)
    structured: np.ndarray = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        skip = {"components", "change", "structured"}
        out = {k: v for k, v in self.__dict__.items() if k not in skip}
        out["edge_components"] = [c.to_dict() for c in self.components if c.kind == "edge"]
        out["blob_components"] = [c.to_dict() for c in self.components if c.kind == "blob"]
        return out


def sigma_voxels(volume: Volume, mm: float) -> tuple[float, float, float]:
    """A Gaussian SD of ``mm`` millimetres in voxels along the array axes ``(z, y, x)``."""
    return tuple(mm / s for s in volume.spacing[::-1])  # type: ignore[return-value]


def white_noise_pass(sigma: tuple[float, float, float]) -> float:
    """Fraction of white-noise energy a Gaussian filter of ``sigma`` (voxels) lets through."""
    size = [2 * int(np.ceil(4 * s)) + 1 for s in sigma]
    impulse = np.zeros(size)
    impulse[tuple(n // 2 for n in size)] = 1.0
    return float(np.sum(ndimage.gaussian_filter(impulse, sigma) ** 2))


def gradient_magnitude(volume: Volume) -> np.ndarray:
    """Gaussian-smoothed gradient magnitude of ``volume`` in intensity per mm, ``(z, y, x)``."""
    data = np.asarray(volume.data, dtype=np.float32)
    total = np.zeros(data.shape, dtype=np.float64)
    for axis, spacing in zip(range(3), volume.spacing[::-1]):
        order = [0, 0, 0]
        order[axis] = 1
        total += (
            ndimage.gaussian_filter(data, GRADIENT_SMOOTHING_VOXELS, order=order) / spacing
        ) ** 2
    return np.sqrt(total)


def _grown(
    region: tuple[slice, ...], member: np.ndarray, radii: np.ndarray, shape: tuple[int, ...]
) -> tuple[tuple[slice, ...], np.ndarray]:
    """``member`` (a boolean block at ``region``) dilated by an ellipsoid of ``radii`` voxels;
    returns the grown block's slices and mask."""
    reach = np.ceil(radii).astype(int)
    grown_region = tuple(
        slice(max(0, r.start - g), min(n, r.stop + g)) for r, g, n in zip(region, reach, shape)
    )
    padded = np.zeros(tuple(r.stop - r.start for r in grown_region), dtype=bool)
    padded[
        tuple(slice(r.start - q.start, r.stop - q.start) for r, q in zip(region, grown_region))
    ] = member
    axes = np.meshgrid(
        *(np.arange(-g, g + 1) / max(r, 1e-9) for g, r in zip(reach, radii)), indexing="ij"
    )
    ellipsoid = sum(a**2 for a in axes) <= 1.0
    return grown_region, ndimage.binary_dilation(padded, structure=ellipsoid)


def _components(
    structured: np.ndarray,
    change: np.ndarray,
    foreground: np.ndarray,
    edges: np.ndarray,
    threshold: float,
    volume: Volume,
    sigma: tuple[float, float, float],
) -> list[ChangeComponent]:
    found = []
    radii = GROWTH_SMOOTHING_WIDTHS * np.asarray(sigma)
    for sign in (1, -1):
        signed = sign * structured
        labels, _ = ndimage.label((signed > threshold) & foreground)
        for index, region in enumerate(ndimage.find_objects(labels), start=1):
            member = labels[region] == index
            values = np.where(member, signed[region], 0.0)
            peak = float(values.max())
            core = member & (values >= 0.5 * peak)
            mean_change = float(change[region][core].mean())
            if sign * mean_change > 0:
                grown_region, grown = _grown(region, member, radii, structured.shape)
                size = float(signed[grown_region][grown].sum()) / (sign * mean_change)
            else:
                size = float(core.sum())
            weights = values[core]
            k, j, i = np.nonzero(core)
            offsets = np.array([s.start for s in region])
            centre_zyx = (np.stack([k, j, i], axis=1) + offsets).T @ weights / weights.sum()
            edge_fraction = float(edges[region][core].mean())
            found.append(
                ChangeComponent(
                    kind="edge" if edge_fraction > 0.5 else "blob",
                    sign=sign,
                    voxels=int(member.sum()),
                    volume_mm3=size * voxel_volume(volume),
                    centroid_lps=tuple(float(v) for v in index_to_lps(volume, centre_zyx[::-1])),
                    centroid_index=tuple(float(v) for v in centre_zyx),
                    peak=sign * peak,
                    mean_change=mean_change,
                    edge_fraction=edge_fraction,
                )
            )
    return sorted(found, key=lambda c: -c.volume_mm3 * abs(c.peak))


def change_map(
    original: Volume,
    enhanced: Volume,
    noise_sigma: float | None = None,
    smoothing_mm: float = SMOOTHING_MM,
    k_sigma: float = NOISE_K,
    detection_k: float = DETECTION_K,
    foreground: np.ndarray | None = None,
) -> ChangeResult:
    """Change map of ``enhanced`` against ``original`` and its summary (module docstring).

    Args:
        noise_sigma: the original's noise SD (intensity units); default the wavelet estimate.
        smoothing_mm: Gaussian SD (mm) that separates structured from noise-like change.
        k_sigma: threshold of ``fraction_above`` in noise SDs.
        detection_k: component threshold in SDs of smoothed noise.
        foreground: boolean ``(z, y, x)`` mask on the original grid; default Otsu.
    """
    resampled = resample_like(enhanced, original)
    data = np.asarray(original.data, dtype=np.float32)
    change = resampled.filled(data) - data
    if foreground is None:
        foreground = foreground_mask(original)
    if noise_sigma is None:
        noise_sigma = global_noise_sd(data)
    sigma = sigma_voxels(original, smoothing_mm)
    structured = ndimage.gaussian_filter(change, sigma)
    inside = change[foreground].astype(np.float64)
    smooth_inside = structured[foreground].astype(np.float64)
    gradient = gradient_magnitude(original)
    edges = gradient >= EDGE_LEVEL * np.percentile(gradient[foreground], 99.0)
    noise_like = inside - smooth_inside
    sigma_c = 1.4826 * float(np.median(np.abs(noise_like - np.median(noise_like))))
    scale = float(np.percentile(np.abs(data[foreground]), 99.0))
    threshold = max(
        detection_k * sigma_c * np.sqrt(white_noise_pass(sigma)),
        MIN_AMPLITUDE_SIGMA * noise_sigma,
        NUMERICAL_FLOOR * scale,
    )
    smooth_energy = float(np.sum(smooth_inside**2))
    return ChangeResult(
        resampling=resampled.method,
        coverage=resampled.coverage,
        noise_sigma=float(noise_sigma),
        mean=float(inside.mean()),
        sd=float(inside.std()),
        p1=float(np.percentile(inside, 1.0)),
        p99=float(np.percentile(inside, 99.0)),
        k_sigma=float(k_sigma),
        fraction_above=float(np.mean(np.abs(inside) > k_sigma * noise_sigma)),
        smoothing_mm=float(smoothing_mm),
        structured_energy_fraction=smooth_energy / max(float(np.sum(inside**2)), 1e-30),
        edge_energy_fraction=float(np.sum(structured[foreground & edges].astype(np.float64) ** 2))
        / max(smooth_energy, 1e-30),
        edge_fraction_of_foreground=float(edges[foreground].mean()),
        threshold=threshold,
        components=tuple(
            _components(structured, change, foreground, edges, threshold, original, sigma)
        ),
        change=change,
        structured=structured,
    )
