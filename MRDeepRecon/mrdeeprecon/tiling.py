"""What the network sees of a standardised volume: in-plane tiles, their blending, neighbour slices.

Every tile of one working grid has the same shape, at most ``tile × tile`` pixels; neighbouring
tiles overlap by at least :data:`MIN_TILE_OVERLAP` pixels (a quarter of the tile, at most half)
and are blended with raised-cosine weights, so memory stays bounded for any matrix size and the
seams do not show. Everything is a torch tensor on the volume's device; arrays are ``(z, y, x)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

#: Smallest overlap (pixels) between neighbouring tiles, unless the tile itself is under 64 px.
MIN_TILE_OVERLAP = 32


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Start indices of tiles of length ``min(tile, size)`` covering ``[0, size)``."""
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile, tile - overlap))
    return starts + [size - tile]


def blend_weights(start: int, length: int, size: int, overlap: int) -> torch.Tensor:
    """1D tile weight (float64): 1 inside, a raised-cosine ramp (> 0) over ``overlap`` pixels at
    each edge that borders another tile, 1 up to the image border."""
    weights = torch.ones(length, dtype=torch.float64)
    ramp = 0.5 - 0.5 * torch.cos(math.pi * (torch.arange(overlap, dtype=torch.float64) + 0.5) / overlap)
    if start > 0:
        weights[:overlap] = ramp
    if start + length < size:
        weights[length - overlap :] = torch.minimum(weights[length - overlap :], ramp.flip(0))
    return weights


@dataclass(frozen=True)
class Tiling:
    """In-plane tiles of one working grid: every tile has the same shape ``(height, width)``.

    Attributes:
        origins: ``(y0, x0)`` of each tile.
        weights: ``(n_tiles, height, width)`` float32 blending weight of each tile, on the device.
        weight_sum: ``(H, W)`` float32 sum of all tiles' weights per pixel, on the device.
    """

    height: int
    width: int
    origins: tuple[tuple[int, int], ...]
    weights: torch.Tensor
    weight_sum: torch.Tensor

    def window(self, index: int) -> tuple[slice, slice]:
        """In-plane ``(y, x)`` slices of tile ``index``."""
        y0, x0 = self.origins[index]
        return slice(y0, y0 + self.height), slice(x0, x0 + self.width)

    @classmethod
    def plan(cls, shape: tuple[int, int], tile: int, device: torch.device) -> "Tiling":
        """Tiles of at most ``tile × tile`` pixels covering an in-plane ``shape`` ``(H, W)``."""
        size_y, size_x = shape
        overlap = min(max(MIN_TILE_OVERLAP, tile // 4), tile // 2)
        height, width = min(tile, size_y), min(tile, size_x)
        origins, weights = [], []
        weight_sum = torch.zeros(shape, dtype=torch.float64)
        for y0 in tile_starts(size_y, tile, overlap):
            for x0 in tile_starts(size_x, tile, overlap):
                w = torch.outer(
                    blend_weights(y0, height, size_y, overlap),
                    blend_weights(x0, width, size_x, overlap),
                )
                origins.append((y0, x0))
                weights.append(w)
                weight_sum[y0 : y0 + height, x0 : x0 + width] += w
        return cls(
            height,
            width,
            tuple(origins),
            torch.stack(weights).float().to(device),
            weight_sum.float().to(device),
        )


def neighbours(z: int, count: int, size: int) -> list[int]:
    """Indices of the ``count`` slices centred on ``z``, reflected at the ends (clamped when the
    volume has too few slices to reflect)."""
    indices = []
    for offset in range(-(count // 2), count - count // 2):
        index = abs(z + offset)
        if index > size - 1:
            index = 2 * (size - 1) - index
        indices.append(min(max(index, 0), size - 1))
    return indices
