"""Scan context: the acquisition parameters that define how k-space was sampled.

Seed 001 feeds "scan parameters that define k-space sampling, retrieved from DICOM tags" to the
network. :class:`ScanContext` holds them in one typed record. It is filled from DICOM
(:func:`mrdeeprecon.io.dicom_context.context_from_dicom`), from command-line flags for
NIfTI/NRRD input, or from both (flags override tags).

Axis names: *frequency* and *phase* are the two in-plane encoding directions; *slice* is the
through-plane direction, always array axis 0 of a :class:`~mrdeeprecon.volume.Volume`.
``phase_axis`` tells which in-plane array axis is phase-encoded: 1 (``y``, phase encoding
along the columns, DICOM ``COL``) or 2 (``x``, phase encoding along the rows, DICOM ``ROW``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from .errors import MRDeepReconError

ACQUISITION_TYPES = ("2D", "3D")
UNDERSAMPLING_PATTERNS = ("none", "uniform", "random")


@dataclass
class ScanContext:
    """k-space sampling parameters of one series.

    Attributes:
        acquisition: ``"2D"`` (slice by slice) or ``"3D"`` (slice-encoded volume).
        phase_axis: array axis of the phase-encoding direction: 1 (y, ``COL``) or 2 (x, ``ROW``).
        kmax: acquired fraction of the displayed grid's k-space extent along
            (frequency, phase, slice), each in (0, 1]. Acquired 256, displayed 512 → 0.5.
        partial_fourier: fraction of k-space acquired along (phase, slice) on one side of the
            centre, in [0.5, 1]; 1 = full (no partial Fourier), 0.625 = 5/8.
        acceleration: undersampling factor R along (phase, slice); 1 = fully sampled.
        undersampling: ``"none"``, ``"uniform"`` (parallel imaging) or ``"random"`` (compressed sensing).
        elliptical: whether the corners of k-space were skipped (elliptical scanning).
        acquired_matrix: (frequency, phase) samples acquired, when known.
        displayed_matrix: (rows, columns) of the stored image.
        percent_phase_fov: phase FOV as a percentage of the frequency FOV.
        percent_sampling: phase lines acquired as a percentage of the frequency samples.
        slice_thickness: nominal slice (or partition) thickness in mm.
        slice_spacing: centre-to-centre slice distance in mm.
        pixel_bandwidth: receiver bandwidth in Hz per pixel.
        manufacturer: scanner vendor as written in the header.
        sources: where each field came from: ``"default"``, ``"override"`` or the DICOM attribute.
    """

    acquisition: str = "2D"
    phase_axis: int = 1
    kmax: tuple[float, float, float] = (1.0, 1.0, 1.0)
    partial_fourier: tuple[float, float] = (1.0, 1.0)
    acceleration: tuple[float, float] = (1.0, 1.0)
    undersampling: str = "none"
    elliptical: bool = False
    acquired_matrix: tuple[int, int] | None = None
    displayed_matrix: tuple[int, int] | None = None
    percent_phase_fov: float = 100.0
    percent_sampling: float = 100.0
    slice_thickness: float | None = None
    slice_spacing: float | None = None
    pixel_bandwidth: float | None = None
    manufacturer: str | None = None
    sources: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    @property
    def frequency_axis(self) -> int:
        """Array axis of the frequency-encoding direction (the in-plane axis that is not phase)."""
        return 3 - self.phase_axis

    def validate(self) -> None:
        """Raise :class:`MRDeepReconError` when a field is outside its physical range."""
        if self.acquisition not in ACQUISITION_TYPES:
            raise MRDeepReconError(f"acquisition must be 2D or 3D, got {self.acquisition!r}")
        if self.phase_axis not in (1, 2):
            raise MRDeepReconError(f"phase_axis must be 1 (y) or 2 (x), got {self.phase_axis!r}")
        if len(self.kmax) != 3 or not all(0.0 < k <= 1.0 for k in self.kmax):
            raise MRDeepReconError(f"kmax fractions must be in (0, 1], got {self.kmax}")
        if len(self.partial_fourier) != 2 or not all(0.5 <= p <= 1.0 for p in self.partial_fourier):
            raise MRDeepReconError(
                f"partial Fourier fractions must be in [0.5, 1], got {self.partial_fourier}"
            )
        if len(self.acceleration) != 2 or not all(a >= 1.0 for a in self.acceleration):
            raise MRDeepReconError(f"acceleration factors must be >= 1, got {self.acceleration}")
        if self.undersampling not in UNDERSAMPLING_PATTERNS:
            raise MRDeepReconError(
                f"undersampling must be one of {UNDERSAMPLING_PATTERNS}, got {self.undersampling!r}"
            )

    #: Keys :meth:`to_dict` writes that are derived from the fields, not fields (ignored on reading).
    DERIVED_KEYS = ("frequency_axis",)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (tuples become lists), with :data:`DERIVED_KEYS` added."""
        out = dataclasses.asdict(self)
        out["frequency_axis"] = self.frequency_axis
        return out

    def with_overrides(self, overrides: Mapping[str, Any]) -> "ScanContext":
        """A copy with the given fields replaced; each replaced field is marked ``"override"``."""
        names = {f.name for f in dataclasses.fields(self)} - {"sources"}
        unknown = set(overrides) - names
        if unknown:
            raise MRDeepReconError(f"unknown scan-context field(s): {', '.join(sorted(unknown))}")
        sources = dict(self.sources)
        sources.update({k: "override" for k in overrides})
        try:
            return dataclasses.replace(self, **dict(overrides), sources=sources)
        except (TypeError, ValueError) as exc:  # e.g. "kmax": "abc" compared with numbers
            shown = ", ".join(f"{k}={v!r}" for k, v in overrides.items())
            raise MRDeepReconError(f"invalid scan-context value(s) {shown} ({exc})") from None
