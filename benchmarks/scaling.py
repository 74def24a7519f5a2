"""Enhance time against volume size: 64, 128, 256 and 512 slices of 256 × 256 (z, y, x).

In one process, after one discarded enhancement of the smallest volume, each size is enhanced
``repeats`` times (``mrdeeprecon.inference.enhance``, in memory: no file I/O) and the median
kept. ``log(time) = a + b·log(slices)`` is fitted by least squares; ``b`` = 1 means the time is
linear in the number of slices. The per-slice time of each size is also given relative to the
smallest size's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from common import measure
from inputs import Source, build_volume


def fit_slope(slices: list[int], seconds: list[float]) -> tuple[float, float]:
    """``(b, a)`` of the least-squares line ``log(seconds) = a + b·log(slices)``."""
    slope, intercept = np.polyfit(np.log(slices), np.log(seconds), 1)
    return float(slope), float(intercept)


def run(
    source: Source, device: str, quick: bool, repeats: int, noise_reduction: float
) -> dict[str, Any]:
    from mrdeeprecon.inference import enhance
    from mrdeeprecon.settings import EnhanceSettings

    size = 64 if quick else 256
    slice_counts = [4, 8, 16, 32] if quick else [64, 128, 256, 512]
    settings = EnhanceSettings(noise_reduction=noise_reduction, device=device, model_kind="3d")
    volumes = {n: build_volume(source, (n, size, size)) for n in slice_counts}
    enhance(volumes[slice_counts[0]], settings)  # warm-up: model file, kernels, allocator
    rows = []
    for n in slice_counts:
        timing = measure(lambda: enhance(volumes[n], settings), repeats, warmup=0)
        rows.append({"slices": n, "seconds": timing.median_s, "samples_s": list(timing.samples_s)})
    seconds = [r["seconds"] for r in rows]
    slope, intercept = fit_slope(slice_counts, seconds)
    first = seconds[0] / slice_counts[0]
    for row in rows:
        row["per_slice_s"] = row["seconds"] / row["slices"]
        row["per_slice_ratio"] = row["per_slice_s"] / first
    return {
        "in_plane": [size, size],
        "model_kind": "3d",
        "rows": rows,
        "slope": slope,
        "intercept": intercept,
    }
