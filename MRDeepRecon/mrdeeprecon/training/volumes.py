"""Training volumes from files: NIfTI, NRRD or DICOM through :mod:`mrdeeprecon.io` (imported on
use), or every array of a ``.npz`` archive (what a GPU machine without SimpleITK and pydicom
reads; ``benchmarks/export_training_data.py`` writes it)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import MRDeepReconError


@dataclass(frozen=True)
class TrainingVolume:
    """One training volume.

    Attributes:
        name: the file name (``archive.npz:key`` for an archive member).
        data: ``(z, y, x)`` voxels.
        spacing: voxel size (i, j, k) in mm; ``None`` when the file does not say (archives).
        sha256: of the file (files of a folder in name order).
    """

    name: str
    data: np.ndarray
    spacing: tuple[float, float, float] | None
    sha256: str


def sha256_of(path: Path) -> str:
    """SHA-256 of a file, or of a folder's files in name order."""
    path = Path(path)
    digest = hashlib.sha256()
    for item in sorted(path.rglob("*")) if path.is_dir() else [path]:
        if item.is_file():
            digest.update(item.read_bytes())
    return digest.hexdigest()


def load_training_volumes(paths: list[Path]) -> list[TrainingVolume]:
    """Every volume the paths hold, in order (an archive gives all its arrays, by key)."""
    volumes = []
    for path in map(Path, paths):
        digest = sha256_of(path) if path.exists() else ""
        if path.suffix == ".npz":
            try:
                with np.load(path) as archive:
                    for key in archive.files:
                        data = archive[key]
                        if data.ndim != 3:
                            raise MRDeepReconError(f"archive member {key!r} is not a 3D volume", path)
                        volumes.append(TrainingVolume(f"{path.name}:{key}", data, None, digest))
            except (OSError, ValueError) as error:
                raise MRDeepReconError(f"unreadable training archive: {error}", path) from error
        else:
            from ..io import load_volume

            volume = load_volume(path)
            volumes.append(TrainingVolume(path.name, volume.data, tuple(volume.spacing), digest))
    return volumes
