"""Readout lines → a Cartesian k-space grid with its mask, and readout oversampling removal.

Shared by the readers whose files hold one readout per acquisition (ISMRMRD/MRD, Siemens twix).
Grids are (coils, slices, ky, kx) complex64 with the k-space centre at index ``n // 2`` of each k
axis (:mod:`mrdeeprecon.kspace.fft`'s convention).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mrdeeprecon.errors import MRDeepReconError
from mrdeeprecon.kspace.fft import fftc, ifftc


def centred_extent(header_size: int, centre: int, last_index: int) -> int:
    """Grid length along a phase-encoding axis: the header's matrix size, enlarged until the
    acquired indices 0 … ``last_index`` fit once index ``centre`` is moved to ``n // 2``."""
    n = max(header_size, 1)
    while n // 2 < centre or n - n // 2 < last_index + 1 - centre:
        n += 1
    return n


def remove_readout_oversampling(kspace: np.ndarray, keep: int) -> np.ndarray:
    """Crop the readout (last axis) field of view to its centre ``keep`` samples: centred inverse FFT
    along the readout, crop the image's centre, FFT back (the 2× readout oversampling of Siemens,
    fastMRI and most ISMRMRD files: ``keep = n // 2``)."""
    n = kspace.shape[-1]
    if keep >= n:
        return kspace
    start = n // 2 - keep // 2
    image = ifftc(kspace, axes=(-1,))[..., start : start + keep]
    return fftc(image, axes=(-1,)).astype(np.complex64)


class ReadoutGrid:
    """Accumulates readouts (coils, samples) at their (slice or kz, ky) indices.

    A readout of ``n`` samples whose k-space centre is sample ``centre_sample`` lands with that
    sample at ``kx = nx // 2``; a line acquired more than once (averages) is averaged. Positions
    never acquired stay zero and False in the line mask (slices, ky, 1).
    """

    def __init__(self, coils: int, slices: int, ny: int, nx: int, path: Path) -> None:
        self.data = np.zeros((coils, slices, ny, nx), np.complex64)
        self.count = np.zeros((slices, ny), np.int32)
        self.path = path

    def add(self, slice_index: int, line: int, samples: np.ndarray, centre_sample: int) -> None:
        """Place one readout; ``line`` is the ky index on this grid (centre at ``ny // 2``)."""
        coils, slices, ny, nx = self.data.shape
        if samples.shape[0] != coils:
            raise MRDeepReconError(f"a readout has {samples.shape[0]} coils, the first one {coils}", self.path)
        if not (0 <= slice_index < slices and 0 <= line < ny):
            raise MRDeepReconError(
                f"a readout's (slice/kz {slice_index}, ky {line}) lies outside the {slices}×{ny} encoding matrix", self.path
            )
        start = nx // 2 - centre_sample
        lo, hi = max(start, 0), min(start + samples.shape[1], nx)
        if lo >= hi:
            raise MRDeepReconError(f"a readout's centre sample {centre_sample} puts it outside the {nx}-sample readout", self.path)
        self.data[:, slice_index, line, lo:hi] += samples[:, lo - start : hi - start]
        self.count[slice_index, line] += 1

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """(data (coils, slices, ky, kx), line mask (slices, ky, 1))."""
        acquired = self.count > 0
        repeated = self.count > 1
        if repeated.any():
            self.data[:, repeated] /= self.count[repeated][None, :, None]
        return self.data, acquired[:, :, None]


def mask_where_nonzero(data: np.ndarray) -> np.ndarray:
    """(slices, ky, kx) mask of the positions where any coil holds a non-zero sample."""
    return np.any(data != 0, axis=0)
