"""Image-quality metrics, pinned to one implementation.

* **PSNR** and **SSIM** follow fastMRI's evaluation: scikit-image's
  ``skimage.metrics.structural_similarity`` (defaults: 7×7 uniform window, K1 = 0.01, K2 = 0.03,
  sample covariance), ``data_range`` = the reference volume's maximum, SSIM computed per slice
  (axis 0) and averaged; PSNR = ``10 log10(data_range² / MSE)``.
* **NMSE** = ``||ref − img||² / ||ref||²``.
* **HFEN** (high-frequency error norm, Ravishankar & Bresler 2011) =
  ``||LoG(img) − LoG(ref)||₂ / ||LoG(ref)||₂`` with a 2D Laplacian of Gaussian per slice
  (in-plane axes 1 and 2; σ = 1.5 pixels on a 15×15 support as in the paper; the kernel is made
  exactly zero-sum, so a constant offset has no high-frequency error; image borders reflected).
  Per slice rather than 3D, so slice-direction resolution and anisotropic voxels do not enter the
  score, as with SSIM.

Masks. Every metric takes an optional boolean foreground ``mask`` of the arrays' shape: PSNR, NMSE
and HFEN sum over the mask voxels only (HFEN's LoG is computed on the whole image first); SSIM is
the mean of the per-slice SSIM maps (``full=True``) over the mask pixels, pooled over all slices,
leaving out the borders that scikit-image's own mean leaves out (half a window), so an all-True
mask gives the unmasked value. PSNR's ``data_range`` stays the whole reference's maximum.

:func:`score` gives all four at once (the evaluation table, the demo, the bundled models'
acceptance). Arrays are ``(z, y, x)`` (or one ``(y, x)`` slice); everything is computed in
float64. Bad input (shape mismatch, an empty mask, a zero reference) raises
:class:`~mrdeeprecon.errors.MRDeepReconError`.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.metrics import structural_similarity

from .errors import MRDeepReconError

#: Gaussian σ (pixels) of HFEN's Laplacian of Gaussian.
HFEN_SIGMA = 1.5
#: Half-width (pixels) of HFEN's kernel: 15×15 as in Ravishankar & Bresler.
HFEN_RADIUS = 7
#: scikit-image's default SSIM window edge (pixels).
SSIM_WINDOW = 7
#: The keys of :func:`score`, in table order.
SCORES = ("psnr_db", "ssim", "nmse", "hfen")


def _comparable(
    reference: np.ndarray, image: np.ndarray, mask: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Both arrays as float64 and the mask as bool, all of one shape; the mask must select voxels."""
    reference = np.asarray(reference, dtype=np.float64)
    image = np.asarray(image, dtype=np.float64)
    if reference.shape != image.shape:
        raise MRDeepReconError(f"metric: shape mismatch {reference.shape} vs {image.shape}")
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != reference.shape:
            raise MRDeepReconError(f"metric: mask shape {mask.shape} differs from the images' {reference.shape}")
        if not mask.any():
            raise MRDeepReconError("metric: the mask selects no voxel")
    return reference, image, mask


def _selected(values: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    return values if mask is None else values[mask]


def psnr(
    reference: np.ndarray,
    image: np.ndarray,
    data_range: float | None = None,
    mask: np.ndarray | None = None,
) -> float:
    """Peak signal-to-noise ratio in dB; ``data_range`` defaults to ``reference.max()``.

    With ``mask``, the MSE is taken over the mask voxels (the data range stays the whole
    reference's maximum). Identical images give ``inf``.
    """
    reference, image, mask = _comparable(reference, image, mask)
    peak = float(reference.max()) if data_range is None else float(data_range)
    mse = float(np.mean(_selected((reference - image) ** 2, mask)))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(peak**2 / mse))


def _ssim_map(reference: np.ndarray, image: np.ndarray, data_range: float) -> np.ndarray:
    """scikit-image's full SSIM map of one 2D slice."""
    _, full = structural_similarity(reference, image, data_range=data_range, full=True)
    return full


def _interior(shape: tuple[int, ...]) -> np.ndarray:
    """True where scikit-image averages its SSIM map: half a window away from the in-plane borders."""
    pad = (SSIM_WINDOW - 1) // 2
    inside = np.zeros(shape, dtype=bool)
    inside[..., pad : shape[-2] - pad, pad : shape[-1] - pad] = True
    return inside


def ssim(
    reference: np.ndarray,
    image: np.ndarray,
    data_range: float | None = None,
    mask: np.ndarray | None = None,
) -> float:
    """Mean of per-slice (axis 0) SSIM, scikit-image defaults, ``data_range`` = reference maximum.

    With ``mask``: the mean of the per-slice SSIM maps over the mask pixels inside scikit-image's
    averaging region, pooled over the slices.
    """
    reference, image, mask = _comparable(reference, image, mask)
    peak = float(reference.max()) if data_range is None else float(data_range)
    if reference.ndim == 2:
        reference, image = reference[None], image[None]
        mask = None if mask is None else mask[None]
    if mask is None:
        return float(
            np.mean([structural_similarity(r, i, data_range=peak) for r, i in zip(reference, image)])
        )
    used = mask & _interior(mask.shape)
    if not used.any():
        raise MRDeepReconError("metric: the mask lies entirely within half an SSIM window of the borders")
    total = sum(
        float(_ssim_map(r, i, peak)[m].sum()) for r, i, m in zip(reference, image, used) if m.any()
    )
    return total / int(used.sum())


def nmse(reference: np.ndarray, image: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Normalised mean squared error ``||ref - img||² / ||ref||²`` (over the mask voxels if given)."""
    reference, image, mask = _comparable(reference, image, mask)
    energy = float(np.sum(_selected(reference**2, mask)))
    if energy == 0.0:
        raise MRDeepReconError("metric: NMSE of a reference that is zero (where masked)")
    return float(np.sum(_selected((reference - image) ** 2, mask)) / energy)


def _log_kernels() -> tuple[np.ndarray, np.ndarray]:
    """1D Gaussian (sum 1) and its second derivative (made exactly zero-sum) on ±HFEN_RADIUS."""
    t = np.arange(-HFEN_RADIUS, HFEN_RADIUS + 1, dtype=np.float64)
    gaussian = np.exp(-(t**2) / (2.0 * HFEN_SIGMA**2))
    gaussian /= gaussian.sum()
    second = gaussian * (t**2 - HFEN_SIGMA**2) / HFEN_SIGMA**4
    second -= gaussian * second.sum()
    return gaussian, second


def laplacian_of_gaussian(image: np.ndarray) -> np.ndarray:
    """2D Laplacian of Gaussian (σ = :data:`HFEN_SIGMA` pixels) of each slice of ``(z, y, x)``
    (or of one ``(y, x)`` image), float64, borders reflected."""
    image = np.asarray(image, dtype=np.float64)
    row, column = image.ndim - 2, image.ndim - 1
    gaussian, second = _log_kernels()

    def separable(along_row: np.ndarray, along_column: np.ndarray) -> np.ndarray:
        out = ndimage.correlate1d(image, along_row, axis=row, mode="reflect")
        return ndimage.correlate1d(out, along_column, axis=column, mode="reflect")

    return separable(second, gaussian) + separable(gaussian, second)


def hfen(reference: np.ndarray, image: np.ndarray, mask: np.ndarray | None = None) -> float:
    """High-frequency error norm ``||LoG(img − ref)||₂ / ||LoG(ref)||₂`` (per-slice 2D LoG,
    σ 1.5 pixels); with ``mask``, both norms over the mask voxels of the whole-image LoG."""
    reference, image, mask = _comparable(reference, image, mask)
    reference_energy = float(np.sum(_selected(laplacian_of_gaussian(reference) ** 2, mask)))
    if reference_energy == 0.0:
        raise MRDeepReconError("metric: HFEN of a reference without high-frequency content")
    error = laplacian_of_gaussian(image - reference)
    return float(np.sqrt(np.sum(_selected(error**2, mask)) / reference_energy))


def score(reference: np.ndarray, image: np.ndarray, mask: np.ndarray | None = None) -> dict[str, float]:
    """Every score of ``image`` against ``reference`` (inside ``mask`` if given), keyed by
    :data:`SCORES`: PSNR (dB), SSIM, NMSE and HFEN as defined above."""
    return {
        "psnr_db": psnr(reference, image, mask=mask),
        "ssim": ssim(reference, image, mask=mask),
        "nmse": nmse(reference, image, mask=mask),
        "hfen": hfen(reference, image, mask=mask),
    }
