"""Reading and writing the pipeline benchmark's volumes: NIfTI where SimpleITK is installed,
else ``.npy`` voxels plus a ``.json`` geometry sidecar (a lent GPU machine has no SimpleITK).

NIfTI goes through the engine's public ``mrdeeprecon.io.load_volume`` / ``save_volume`` (``.nii.gz``,
what a user reads and writes). The format used is recorded in the results.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

NIFTI = "nifti"
NPY = "npy"


def available_format() -> str:
    """``"nifti"`` when the engine's NIfTI reader imports (SimpleITK, pydicom), else ``"npy"``."""
    try:
        import mrdeeprecon.io  # noqa: F401
    except ImportError:
        return NPY
    return NIFTI


def file_name(stem: str, kind: str) -> str:
    return f"{stem}.nii.gz" if kind == NIFTI else f"{stem}.npy"


def write_volume(volume, path: Path) -> None:
    """Write a ``mrdeeprecon.volume.Volume`` (float32 voxels) in the format of ``path``'s suffix."""
    if path.suffix != ".npy":
        from mrdeeprecon.io import save_volume

        save_volume(volume, path)
        return
    np.save(path, volume.data.astype(np.float32, copy=False))
    geometry = {
        "spacing": list(volume.spacing),
        "origin": list(volume.origin),
        "direction": np.asarray(volume.direction).tolist(),
    }
    path.with_suffix(".json").write_text(json.dumps(geometry))


def read_volume(path: Path):
    """Read what :func:`write_volume` wrote, as a ``mrdeeprecon.volume.Volume``."""
    if path.suffix != ".npy":
        from mrdeeprecon.io import load_volume

        return load_volume(path)
    from mrdeeprecon.volume import Volume

    geometry = json.loads(path.with_suffix(".json").read_text())
    return Volume(
        data=np.load(path),
        spacing=tuple(geometry["spacing"]),
        origin=tuple(geometry["origin"]),
        direction=np.asarray(geometry["direction"]),
    )
