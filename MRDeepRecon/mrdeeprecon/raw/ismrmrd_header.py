"""The ISMRMRD XML header (of ISMRMRD/MRD and fastMRI files) → the facts the readers need,
parsed by the ``ismrmrd`` package's schema classes (``ismrmrd.xsd.CreateFromDocument``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mrdeeprecon.errors import MRDeepReconError, one_line


@dataclass(frozen=True)
class EncodingFacts:
    """What the first encoding of an ISMRMRD header says; None where it is silent.

    Matrices are (x = readout, y = phase, z = partitions or 1), fields of view in mm; the encoded
    space carries the readout oversampling, the reconstruction space does not.
    """

    encoded_matrix: tuple[int, int, int]
    recon_matrix: tuple[int, int, int]
    encoded_fov_mm: tuple[float, float, float] | None
    trajectory: str
    centre_ky: int | None  # encodingLimits kspace_encoding_step_1 centre
    centre_kz: int | None  # encodingLimits kspace_encoding_step_2 centre
    slices: int | None  # encodingLimits slice maximum + 1
    te_ms: float | None
    tr_ms: float | None
    field_strength_t: float | None


def _first(values) -> float | None:
    return float(values[0]) if values else None


def parse_encoding(xml: str | bytes, path: Path) -> EncodingFacts:
    """Parse the header; a header that is not ISMRMRD XML, or has no encoding, is one error."""
    from ismrmrd.xsd import CreateFromDocument

    try:
        header = CreateFromDocument(xml.decode("utf-8") if isinstance(xml, bytes) else xml)
    except Exception as exc:  # xsdata raises its own parser errors
        raise MRDeepReconError(f"the ISMRMRD XML header cannot be parsed: {one_line(exc)}", path) from None
    if not header.encoding:
        raise MRDeepReconError("the ISMRMRD XML header has no encoding", path)
    encoding = header.encoding[0]

    def matrix(space) -> tuple[int, int, int]:
        size = space.matrixSize
        return int(size.x), int(size.y), int(size.z)

    fov = encoding.encodedSpace.fieldOfView_mm
    limits = encoding.encodingLimits
    sequence = header.sequenceParameters
    system = header.acquisitionSystemInformation

    def centre(limit) -> int | None:
        return None if limit is None else int(limit.center)

    return EncodingFacts(
        encoded_matrix=matrix(encoding.encodedSpace),
        recon_matrix=matrix(encoding.reconSpace),
        encoded_fov_mm=None if fov is None else (float(fov.x), float(fov.y), float(fov.z)),
        trajectory=str(getattr(encoding.trajectory, "value", encoding.trajectory)),
        centre_ky=centre(limits.kspace_encoding_step_1 if limits else None),
        centre_kz=centre(limits.kspace_encoding_step_2 if limits else None),
        slices=None if limits is None or limits.slice is None else int(limits.slice.maximum) + 1,
        te_ms=_first(sequence.TE) if sequence else None,
        tr_ms=_first(sequence.TR) if sequence else None,
        field_strength_t=None if system is None or system.systemFieldStrength_T is None else float(system.systemFieldStrength_T),
    )
