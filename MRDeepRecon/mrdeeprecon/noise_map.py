"""Local noise SD map of standardised slices: the network's estimate of spatially varying noise.

Surface-coil intensity normalisation and parallel imaging (g-factor) make the noise level vary
across the image. A model with ``CEUNetConfig.noise_map`` reads this map as an extra input
channel, so it can remove the requested fraction of the noise in quiet and noisy regions alike.
Training (:mod:`mrdeeprecon.training.pairs`) and inference (:mod:`mrdeeprecon.inference`) call
:func:`local_noise_sd` with the same arguments, so the map means the same thing in both.

Method, per slice ``(y = frequency, x = phase)``:

1. **Back to the acquired matrix.** After zero-padding interpolation the noise is band-limited to
   the acquired k-space extent, so the finest image scale holds no noise. The slice's centred
   2D k-space is cropped to the ``kmax`` box (fractions of the grid's extent along frequency and
   phase) and transformed back on that smaller matrix, where the noise is white again.
2. **Donoho's estimator, locally.** The finest diagonal Haar coefficients
   ``(a - b - c + d) / 2`` of 2×2 pixel blocks (orthonormal: white noise of SD σ gives
   coefficients of SD σ; horizontal and vertical edges cancel) are grouped in blocks of
   ``BLOCK × BLOCK`` coefficients, and each block's ``median |coefficient| / 0.6745`` estimates σ.
3. **Back to the grid.** The block estimates are scaled to the noise SD the slice has on its own
   grid (with orthonormal transforms, grid pixels carry ``sqrt(matrix / grid)`` of the matrix's
   pixel noise, in the grid's intensity units) and
   interpolated bilinearly to the slice's size.

The estimate is an upper bound in textured regions (anatomy leaks into the diagonal details) and
0 where the image is exactly constant.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from .kspace.fft import fftc, ifftc
from .kspace.masks import centred_extent

#: Haar coefficients per block edge (one block = BLOCK² coefficients = (2·BLOCK)² matrix pixels).
BLOCK = 6
#: Median of |N(0, 1)|: converts a median absolute coefficient to an SD.
_MAD_TO_SD = 0.6745
#: Smallest matrix (pixels per axis) the k-space crop keeps.
_MIN_MATRIX = 2 * BLOCK


def local_noise_sd(slices: np.ndarray, kmax: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """Local noise SD of each slice, in the slices' intensity units.

    Args:
        slices: ``(n, y, x)`` real images, ``y`` = frequency and ``x`` = phase encoding (the
            standardised layout), or one ``(y, x)`` slice.
        kmax: acquired fraction of the k-space extent along (frequency, phase), relative to the
            slices' grid, each in (0, 1].

    Returns:
        float32 array of the input's shape.
    """
    data = np.asarray(slices, dtype=np.float32)
    single = data.ndim == 2
    if single:
        data = data[None]
    if data.ndim != 3:
        raise ValueError(f"expected (n, y, x) slices, got shape {np.shape(slices)}")
    if not all(0.0 < k <= 1.0 for k in kmax):
        raise ValueError(f"kmax fractions must be in (0, 1], got {kmax}")
    matrix = _acquired_matrix(data, kmax)
    coarse = _block_sd(matrix) * math.sqrt(
        (matrix.shape[1] * matrix.shape[2]) / (data.shape[1] * data.shape[2])
    )
    result = _resize(coarse, data.shape[1:])
    return result[0] if single else result


def _acquired_matrix(data: np.ndarray, kmax: tuple[float, float]) -> np.ndarray:
    """The slices on the acquired matrix: their k-space cropped to the ``kmax`` box (real part)."""
    height, width = data.shape[1:]
    box_y, box_x = centred_extent(height, kmax[0]), centred_extent(width, kmax[1])
    if box_y.stop - box_y.start < _MIN_MATRIX:
        box_y = centred_extent(height, min(1.0, _MIN_MATRIX / height))
    if box_x.stop - box_x.start < _MIN_MATRIX:
        box_x = centred_extent(width, min(1.0, _MIN_MATRIX / width))
    if (box_y.stop - box_y.start, box_x.stop - box_x.start) == (height, width):
        return data
    kspace = fftc(data, (1, 2))[:, box_y, box_x]
    return ifftc(kspace, (1, 2)).real.astype(np.float32)


def _block_sd(matrix: np.ndarray) -> np.ndarray:
    """``(n, by, bx)`` robust noise SD per block of diagonal Haar coefficients."""
    n, height, width = matrix.shape
    x = matrix[:, : height // 2 * 2, : width // 2 * 2]
    diagonal = np.abs(x[:, 0::2, 0::2] - x[:, 0::2, 1::2] - x[:, 1::2, 0::2] + x[:, 1::2, 1::2]) / 2
    rows, cols = diagonal.shape[1:]
    by, bx = max(1, rows // BLOCK), max(1, cols // BLOCK)
    # Blocks of (almost) equal size covering every coefficient: split edges by index.
    edges_y = np.linspace(0, rows, by + 1).astype(int)
    edges_x = np.linspace(0, cols, bx + 1).astype(int)
    out = np.empty((n, by, bx), dtype=np.float32)
    for i in range(by):
        band = diagonal[:, edges_y[i] : edges_y[i + 1]]
        for j in range(bx):
            block = band[:, :, edges_x[j] : edges_x[j + 1]].reshape(n, -1)
            out[:, i, j] = np.median(block, axis=1) / _MAD_TO_SD
    return out


def _resize(coarse: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear interpolation of ``(n, by, bx)`` block values (at block centres) to ``(n, *shape)``."""
    n, by, bx = coarse.shape
    ys = (np.arange(shape[0]) + 0.5) * by / shape[0] - 0.5
    xs = (np.arange(shape[1]) + 0.5) * bx / shape[1] - 0.5
    grid_y, grid_x = np.meshgrid(np.clip(ys, 0, by - 1), np.clip(xs, 0, bx - 1), indexing="ij")
    return np.stack(
        [ndimage.map_coordinates(c, [grid_y, grid_x], order=1, mode="nearest") for c in coarse]
    ).astype(np.float32)
