"""Donoho's wavelet MAD noise estimator: the noise SD of an image, and its local map.

The estimator: the finest diagonal Haar coefficients ``(a - b - c + d) / 2`` of 2×2 pixel blocks
(:func:`diagonal_haar`; orthonormal: white noise of SD σ gives coefficients of SD σ; horizontal
and vertical edges cancel) and ``median |coefficient| / 0.6745`` (:data:`MAD_TO_SD`). Two
reductions, each used as it is by its callers, so neither may change its numbers:

* :func:`global_noise_sd` — one number for a whole image or volume (numpy, float64, the median
  of all of a slice's coefficients, averaged over the slices): the noise level of evaluation
  references, QA change maps and training volumes.
* :func:`local_noise_sd` — a map (torch, float32, the median per block of coefficients, on the
  slices' device): the noise channel of the network, below.

**The local map** of standardised slices is the network's estimate of spatially varying noise.
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
2. **Donoho's estimator, locally.** The finest diagonal Haar coefficients are grouped in blocks
   of ``BLOCK × BLOCK`` coefficients (the coefficient array is reflected at its far edges to a
   whole number of blocks), and each block's ``median |coefficient| / 0.6745`` estimates σ.
3. **Back to the grid.** The block estimates are scaled to the noise SD the slice has on its own
   grid (with orthonormal transforms, grid pixels carry ``sqrt(matrix / grid)`` of the matrix's
   pixel noise, in the grid's intensity units) and interpolated linearly, axis by axis, between
   the block centres to every pixel (constant beyond the outermost centres).

It runs in torch on the slices' device (numpy input: the CPU), batched over slices, so training
pairs on a GPU get their map there.

The estimate is an upper bound in textured regions (anatomy leaks into the diagonal details) and
0 where the image is exactly constant.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from .kspace.fft import fftc, ifftc
from .kspace.masks import centred_extent

#: How a model is told the noise level: not at all, by the local map, or by its median per slice.
NOISE_INPUTS = ("blind", "map", "scalar")
#: Haar coefficients per block edge (one block = BLOCK² coefficients = (2·BLOCK)² matrix pixels).
BLOCK = 6
#: Median of |N(0, 1)|: converts a median absolute coefficient to an SD.
MAD_TO_SD = 0.6745
#: Smallest matrix (pixels per axis) the k-space crop keeps.
_MIN_MATRIX = 2 * BLOCK
#: Pixels of the slices estimated at a time (whole slices, at least one): bounds the complex
#: k-space intermediate to 64 MiB.
_GROUP_PIXELS = 1 << 23


def diagonal_haar(image: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """The finest diagonal Haar coefficients ``(a - b - c + d) / 2`` of the 2×2 pixel blocks over
    the last two axes ``(y, x)`` (an odd last row or column is left out), in the input's type:
    a numpy array or a torch tensor of shape ``(..., y // 2, x // 2)``."""
    height, width = image.shape[-2] // 2 * 2, image.shape[-1] // 2 * 2
    x = image[..., :height, :width]
    return (x[..., 0::2, 0::2] - x[..., 0::2, 1::2] - x[..., 1::2, 0::2] + x[..., 1::2, 1::2]) / 2


def global_noise_sd(image: np.ndarray) -> float:
    """Noise SD of a ``(y, x)`` image or the mean over the slices (axis 0) of a ``(z, y, x)``
    volume, in the image's intensity units; slices that are entirely zero are skipped.

    Per slice: ``median |diagonal_haar| / MAD_TO_SD`` over the whole slice, in float64. Textured
    images raise the estimate (anatomy leaks into the diagonal details): an upper bound of the
    true noise.
    """
    image = np.asarray(image, dtype=np.float64)
    slices = [image] if image.ndim == 2 else [s for s in image if np.any(s)]
    return float(np.mean([np.median(np.abs(diagonal_haar(s))) / MAD_TO_SD for s in slices]))


def local_noise_sd(slices, kmax: tuple[float, float] = (1.0, 1.0)):
    """Local noise SD of each slice, in the slices' intensity units.

    Args:
        slices: ``(n, y, x)`` real images, ``y`` = frequency and ``x`` = phase encoding (the
            standardised layout), or one ``(y, x)`` slice; a numpy array or a torch tensor.
        kmax: acquired fraction of the k-space extent along (frequency, phase), relative to the
            slices' grid, each in (0, 1].

    Returns:
        float32 map of the input's shape: a numpy array for numpy input, else a tensor on the
        input's device.
    """
    as_numpy = not isinstance(slices, torch.Tensor)
    data = torch.from_numpy(np.asarray(slices, dtype=np.float32)) if as_numpy else slices.float()
    single = data.dim() == 2
    if single:
        data = data[None]
    if data.dim() != 3:
        raise ValueError(f"expected (n, y, x) slices, got shape {tuple(np.shape(slices))}")
    if not all(0.0 < k <= 1.0 for k in kmax):
        raise ValueError(f"kmax fractions must be in (0, 1], got {kmax}")
    result = torch.empty_like(data)
    group = max(1, _GROUP_PIXELS // (data.shape[1] * data.shape[2]))
    for start in range(0, data.shape[0], group):
        part = data[start : start + group]
        matrix = _acquired_matrix(part, kmax)
        scale = math.sqrt((matrix.shape[1] * matrix.shape[2]) / (part.shape[1] * part.shape[2]))
        result[start : start + group] = _to_pixels(_block_sd(matrix) * scale, matrix.shape[1:], part.shape[1:])
    result = result[0] if single else result
    return result.numpy() if as_numpy else result


def noise_channel(sd: torch.Tensor, kind: str) -> torch.Tensor:
    """The noise-level channel a model with ``noise_input = kind`` reads, from the local noise SD
    ``sd`` of ``(n, y, x)`` slices: the map itself (``"map"``), or its median over each slice
    everywhere (``"scalar"``; torch's median: the lower middle value of an even count). Training
    and inference both read it here."""
    if kind not in NOISE_INPUTS[1:]:
        raise ValueError(f"no noise channel for noise input {kind!r}")
    if kind == "scalar":
        return sd.flatten(1).median(dim=1).values[:, None, None].expand_as(sd)
    return sd


def noise_input(slices: torch.Tensor, kmax: tuple[float, float], kind: str) -> torch.Tensor:
    """:func:`noise_channel` of :func:`local_noise_sd` of ``(n, y, x)`` slices."""
    return noise_channel(local_noise_sd(slices, kmax), kind)


def _acquired_matrix(data: torch.Tensor, kmax: tuple[float, float]) -> torch.Tensor:
    """The slices on the acquired matrix: their k-space cropped to the ``kmax`` box (real part)."""
    height, width = data.shape[1:]
    box_y, box_x = centred_extent(height, kmax[0]), centred_extent(width, kmax[1])
    if box_y.stop - box_y.start < _MIN_MATRIX:
        box_y = centred_extent(height, min(1.0, _MIN_MATRIX / height))
    if box_x.stop - box_x.start < _MIN_MATRIX:
        box_x = centred_extent(width, min(1.0, _MIN_MATRIX / width))
    if (box_y.stop - box_y.start, box_x.stop - box_x.start) == (height, width):
        return data
    kspace = fftc(data.to(torch.complex64), (1, 2))[:, box_y, box_x]
    return ifftc(kspace, (1, 2)).real.contiguous()


def _block_sd(matrix: torch.Tensor) -> torch.Tensor:
    """``(n, by, bx)`` robust noise SD per block of diagonal Haar coefficients."""
    diagonal = diagonal_haar(matrix).abs()
    rows, cols = diagonal.shape[1:]
    by, bx = -(-rows // BLOCK), -(-cols // BLOCK)
    diagonal = _reflect(_reflect(diagonal, 1, by * BLOCK), 2, bx * BLOCK)
    blocks = diagonal.unflatten(1, (by, BLOCK)).unflatten(3, (bx, BLOCK)).transpose(2, 3)
    return blocks.flatten(3).median(dim=3).values / MAD_TO_SD


def _reflect(values: torch.Tensor, dim: int, size: int) -> torch.Tensor:
    """``values`` extended along ``dim`` to ``size`` by mirroring its last entries (repeatedly
    for an axis shorter than the extension)."""
    while values.shape[dim] < size:
        extra = min(size - values.shape[dim], values.shape[dim])
        tail = values.narrow(dim, values.shape[dim] - extra, extra).flip(dim)
        values = torch.cat([values, tail], dim=dim)
    return values


@functools.lru_cache(maxsize=64)
def _interpolation(blocks: int, m: int, n: int, device: torch.device) -> torch.Tensor:
    """``(n, blocks)`` weights of the linear interpolation from block centres to ``n`` grid pixels
    (cached, as training draws the same few sizes again and again: do not modify).

    Block ``i`` is centred on matrix pixel ``2·BLOCK·i + BLOCK - 0.5``; a slice's grid covers the
    same field of view as the matrix (``m`` pixels), so its pixel ``y`` sits at matrix pixel
    ``(y + 0.5)·m / n - 0.5``. Constant beyond the outermost centres.
    """
    with torch.inference_mode(False):  # a cached tensor must serve outside inference mode too
        where = ((torch.arange(n, dtype=torch.float32, device=device) + 0.5) * m / n - 0.5 - (BLOCK - 0.5)) / (2 * BLOCK)
        where = where.clamp(0, blocks - 1)
        low = where.floor().long()
        high = (low + 1).clamp(max=blocks - 1)
        weight = where - low
        rows = torch.arange(n, device=device)
        matrix = torch.zeros(n, blocks, device=device)
        matrix.index_put_((rows, low), 1 - weight, accumulate=True)
        matrix.index_put_((rows, high), weight, accumulate=True)
        return matrix


def _to_pixels(coarse: torch.Tensor, matrix: tuple[int, int], shape: tuple[int, int]) -> torch.Tensor:
    """Block values ``(n, by, bx)`` interpolated linearly (:func:`_interpolation`), along y then
    x, to ``(n, *shape)``: two small matrix products per slice."""
    rows = _interpolation(coarse.shape[1], matrix[0], shape[0], coarse.device)
    cols = _interpolation(coarse.shape[2], matrix[1], shape[1], coarse.device)
    return rows @ coarse @ cols.T
