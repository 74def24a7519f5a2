"""Image-quality metrics, pinned to one implementation.

PSNR and SSIM follow fastMRI's evaluation: scikit-image, ``data_range`` = the reference volume's
maximum, SSIM computed per slice (axis 0) and averaged. Arrays are ``(z, y, x)``.
"""

from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity


def _comparable(
    reference: np.ndarray, image: np.ndarray, data_range: float | None
) -> tuple[np.ndarray, np.ndarray, float]:
    """Both arrays as float64 (same shape required) and the data range (default: reference max)."""
    reference = np.asarray(reference, dtype=np.float64)
    image = np.asarray(image, dtype=np.float64)
    if reference.shape != image.shape:
        raise ValueError(f"shape mismatch {reference.shape} vs {image.shape}")
    return reference, image, float(reference.max()) if data_range is None else float(data_range)


def psnr(reference: np.ndarray, image: np.ndarray, data_range: float | None = None) -> float:
    """Peak signal-to-noise ratio in dB; ``data_range`` defaults to ``reference.max()``."""
    reference, image, data_range = _comparable(reference, image, data_range)
    mse = float(np.mean((reference - image) ** 2))
    if mse == 0.0:
        return float("inf")
    return 10.0 * np.log10(data_range**2 / mse)


def ssim(reference: np.ndarray, image: np.ndarray, data_range: float | None = None) -> float:
    """Mean of per-slice (axis 0) SSIM, scikit-image defaults, ``data_range`` = reference maximum."""
    reference, image, data_range = _comparable(reference, image, data_range)
    if reference.ndim == 2:
        return float(structural_similarity(reference, image, data_range=data_range))
    return float(
        np.mean(
            [
                structural_similarity(r, i, data_range=data_range)
                for r, i in zip(reference, image)
            ]
        )
    )


def nmse(reference: np.ndarray, image: np.ndarray) -> float:
    """Normalised mean squared error ``||ref - img||² / ||ref||²``."""
    reference = np.asarray(reference, dtype=np.float64)
    image = np.asarray(image, dtype=np.float64)
    return float(np.sum((reference - image) ** 2) / np.sum(reference**2))


def estimate_noise_sigma(image: np.ndarray) -> float:
    """Noise SD of an image (same units), by the wavelet median-absolute-deviation estimator.

    Slices that are entirely zero are skipped.

    Averaged over the slices (axis 0) of a volume; a high estimate in textured images is expected,
    so treat it as an upper bound of the true noise.
    """
    image = np.asarray(image, dtype=np.float64)
    slices = [image] if image.ndim == 2 else [s for s in image if np.any(s)]
    return float(np.mean([_haar_mad_sigma(s) for s in slices]))


def _haar_mad_sigma(image: np.ndarray) -> float:
    """Donoho's estimator: median |finest diagonal Haar coefficient| / 0.6745 (orthonormal Haar)."""
    h, w = (image.shape[0] // 2) * 2, (image.shape[1] // 2) * 2
    x = image[:h, :w]
    diagonal = (x[0::2, 0::2] - x[0::2, 1::2] - x[1::2, 0::2] + x[1::2, 1::2]) / 2.0
    return float(np.median(np.abs(diagonal)) / 0.6745)

