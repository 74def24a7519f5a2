"""Raw k-space → reconstructed magnitude :class:`~mrdeeprecon.volume.Volume` with its data-consistency report."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from ..progress import CancelToken, ProgressCallback, part, report
from ..volume import Volume
from .baselines import METHODS, reconstruct_baseline
from .consistency import ConsistencyReport, consistency_report, noise_sd
from .kspace_data import RawKSpace
from .unrolled import reconstruct_unrolled

#: What :func:`reconstruct` offers: the classical baselines and the unrolled network.
RECON_METHODS = (*METHODS, "unrolled")


def _geometry(raw: RawKSpace, shape: tuple[int, int, int]) -> tuple[dict, list[str]]:
    """Spacing, origin and direction of the image ``(z, y, x)`` from the header, and warnings for
    what the header does not say (1 mm spacing, identity direction, the volume centred at 0)."""
    header, warnings = raw.header, []
    counts = np.array(shape[::-1], dtype=float)  # (x, y, z)
    if header.fov_mm is not None:
        spacing = np.asarray(header.fov_mm, dtype=float) / counts
    else:
        spacing = np.ones(3)
        warnings.append("no field of view in the header: 1 mm voxels assumed")
    direction = np.eye(3) if header.direction is None else np.asarray(header.direction, dtype=float)
    if header.direction is None:
        warnings.append("no orientation in the header: identity direction assumed")
    centre = np.zeros(3) if header.position_mm is None else np.asarray(header.position_mm, dtype=float)
    if header.position_mm is None:
        warnings.append("no position in the header: the volume is centred at the origin")
    origin = centre - direction @ (spacing * (counts - 1) / 2)
    return {"spacing": tuple(spacing), "origin": tuple(origin), "direction": direction}, warnings


def reconstruct(
    raw: RawKSpace,
    method: str = "sense",
    progress: Optional[ProgressCallback] = None,
    cancel: Optional[CancelToken] = None,
    model_path: Optional[Path] = None,
) -> tuple[Volume, ConsistencyReport]:
    """Reconstruct ``raw`` with ``method`` (:data:`RECON_METHODS`) on the CPU; ``model_path``: the
    unrolled network's weights (default: the bundled ones).

    Returns:
        the magnitude of the coil-combined image as a float32 :class:`Volume` ``(z, y, x)`` =
        (slices, ky → y, kx → x), its geometry from the header (what is missing, and the reader's
        warnings, are listed in ``metadata["raw_recon"]["warnings"]``), ``metadata["raw_recon"]`` = method, parameters,
        the consistency report, ``noise_dwell_ratio`` (the factor applied to the noise scan's
        variance for its dwell time, :mod:`.whitening`; None without one) and the header's
        ``acquisition`` facts (2D/3D, TE and TR in ms, field strength in T, the readout dwell in µs,
        None where absent); and the :class:`ConsistencyReport` (a method other than ``sense``
        is compared with CG-SENSE on the same coil maps).
    """
    share = 1.0 if method == "sense" else 0.7
    if method == "unrolled":
        result = reconstruct_unrolled(raw, part(progress, 0.0, share), cancel, model_path=model_path)
    else:
        result = reconstruct_baseline(raw, method, part(progress, 0.0, share), cancel)
    sense_image = None
    if method != "sense":
        sense_image = reconstruct_baseline(raw, "sense", part(progress, share, 1.0 - share), cancel, maps=result.maps).image
    consistency = consistency_report(
        method, result.image, result.kspace, result.mask, result.maps,
        noise_sd(raw, result.kspace, result.mask), sense_image,
    )
    magnitude = np.abs(result.image).astype(np.float32)
    geometry, warnings = _geometry(raw, magnitude.shape)
    metadata = {
        "source_path": None if raw.source_path is None else str(raw.source_path),
        "format": f"raw:{raw.header.source_format}",
        "raw_recon": {
            "method": method,
            "parameters": result.parameters,
            "consistency": consistency.to_dict(),
            "warnings": [*raw.header.warnings, *warnings],
            "noise_dwell_ratio": raw.header.noise_dwell_ratio,
            "acquisition": {
                "acquisition": raw.header.acquisition,
                "te_ms": raw.header.te_ms,
                "tr_ms": raw.header.tr_ms,
                "field_strength_t": raw.header.field_strength_t,
                "dwell_us": raw.header.dwell_us,
            },
        },
    }
    report(progress, 1.0, "reconstructed")
    return Volume(magnitude, metadata=metadata, **geometry), consistency
