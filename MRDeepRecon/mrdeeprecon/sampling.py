"""How k-space was sampled: the one description shared by the scan context, the simulator and the
network's context vector.

:class:`KSpaceSampling` is it. :class:`~mrdeeprecon.context.ScanContext` is a ``KSpaceSampling``
plus the header facts it was derived from; the simulator's
:class:`~mrdeeprecon.kspace.degrade.DegradationSpec` states a *change* of sampling (relative to its
input, plus noise and reconstruction options), and :meth:`KSpaceSampling.degraded_by` gives the
sampling after it; the network's context vector (:func:`mrdeeprecon.model.context_vector.encode`)
encodes a ``KSpaceSampling`` taken relative to the output grid (:meth:`KSpaceSampling.on_output_grid`).

Axis conventions (the whole package follows them):

* Arrays are ``(z, y, x)``; a 2D image is ``(y, x)``, one slice of such an array. The slice
  direction is always array axis 0.
* Tuples per encoding direction are ordered (frequency, phase, slice): ``kmax``,
  ``super_resolution``. Tuples that have no frequency entry are (phase, slice):
  ``partial_fourier``, ``acceleration``.
* In-plane, ``phase_axis`` is the array axis of the phase-encoding direction: 1 (``y``, phase
  varies down a column, DICOM ``InPlanePhaseEncodingDirection`` ``COL``) or 2 (``x``, along a row,
  ``ROW``); frequency is the other in-plane axis, ``3 - phase_axis``. :data:`PHASE_AXIS_OF_DICOM`
  is the one place the DICOM spelling is mapped to array axes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from .errors import MRDeepReconError

if TYPE_CHECKING:
    from .kspace.degrade import DegradationSpec

ACQUISITION_TYPES = ("2D", "3D")
UNDERSAMPLING_PATTERNS = ("none", "uniform", "random")
#: DICOM ``InPlanePhaseEncodingDirection`` → array axis of the phase-encoding direction.
PHASE_AXIS_OF_DICOM: dict[str, int] = {"COL": 1, "ROW": 2}

_Sampling = TypeVar("_Sampling", bound="KSpaceSampling")


def frequency_axis_of(phase_axis: int) -> int:
    """Array axis of the frequency-encoding direction: the in-plane axis (1 or 2) that is not
    ``phase_axis``."""
    return 3 - phase_axis


def check_kmax(kmax: tuple[float, ...]) -> None:
    """Raise :class:`MRDeepReconError` unless ``kmax`` is three fractions in (0, 1]."""
    if len(kmax) != 3 or not all(0.0 < k <= 1.0 for k in kmax):
        raise MRDeepReconError(f"kmax fractions must be three numbers in (0, 1], got {kmax}")


def check_partial_fourier(partial_fourier: tuple[float, ...]) -> None:
    """Raise :class:`MRDeepReconError` unless ``partial_fourier`` is two fractions in [0.5, 1]."""
    if len(partial_fourier) != 2 or not all(0.5 <= p <= 1.0 for p in partial_fourier):
        raise MRDeepReconError(
            f"partial Fourier fractions must be two numbers in [0.5, 1], got {partial_fourier}"
        )


@dataclass(frozen=True)
class KSpaceSampling:
    """How one series' k-space was sampled (axis orders in the module docstring).

    Attributes:
        acquisition: ``"2D"`` (slice by slice) or ``"3D"`` (slice-encoded volume).
        phase_axis: array axis of the phase-encoding direction: 1 (y, ``COL``) or 2 (x, ``ROW``).
        kmax: acquired fraction of the grid's k-space extent along (frequency, phase, slice), each
            in (0, 1]. Acquired 256, displayed 512 → 0.5.
        partial_fourier: fraction of k-space acquired along (phase, slice) on one side of the
            centre, in [0.5, 1]; 1 = full (no partial Fourier), 0.625 = 5/8.
        acceleration: undersampling factor R along (phase, slice); 1 = fully sampled.
        undersampling: ``"none"``, ``"uniform"`` (parallel imaging) or ``"random"`` (compressed
            sensing): the pattern of the ``acceleration``.
        elliptical: whether the corners of k-space were skipped (elliptical scanning).
    """

    acquisition: str = "2D"
    phase_axis: int = 1
    kmax: tuple[float, float, float] = (1.0, 1.0, 1.0)
    partial_fourier: tuple[float, float] = (1.0, 1.0)
    acceleration: tuple[float, float] = (1.0, 1.0)
    undersampling: str = "none"
    elliptical: bool = False

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`MRDeepReconError` when a field is outside its physical range."""
        if self.acquisition not in ACQUISITION_TYPES:
            raise MRDeepReconError(f"acquisition must be 2D or 3D, got {self.acquisition!r}")
        if self.phase_axis not in (1, 2):
            raise MRDeepReconError(f"phase_axis must be 1 (y) or 2 (x), got {self.phase_axis!r}")
        check_kmax(self.kmax)
        check_partial_fourier(self.partial_fourier)
        if len(self.acceleration) != 2 or not all(a >= 1.0 for a in self.acceleration):
            raise MRDeepReconError(f"acceleration factors must be >= 1, got {self.acceleration}")
        if self.undersampling not in UNDERSAMPLING_PATTERNS:
            raise MRDeepReconError(
                f"undersampling must be one of {UNDERSAMPLING_PATTERNS}, got {self.undersampling!r}"
            )

    @property
    def frequency_axis(self) -> int:
        """Array axis of the frequency-encoding direction (the in-plane axis that is not phase)."""
        return frequency_axis_of(self.phase_axis)

    @property
    def is_3d(self) -> bool:
        """Slice-encoded (3D) acquisition."""
        return self.acquisition == "3D"

    @property
    def acceleration_uniform(self) -> float:
        """Total R (phase × slice) of uniform (parallel-imaging) undersampling; 1 without it."""
        return self.acceleration[0] * self.acceleration[1] if self.undersampling == "uniform" else 1.0

    @property
    def acceleration_random(self) -> float:
        """Total R (phase × slice) of random (compressed-sensing) undersampling; 1 without it."""
        return self.acceleration[0] * self.acceleration[1] if self.undersampling == "random" else 1.0

    def on_output_grid(self, super_resolution: tuple[float, float, float]) -> "KSpaceSampling":
        """This sampling relative to the grid refined by ``super_resolution`` (frequency, phase,
        slice; each >= 1): ``kmax`` divided by it. A 2D acquisition's slice ``kmax`` is 1 (the
        2D model never restores through-plane). Only the sampling fields are kept."""
        kmax = tuple(k / s for k, s in zip(self.kmax, super_resolution))
        if not self.is_3d:
            kmax = (kmax[0], kmax[1], 1.0)
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(KSpaceSampling)}
        return KSpaceSampling(**{**fields, "kmax": kmax})

    def degraded_by(self: _Sampling, spec: "DegradationSpec") -> _Sampling:
        """A copy (same type) as sampled after the simulator applied ``spec`` to it: k-space
        extents multiply, partial-Fourier fractions take the smaller, the spec's undersampling
        (R along phase) replaces this one's where it has any, elliptical if either is."""
        kmax = tuple(b * s for b, s in zip(self.kmax, spec.kmax))
        partial_fourier = tuple(min(b, s) for b, s in zip(self.partial_fourier, spec.partial_fourier))
        if spec.undersample_uniform > 1:
            undersampling, rate = "uniform", spec.undersample_uniform
        elif spec.undersample_random > 1:
            undersampling, rate = "random", spec.undersample_random
        else:
            undersampling, rate = self.undersampling, self.acceleration[0]
        return dataclasses.replace(
            self,
            kmax=kmax,
            partial_fourier=partial_fourier,
            undersampling=undersampling,
            acceleration=(float(rate), self.acceleration[1]),
            elliptical=self.elliptical or spec.elliptical,
        )
