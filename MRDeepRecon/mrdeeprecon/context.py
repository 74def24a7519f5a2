"""Scan context: the acquisition parameters that define how k-space was sampled.

Seed 001 feeds "scan parameters that define k-space sampling, retrieved from DICOM tags" to the
network. :class:`ScanContext` holds them in one typed record: a
:class:`~mrdeeprecon.sampling.KSpaceSampling` (the axis conventions are documented there) plus the
header facts it was derived from. It is filled from DICOM
(:func:`mrdeeprecon.io.dicom_context.context_from_dicom`), from command-line flags for
NIfTI/NRRD input, or from both (flags override tags).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from .errors import MRDeepReconError
from .sampling import KSpaceSampling


@dataclass(frozen=True)
class ScanContext(KSpaceSampling):
    """k-space sampling parameters of one series and where they came from.

    The sampling fields (``acquisition``, ``phase_axis``, ``kmax``, ``partial_fourier``,
    ``acceleration``, ``undersampling``, ``elliptical``) are :class:`KSpaceSampling`'s; ``kmax``
    is relative to the displayed grid.

    Attributes:
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

    acquired_matrix: tuple[int, int] | None = None
    displayed_matrix: tuple[int, int] | None = None
    percent_phase_fov: float = 100.0
    percent_sampling: float = 100.0
    slice_thickness: float | None = None
    slice_spacing: float | None = None
    pixel_bandwidth: float | None = None
    manufacturer: str | None = None
    sources: dict[str, str] = field(default_factory=dict)

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
