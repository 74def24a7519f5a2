"""Exact percentiles and medians of large tensors, on the tensor's device, as numpy defines them.

``torch.quantile`` refuses tensors of more than 2²⁴ elements and ``torch.kthvalue`` copies and
selects the whole tensor once per rank. :func:`order_statistics` instead sorts the values into
:data:`BINS` equal-width bins (a monotone map, so a bin's count says which bin holds a rank), then
selects inside that one bin: two passes over the data and a small selection, on any device.
:func:`percentiles` interpolates linearly between the two order statistics around ``q/100·(n−1)``
(numpy's default ``"linear"`` method); :func:`median` is its 50th percentile (the mean of the two
middle values for an even count, as ``np.median``).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

#: Bins of the first pass; the selection runs on one bin's values.
BINS = 1 << 14


def order_statistics(values: torch.Tensor, ranks: Sequence[int]) -> list[float]:
    """The ``rank``-th smallest of all of ``values`` (0-based, duplicates counted) for each rank."""
    flat = values.reshape(-1)
    low, high = (float(v) for v in torch.aminmax(flat))
    if high == low:
        return [low] * len(ranks)
    bins = ((flat - low) * (BINS / (high - low))).to(torch.int32).clamp_(0, BINS - 1)
    cumulative = torch.bincount(bins, minlength=BINS).cumsum(0).cpu()
    found, in_bin = [], {}
    for rank in ranks:
        index = int(torch.searchsorted(cumulative, torch.tensor([rank]), right=True))
        before = int(cumulative[index - 1]) if index else 0
        if index not in in_bin:  # neighbouring ranks (a percentile's two) mostly share a bin: one pass each
            in_bin[index] = flat[bins == index]
        found.append(float(in_bin[index].kthvalue(rank - before + 1).values))
    return found


def percentiles(values: torch.Tensor, qs: Sequence[float]) -> list[float]:
    """numpy's ``np.percentile(values, qs)`` (linear interpolation) over all of ``values``."""
    n = values.numel()
    positions = [q / 100.0 * (n - 1) for q in qs]
    ranks = [r for p in positions for r in (math.floor(p), min(math.floor(p) + 1, n - 1))]
    found = order_statistics(values, ranks)
    out = []
    for index, position in enumerate(positions):
        below, above = found[2 * index], found[2 * index + 1]
        out.append(below + (above - below) * (position - math.floor(position)))
    return out


def median(values: torch.Tensor) -> float:
    """``np.median(values)`` over all of ``values``."""
    return percentiles(values, (50.0,))[0]
