"""Standardisation module (seed 001, section 2.3): put every input into one canonical form.

Four reversible steps, applied in this order by :func:`standardize` and undone in reverse order by
:func:`destandardize`:

1. **Transpose** so that phase encoding runs along array axis 2 (``x``, DICOM ``ROW``) and
   frequency encoding along axis 1 (``y``). Arrays stay ``(z, y, x)``; afterwards axis 0 is the
   slice direction, axis 1 frequency, axis 2 phase.
2. **Crop zero borders**: leading/trailing slices, rows and columns that are exactly 0 everywhere
   (asymmetric-FOV images zero-padded to a square matrix).
3. **Resample to the working grid** (= the output grid) by zero-padding centred k-space (sinc
   interpolation, :func:`resample_kspace`). An axis of ``N`` samples refined by ``s`` becomes
   ``round(N × s)`` samples. The kept block of ``n`` samples becomes ``m`` samples spanning the
   same field of view (step ``n / m`` ≈ ``1 / s`` input voxels) and its sample ``n // 2`` stays at
   index ``m // 2`` (the centred-FFT convention of the k-space simulator). For even ``n`` and
   integer ``n × s`` that keeps the volume's origin and divides its spacing by ``s``; in general
   :meth:`StandardizeRecord.working_grid` gives the exact placement. The mean intensity is
   preserved. This step is not undone: the result stays on the fine grid, and the cropped borders
   come back as zeros scaled to that grid.
4. **Normalise** intensities: ``x_n = (x - lo) / (hi - lo)`` with ``lo``/``hi`` the 1st/99th
   percentiles of the cropped input, so the pipeline is invariant to a linear rescaling
   ``a·x + b`` (``a > 0``) of vendor pixel values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .context import ScanContext
from .errors import MRDeepReconError
from .kspace.fft import fftc, ifftc

#: Percentiles (of the cropped input) that map to 0 and 1 after normalisation.
PERCENTILES = (1.0, 99.0)


@dataclass(frozen=True)
class StandardizeRecord:
    """Everything :func:`destandardize` needs to undo :func:`standardize`.

    Per-array-axis tuples (shapes, ``crop``, ``padding``) are ``(z, y, x)``; ``super_resolution``
    is per encoding direction, (frequency, phase, slice) (:mod:`mrdeeprecon.sampling`). "Standard
    orientation" is the transposed one (phase along axis 2).

    Attributes:
        original_shape: shape of the input, original orientation.
        transposed: whether axes 1 and 2 were swapped (input phase encoding along axis 1).
        crop: ``(start, stop)`` of the kept block per axis, standard orientation, input grid.
        padding: ``(before, after)`` zero borders per axis on the working grid (standard
            orientation).
        working_shape: shape of the standardised data (standard orientation, working grid).
        super_resolution: grid refinement along (frequency, phase, slice) = standard-orientation
            axes (1, 2, 0).
        lo: intensity mapped to 0 (1st percentile of the cropped input).
        hi: intensity mapped to 1 (99th percentile of the cropped input).
    """

    original_shape: tuple[int, int, int]
    transposed: bool
    crop: tuple[tuple[int, int], ...]
    padding: tuple[tuple[int, int], ...]
    working_shape: tuple[int, int, int]
    super_resolution: tuple[float, float, float]
    lo: float
    hi: float

    @property
    def output_shape(self) -> tuple[int, int, int]:
        """Shape :func:`destandardize` returns: the original orientation on the working grid."""
        full = tuple(
            before + n + after for (before, after), n in zip(self.padding, self.working_shape)
        )
        if self.transposed:
            return (full[0], full[2], full[1])
        return full  # type: ignore[return-value]

    def working_grid(self) -> tuple[tuple[float, float], ...]:
        """Where the output samples lie in the input: ``(step, offset)`` per array axis of the
        original orientation ``(z, y, x)``, such that output index ``f`` sits at the continuous
        input index ``offset + f · step``. Without resampling this is ``(1, 0)``."""
        grid = []
        for (start, stop), (before, _), m in zip(self.crop, self.padding, self.working_shape):
            n = stop - start
            step = n / m
            grid.append((step, start + n // 2 - (before + m // 2) * step))
        return (grid[0], grid[2], grid[1]) if self.transposed else tuple(grid)


@dataclass
class Standardized:
    """Result of :func:`standardize`.

    Attributes:
        data: float32 ``(z', y', x')``: normalised, phase encoding along axis 2, frequency along
            axis 1, zero borders cropped, on the working grid.
        record: what is needed to undo it.
    """

    data: np.ndarray
    record: StandardizeRecord


def intensity_range(data: np.ndarray) -> tuple[float, float]:
    """``(lo, hi)`` = 1st and 99th percentiles of ``data``; a constant image is an error."""
    lo, hi = (float(v) for v in np.percentile(data, PERCENTILES))
    if not hi > lo:
        raise MRDeepReconError(
            f"constant image: 1st and 99th intensity percentiles are both {lo:g}, "
            "nothing to enhance"
        )
    return lo, hi


def normalize(data: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``(data - lo) / (hi - lo)`` as float32 (a new array)."""
    return ((np.asarray(data, dtype=np.float32) - np.float32(lo)) / np.float32(hi - lo)).astype(
        np.float32, copy=False
    )


def denormalize(data: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Inverse of :func:`normalize`: ``data · (hi - lo) + lo`` as float32 (a new array)."""
    return (np.asarray(data, dtype=np.float32) * np.float32(hi - lo) + np.float32(lo)).astype(
        np.float32, copy=False
    )


def _nonzero_extent(data: np.ndarray) -> tuple[tuple[int, int], ...]:
    """``(start, stop)`` per axis of the smallest block holding every non-zero voxel."""
    nonzero = data != 0
    if not nonzero.any():
        raise MRDeepReconError("constant image: every voxel is 0, nothing to enhance")
    extent = []
    for axis in range(data.ndim):
        others = tuple(a for a in range(data.ndim) if a != axis)
        indices = np.flatnonzero(nonzero.any(axis=others))
        extent.append((int(indices[0]), int(indices[-1]) + 1))
    return tuple(extent)


def _resize_centred(kspace: np.ndarray, axis: int, size: int) -> np.ndarray:
    """Zero-pad (or truncate) centred k-space along ``axis`` to ``size`` samples, keeping the DC
    sample at index ``n // 2`` → ``size // 2``."""
    n = kspace.shape[axis]
    if size >= n:
        widths = [(0, 0)] * kspace.ndim
        before = size // 2 - n // 2
        widths[axis] = (before, size - n - before)
        return np.pad(kspace, widths)
    start = n // 2 - size // 2
    return np.take(kspace, np.arange(start, start + size), axis=axis)


def _resample_axes(block: np.ndarray, axes: tuple[int, ...], sizes: tuple[int, ...]) -> np.ndarray:
    """Sinc-resample a real ``block`` along ``axes`` to ``sizes`` (mean kept, real part)."""
    kspace = fftc(block, axes)
    gain = 1.0
    for axis, size in zip(axes, sizes):
        gain *= np.sqrt(size / block.shape[axis])
        kspace = _resize_centred(kspace, axis, size)
    return (ifftc(kspace, axes).real * gain).astype(np.float32)


def resample_kspace(data: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Exact band-limited (periodic sinc) resampling of a real ``(z, y, x)`` volume to ``shape``
    over the same field of view: its centred k-space zero-padded (finer) or cropped (coarser).

    Purpose: a change of grid that keeps the field of view, as the model's working grid is made
    (step 3 of :func:`standardize`) and as :func:`mrdeeprecon.qa.grid.resample_like` brings such a
    refined result back onto the original grid. Sample ``n // 2`` of an axis of ``n`` samples
    lands on index ``m // 2`` of ``m`` (the k-space simulator's centred-FFT convention), so the
    result is what the simulator makes of a ``kmax``-truncated acquisition. Grids that differ in
    field of view, position or direction are :func:`~mrdeeprecon.qa.grid.resample_like`'s
    windowed-sinc case.

    In-plane axes are resampled slice by slice and the slice axis row by row, which keeps the
    complex intermediate small. An axis whose size does not change is left untouched (bitwise).
    Returns float32.
    """
    out = np.asarray(data, dtype=np.float32)
    nz, ny, nx = shape
    if (ny, nx) != out.shape[1:]:
        inplane = np.empty((out.shape[0], ny, nx), dtype=np.float32)
        for z in range(out.shape[0]):
            inplane[z] = _resample_axes(out[z], (0, 1), (ny, nx))
        out = inplane
    if nz != out.shape[0]:
        through = np.empty((nz, ny, nx), dtype=np.float32)
        for y in range(ny):
            through[:, y, :] = _resample_axes(out[:, y, :], (0,), (nz,))
        out = through
    return out


def _working_layout(
    size: int, crop: tuple[int, int], factor: float
) -> tuple[int, tuple[int, int]]:
    """Working-grid size of the kept block and its zero borders along one axis.

    The full output axis has ``round(size × factor)`` samples; each border is its input width
    scaled and rounded; the kept block fills the rest.
    """
    full = int(round(size * factor))
    before = int(round(crop[0] * factor))
    after = int(round((size - crop[1]) * factor))
    return full - before - after, (before, after)


def standardize(
    data: np.ndarray,
    context: ScanContext,
    super_resolution: tuple[float, float, float] = (1.0, 1.0, 1.0),
) -> Standardized:
    """Standardise a real ``(z, y, x)`` volume for the network (see the module docstring).

    Args:
        data: voxel values, any real dtype; never modified.
        context: the scan context; only ``phase_axis`` is used here.
        super_resolution: grid refinement along (frequency, phase, slice), each >= 1.
    """
    data = np.asarray(data)
    if data.ndim != 3:
        raise MRDeepReconError(f"standardisation needs a (z, y, x) volume, got shape {data.shape}")
    if np.iscomplexobj(data):
        data = data.real
    transposed = context.phase_axis == 1
    oriented = np.swapaxes(data, 1, 2) if transposed else data
    crop = _nonzero_extent(oriented)
    block = oriented[tuple(slice(start, stop) for start, stop in crop)]
    lo, hi = intensity_range(block)

    frequency, phase, slice_factor = (float(s) for s in super_resolution)
    factors_zyx = (slice_factor, frequency, phase)  # standard orientation: (slice, frequency, phase)
    layouts = [_working_layout(n, c, f) for n, c, f in zip(oriented.shape, crop, factors_zyx)]
    working_shape = tuple(size for size, _ in layouts)
    resampled = resample_kspace(block, working_shape)  # type: ignore[arg-type]
    record = StandardizeRecord(
        original_shape=tuple(data.shape),  # type: ignore[arg-type]
        transposed=transposed,
        crop=crop,
        padding=tuple(border for _, border in layouts),
        working_shape=working_shape,  # type: ignore[arg-type]
        super_resolution=(frequency, phase, slice_factor),
        lo=lo,
        hi=hi,
    )
    return Standardized(data=np.ascontiguousarray(normalize(resampled, lo, hi)), record=record)


def destandardize(data: np.ndarray, record: StandardizeRecord) -> np.ndarray:
    """Undo :func:`standardize` except the resampling: original intensity scale, zero borders
    restored (scaled to the working grid), original orientation. Returns float32
    ``record.output_shape``."""
    data = np.asarray(data)
    if tuple(data.shape) != record.working_shape:
        raise MRDeepReconError(
            f"destandardise expects shape {record.working_shape}, got {tuple(data.shape)}"
        )
    restored = np.pad(denormalize(data, record.lo, record.hi), record.padding)
    return np.swapaxes(restored, 1, 2).copy() if record.transposed else restored
