"""Quality assurance of an enhancement: noise in ROIs, relative edge sharpness, the change map and
low-frequency k-space consistency, and a report writer (:func:`run_qa`, :func:`write_qa_report`).

The original and the enhanced volume may lie on different grids (super-resolution); every tool
compares them through physical LPS coordinates (see :mod:`.grid`).
"""

from .change import ChangeComponent, ChangeResult, change_map
from .consistency import ConsistencyResult, acquired_band, kspace_consistency
from .foreground import foreground_mask
from .grid import Resampled, resample_like
from .report import QAReport, run_qa, write_qa_report
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
from .sharpness import (
    AxisSharpness,
    EdgeSharpness,
    LineComparison,
    LineSegment,
    Recovery,
    axis_sharpness,
    compare_line,
    edge_sharpness,
    line_profile,
    sharpness_recovery,
)

__all__ = [
    "AxisSharpness",
    "BoxROI",
    "ChangeComponent",
    "ChangeResult",
    "ConsistencyResult",
    "EdgeSharpness",
    "LineComparison",
    "LineSegment",
    "MaskROI",
    "QAReport",
    "ROIComparison",
    "Recovery",
    "RegionStats",
    "Resampled",
    "SphereROI",
    "acquired_band",
    "axis_sharpness",
    "change_map",
    "compare_line",
    "compare_roi",
    "edge_sharpness",
    "find_homogeneous_roi",
    "foreground_mask",
    "kspace_consistency",
    "line_profile",
    "region_stats",
    "resample_like",
    "run_qa",
    "sharpness_recovery",
    "write_qa_report",
]
