"""The reconstruction record beside a reconstruction's output: ``<output>.consistency.json``
(``brain.nii.gz`` → ``brain.nii.gz.consistency.json``; a DICOM series folder ``brain/`` →
``brain.consistency.json`` beside it, so the folder holds only the series). Written by
``mrdeeprecon recon``; read back by ``mrdeeprecon qa`` and the Slicer glue, which thereby find the
data-consistency report of an original that is a raw reconstruction.

Content: ``metadata["raw_recon"]`` of :func:`~mrdeeprecon.raw.recon.reconstruct` (``method``,
``parameters``, ``consistency`` = :meth:`ConsistencyReport.to_dict`, ``warnings``,
``acquisition``) plus ``source_path`` (the raw file).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import MRDeepReconError, one_line
from ..reporting import write_json_atomically
from ..volume import Volume

SIDECAR_SUFFIX = ".consistency.json"


def sidecar_path(output: str | Path) -> Path:
    """``<output>.consistency.json`` beside ``output`` (a file or a series folder)."""
    output = Path(output)
    return output.with_name(output.name + SIDECAR_SUFFIX)


def write_consistency_sidecar(reconstruction: Volume, output: str | Path) -> Path:
    """Write ``reconstruction``'s record beside ``output`` (atomically); returns its path."""
    record = {"source_path": reconstruction.metadata.get("source_path"), **reconstruction.metadata["raw_recon"]}
    return write_json_atomically(sidecar_path(output), record)


def data_consistency_of(volume: Volume, path: str | Path | None) -> dict[str, Any] | None:
    """The data-consistency report (:meth:`ConsistencyReport.to_dict`) of ``volume``: from its
    metadata (a reconstruction in memory), else from the sidecar beside ``path`` (the file or
    folder it was read from); None when it is not a raw reconstruction. A sidecar that cannot
    be read raises one error naming it."""
    record = volume.metadata.get("raw_recon")
    if record:
        return record.get("consistency")
    if path is None or not sidecar_path(path).is_file():
        return None
    sidecar = sidecar_path(path)
    try:
        consistency = json.loads(sidecar.read_text(encoding="utf-8"))["consistency"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MRDeepReconError(f"unreadable data-consistency report: {one_line(exc)}", sidecar) from None
    if not isinstance(consistency, dict):
        raise MRDeepReconError("unreadable data-consistency report: 'consistency' is not an object", sidecar)
    return consistency
