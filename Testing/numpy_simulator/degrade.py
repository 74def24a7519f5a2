"""The composable, seeded k-space degradation simulator (seed 001, section 2.2).

A clean image is taken to k-space, degraded there (noise, k_max truncation, uniform or random
undersampling, elliptical and partial-Fourier sampling) and reconstructed conventionally
(parallel imaging, partial-Fourier reconstruction, anti-ringing filter, zero-padding or cubic
interpolation, magnitude or real part, intensity normalisation residual, integer quantisation).

Steps of :func:`degrade`:

1. **Acquire.** ``k = fftc(image)`` (orthonormal, all encoding axes), cut to the centred k_max box.
   The box is the *reconstruction grid* (the acquired matrix). With undersampling (``R > 1``) each
   of ``n_coils`` simulated coils acquires ``fftc(S_c · image)`` (:mod:`.coils`); without it there
   are no coils (single channel).
2. **Sample.** Masks on the grid (:mod:`.masks`), combined by AND: elliptical, partial Fourier,
   uniform or random lines. Complex Gaussian noise of σ = ``noise`` × reference level is added to
   every acquired sample (independently per coil, :mod:`.noise`).
3. **Parallel imaging.** Uniform: SENSE unfolding of the lattice lines, calibration lines put back;
   random: CG-SENSE. The coil-combined image's k-space is cut to the acquired extent (elliptical
   and partial-Fourier region).
4. **Partial Fourier** (:mod:`.partial_fourier`): zero filling, homodyne or POCS.
5. **Filter** (:func:`.recon.kspace_window`) over the acquired extent.
6. **Interpolation** to the input's matrix: zero padding of k-space (sinc), or an image on the
   reduced matrix upsampled by cubic convolution.
7. **Display**: magnitude or real part, times the bias field, then integer quantisation.

The same steps without noise give ``noise_free``; ``target`` is the input with step 7 only (no
quantisation). Randomness (random mask, bias field, noise, in that order) comes from one seeded
generator, so a seed reproduces a result exactly.

Axis roles. Arrays are ``(z, y, x)`` for 3D and ``(y, x)`` for 2D. :class:`AxisRoles` names the
array axis of each encoding direction. For a 2D array the roles may be given with 2D indices
(``{frequency, phase} = {0, 1}``, e.g. ``AxisRoles(frequency=1, phase=0)`` when the phase axis is
``y``) or with the (z, y, x) numbering of the slice it came from (``{1, 2}``, so the default
``AxisRoles()`` also means "phase along y"); the slice role is ignored. Tuples of the spec are
ordered (frequency, phase, slice) and (phase, slice) as in :mod:`mrdeeprecon.context`; their slice
entries are ignored for 2D arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mrdeeprecon.errors import MRDeepReconError
from . import coils, masks, noise, partial_fourier, recon
from .fft import fftc, ifftc


@dataclass(frozen=True)
class AxisRoles:
    """Array axes of the encoding directions (see the module docstring for 2D arrays)."""

    frequency: int = 2
    phase: int = 1
    slice: int = 0


@dataclass(frozen=True)
class DegradationSpec:
    """One degradation scenario. Validated on construction (:class:`MRDeepReconError`).

    Attributes:
        noise: σ of complex Gaussian noise per real/imaginary channel, as a fraction of the
            reference level (99th percentile of the clean magnitude unless ``reference_level`` is
            given). At full sampling the image-domain noise SD is σ·level; magnitude images get
            Rician statistics.
        kmax: kept fraction of the k-space extent along (frequency, phase, slice), in (0, 1].
        partial_fourier: acquired fraction along (phase, slice), in [0.5, 1] (at least up to the
            centre line); the missing part is on the high-k side.
        partial_fourier_recon: ``"zero"``, ``"homodyne"`` or ``"pocs"``.
        undersample_uniform: integer R along phase: every R-th line plus the calibration block,
            reconstructed by SENSE with simulated coils.
        undersample_random: R (≥ 1, any real) along phase (and slice for 3D): variable-density random
            samples plus the calibration block, exactly ``round(N / R)`` samples, CG-SENSE. Only
            one of the two undersampling modes may exceed 1.
        calibration_lines: side of the fully sampled central calibration block (lines per axis).
        elliptical: drop the k-space corners of the (phase, slice) plane for 3D, (frequency, phase)
            for 2D (ellipse inscribed in the acquired extent).
        kspace_filter: ``"none"``, ``"hamming"`` or ``"tukey"``.
        zero_pad_interpolation: True: reconstruct on the full grid (sinc interpolation); False:
            reconstruct on the reduced matrix and upsample with cubic interpolation.
        output: ``"magnitude"`` or ``"real"`` (real part after removing a smooth phase).
        bias_field: peak relative amplitude of a smooth multiplicative intensity field, in [0, 1).
        quantize_levels: 0 = none; else round to integers after scaling the 99.9th percentile to
            this many levels, then scale back.
        n_coils: simulated coils for the parallel-imaging paths (≥ R for uniform undersampling).
    """

    noise: float = 0.0
    kmax: tuple[float, float, float] = (1.0, 1.0, 1.0)
    partial_fourier: tuple[float, float] = (1.0, 1.0)
    partial_fourier_recon: str = "zero"
    undersample_uniform: float = 1.0
    undersample_random: float = 1.0
    calibration_lines: int = 24
    elliptical: bool = False
    kspace_filter: str = "none"
    zero_pad_interpolation: bool = True
    output: str = "magnitude"
    bias_field: float = 0.0
    quantize_levels: int = 0
    n_coils: int = 8

    def __post_init__(self) -> None:
        try:
            for name in ("noise", "undersample_uniform", "undersample_random", "bias_field"):
                object.__setattr__(self, name, float(getattr(self, name)))
            object.__setattr__(self, "kmax", tuple(float(k) for k in self.kmax))
            object.__setattr__(self, "partial_fourier", tuple(float(p) for p in self.partial_fourier))
        except (TypeError, ValueError) as exc:
            raise MRDeepReconError(f"degradation fields must be numbers: {exc}") from None
        self.validate()

    def validate(self) -> None:
        """Raise :class:`MRDeepReconError` when a field is outside its range."""
        if not (math.isfinite(self.noise) and self.noise >= 0):
            raise MRDeepReconError(f"noise must be a finite number >= 0, got {self.noise!r}")
        if len(self.kmax) != 3 or not all(0.0 < k <= 1.0 for k in self.kmax):
            raise MRDeepReconError(f"kmax fractions must be three numbers in (0, 1], got {self.kmax}")
        if len(self.partial_fourier) != 2 or not all(0.5 <= p <= 1.0 for p in self.partial_fourier):
            raise MRDeepReconError(
                f"partial Fourier fractions must be two numbers in [0.5, 1], got {self.partial_fourier}"
            )
        if self.partial_fourier_recon not in partial_fourier.METHODS:
            raise MRDeepReconError(
                f"partial_fourier_recon must be one of {partial_fourier.METHODS}, "
                f"got {self.partial_fourier_recon!r}"
            )
        for name in ("undersample_uniform", "undersample_random"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 1.0):
                raise MRDeepReconError(f"{name} must be a finite number >= 1, got {value!r}")
        if self.undersample_uniform != int(self.undersample_uniform):
            raise MRDeepReconError(
                f"undersample_uniform must be an integer, got {self.undersample_uniform!r}"
            )
        if self.undersample_uniform > 1 and self.undersample_random > 1:
            raise MRDeepReconError("choose uniform or random undersampling, not both")
        for name, low in (("calibration_lines", 0), ("quantize_levels", 0), ("n_coils", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise MRDeepReconError(f"{name} must be an integer >= {low}, got {value!r}")
        if self.undersample_uniform > self.n_coils:
            raise MRDeepReconError(
                f"SENSE with R = {self.undersample_uniform:g} needs at least R coils, "
                f"got n_coils = {self.n_coils}"
            )
        if self.kspace_filter not in recon.FILTERS:
            raise MRDeepReconError(
                f"kspace_filter must be one of {recon.FILTERS}, got {self.kspace_filter!r}"
            )
        if self.output not in recon.OUTPUTS:
            raise MRDeepReconError(f"output must be one of {recon.OUTPUTS}, got {self.output!r}")
        if not (0.0 <= self.bias_field < 1.0):
            raise MRDeepReconError(f"bias_field must be in [0, 1), got {self.bias_field!r}")


@dataclass
class DegradeResult:
    """Result of :func:`degrade`; all images float32 with the input's shape.

    Attributes:
        image: the degraded, conventionally reconstructed image.
        noise_free: the same sampling and reconstruction without noise (``image - noise_free``
            is the noise as it appears in the image).
        target: the clean input with full sampling, no noise, no filter, but the same output
            component and bias field (not quantised).
        sigma: absolute σ of the added noise per channel (image units).
        masks: boolean k-space-shaped sampling masks, by name: ``"kmax"``, ``"elliptical"``,
            ``"partial_fourier"``, ``"uniform"``, ``"random"`` (those in use) and ``"acquired"``
            (their AND, always present); every mask is False outside the k_max box.
        low_resolution: only when asked for (``degrade(..., low_resolution=True)``): ``image``
            before interpolation, on the acquired matrix (the k_max box's shape; same noise, same
            reconstruction, output component, bias field and quantisation; intensities on the
            full grid's scale). Its index ``j`` of an axis of ``m`` samples lies at
            ``(j - m // 2) / m`` field of view, like index ``i`` of ``image`` at ``(i - n // 2) / n``.
    """

    image: np.ndarray
    noise_free: np.ndarray
    target: np.ndarray
    sigma: float
    masks: dict[str, np.ndarray]
    low_resolution: np.ndarray | None = None


@dataclass
class _Sampling:
    """What one scenario does to k-space, on the reconstruction grid (the k_max box)."""

    full_shape: tuple[int, ...]
    box: tuple[slice, ...]
    frequency: int
    phase: int
    slice: int | None
    patterns: dict[str, np.ndarray]  # name → grid-broadcastable boolean mask
    acquired: np.ndarray  # grid-shaped
    support: np.ndarray  # grid-broadcastable: acquired extent without undersampling
    pf_counts: dict[int, int]
    sens: np.ndarray | None = None  # (C, *full_shape) for the acquisition
    recon_sens: np.ndarray | None = None  # (C, *grid or SENSE grid)
    unmixing: np.ndarray | None = None
    sense_pad: tuple[int, int] = (0, 0)  # lines added before/after along phase for SENSE

    @property
    def grid(self) -> tuple[int, ...]:
        return tuple(s.stop - s.start for s in self.box)

    @property
    def axes(self) -> tuple[int, ...]:
        return tuple(range(len(self.full_shape)))


def _roles(axes: AxisRoles, ndim: int) -> tuple[int, int, int | None]:
    if ndim == 3:
        roles = (axes.frequency, axes.phase, axes.slice)
        if sorted(roles) != [0, 1, 2]:
            raise MRDeepReconError(f"axis roles of a 3D array must be a permutation of 0, 1, 2, got {axes}")
        return roles
    pair = (axes.frequency, axes.phase)
    if sorted(pair) == [0, 1]:
        return pair[0], pair[1], None
    if sorted(pair) == [1, 2]:
        return pair[0] - 1, pair[1] - 1, None
    raise MRDeepReconError(f"axis roles of a 2D array must be {{0, 1}} or {{1, 2}} (y, x), got {axes}")


def _plan(
    shape: tuple[int, ...],
    spec: DegradationSpec,
    roles: tuple[int, int, int | None],
    rng: np.random.Generator,
) -> _Sampling:
    """Masks and coils of ``spec`` on the reconstruction grid (draws the random mask from ``rng``)."""
    frequency, phase, slice_axis = roles
    ndim = len(shape)
    fractions = {frequency: spec.kmax[0], phase: spec.kmax[1]}
    if slice_axis is not None:
        fractions[slice_axis] = spec.kmax[2]
    box = tuple(masks.centred_extent(shape[a], fractions[a]) for a in range(ndim))
    grid = tuple(s.stop - s.start for s in box)
    patterns: dict[str, np.ndarray] = {}
    if any(grid[a] < shape[a] for a in range(ndim)):
        patterns["kmax"] = np.ones([1] * ndim, dtype=bool)
    if spec.elliptical:
        plane = (phase, slice_axis) if slice_axis is not None else (frequency, phase)
        patterns["elliptical"] = masks.place(masks.elliptical([grid[a] for a in plane]), plane, ndim)
    pf_fractions = {phase: spec.partial_fourier[0]}
    if slice_axis is not None:
        pf_fractions[slice_axis] = spec.partial_fourier[1]
    pf_counts = {a: masks.partial_fourier_count(grid[a], f) for a, f in pf_fractions.items()}
    pf_counts = {a: c for a, c in pf_counts.items() if c < grid[a]}
    if pf_counts:
        patterns["partial_fourier"] = partial_fourier.acquired_region(grid, pf_counts)
    support = np.ones([1] * ndim, dtype=bool)
    for pattern in patterns.values():
        support = support & pattern
    if spec.undersample_uniform > 1:
        lines = masks.uniform_lines(grid[phase], int(spec.undersample_uniform), spec.calibration_lines)
        patterns["uniform"] = masks.place(lines, [phase], ndim)
    elif spec.undersample_random > 1:
        plane = (phase,) if slice_axis is None else (phase, slice_axis)
        pattern = masks.random_pattern(
            [grid[a] for a in plane], spec.undersample_random, spec.calibration_lines, rng
        )
        patterns["random"] = masks.place(pattern, plane, ndim)
    acquired = np.broadcast_to(support & patterns.get("uniform", patterns.get("random", True)), grid)
    sampling = _Sampling(shape, box, frequency, phase, slice_axis, patterns, acquired, support, pf_counts)
    if "uniform" in patterns or "random" in patterns:
        _add_coils(sampling, spec)
    return sampling


def _add_coils(sampling: _Sampling, spec: DegradationSpec) -> None:
    """Coil sensitivities for acquisition (full grid) and reconstruction (grid, padded for SENSE)."""
    roles = (sampling.frequency, sampling.phase, sampling.slice)
    sampling.sens = coils.coil_sensitivities(sampling.full_shape, spec.n_coils, *roles)
    recon_shape = list(sampling.grid)
    if spec.undersample_uniform > 1:
        r = int(spec.undersample_uniform)
        n = recon_shape[sampling.phase]
        padded = -(-n // r) * r
        before = padded // 2 - n // 2
        sampling.sense_pad = (before, padded - n - before)
        recon_shape[sampling.phase] = padded
    if tuple(recon_shape) == sampling.full_shape:
        sampling.recon_sens = sampling.sens
    else:
        sampling.recon_sens = coils.coil_sensitivities(recon_shape, spec.n_coils, *roles)
    if spec.undersample_uniform > 1:
        sampling.unmixing = coils.sense_unmixing(
            sampling.recon_sens, int(spec.undersample_uniform), sampling.phase
        )


def _acquire(image: np.ndarray, sampling: _Sampling) -> np.ndarray:
    """Noise-free k-space on the grid: ``(*grid)`` single channel or ``(C, *grid)`` per coil."""
    if sampling.sens is None:
        return fftc(image, sampling.axes)[sampling.box]
    coil_axes = tuple(a + 1 for a in sampling.axes)
    return fftc(sampling.sens * image, coil_axes)[(slice(None), *sampling.box)]


def _parallel_imaging(kspace: np.ndarray, sampling: _Sampling) -> np.ndarray:
    """Coil-combined k-space on the grid, cut to the acquired extent."""
    if sampling.unmixing is not None:
        phase = sampling.phase
        pad = [(0, 0)] * kspace.ndim
        pad[phase + 1] = sampling.sense_pad
        padded = np.pad(kspace, pad)
        image = coils.sense_unfold(padded, sampling.unmixing, phase)
        acquired = np.pad(sampling.acquired, pad[1:])
        n = padded.shape[phase + 1]
        off_lattice = ~masks.lattice_lines(n, sampling.unmixing.shape[0])
        restore = acquired & masks.place(off_lattice, [phase], len(sampling.grid))
        if restore.any():
            image = coils.restore_acquired(image, padded, restore, sampling.recon_sens)
        crop = [slice(None)] * len(sampling.grid)
        crop[phase] = slice(sampling.sense_pad[0], sampling.sense_pad[0] + sampling.grid[phase])
        combined = fftc(image, sampling.axes)[tuple(crop)]
    else:
        image = coils.cg_sense(kspace, sampling.acquired, sampling.recon_sens)
        combined = fftc(image, sampling.axes)
    return combined * sampling.support


def _grid_kspace(kspace: np.ndarray, sampling: _Sampling, spec: DegradationSpec) -> np.ndarray:
    """Complete, filtered k-space on the grid: parallel imaging, partial Fourier, filter."""
    if sampling.sens is not None:
        kspace = _parallel_imaging(kspace, sampling)
    axes = sampling.axes
    kspace = partial_fourier.reconstruct(kspace, sampling.pf_counts, axes, spec.partial_fourier_recon)
    if spec.kspace_filter != "none":
        kspace = kspace * recon.kspace_window(spec.kspace_filter, kspace.shape, axes)
    return kspace


def _on_grid(kspace: np.ndarray, sampling: _Sampling) -> np.ndarray:
    """Complex image on the grid (the acquired matrix), scaled to the full grid's intensities."""
    scale = math.sqrt(math.prod(sampling.grid) / math.prod(sampling.full_shape))
    return ifftc(kspace, sampling.axes) * np.float32(scale)


def _reconstruct(kspace: np.ndarray, sampling: _Sampling, spec: DegradationSpec) -> np.ndarray:
    """Complex image from grid k-space: on the full grid, or the grid when not zero-padding."""
    if spec.zero_pad_interpolation:
        return ifftc(recon.zero_pad(kspace, sampling.full_shape, sampling.box), sampling.axes)
    return _on_grid(kspace, sampling)


def _display(
    image: np.ndarray, sampling: _Sampling, spec: DegradationSpec, field: np.ndarray | None
) -> np.ndarray:
    """Output component on the full grid, times the bias field."""
    out = recon.extract(image, spec.output, sampling.axes)
    if out.shape != sampling.full_shape:
        out = recon.cubic_resample(out, sampling.full_shape)
    return out if field is None else out * field


def _display_on_grid(
    kspace: np.ndarray, sampling: _Sampling, spec: DegradationSpec, field: np.ndarray | None
) -> np.ndarray:
    """Output component on the grid (the acquired matrix), times the bias field sampled there."""
    out = recon.extract(_on_grid(kspace, sampling), spec.output, sampling.axes)
    return out if field is None else out * recon.cubic_resample(field, sampling.grid)


def _full_masks(sampling: _Sampling) -> dict[str, np.ndarray]:
    result = {}
    for name, pattern in {**sampling.patterns, "acquired": sampling.acquired}.items():
        full = np.zeros(sampling.full_shape, dtype=bool)
        full[sampling.box] = pattern
        result[name] = full
    return result


def degrade(
    image: np.ndarray,
    spec: DegradationSpec,
    axes: AxisRoles = AxisRoles(),
    rng: np.random.Generator | int | None = None,
    reference_level: float | None = None,
    low_resolution: bool = False,
) -> DegradeResult:
    """Degrade ``image`` in k-space as ``spec`` says and reconstruct it conventionally.

    Args:
        image: real or complex array, 2D ``(y, x)`` or 3D ``(z, y, x)`` (see :class:`AxisRoles`).
        spec: the degradation scenario.
        axes: array axes of the frequency, phase and slice encoding directions.
        rng: generator or seed; the same seed gives the same result.
        reference_level: intensity that ``spec.noise`` is relative to (image units); default the
            99th percentile of ``|image|``.
        low_resolution: also return the degraded image on the acquired matrix
            (:attr:`DegradeResult.low_resolution`); costs one inverse FFT of that matrix.

    Returns:
        :class:`DegradeResult` with float32 images of the input's shape (``low_resolution``:
        the acquired matrix's).

    Raises:
        MRDeepReconError: bad array, axis roles or reference level.
    """
    spec.validate()
    data = np.asarray(image)
    if data.ndim not in (2, 3) or data.size == 0:
        raise MRDeepReconError(f"degrade needs a 2D or 3D image, got shape {data.shape}")
    if not np.issubdtype(data.dtype, np.number) or not np.all(np.isfinite(data)):
        raise MRDeepReconError("degrade needs a finite numeric image")
    roles = _roles(axes, data.ndim)
    rng = np.random.default_rng(rng)
    clean = data.astype(np.complex64)
    level = noise.reference_level(data) if reference_level is None else float(reference_level)
    if spec.noise > 0 and not (math.isfinite(level) and level > 0):
        raise MRDeepReconError(f"noise needs a positive reference level, got {level!r}")
    sigma = float(spec.noise * level)

    sampling = _plan(data.shape, spec, roles, rng)
    field = recon.bias_field(data.shape, spec.bias_field, rng) if spec.bias_field > 0 else None
    kspace = _acquire(clean, sampling) * sampling.acquired
    acquired = _grid_kspace(kspace, sampling, spec)
    noise_free = _display(_reconstruct(acquired, sampling, spec), sampling, spec, field)
    if sigma > 0:
        noisy = kspace + noise.complex_gaussian(kspace.shape, sigma, rng) * sampling.acquired
        acquired = _grid_kspace(noisy, sampling, spec)
        degraded = _display(_reconstruct(acquired, sampling, spec), sampling, spec, field)
    else:
        degraded = noise_free.copy()
    reduced = _display_on_grid(acquired, sampling, spec, field) if low_resolution else None
    if spec.quantize_levels > 0:
        degraded, step = recon.quantize(degraded, spec.quantize_levels)
        noise_free, _ = recon.quantize(noise_free, spec.quantize_levels, step)
        if reduced is not None:
            reduced, _ = recon.quantize(reduced, spec.quantize_levels, step)
    target = recon.extract(clean, spec.output, sampling.axes)
    if field is not None:
        target = target * field
    return DegradeResult(
        image=degraded.astype(np.float32),
        noise_free=noise_free.astype(np.float32),
        target=target.astype(np.float32),
        sigma=sigma,
        masks=_full_masks(sampling),
        low_resolution=None if reduced is None else reduced.astype(np.float32),
    )

