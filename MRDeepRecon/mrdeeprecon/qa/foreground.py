"""The object (foreground) of an MR volume: where the QA tools look for ROIs, edges and changes.

Otsu's threshold of the volume smoothed by a Gaussian of one voxel (so that background noise does
not speckle the mask), with enclosed holes filled. Dark tissue inside the object (CSF, bone) that
touches no background stays in the mask only when it is enclosed.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.filters import threshold_otsu

from ..errors import MRDeepReconError
from ..volume import Volume

#: Gaussian smoothing (voxels) applied before thresholding.
SMOOTHING_VOXELS = 1.0


def foreground_mask(volume: Volume) -> np.ndarray:
    """Boolean ``(z, y, x)`` mask of the object: smoothed intensity above Otsu's threshold.

    Raises:
        MRDeepReconError: for a constant volume (no threshold exists) or an empty mask.
    """
    smoothed = ndimage.gaussian_filter(np.asarray(volume.data, dtype=np.float32), SMOOTHING_VOXELS)
    if float(smoothed.max()) <= float(smoothed.min()):
        raise MRDeepReconError("constant image: no foreground can be separated from background")
    mask = ndimage.binary_fill_holes(smoothed > threshold_otsu(smoothed))
    if not mask.any():
        raise MRDeepReconError("no foreground found (Otsu threshold left no voxel)")
    return mask
