"""Where intensities are measured: tissue, and homogeneous tissue.

One definition for the evaluation (PSNR in tissue, the tunable-denoising bar), the training's
noise-reduction calibration and the calibration on the volume being enhanced
(:mod:`mrdeeprecon.volume_calibration`). Volumes are ``(z, y, x)`` (or one ``(y, x)`` slice):
numpy arrays (computed in float64 on the CPU, a numpy bool mask back) or torch tensors (computed
on their device in their floating type, a bool tensor back). In torch, so that ``enhance`` needs no
image library; in-plane filters mirror the edges as ``scipy.ndimage`` does (``d c b a | a b c d``).
"""

from __future__ import annotations

import numpy as np
import torch

from .order_statistics import percentiles

#: Tissue = the reference's voxels above this percentile (its brightest 40 %).
TISSUE_PERCENTILE = 60.0
#: In-plane window (pixels) of the local SD that decides homogeneous tissue.
HOMOGENEOUS_WINDOW = 7
#: Homogeneous tissue = the tissue voxels whose local SD is at most this percentile of theirs.
HOMOGENEOUS_PERCENTILE = 25.0


def tissue_mask(reference: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """The brightest 40 % of ``reference``: voxels above its :data:`TISSUE_PERCENTILE`."""
    return _like(_tissue(_as_tensor(reference)), reference)


def homogeneous_tissue(reference: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """Homogeneous tissue of a clean ``(z, y, x)`` (or ``(y, x)``) reference: :func:`tissue_mask`
    voxels whose local SD (:data:`HOMOGENEOUS_WINDOW`² in-plane, on the reference) is in the lowest
    quarter of those voxels: where noise reduction is measured. None in a constant volume."""
    data = _as_tensor(reference)
    mean = filter_in_plane(data, _box(HOMOGENEOUS_WINDOW, data))
    sd = (filter_in_plane(data**2, _box(HOMOGENEOUS_WINDOW, data)) - mean**2).clamp_(min=0.0).sqrt_()
    tissue = _tissue(data)
    if tissue.any():  # a constant volume has no tissue
        tissue &= sd <= percentiles(sd[tissue], (HOMOGENEOUS_PERCENTILE,))[0]
    return _like(tissue, reference)


def _tissue(data: torch.Tensor) -> torch.Tensor:
    return data > percentiles(data, (TISSUE_PERCENTILE,))[0]


def gaussian_in_plane(data: torch.Tensor, sigma: float) -> torch.Tensor:
    """``data`` smoothed along its last two axes by a Gaussian of ``sigma`` pixels (truncated at
    4 σ, as ``scipy.ndimage.gaussian_filter``)."""
    radius = int(4.0 * sigma + 0.5)
    offsets = torch.arange(-radius, radius + 1, dtype=data.dtype, device=data.device)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    return filter_in_plane(data, kernel / kernel.sum())


def filter_in_plane(data: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """``data`` correlated along each of its last two axes with the odd 1D ``kernel``, the edges
    mirrored (scipy's ``reflect`` mode): one shifted multiply-add per tap (a single-channel
    convolution is slower on the CPU)."""
    half = len(kernel) // 2
    weights = kernel.tolist()
    out = data
    for axis in (data.dim() - 2, data.dim() - 1):
        n = out.shape[axis]
        padded = out.index_select(axis, _mirrored(n, half, data.device))
        out = padded.narrow(axis, 0, n) * weights[0]
        for tap in range(1, len(weights)):
            out.add_(padded.narrow(axis, tap, n), alpha=weights[tap])
    return out


def _mirrored(n: int, half: int, device: torch.device) -> torch.Tensor:
    """Indices of an axis of ``n`` extended by ``half`` on each side, mirrored about its edges."""
    index = torch.arange(-half, n + half, device=device) % (2 * n)
    return torch.where(index >= n, 2 * n - 1 - index, index)


def _box(size: int, like: torch.Tensor) -> torch.Tensor:
    return torch.full((size,), 1.0 / size, dtype=like.dtype, device=like.device)


def _as_tensor(volume: np.ndarray | torch.Tensor) -> torch.Tensor:
    if isinstance(volume, torch.Tensor):
        return volume if volume.is_floating_point() else volume.double()
    return torch.from_numpy(np.asarray(volume, dtype=np.float64))


def _like(mask: torch.Tensor, volume: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    return mask if isinstance(volume, torch.Tensor) else mask.numpy()
