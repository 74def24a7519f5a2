"""Our enhancement next to a vendor's deep-learning denoising of the same phantom scan.

The Philips pair in ``shared/data/dicom/philips_phantom`` (README there): series 201 (T1 TSE, the
vendor's AI denoising off) and series 501 (the same protocol with the vendor's AI at level 2) of a
spherical phantom. Series 201 is enhanced here (noise reduction NR, default 3) and the three images
— 201 original, 201 enhanced, 501 vendor — are measured in the same uniform region. The vendor
image is no ground truth: this compares noise and uniformity only.

**Uniform region** (:func:`find_uniform_region`, on the 201 original): per slice, the object is
the Otsu foreground (:func:`mrdeeprecon.qa.foreground.foreground_mask`); its centroid and
equivalent radius ``sqrt(area / π)`` define a central disc of ``radius_fraction`` (default 0.75)
of that radius. The slice whose disc has the lowest coefficient of variation of the image smoothed
by a Gaussian of :data:`SMOOTHING_PX` pixels is the most uniform; the uniform slices are the
contiguous run around it whose CV is at most ``cv_factor`` (default 2) times that lowest CV. The
ROI is the union of those discs (within the foreground).

Measurements in the ROI, per image:

* **mean**, plain SD, and the **detrended SD** of the whole ROI (:func:`mrdeeprecon.qa.roi.
  region_stats`; its planar trend cannot remove the phantom's curved shading, so it overstates
  the noise);
* **noise SD (local)**: the median over square boxes of :data:`BOX_MM` mm inside the ROI (one
  slice each, tiled without overlap) of the detrended SD (:func:`mrdeeprecon.qa.roi.detrended_sd`)
  — the noise SD qa.roi measures, at a scale where the shading is planar;
* **noise SD (slice difference)**: for each pair of adjacent uniform slices, the same boxes on the
  difference image, divided by √2 (median over boxes and pairs): the noise that differs between
  slices; structure repeated in both slices (the phantom, vendor texture) cancels. ``None`` with
  fewer than two adjacent uniform slices;
* **SNR** = mean / local noise SD;
* **uniformity**, ACR percent integral uniformity ``PIU = 100 · (1 − (max − min) / (max + min))``
  where max and min are taken over the image averaged in a disc of 1 cm² (:data:`PIU_DISC_MM2`),
  at every disc position lying entirely in the ROI, over all uniform slices.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy import ndimage

from ..context import ScanContext
from ..errors import MRDeepReconError
from ..inference import enhance
from ..io import load_context, load_volume
from ..qa.foreground import foreground_mask
from ..qa.grid import index_to_lps, resample_like, same_grid
from ..reporting import plotting
from ..qa.roi import MaskROI, detrended_sd, region_stats
from ..settings import EnhanceSettings
from ..volume import Volume
from .tunable import Enhancer

#: Gaussian smoothing (pixels) of the image whose CV picks the uniform slices.
SMOOTHING_PX = 2.0
#: Edge (mm) of the boxes of the local and slice-difference noise SD.
BOX_MM = 10.0
#: Area (mm²) of the disc the image is averaged in for the PIU (ACR: 1 cm²).
PIU_DISC_MM2 = 100.0
#: Smallest fraction of a slice the object must cover for the slice to be considered.
MIN_OBJECT_FRACTION = 0.01
#: Default noise reduction asked of the enhancement.
DEFAULT_NOISE_REDUCTION = 3.0


@dataclass(frozen=True, eq=False)
class UniformRegion:
    """The central uniform region of a phantom.

    Attributes:
        mask: boolean ``(z, y, x)`` mask of the ROI.
        slices: the uniform slices (array axis 0), ascending.
        slice_cv: CV of the smoothed image in each slice's disc (``nan`` where the slice holds no
            object or its disc misses it).
        radius_mm: mean in-plane radius of the ROI discs.
        centre_lps: LPS centre (mm) of the ROI.
    """

    mask: np.ndarray
    slices: tuple[int, ...]
    slice_cv: tuple[float, ...]
    radius_mm: float
    centre_lps: tuple[float, float, float]


def _disc(shape: tuple[int, int], centre: tuple[float, float], radius_px: tuple[float, float]):
    y, x = np.ogrid[: shape[0], : shape[1]]
    return ((y - centre[0]) / radius_px[0]) ** 2 + ((x - centre[1]) / radius_px[1]) ** 2 <= 1.0


def find_uniform_region(
    volume: Volume, radius_fraction: float = 0.75, cv_factor: float = 2.0
) -> UniformRegion:
    """The central uniform region of a phantom (module docstring).

    Raises:
        MRDeepReconError: when no slice holds an object.
    """
    if not 0 < radius_fraction <= 1 or cv_factor < 1:
        raise MRDeepReconError("radius fraction must be in (0, 1] and the CV factor >= 1")
    data = np.asarray(volume.data, dtype=np.float64)
    foreground = foreground_mask(volume)
    pixel_area = volume.spacing[0] * volume.spacing[1]
    discs, cvs, radii = [], [], []
    for z in range(volume.shape[0]):
        area = int(foreground[z].sum())
        if area < MIN_OBJECT_FRACTION * foreground[z].size:
            discs.append(None)
            cvs.append(np.nan)
            radii.append(np.nan)
            continue
        radius_mm = radius_fraction * np.sqrt(area * pixel_area / np.pi)
        centre = ndimage.center_of_mass(foreground[z])
        disc = _disc(foreground[z].shape, centre, (radius_mm / volume.spacing[1],
                                                    radius_mm / volume.spacing[0]))
        disc &= foreground[z]
        smoothed = ndimage.gaussian_filter(data[z], SMOOTHING_PX)[disc]
        usable = smoothed.size > 0 and smoothed.mean() > 0
        discs.append(disc if usable else None)
        cvs.append(float(smoothed.std() / smoothed.mean()) if usable else np.nan)
        radii.append(radius_mm)
    if all(d is None for d in discs):
        raise MRDeepReconError("no slice holds a central object: no uniform region")
    best = int(np.nanargmin(cvs))
    limit = cv_factor * cvs[best]
    low = high = best
    while low > 0 and cvs[low - 1] <= limit:  # nan (no object) ends the run
        low -= 1
    while high < len(cvs) - 1 and cvs[high + 1] <= limit:
        high += 1
    slices = tuple(range(low, high + 1))
    mask = np.zeros(volume.shape, dtype=bool)
    for z in slices:
        mask[z] = discs[z]
    z, y, x = (float(v) for v in np.mean(np.nonzero(mask), axis=1))
    return UniformRegion(
        mask=mask,
        slices=slices,
        slice_cv=tuple(float(c) for c in cvs),
        radius_mm=float(np.mean([radii[z] for z in slices])),
        centre_lps=tuple(float(v) for v in index_to_lps(volume, np.array([x, y, z]))),
    )


def _boxes(mask: np.ndarray, box: tuple[int, int]) -> list[tuple[slice, slice]]:
    """Non-overlapping in-plane boxes lying entirely inside the 2D ``mask``."""
    found = []
    for y0 in range(0, mask.shape[0] - box[0] + 1, box[0]):
        for x0 in range(0, mask.shape[1] - box[1] + 1, box[1]):
            window = (slice(y0, y0 + box[0]), slice(x0, x0 + box[1]))
            if mask[window].all():
                found.append(window)
    return found


def _box_noise(image: np.ndarray, boxes: list[tuple[slice, slice]], spacing) -> list[float]:
    """Detrended SD of a 2D ``image`` in each box (planar trend over the box's pixel positions)."""
    sds = []
    for window in boxes:
        y, x = np.mgrid[window]
        points = np.column_stack([x.ravel() * spacing[0], y.ravel() * spacing[1],
                                  np.zeros(x.size)])
        sds.append(detrended_sd(image[window].ravel().astype(np.float64), points))
    return sds


def _piu(data: np.ndarray, region: UniformRegion, spacing) -> tuple[float, float, float]:
    """``(PIU %, min, max)`` of the image averaged in a 1 cm² disc (module docstring)."""
    radius_mm = np.sqrt(PIU_DISC_MM2 / np.pi)
    ry, rx = radius_mm / spacing[1], radius_mm / spacing[0]
    kernel = _disc((2 * int(ry) + 1, 2 * int(rx) + 1), (int(ry), int(rx)), (ry, rx)).astype(float)
    kernel /= kernel.sum()
    values = []
    for z in region.slices:
        smoothed = ndimage.convolve(data[z].astype(np.float64), kernel, mode="nearest")
        inner = ndimage.binary_erosion(region.mask[z], structure=kernel > 0)
        values.append(smoothed[inner])
    found = np.concatenate(values)
    if found.size == 0:
        raise MRDeepReconError("the uniform region is smaller than the 1 cm² PIU disc")
    low, high = float(found.min()), float(found.max())
    return 100.0 * (1.0 - (high - low) / (high + low)), low, high


@dataclass
class SeriesUniformity:
    """One image in the uniform region (intensities in its stored units).

    Attributes:
        name: ``"original"``, ``"enhanced"`` or ``"vendor"``.
        description: the series description (and the NR for ``"enhanced"``).
        mean: ROI mean.
        sd: plain SD over the ROI.
        sd_detrended_roi: detrended SD over the whole ROI (includes curved shading).
        noise_sd_local: median detrended SD in :data:`BOX_MM` boxes.
        noise_sd_slice_difference: median box SD of adjacent-slice differences / √2, or ``None``.
        snr: ``mean / noise_sd_local``.
        piu_percent: ACR percent integral uniformity.
        smoothed_min: minimum of the 1 cm² averaged image in the ROI.
        smoothed_max: its maximum.
    """

    name: str
    description: str
    mean: float
    sd: float
    sd_detrended_roi: float
    noise_sd_local: float
    noise_sd_slice_difference: float | None
    snr: float
    piu_percent: float
    smoothed_min: float
    smoothed_max: float


@dataclass
class VendorPairResult:
    """The three images of the vendor pair in the same uniform region.

    Attributes:
        original_path: the AI-off series (201).
        vendor_path: the vendor-AI series (501).
        noise_reduction: NR asked of our enhancement.
        same_geometry: whether both series sample the same grid.
        resampling: ``"identity"`` or how the vendor series was brought onto the original's grid.
        contexts: sampling of each series (kmax, acceleration, undersampling, from DICOM).
        slices: the uniform slices.
        slice_cv: CV of each slice's smoothed disc (the uniform-slice choice; ``None`` where
            the slice has no usable disc).
        radius_mm: ROI disc radius.
        centre_lps: ROI centre.
        voxels: ROI voxels.
        roi_inside_foreground: fraction of ROI voxels inside each image's foreground.
        boxes: noise boxes of :data:`BOX_MM` mm in the ROI.
        slice_pairs: adjacent uniform slice pairs used for the slice-difference noise.
        series: original, enhanced, vendor.
        noise_ratio_enhanced: original / enhanced local noise SD (our achieved NR).
        noise_ratio_vendor: original / vendor local noise SD (the vendor's NR).
    """

    original_path: str
    vendor_path: str
    noise_reduction: float
    same_geometry: bool
    resampling: str
    contexts: dict
    slices: list[int]
    slice_cv: list[float | None]
    radius_mm: float
    centre_lps: list[float]
    voxels: int
    roi_inside_foreground: dict
    boxes: int
    slice_pairs: int
    series: list[SeriesUniformity]
    noise_ratio_enhanced: float
    noise_ratio_vendor: float


def _context_summary(context: ScanContext) -> dict:
    return {
        "kmax": [float(k) for k in context.kmax],
        "acceleration": [float(a) for a in context.acceleration],
        "undersampling": context.undersampling,
        "acquisition": context.acquisition,
        "phase_axis": int(context.phase_axis),
    }


def _series(
    name: str, description: str, volume: Volume, region: UniformRegion,
    boxes: Sequence[tuple[int, tuple[slice, slice]]], pairs: Sequence[tuple[int, int, list]],
) -> SeriesUniformity:
    stats = region_stats(MaskROI.on(volume, region.mask, "uniform"), volume)
    data = np.asarray(volume.data, dtype=np.float64)
    local = [sd for z, window in boxes for sd in _box_noise(data[z], [window], volume.spacing)]
    differences = [
        sd / np.sqrt(2.0)
        for z0, z1, windows in pairs
        for sd in _box_noise(data[z0] - data[z1], windows, volume.spacing)
    ]
    noise = float(np.median(local))
    piu, low, high = _piu(data, region, volume.spacing)
    return SeriesUniformity(
        name=name,
        description=description,
        mean=float(stats.mean),
        sd=float(stats.sd),
        sd_detrended_roi=float(stats.sd_detrended),
        noise_sd_local=noise,
        noise_sd_slice_difference=float(np.median(differences)) if differences else None,
        snr=float(stats.mean / noise) if noise > 0 else float("inf"),
        piu_percent=float(piu),
        smoothed_min=low,
        smoothed_max=high,
    )


def measure_vendor_pair(
    original_path: str | Path,
    vendor_path: str | Path,
    settings: EnhanceSettings | None = None,
    radius_fraction: float = 0.75,
    cv_factor: float = 2.0,
    enhancer: Enhancer = enhance,
) -> VendorPairResult:
    """Enhance the AI-off series and measure it, the original and the vendor series in the
    phantom's uniform region (module docstring).

    Args:
        original_path: DICOM file or folder of the series without vendor AI (201).
        vendor_path: DICOM file or folder of the series with vendor AI (501).
        settings: enhancement settings; default the bundled model with NR 3 (output on the input
            grid).
        radius_fraction: ROI disc radius as a fraction of the object's equivalent radius.
        cv_factor: uniform slices have a smoothed CV at most this times the lowest.
        enhancer: the enhancement (default :func:`mrdeeprecon.inference.enhance`).

    Raises:
        MRDeepReconError: unreadable series, an output on another grid, no uniform region, or a
            region too small for one noise box.
    """
    settings = settings or EnhanceSettings(noise_reduction=DEFAULT_NOISE_REDUCTION)
    original, vendor = load_volume(original_path), load_volume(vendor_path)
    original_context, vendor_context = load_context(original_path), load_context(vendor_path)
    same = same_grid(original, vendor)
    resampling = "identity"
    if not same:
        moved = resample_like(vendor, original)
        vendor, resampling = vendor.with_data(moved.filled(np.zeros(original.shape))), moved.method
    enhanced = enhancer(original, settings, original_context)
    if enhanced.shape != original.shape:
        raise MRDeepReconError(
            f"the enhanced volume {enhanced.shape} is not on the original grid {original.shape}; "
            "compare the vendor pair without super-resolution"
        )
    region = find_uniform_region(original, radius_fraction, cv_factor)
    box = tuple(max(2, int(round(BOX_MM / s))) for s in original.spacing[1::-1])  # (y, x) pixels
    boxes = [(z, w) for z in region.slices for w in _boxes(region.mask[z], box)]
    if not boxes:
        raise MRDeepReconError(f"no {BOX_MM:g} mm noise box fits in the uniform region")
    pairs = [
        (z, z + 1, _boxes(region.mask[z] & region.mask[z + 1], box))
        for z in region.slices[:-1]
    ]
    pairs = [p for p in pairs if p[2]]
    descriptions = {
        "original": str(original.metadata.get("series_description", Path(original_path).name)),
        "vendor": str(vendor.metadata.get("series_description", Path(vendor_path).name)),
    }
    series = [
        _series("original", descriptions["original"], original, region, boxes, pairs),
        _series("enhanced", f"{descriptions['original']} enhanced, NR {settings.noise_reduction:g}",
                enhanced, region, boxes, pairs),
        _series("vendor", descriptions["vendor"], vendor, region, boxes, pairs),
    ]
    inside = {
        name: float(foreground_mask(volume)[region.mask].mean())
        for name, volume in (("original", original), ("enhanced", enhanced), ("vendor", vendor))
    }
    return VendorPairResult(
        original_path=str(original_path),
        vendor_path=str(vendor_path),
        noise_reduction=float(settings.noise_reduction),
        same_geometry=bool(same),
        resampling=resampling,
        contexts={"original": _context_summary(original_context),
                  "vendor": _context_summary(vendor_context)},
        slices=[int(z) for z in region.slices],
        slice_cv=[None if np.isnan(c) else float(c) for c in region.slice_cv],
        radius_mm=region.radius_mm,
        centre_lps=list(region.centre_lps),
        voxels=int(region.mask.sum()),
        roi_inside_foreground=inside,
        boxes=len(boxes),
        slice_pairs=len(pairs),
        series=series,
        noise_ratio_enhanced=series[0].noise_sd_local / series[1].noise_sd_local,
        noise_ratio_vendor=series[0].noise_sd_local / series[2].noise_sd_local,
    )


def plot_vendor_pair(result: VendorPairResult, path: str | Path) -> Path:
    """PNG: noise SD (local and slice difference), SNR and PIU of original, enhanced and vendor."""
    figure_type, canvas = plotting("vendor-pair plots")
    figure = figure_type(figsize=(12.0, 3.8))
    names = [s.name for s in result.series]
    position = np.arange(len(names))
    axes = figure.add_subplot(1, 3, 1)
    axes.bar(position - 0.2, [s.noise_sd_local for s in result.series], 0.4, label="local boxes")
    axes.bar(position + 0.2, [np.nan if s.noise_sd_slice_difference is None
                              else s.noise_sd_slice_difference for s in result.series], 0.4,
             label="slice difference / √2")
    axes.set_ylabel("noise SD")
    axes.legend(fontsize=8)
    for index, (label, values) in enumerate(
        (("SNR (mean / local noise SD)", [s.snr for s in result.series]),
         ("ACR PIU (%)", [s.piu_percent for s in result.series])),
        start=2,
    ):
        axes = figure.add_subplot(1, 3, index)
        axes.bar(position, values, 0.5, color="tab:green" if index == 2 else "tab:purple")
        axes.set_ylabel(label)
        if index == 3:
            axes.set_ylim(min(values) - 5.0, 100.0)
    for axes in figure.axes:
        axes.set_xticks(position)
        axes.set_xticklabels(names)
    figure.suptitle(f"uniform slices {result.slices}, ROI radius {result.radius_mm:.0f} mm, "
                    f"our NR {result.noise_reduction:g}", fontsize=9)
    figure.tight_layout()
    path = Path(path)
    canvas(figure)
    figure.savefig(path, dpi=100)
    return path
