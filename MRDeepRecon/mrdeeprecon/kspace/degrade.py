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
torch generator, so a seed reproduces a result exactly on the same device.

Two entry points share these steps. :func:`degrade_batch` degrades a batch of equally shaped
torch tensors ``(B, *grid)`` on their device with one scenario: every image gets its own random
mask, bias field and noise, the masks and coils are shared. It is what training draws its pairs
with, on the CPU or a GPU. :func:`degrade` is the same for one numpy image (the CLI, evaluation).

Axis roles. Arrays are ``(z, y, x)`` for 3D and ``(y, x)`` for 2D (the conventions of
:mod:`mrdeeprecon.sampling`). :class:`AxisRoles` names the array axis of each encoding direction;
``AxisRoles.for_phase_axis(phase_axis)`` gives them for a ``KSpaceSampling.phase_axis``. For a 2D
array the roles may be given with 2D indices (``{frequency, phase} = {0, 1}``, e.g.
``AxisRoles(frequency=1, phase=0)`` when the phase axis is ``y``) or with the (z, y, x) numbering
of the slice it came from (``{1, 2}``, so the default ``AxisRoles()`` also means "phase along y");
the slice role is ignored. Tuples of the spec are ordered (frequency, phase, slice) and (phase,
slice) as in :mod:`mrdeeprecon.sampling`; their slice entries are ignored for 2D arrays. The spec
states a change of sampling relative to the input; the sampling after it is
:meth:`mrdeeprecon.sampling.KSpaceSampling.degraded_by`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import MRDeepReconError
from ..sampling import check_kmax, check_partial_fourier, frequency_axis_of
from . import coils, masks, partial_fourier, recon
from .fft import fftc, ifftc
from .noise import complex_gaussian, reference_levels


@dataclass(frozen=True)
class AxisRoles:
    """Array axes of the encoding directions (see the module docstring for 2D arrays)."""

    frequency: int = 2
    phase: int = 1
    slice: int = 0

    @classmethod
    def for_phase_axis(cls, phase_axis: int) -> "AxisRoles":
        """Roles in a ``(z, y, x)`` array, or a ``(y, x)`` slice of one, whose phase encoding runs
        along array axis ``phase_axis`` (1 = y, 2 = x, as ``KSpaceSampling.phase_axis``)."""
        return cls(frequency=frequency_axis_of(phase_axis), phase=phase_axis, slice=0)


@dataclass(frozen=True)
class DegradationSpec:
    """One degradation scenario: a change of the input's k-space sampling, noise and the
    conventional reconstruction. Validated on construction (:class:`MRDeepReconError`).

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
        check_kmax(self.kmax)
        check_partial_fourier(self.partial_fourier)
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
    """Result of :func:`degrade`; all images float32 numpy arrays with the input's shape.

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
class DegradedBatch:
    """Result of :func:`degrade_batch`: the fields of :class:`DegradeResult` for a batch, as
    float32 tensors ``(B, *grid)`` on the input's device; ``sigma`` is ``(B,)`` and each mask is
    ``(B or 1, *grid)`` (shared masks are not repeated); ``noise_free`` is ``None`` unless asked
    for."""

    image: torch.Tensor
    noise_free: torch.Tensor | None
    target: torch.Tensor
    sigma: torch.Tensor
    masks: dict[str, torch.Tensor]
    low_resolution: torch.Tensor | None = None


@dataclass
class _Sampling:
    """What one scenario does to k-space, on the reconstruction grid (the k_max box).

    Masks are boolean tensors of the grid's rank, broadcastable to it, or of rank + 1 with a
    leading batch axis when they differ per image (random undersampling).
    """

    full_shape: tuple[int, ...]
    box: tuple[slice, ...]
    frequency: int
    phase: int
    slice: int | None
    patterns: dict[str, torch.Tensor]  # name → grid-broadcastable boolean mask
    acquired: torch.Tensor  # grid-shaped, or (B, *grid)
    support: torch.Tensor  # grid-broadcastable: acquired extent without undersampling
    pf_counts: dict[int, int]
    sens: torch.Tensor | None = None  # (C, *full_shape) for the acquisition
    recon_sens: torch.Tensor | None = None  # (C, *grid or SENSE grid)
    unmixing: torch.Tensor | None = None
    sense_pad: tuple[int, int] = (0, 0)  # lines added before/after along phase for SENSE
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def grid(self) -> tuple[int, ...]:
        return tuple(s.stop - s.start for s in self.box)

    @property
    def axes(self) -> tuple[int, ...]:
        """The grid axes ``0 … ndim-1`` (encoding axes, all transformed)."""
        return tuple(range(len(self.full_shape)))

    @property
    def dims(self) -> tuple[int, ...]:
        """The grid axes counted from the end of a batch or coil tensor."""
        return tuple(range(-len(self.full_shape), 0))

    def coil_mask(self, mask: torch.Tensor) -> torch.Tensor:
        """``mask`` broadcastable against coil tensors ``(B, C, *grid)``."""
        return mask.unsqueeze(1) if mask.dim() > len(self.full_shape) else mask


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
    generator: torch.Generator | None,
    batch: int,
    device: torch.device,
) -> _Sampling:
    """Masks and coils of ``spec`` on the reconstruction grid (draws the random masks)."""
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
    on_device = {name: torch.from_numpy(np.ascontiguousarray(p)).to(device) for name, p in patterns.items()}
    if spec.undersample_random > 1:
        plane = (phase,) if slice_axis is None else (phase, slice_axis)
        drawn = masks.random_pattern(
            [grid[a] for a in plane], spec.undersample_random, spec.calibration_lines, generator, batch, device
        )
        order = np.argsort(plane)
        placed = [1] * ndim
        for d in order:
            placed[plane[d]] = drawn.shape[1 + d]
        on_device["random"] = drawn.permute(0, *(1 + order)).reshape(batch, *placed)
    support_t = torch.from_numpy(support).to(device)
    undersampling = on_device.get("uniform", on_device.get("random"))
    acquired = support_t if undersampling is None else support_t & undersampling
    acquired = acquired.expand(*acquired.shape[: acquired.dim() - ndim], *grid)
    sampling = _Sampling(
        shape, box, frequency, phase, slice_axis, on_device, acquired, support_t, pf_counts, device=device
    )
    if undersampling is not None:
        _add_coils(sampling, spec)
    return sampling


def _add_coils(sampling: _Sampling, spec: DegradationSpec) -> None:
    """Coil sensitivities for acquisition (full grid) and reconstruction (grid, padded for SENSE)."""
    roles = (sampling.frequency, sampling.phase, sampling.slice)
    sampling.sens = coils.coil_sensitivities(sampling.full_shape, spec.n_coils, *roles, device=sampling.device)
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
        sampling.recon_sens = coils.coil_sensitivities(recon_shape, spec.n_coils, *roles, device=sampling.device)
    if spec.undersample_uniform > 1:
        sampling.unmixing = coils.unmixing_for(
            tuple(recon_shape), spec.n_coils, *roles, int(spec.undersample_uniform), device=sampling.device
        )


def _acquire(image: torch.Tensor, sampling: _Sampling) -> torch.Tensor:
    """Noise-free k-space on the grid: ``(B, *grid)`` single channel or ``(B, C, *grid)`` per coil."""
    if sampling.sens is None:
        return fftc(image, sampling.dims)[(..., *sampling.box)]
    return fftc(sampling.sens * image.unsqueeze(1), sampling.dims)[(..., *sampling.box)]


def _parallel_imaging(kspace: torch.Tensor, sampling: _Sampling) -> torch.Tensor:
    """Coil-combined k-space ``(B, *grid)``, cut to the acquired extent."""
    ndim = len(sampling.grid)
    if sampling.unmixing is not None:
        phase = sampling.phase
        pad = [0, 0] * ndim  # torch.nn.functional.pad order: last axis first
        pad[2 * (ndim - 1 - phase)] = sampling.sense_pad[0]
        pad[2 * (ndim - 1 - phase) + 1] = sampling.sense_pad[1]
        padded = torch.nn.functional.pad(kspace, pad)
        image = coils.sense_unfold(padded, sampling.unmixing, phase)
        acquired = torch.nn.functional.pad(sampling.acquired.to(torch.uint8), pad).bool()
        n = padded.shape[phase - ndim]
        off_lattice = ~masks.lattice_lines(n, sampling.unmixing.shape[0])
        restore = acquired & torch.from_numpy(masks.place(off_lattice, [phase], ndim)).to(kspace.device)
        if bool(restore.any()):
            image = coils.restore_acquired(image, padded, sampling.coil_mask(restore), sampling.recon_sens)
        combined = fftc(image, sampling.dims).narrow(phase - ndim, sampling.sense_pad[0], sampling.grid[phase])
    else:
        image = coils.cg_sense(kspace, sampling.acquired, sampling.recon_sens)
        combined = fftc(image, sampling.dims)
    return combined * sampling.support


def _grid_kspace(kspace: torch.Tensor, sampling: _Sampling, spec: DegradationSpec) -> torch.Tensor:
    """Complete, filtered k-space ``(B, *grid)``: parallel imaging, partial Fourier, filter."""
    if sampling.sens is not None:
        kspace = _parallel_imaging(kspace, sampling)
    kspace = partial_fourier.reconstruct(kspace, sampling.pf_counts, sampling.axes, spec.partial_fourier_recon)
    if spec.kspace_filter != "none":
        window = recon.kspace_window(spec.kspace_filter, sampling.grid, sampling.axes)
        kspace = kspace * torch.from_numpy(window).to(kspace.device)
    return kspace


def _on_grid(kspace: torch.Tensor, sampling: _Sampling) -> torch.Tensor:
    """Complex images on the grid (the acquired matrix), scaled to the full grid's intensities."""
    scale = math.sqrt(math.prod(sampling.grid) / math.prod(sampling.full_shape))
    return ifftc(kspace, sampling.dims) * scale


def _reconstruct(kspace: torch.Tensor, sampling: _Sampling, spec: DegradationSpec) -> torch.Tensor:
    """Complex images from grid k-space: on the full grid, or the grid when not zero-padding."""
    if spec.zero_pad_interpolation:
        return ifftc(recon.zero_pad(kspace, sampling.full_shape, sampling.box), sampling.dims)
    return _on_grid(kspace, sampling)


def _display(
    image: torch.Tensor, sampling: _Sampling, spec: DegradationSpec, field: torch.Tensor | None
) -> torch.Tensor:
    """Output component on the full grid, times the bias field."""
    out = recon.extract(image, spec.output, sampling.axes)
    if tuple(out.shape[1:]) != sampling.full_shape:
        out = recon.cubic_resample(out, sampling.full_shape)
    return out if field is None else out * field


def _display_on_grid(
    kspace: torch.Tensor, sampling: _Sampling, spec: DegradationSpec, field: torch.Tensor | None
) -> torch.Tensor:
    """Output component on the grid (the acquired matrix), times the bias field sampled there."""
    out = recon.extract(_on_grid(kspace, sampling), spec.output, sampling.axes)
    return out if field is None else out * recon.cubic_resample(field, sampling.grid)


def _full_masks(sampling: _Sampling) -> dict[str, torch.Tensor]:
    result = {}
    ndim = len(sampling.full_shape)
    for name, pattern in {**sampling.patterns, "acquired": sampling.acquired}.items():
        leading = pattern.shape[: pattern.dim() - ndim] if pattern.dim() > ndim else (1,)
        full = torch.zeros((*leading, *sampling.full_shape), dtype=torch.bool, device=sampling.device)
        full[(..., *sampling.box)] = pattern
        result[name] = full
    return result


def seeded_generator(rng: torch.Generator | int | None, device: torch.device | str = "cpu") -> torch.Generator:
    """``rng`` itself when it is a generator, else a generator on ``device`` seeded with ``rng``
    (``None``: from the operating system's entropy)."""
    if isinstance(rng, torch.Generator):
        return rng
    generator = torch.Generator(device=device)
    if rng is None:
        generator.seed()
    else:
        generator.manual_seed(int(rng))
    return generator


def degrade_batch(
    images: torch.Tensor,
    spec: DegradationSpec,
    axes: AxisRoles = AxisRoles(),
    generator: torch.Generator | int | None = None,
    reference_level: torch.Tensor | float | None = None,
    low_resolution: bool = False,
    noise_free: bool = True,
) -> DegradedBatch:
    """Degrade a batch of images in k-space as ``spec`` says and reconstruct them conventionally.

    Args:
        images: real or complex tensor ``(B, *grid)``, the grid 2D ``(y, x)`` or 3D ``(z, y, x)``
            (see :class:`AxisRoles`); all work happens on its device.
        spec: the degradation scenario, shared by the batch.
        axes: grid axes of the frequency, phase and slice encoding directions.
        generator: torch generator on the images' device, or a seed; the same seed gives the same
            result on the same device.
        reference_level: intensity that ``spec.noise`` is relative to (image units), one for all
            or one per image ``(B,)``; default each image's 99th percentile of ``|image|``.
        low_resolution: also return the degraded images on the acquired matrix.
        noise_free: also reconstruct the images without noise (``False`` saves a second pass
            through the reconstruction when there is noise; ``noise_free`` is then ``None``).

    Returns:
        :class:`DegradedBatch`.

    Raises:
        MRDeepReconError: bad tensor, axis roles or reference level.
    """
    spec.validate()
    if images.dim() not in (3, 4) or images.numel() == 0:
        raise MRDeepReconError(f"degrade needs a batch of 2D or 3D images, got shape {tuple(images.shape)}")
    if not (images.is_floating_point() or images.is_complex()) or not bool(torch.isfinite(images).all()):
        raise MRDeepReconError("degrade needs finite floating-point images")
    batch, shape = images.shape[0], tuple(images.shape[1:])
    roles = _roles(axes, len(shape))
    device = images.device
    generator = seeded_generator(generator, device)
    clean = images.to(torch.complex64)
    # The magnitude of real images from their real values: complex |x| costs more than an FFT.
    for_magnitude = clean if images.is_complex() else images.float()
    if reference_level is None:
        level = reference_levels(for_magnitude)
    else:
        level = torch.as_tensor(reference_level, dtype=torch.float32, device=device).expand(batch)
    if spec.noise > 0 and not bool(torch.all(torch.isfinite(level) & (level > 0))):
        raise MRDeepReconError(f"noise needs a positive reference level, got {level.tolist()!r}")
    sigma = spec.noise * level

    sampling = _plan(shape, spec, roles, generator, batch, device)
    field = recon.bias_field(shape, spec.bias_field, generator, batch, device) if spec.bias_field > 0 else None
    kspace = _acquire(clean, sampling) * sampling.coil_mask(sampling.acquired)
    clean_image = None
    if noise_free or spec.noise == 0:
        acquired = _grid_kspace(kspace, sampling, spec)
        clean_image = _display(_reconstruct(acquired, sampling, spec), sampling, spec, field)
    if spec.noise > 0:
        per_image = sigma.reshape(batch, *[1] * (kspace.dim() - 1))
        noise = complex_gaussian(kspace.shape, per_image, generator, device)
        acquired = _grid_kspace(kspace + noise * sampling.coil_mask(sampling.acquired), sampling, spec)
        degraded = _display(_reconstruct(acquired, sampling, spec), sampling, spec, field)
    else:
        degraded = clean_image.clone()
    reduced = _display_on_grid(acquired, sampling, spec, field) if low_resolution else None
    if spec.quantize_levels > 0:
        degraded, step = recon.quantize(degraded, spec.quantize_levels)
        if clean_image is not None:
            clean_image, _ = recon.quantize(clean_image, spec.quantize_levels, step)
        if reduced is not None:
            reduced, _ = recon.quantize(reduced, spec.quantize_levels, step)
    target = recon.extract(for_magnitude if spec.output == "magnitude" else clean, spec.output, sampling.axes)
    if field is not None:
        target = target * field
    return DegradedBatch(
        image=degraded,
        noise_free=clean_image if noise_free else None,
        target=target,
        sigma=sigma,
        masks=_full_masks(sampling),
        low_resolution=reduced,
    )


def degrade(
    image: np.ndarray,
    spec: DegradationSpec,
    axes: AxisRoles = AxisRoles(),
    rng: torch.Generator | int | None = None,
    reference_level: float | None = None,
    low_resolution: bool = False,
) -> DegradeResult:
    """Degrade one image in k-space as ``spec`` says and reconstruct it conventionally (on the CPU).

    Args:
        image: real or complex array, 2D ``(y, x)`` or 3D ``(z, y, x)`` (see :class:`AxisRoles`).
        spec: the degradation scenario.
        axes: array axes of the frequency, phase and slice encoding directions.
        rng: torch generator (CPU) or seed; the same seed gives the same result.
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
    data = np.asarray(image)
    if data.ndim not in (2, 3) or data.size == 0:
        raise MRDeepReconError(f"degrade needs a 2D or 3D image, got shape {data.shape}")
    if not np.issubdtype(data.dtype, np.number) or not np.all(np.isfinite(data)):
        raise MRDeepReconError("degrade needs a finite numeric image")
    tensor = torch.from_numpy(np.ascontiguousarray(data.astype(np.complex64 if np.iscomplexobj(data) else np.float32)))
    result = degrade_batch(tensor[None], spec, axes, rng, reference_level, low_resolution)
    return DegradeResult(
        image=result.image[0].numpy(),
        noise_free=result.noise_free[0].numpy(),
        target=result.target[0].numpy(),
        sigma=float(result.sigma[0]),
        masks={name: mask[0].numpy() for name, mask in result.masks.items()},
        low_resolution=None if result.low_resolution is None else result.low_resolution[0].numpy(),
    )
