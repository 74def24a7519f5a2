"""Where intensities are measured: tissue, and homogeneous tissue.

One definition for the evaluation (PSNR in tissue, the tunable-denoising bar), the training's
noise-reduction calibration and the calibration on the volume being enhanced. Arrays are
``(z, y, x)`` (or one ``(y, x)`` slice), computed in float64; numpy and scipy only.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

#: Tissue = the reference's voxels above this percentile (its brightest 40 %).
TISSUE_PERCENTILE = 60.0
#: In-plane window (pixels) of the local SD that decides homogeneous tissue.
HOMOGENEOUS_WINDOW = 7


def tissue_mask(reference: np.ndarray) -> np.ndarray:
    """The brightest 40 % of ``reference``: voxels above its :data:`TISSUE_PERCENTILE`."""
    data = np.asarray(reference, dtype=np.float64)
    return data > np.percentile(data, TISSUE_PERCENTILE)


def homogeneous_tissue(reference: np.ndarray) -> np.ndarray:
    """Homogeneous tissue of a clean ``(z, y, x)`` (or ``(y, x)``) reference: :func:`tissue_mask`
    voxels whose local SD (:data:`HOMOGENEOUS_WINDOW`² in-plane, on the reference) is in the lowest
    quarter of those voxels: where noise reduction is measured."""
    data = np.asarray(reference, dtype=np.float64)
    size = (1, HOMOGENEOUS_WINDOW, HOMOGENEOUS_WINDOW) if data.ndim == 3 else (HOMOGENEOUS_WINDOW,) * 2
    mean = ndimage.uniform_filter(data, size)
    sd = np.sqrt(np.maximum(ndimage.uniform_filter(data**2, size) - mean**2, 0.0))
    tissue = tissue_mask(data)
    return tissue & (sd <= np.percentile(sd[tissue], 25.0))
