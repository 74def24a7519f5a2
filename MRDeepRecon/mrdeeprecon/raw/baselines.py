"""Classical reconstructions of raw multi-coil k-space with sigpy, on the CPU, one slice at a time.

Every method takes a :class:`~mrdeeprecon.raw.kspace_data.RawKSpace` and returns a
:class:`Reconstruction`: the complex image ``(slices, y, x)`` (complex64) and the coil maps it used.

* **Coil maps**: ESPIRiT (``sigpy.mri.app.EspiritCalib``; Uecker et al. 2014) from the fully
  sampled centre of each slice's k-space (the largest centred square that is fully sampled, at most
  :data:`MAX_CALIBRATION_WIDTH`), kernel 6, eigenvalue threshold 0.02, maps cropped where the
  eigenvalue is below 0.95 (BART's ``ecalib`` defaults): ``Σ_c |S_c|² = 1`` inside the object, 0
  outside.
* ``zerofill``: root-sum-of-squares of the zero-filled coil images; returned with the phase of the
  sensitivity-weighted combination ``Σ_c S_c* c_c`` so that its data consistency is measured like the
  others' (the magnitude is the RSS).
* ``sense``: CG-SENSE, sigpy's ``SenseRecon`` (conjugate gradient on
  ``½‖W^½(A x − y)‖² + ½λ‖x‖²``, ``W`` the sampling mask, from ``x = 0``), λ and the number of
  iterations (stopping CG early is itself a regulariser) read from
  :data:`SENSE_SETTINGS_BY_ACCELERATION` at the data's acceleration. λ is dimensionless and absolute:
  both terms have the units of ``|y|²`` (``A`` is dimensionless, with ``AᴴA`` of scale 1 since the
  FFT is orthonormal and ``Σ_c |S_c|² = 1``), and the CG iterates from zero are linear in ``y``, so
  scaling the data scales the image and leaves the best λ unchanged (unlike the L1 weight, which
  carries the units of ``|y|`` and is therefore made relative). What λ does depend on is the
  signal-to-noise ratio, which the validation below matches to the test data.
* ``l1wavelet``: ``sigpy.mri.app.L1WaveletRecon`` (``½‖W^½(A x − y)‖² + λ‖Ψ x‖₁``, Daubechies-4
  wavelets, accelerated proximal gradient, :data:`L1_ITERATIONS` iterations), with
  ``λ = λ_rel · s``: ``s`` the 99th percentile of ``|Aᴴ y|`` (so λ follows the data's scale) and
  ``λ_rel`` read from :data:`L1_LAMBDA_BY_ACCELERATION` at the data's acceleration, zero outside the
  coil maps' support (the wavelet shrinkage leaves blocky values there that no sample constrains).

Both tables are keyed by the effective acceleration R and read by :func:`value_at_acceleration`
(log-linear in R, held constant outside the table). They were chosen per R by PSNR on a validation
slice (``benchmarks/raw.py``: a real T2 slice with simulated coils at the noise level of
``espirit_full``, not the benchmark's test data; ``benchmarks/RAW.md``).

A "3D" acquisition whose mask does not change along kz is first transformed along kz (hybrid
space), so that its partitions are slices; undersampling along kz is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

import numpy as np
import torch

from ..errors import MRDeepReconError
from ..kspace.fft import ifftc
from ..progress import CancelToken, ProgressCallback, check, part, report
from .kspace_data import RawKSpace
from .operators import SenseOperator

METHODS = ("zerofill", "sense", "l1wavelet")

MIN_CALIBRATION_WIDTH = 8
"""Smallest fully sampled centre (k-space samples across) that ESPIRiT is given."""
MAX_CALIBRATION_WIDTH = 24
"""Largest calibration region used (BART's default): more adds time, not accuracy."""
ESPIRIT_SETTINGS = {"kernel_width": 6, "thresh": 0.02, "crop": 0.95, "max_iter": 100}
"""``sigpy.mri.app.EspiritCalib`` settings (BART ``ecalib`` defaults)."""

SENSE_SETTINGS_BY_ACCELERATION: dict[float, tuple[float, int]] = {1.9: (3e-3, 4), 3.55: (1e-2, 6), 4.94: (1e-2, 6), 6.33: (3e-3, 6)}
"""CG-SENSE (Tikhonov weight λ of ``½λ‖x‖²``, dimensionless; conjugate-gradient iterations) by
effective acceleration R (see the module docstring): the validation's choice
(``benchmarks/raw.py --validation-only``) for nominal R = 2, 4, 6, 8 (uniform + 24 lines and Poisson
disc), keyed by the two masks' mean effective R. Early stopping is the main regulariser there: past
about 6 iterations the noise amplification outgrows the unaliasing."""
L1_ITERATIONS = 100
"""L1-wavelet proximal-gradient iterations."""
L1_LAMBDA_BY_ACCELERATION = {1.9: 3e-3, 3.55: 3e-3, 4.94: 3e-3, 6.33: 3e-3}
"""λ_rel of the L1-wavelet reconstruction by effective acceleration R (see the module docstring):
the validation's choice for nominal R = 2, 4, 6, 8 (uniform + 24 lines and Poisson disc), keyed by
the two masks' mean effective R (``benchmarks/RAW.md``)."""


@dataclass(frozen=True)
class Reconstruction:
    """A reconstructed complex image and how it was made.

    Attributes:
        image: complex64 ``(slices, y, x)``.
        maps: the ESPIRiT coil maps, complex64 ``(coils, slices, y, x)``.
        kspace: the k-space the image was made from, complex64 ``(coils, slices, ky, kx)`` (the
            raw data, or its hybrid space for a 3D acquisition).
        mask: its sampled positions, bool, broadcastable to ``(slices, ky, kx)``.
        method: one of :data:`METHODS`.
        parameters: the method's settings (JSON-ready).
    """

    image: np.ndarray
    maps: np.ndarray
    kspace: np.ndarray
    mask: np.ndarray
    method: str
    parameters: dict[str, Any] = field(default_factory=dict)


def slice_kspace(raw: RawKSpace) -> tuple[np.ndarray, np.ndarray]:
    """The k-space as independent slices: ``(coils, slices, ky, kx)`` and its mask.

    "2D": the data as they are. "3D": the inverse FFT along kz (partitions → slices), allowed only
    when the mask is the same in every partition."""
    if raw.header.acquisition == "2D" or raw.data.shape[1] == 1:
        return raw.data, raw.mask
    if raw.mask.shape[0] != 1 and not np.all(raw.mask == raw.mask[:1]):
        raise MRDeepReconError("3D k-space undersampled along kz is not supported yet (only ky/kx undersampling)", raw.source_path)
    return ifftc(raw.data, (1,)).astype(np.complex64), raw.mask[:1]


def calibration_width(mask: np.ndarray) -> int:
    """Width of the largest centred square of ``mask`` ``(ky, kx)`` that is fully sampled, at most
    :data:`MAX_CALIBRATION_WIDTH` (0 when the centre sample is missing)."""
    ny, nx = mask.shape
    width = 0
    for w in range(1, min(ny, nx, MAX_CALIBRATION_WIDTH) + 1):
        y0, x0 = ny // 2 - w // 2, nx // 2 - w // 2
        if not mask[y0 : y0 + w, x0 : x0 + w].all():
            break
        width = w
    return width


def espirit_maps(
    kspace: np.ndarray, mask: np.ndarray, progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None
) -> tuple[np.ndarray, int]:
    """ESPIRiT coil maps of every slice: complex64 ``(coils, slices, y, x)``, and the calibration
    width used (the smallest over the slices).

    Raises:
        MRDeepReconError: when a slice's fully sampled centre is narrower than
            :data:`MIN_CALIBRATION_WIDTH`.
    """
    from sigpy.mri.app import EspiritCalib

    coils, slices = kspace.shape[:2]
    full_mask = np.broadcast_to(mask, kspace.shape[1:])
    maps = np.empty_like(kspace)
    widths = []
    for s in range(slices):
        check(cancel)
        width = calibration_width(full_mask[s])
        if width < MIN_CALIBRATION_WIDTH:
            raise MRDeepReconError(
                f"slice {s}: the fully sampled k-space centre is {width} samples wide; ESPIRiT needs at least {MIN_CALIBRATION_WIDTH}"
            )
        maps[:, s] = EspiritCalib(kspace[:, s], calib_width=width, show_pbar=False, **ESPIRIT_SETTINGS).run()
        widths.append(width)
        report(progress, (s + 1) / slices, f"coil maps: slice {s + 1}/{slices}")
    return maps, min(widths)


def acceleration(mask: np.ndarray, shape: tuple[int, ...]) -> float:
    """R: the number of k-space positions ``(slices, ky, kx)`` per acquired one."""
    return float(1.0 / max(np.broadcast_to(mask, shape).mean(), 1e-12))


def value_at_acceleration(table: Mapping[float, float], r: float) -> float:
    """The value of ``table`` (effective acceleration R → a positive setting) at acceleration ``r``:
    its logarithm interpolated linearly in R, the end values held outside the table's range."""
    rs = np.array(sorted(table))
    return float(np.exp(np.interp(r, rs, np.log([table[x] for x in rs]))))


def sense_settings_for(r: float, table: Mapping[float, tuple[float, int]] | None = None) -> tuple[float, int]:
    """CG-SENSE ``(λ, iterations)`` of ``table`` (default :data:`SENSE_SETTINGS_BY_ACCELERATION`) at
    acceleration ``r``, each read by :func:`value_at_acceleration` (the iterations rounded to the
    nearest integer)."""
    table = SENSE_SETTINGS_BY_ACCELERATION if table is None else table
    lamda = value_at_acceleration({k: v[0] for k, v in table.items()}, r)
    iterations = value_at_acceleration({k: v[1] for k, v in table.items()}, r)
    return lamda, round(iterations)


def _zerofill(kspace: np.ndarray, mask: np.ndarray, maps: np.ndarray) -> np.ndarray:
    coil_images = ifftc(kspace * mask, (-2, -1))
    rss = np.sqrt(np.sum(np.abs(coil_images) ** 2, axis=0))
    combined = np.sum(np.conj(maps) * coil_images, axis=0)
    return (rss * np.exp(1j * np.angle(combined))).astype(np.complex64)


def _per_slice(
    solve: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
    kspace: np.ndarray,
    mask: np.ndarray,
    maps: np.ndarray,
    label: str,
    progress: Optional[ProgressCallback],
    cancel: Optional[CancelToken],
) -> np.ndarray:
    """``solve(kspace (coils, ky, kx), weights (ky, kx), maps (coils, y, x))`` for every slice."""
    slices = kspace.shape[1]
    full_mask = np.broadcast_to(mask, kspace.shape[1:])
    image = np.empty(kspace.shape[1:], np.complex64)
    for s in range(slices):
        check(cancel)
        image[s] = solve(kspace[:, s], full_mask[s].astype(np.float32), maps[:, s])
        report(progress, (s + 1) / slices, f"{label}: slice {s + 1}/{slices}")
    return image


def reconstruct_baseline(
    raw: RawKSpace,
    method: str,
    progress: Optional[ProgressCallback] = None,
    cancel: Optional[CancelToken] = None,
    maps: np.ndarray | None = None,
    l1_lambda_relative: float | None = None,
    sense_lambda: float | None = None,
    sense_iterations: int | None = None,
) -> Reconstruction:
    """Reconstruct ``raw`` with ``method`` (one of :data:`METHODS`) on the CPU.

    Args:
        raw: the k-space.
        method: ``"zerofill"``, ``"sense"`` or ``"l1wavelet"``.
        progress, cancel: progress callback (coil maps: the first 30 %) and cancel token, checked
            between slices.
        maps: coil maps ``(coils, slices, y, x)`` to use instead of estimating them (ESPIRiT).
        l1_lambda_relative: λ_rel of ``l1wavelet`` instead of the table's (benchmarks' validation search).
        sense_lambda, sense_iterations: λ (dimensionless) and CG iterations of ``sense`` instead of
            the table's (benchmarks' validation search).
    """
    from sigpy.mri.app import L1WaveletRecon, SenseRecon

    if method not in METHODS:
        raise MRDeepReconError(f"unknown reconstruction method {method!r}; one of {', '.join(METHODS)}")
    kspace, mask = slice_kspace(raw)
    r = acceleration(mask, kspace.shape[1:])
    parameters: dict[str, Any] = {"acceleration": r, "espirit": dict(ESPIRIT_SETTINGS)}
    maps_share = 0.3
    if maps is None:
        maps, width = espirit_maps(kspace, mask, part(progress, 0.0, maps_share), cancel)
        parameters["espirit"]["calib_width"] = width
    else:
        parameters["espirit"] = "given"
    rest = part(progress, maps_share, 1.0 - maps_share)
    if method == "zerofill":
        image = _zerofill(kspace, mask, maps)
        report(progress, 1.0, "zero-filled")
    elif method == "sense":
        table_lambda, table_iterations = sense_settings_for(r)
        lamda = sense_lambda if sense_lambda is not None else table_lambda
        iterations = sense_iterations if sense_iterations is not None else table_iterations
        parameters.update(solver="sigpy.mri.app.SenseRecon (CG)", lamda=lamda, iterations=iterations)
        image = _per_slice(
            lambda y, w, s: SenseRecon(y, s, lamda=lamda, weights=w, max_iter=iterations, show_pbar=False).run(),
            kspace, mask, maps, "CG-SENSE", rest, cancel,
        )
    else:
        relative = l1_lambda_relative if l1_lambda_relative is not None else value_at_acceleration(L1_LAMBDA_BY_ACCELERATION, r)
        adjoint = SenseOperator(torch.from_numpy(maps), torch.from_numpy(np.ascontiguousarray(mask))).adjoint(torch.from_numpy(kspace))
        scale = float(np.percentile(np.abs(adjoint.numpy()), 99))
        lamda = relative * scale
        parameters.update(
            solver="sigpy.mri.app.L1WaveletRecon (db4, accelerated proximal gradient)",
            lamda_relative=relative, lamda=lamda, iterations=L1_ITERATIONS,
        )
        image = _per_slice(
            lambda y, w, s: L1WaveletRecon(y, s, lamda, weights=w, max_iter=L1_ITERATIONS, show_pbar=False).run(),
            kspace, mask, maps, "L1-wavelet", rest, cancel,
        )
        image = image * np.any(maps != 0, axis=0)  # zero where no coil map reaches: no sample constrains it
    return Reconstruction(image=image.astype(np.complex64), maps=maps, kspace=kspace, mask=mask, method=method, parameters=parameters)
