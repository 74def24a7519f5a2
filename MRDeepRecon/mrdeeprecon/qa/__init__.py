"""Quality assurance of an enhancement: noise in ROIs (more tools follow).

The original and the enhanced volume may lie on different grids (super-resolution); every tool
compares them through physical LPS coordinates (see :mod:`.grid`).
"""

from .foreground import foreground_mask
from .grid import Resampled, resample_like
from .roi import (
    BoxROI,
    MaskROI,
    ROIComparison,
    RegionStats,
    SphereROI,
    compare_roi,
    find_homogeneous_roi,
    region_stats,
)

__all__ = [
    "BoxROI",
    "MaskROI",
    "ROIComparison",
    "RegionStats",
    "Resampled",
    "SphereROI",
    "compare_roi",
    "find_homogeneous_roi",
    "foreground_mask",
    "region_stats",
    "resample_like",
]
