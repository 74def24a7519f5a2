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
import torch

from .context import ScanContext
from .errors import MRDeepReconError
from .kspace.fft import fftc, ifftc
from .order_statistics import percentiles

#: Percentiles (of the cropped input) that map to 0 and 1 after normalisation.
PERCENTILES = (1.0, 99.0)
#: Complex samples one resampling step transforms at a time (slices or rows are grouped up to
#: this many): bounds the k-space intermediate to 64 MiB of complex64.
_CHUNK_SAMPLES = 1 << 23


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
        data: float32 tensor ``(z', y', x')`` on the input's device (numpy input: the CPU):
            normalised, phase encoding along axis 2, frequency along axis 1, zero borders cropped,
            on the working grid.
        record: what is needed to undo it.
    """

    data: torch.Tensor
    record: StandardizeRecord


def _as_tensor(data: np.ndarray | torch.Tensor) -> torch.Tensor:
    """``data`` as a tensor (a numpy array is shared where its dtype allows, never copied twice)."""
    return data if isinstance(data, torch.Tensor) else torch.from_numpy(np.asarray(data))


def intensity_range(data: np.ndarray | torch.Tensor) -> tuple[float, float]:
    """``(lo, hi)`` = 1st and 99th percentiles of ``data`` (numpy's definition, computed on its
    device, :mod:`mrdeeprecon.order_statistics`); a constant image is an error."""
    lo, hi = percentiles(_as_tensor(data).float(), PERCENTILES)
    if not hi > lo:
        raise MRDeepReconError(
            f"constant image: 1st and 99th intensity percentiles are both {lo:g}, "
            "nothing to enhance"
        )
    return lo, hi


def normalize(data: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """``(data - lo) / (hi - lo)`` as a new float32 tensor."""
    return (data.float() - lo) / float(np.float32(hi - lo))


def denormalize(data: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """Inverse of :func:`normalize`: ``data · (hi - lo) + lo`` as a new float32 tensor."""
    return data.float().mul(float(np.float32(hi - lo))).add_(lo)


def _nonzero_extent(data: torch.Tensor) -> tuple[tuple[int, int], ...]:
    """``(start, stop)`` per axis of the smallest block holding every non-zero voxel."""
    nonzero = data != 0
    extent = []
    for axis in range(data.dim()):
        others = tuple(a for a in range(data.dim()) if a != axis)
        indices = torch.nonzero(nonzero.any(dim=others)).flatten().tolist()
        if not indices:
            raise MRDeepReconError("constant image: every voxel is 0, nothing to enhance")
        extent.append((indices[0], indices[-1] + 1))
    return tuple(extent)


def _resize_centred(kspace: torch.Tensor, dim: int, size: int) -> torch.Tensor:
    """Zero-pad (or truncate) centred k-space along ``dim`` to ``size`` samples, keeping the DC
    sample at index ``n // 2`` → ``size // 2``."""
    n = kspace.shape[dim]
    if size < n:
        return kspace.narrow(dim, n // 2 - size // 2, size)
    shape = list(kspace.shape)
    shape[dim] = size
    out = kspace.new_zeros(shape)
    out.narrow(dim, size // 2 - n // 2, n).copy_(kspace)
    return out


def _resample_axes(block: torch.Tensor, dims: tuple[int, ...], sizes: tuple[int, ...]) -> torch.Tensor:
    """Sinc-resample a real float32 ``block`` along ``dims`` to ``sizes`` (mean kept, real part)."""
    kspace = fftc(block.to(torch.complex64), dims)
    gain = 1.0
    for dim, size in zip(dims, sizes):
        gain *= float(np.sqrt(size / block.shape[dim]))
        kspace = _resize_centred(kspace, dim, size)
    return ifftc(kspace, dims).real * gain


def _in_groups(count: int, samples_each: int):
    """Consecutive ``slice`` groups of ``count`` items, each group up to :data:`_CHUNK_SAMPLES`
    complex samples (at least one item)."""
    step = max(1, _CHUNK_SAMPLES // max(1, samples_each))
    return (slice(start, min(start + step, count)) for start in range(0, count, step))


def resample_kspace(data: np.ndarray | torch.Tensor, shape: tuple[int, int, int]) -> np.ndarray | torch.Tensor:
    """Exact band-limited (periodic sinc) resampling of a real ``(z, y, x)`` volume to ``shape``
    over the same field of view: its centred k-space zero-padded (finer) or cropped (coarser).

    Purpose: a change of grid that keeps the field of view, as the model's working grid is made
    (step 3 of :func:`standardize`) and as :func:`mrdeeprecon.qa.grid.resample_like` brings such a
    refined result back onto the original grid. Sample ``n // 2`` of an axis of ``n`` samples
    lands on index ``m // 2`` of ``m`` (the k-space simulator's centred-FFT convention), so the
    result is what the simulator makes of a ``kmax``-truncated acquisition. Grids that differ in
    field of view, position or direction are :func:`~mrdeeprecon.qa.grid.resample_like`'s
    windowed-sinc case.

    Runs in torch (complex64) on the data's device: in-plane axes on groups of slices, then the
    slice axis on groups of rows, which bounds the complex intermediate. An axis whose size does
    not change is left untouched (bitwise). Returns float32: a numpy array for numpy input, else a
    tensor on the input's device.
    """
    as_numpy = not isinstance(data, torch.Tensor)
    out = _as_tensor(data).float()
    nz, ny, nx = shape
    if (ny, nx) != tuple(out.shape[1:]):
        inplane = out.new_empty((out.shape[0], ny, nx))
        for group in _in_groups(out.shape[0], max(ny, out.shape[1]) * max(nx, out.shape[2])):
            inplane[group] = _resample_axes(out[group], (1, 2), (ny, nx))
        out = inplane
    if nz != out.shape[0]:
        through = out.new_empty((nz, ny, nx))
        for group in _in_groups(ny, max(nz, out.shape[0]) * nx):
            through[:, group] = _resample_axes(out[:, group], (0,), (nz,))
        out = through
    return out.numpy() if as_numpy else out


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
    data: np.ndarray | torch.Tensor,
    context: ScanContext,
    super_resolution: tuple[float, float, float] = (1.0, 1.0, 1.0),
) -> Standardized:
    """Standardise a real ``(z, y, x)`` volume for the network (see the module docstring), on the
    volume's device (a numpy array: the CPU, sharing its memory).

    Args:
        data: voxel values, any real dtype; never modified.
        context: the scan context; only ``phase_axis`` is used here.
        super_resolution: grid refinement along (frequency, phase, slice), each >= 1.
    """
    data = _as_tensor(data)
    if data.dim() != 3:
        raise MRDeepReconError(f"standardisation needs a (z, y, x) volume, got shape {tuple(data.shape)}")
    if data.is_complex():
        data = data.real
    transposed = context.phase_axis == 1
    oriented = data.transpose(1, 2) if transposed else data
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
    return Standardized(data=normalize(resampled, lo, hi).contiguous(), record=record)


def destandardize(data: torch.Tensor, record: StandardizeRecord) -> torch.Tensor:
    """Undo :func:`standardize` except the resampling: original intensity scale, zero borders
    restored (scaled to the working grid), original orientation. Returns a new contiguous float32
    tensor of ``record.output_shape`` on ``data``'s device."""
    if tuple(data.shape) != record.working_shape:
        raise MRDeepReconError(
            f"destandardise expects shape {record.working_shape}, got {tuple(data.shape)}"
        )
    restored = denormalize(data, record.lo, record.hi)
    if any(before or after for before, after in record.padding):
        full = tuple(before + n + after for (before, after), n in zip(record.padding, record.working_shape))
        inside = tuple(slice(before, before + n) for (before, _), n in zip(record.padding, record.working_shape))
        padded = data.new_zeros(full, dtype=torch.float32)
        padded[inside] = restored
        restored = padded
    return restored.transpose(1, 2).contiguous() if record.transposed else restored
