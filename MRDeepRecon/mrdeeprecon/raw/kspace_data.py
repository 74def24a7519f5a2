"""The raw k-space data type every reader returns: multi-coil Cartesian k-space with its mask,
an optional noise scan and the header facts (:class:`RawKSpace`, :class:`RawHeader`).

Axis order: ``data`` is (coils, slices, ky, kx) — axis 1 holds the slices of a 2D multi-slice
acquisition or the kz partitions of a 3D one; ky is phase encoding, kx the readout (oversampling
removed). The k-space centre sits at index ``n // 2`` of each k axis (the centred FFT convention of
:mod:`mrdeeprecon.kspace.fft`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mrdeeprecon.errors import MRDeepReconError

ACQUISITIONS = ("2D", "3D")
SOURCE_FORMATS = ("", "ismrmrd", "fastmri", "bart", "twix", "npy")


@dataclass(frozen=True)
class RawHeader:
    """Header facts of a raw acquisition; None where the file does not say."""

    matrix: tuple[int, int, int]  # reconstructed matrix (x = readout, y = phase, z = slices or partitions), readout oversampling removed
    fov_mm: tuple[float, float, float] | None  # (x, y, z) field of view, mm
    acquisition: str  # "2D" (multi-slice: data axis 1 = slices) or "3D" (axis 1 = kz partitions)
    te_ms: float | None = None
    tr_ms: float | None = None
    field_strength_t: float | None = None
    position_mm: tuple[float, float, float] | None = None  # centre of the volume, LPS mm, where present
    direction: tuple[tuple[float, float, float], ...] | None = None  # 3x3 LPS direction cosines (columns: x, y, z image axes), where present
    source_format: str = ""  # "ismrmrd" | "fastmri" | "bart" | "twix" | "npy"
    dwell_us: float | None = None  # imaging readouts' ADC dwell time per acquired (oversampled) sample, µs, where the file says
    noise_dwell_ratio: float | None = None  # noise-scan dwell / imaging dwell, the factor the noise scan's variance was multiplied by (mrdeeprecon.raw.whitening); None: no noise scan, or a dwell time unknown and the scan left unscaled
    warnings: tuple[str, ...] = ()  # what the reader could not do (one line each), for the reconstruction record

    def __post_init__(self) -> None:
        if len(self.matrix) != 3 or any(int(n) < 1 for n in self.matrix):
            raise MRDeepReconError(f"raw header matrix must be three positive sizes (x, y, z), got {self.matrix}")
        if self.fov_mm is not None and (len(self.fov_mm) != 3 or any(not float(f) > 0 for f in self.fov_mm)):
            raise MRDeepReconError(f"raw header field of view must be three positive sizes in mm, got {self.fov_mm}")
        if self.acquisition not in ACQUISITIONS:
            raise MRDeepReconError(f"raw header acquisition must be one of {ACQUISITIONS}, got {self.acquisition!r}")
        if self.position_mm is not None and len(self.position_mm) != 3:
            raise MRDeepReconError(f"raw header position must be three LPS coordinates in mm, got {self.position_mm}")
        if self.direction is not None and (len(self.direction) != 3 or any(len(row) != 3 for row in self.direction)):
            raise MRDeepReconError(f"raw header direction must be a 3x3 matrix, got {self.direction}")
        for name in ("dwell_us", "noise_dwell_ratio"):
            value = getattr(self, name)
            if value is not None and not float(value) > 0:
                raise MRDeepReconError(f"raw header {name} must be positive, got {value}")
        if self.source_format not in SOURCE_FORMATS:
            raise MRDeepReconError(f"raw header source format must be one of {SOURCE_FORMATS[1:]}, got {self.source_format!r}")


@dataclass(frozen=True)
class RawKSpace:
    """Multi-coil Cartesian k-space.

    data: complex64 ndarray (coils, slices, ky, kx) — axis 1 = slices for "2D", kz for "3D"; ky =
    phase encoding, kx = readout (oversampling removed); k-space centre at index n // 2 along each k
    axis (centred FFT convention of mrdeeprecon.kspace.fft).
    mask: bool ndarray (slices, ky, kx) or broadcastable to it ((1, ky, kx), (1, ky, 1)): True where
    k-space was acquired.
    noise: complex64 ndarray (coils, samples) of a noise-only scan, or None; the readers give it the
    imaging data's noise variance per sample (readout band and dwell time matched,
    :func:`mrdeeprecon.raw.whitening.noise_scan_for_imaging`). Once pre-whitened, `whitened` is True
    and noise is None.
    """

    data: np.ndarray
    mask: np.ndarray
    header: RawHeader
    noise: np.ndarray | None = None
    whitened: bool = False
    source_path: Path | None = None

    def __post_init__(self) -> None:
        path = self.source_path

        def fail(problem: str) -> None:
            raise MRDeepReconError(problem, path)

        data, mask = self.data, self.mask
        if not isinstance(data, np.ndarray) or data.dtype != np.complex64:
            fail(f"raw k-space data must be a complex64 array, got {getattr(data, 'dtype', type(data).__name__)}")
        if data.ndim != 4:
            fail(f"raw k-space data must have 4 axes (coils, slices, ky, kx), got shape {data.shape}")
        if 0 in data.shape:
            fail(f"raw k-space data is empty, shape {data.shape}")
        if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_:
            fail(f"raw k-space mask must be a boolean array, got {getattr(mask, 'dtype', type(mask).__name__)}")
        if mask.ndim != 3 or any(m not in (1, n) for m, n in zip(mask.shape, data.shape[1:])):
            fail(f"raw k-space mask of shape {mask.shape} does not broadcast to (slices, ky, kx) = {data.shape[1:]}")
        slices, ky, kx = data.shape[1:]
        if tuple(self.header.matrix) != (kx, ky, slices):
            fail(f"raw header matrix (x, y, z) = {tuple(self.header.matrix)} does not match the data's (kx, ky, slices) = {(kx, ky, slices)}")
        if self.noise is not None:
            noise = self.noise
            if not isinstance(noise, np.ndarray) or noise.dtype != np.complex64 or noise.ndim != 2:
                fail(f"noise scan must be a complex64 array (coils, samples), got {getattr(noise, 'dtype', type(noise).__name__)} {getattr(noise, 'shape', '')}")
            if noise.shape[0] != data.shape[0]:
                fail(f"noise scan has {noise.shape[0]} coils, the k-space {data.shape[0]}")
            if self.whitened:
                fail("a pre-whitened raw k-space keeps no noise scan")

    def full_mask(self) -> np.ndarray:
        """The mask broadcast to (slices, ky, kx), a read-only view."""
        return np.broadcast_to(self.mask, self.data.shape[1:])

    def sampled_fraction(self) -> float:
        """Fraction of the (slices, ky, kx) k-space positions that were acquired."""
        return float(self.full_mask().mean())


def complex_four_axes(array: np.ndarray, name: str, layouts: str, path: Path) -> np.ndarray:
    """``array`` checked to be complex and 3D or 4D with no empty axis, a 3D one given a length-1
    second axis (the slices of ``(coils, slices, ky, kx)`` or fastMRI's coils); ``name`` and
    ``layouts`` word the one-line error naming ``path``."""
    if not np.iscomplexobj(array):
        raise MRDeepReconError(f"{name} holds {array.dtype} values, not complex k-space", path)
    if array.ndim == 3:
        array = array[:, None]
    if array.ndim != 4 or 0 in array.shape:
        raise MRDeepReconError(f"{name} has shape {array.shape}; expected {layouts}", path)
    return array
