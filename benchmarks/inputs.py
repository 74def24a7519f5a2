"""Benchmark input volumes of exact shapes, built from one real MR volume.

The source is, in order: a file given with ``--source`` (NIfTI/NRRD, or ``.npy`` holding a
``(z, y, x)`` array at 1 mm, see ``export_source.py``), the MNI152 2009 template of
``../shared/data/volumes`` (``$MRDEEPRECON_SHARED_DATA`` overrides the folder), nilearn's bundled
MNI152 template. The source is sinc-upsampled in-plane when the target matrix is larger than
1.5× the source's, cropped or padded (zeros in-plane, mirrored slices along z) to the target
shape, then given Rician background noise (2 % of the 99th percentile), as a real magnitude
image has, so the engine's zero-border crop does not shrink the work.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common import REPO
from mrdeeprecon.errors import MRDeepReconError

SHARED_TEMPLATE = "volumes/MNI152_2009_template.nii.gz"
NILEARN_TEMPLATE = "datasets/data/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"
NOISE_FRACTION = 0.02


@dataclass(frozen=True)
class Source:
    """The real volume every benchmark input is cut from: ``data`` (z, y, x) at 1 mm."""

    data: np.ndarray
    description: str


def _shared_data() -> Path:
    return Path(os.environ.get("MRDEEPRECON_SHARED_DATA", REPO.parent / "shared" / "data"))


def _nilearn_template() -> Path | None:
    try:
        import nilearn
    except ImportError:
        return None
    path = Path(nilearn.__file__).parent / NILEARN_TEMPLATE
    return path if path.is_file() else None


def _read_image(path: Path) -> np.ndarray:
    """``(z, y, x)`` float32 voxels of a NIfTI/NRRD/``.npy`` file."""
    if path.suffix == ".npy":
        data = np.load(path)
        if data.ndim != 3:
            raise MRDeepReconError(f"a (z, y, x) array is needed, got shape {data.shape}", path)
        return data.astype(np.float32)
    try:
        from mrdeeprecon.io import load_volume
    except ImportError:  # no SimpleITK / pydicom on this machine
        try:
            import nibabel
        except ImportError:
            raise MRDeepReconError(
                "reading NIfTI needs SimpleITK or nibabel; on a machine without them pass "
                "--source FILE.npy made by `python benchmarks/export_source.py FILE.npy`",
                path,
            ) from None
        return np.asarray(nibabel.load(path).dataobj, dtype=np.float32).transpose(2, 1, 0)
    return load_volume(path).data.astype(np.float32)


def load_source(path: Path | None = None) -> Source:
    """The source volume (see the module docstring); :class:`MRDeepReconError` names what is missing."""
    if path is not None:
        if not path.is_file():
            raise MRDeepReconError("source volume not found", path)
        return Source(_read_image(path), str(path))
    shared = _shared_data() / SHARED_TEMPLATE
    if shared.is_file():
        return Source(_read_image(shared), f"shared data {SHARED_TEMPLATE}")
    packaged = _nilearn_template()
    if packaged is not None:
        return Source(_read_image(packaged), f"nilearn {packaged.name}")
    raise MRDeepReconError(
        f"no source volume: {shared} is absent and nilearn is not installed; "
        "pass --source FILE (.nii.gz, or .npy from benchmarks/export_source.py)"
    )


def _fit_axis(data: np.ndarray, axis: int, size: int, mode: str) -> np.ndarray:
    """Centre-crop or pad ``data`` along ``axis`` to ``size`` samples."""
    n = data.shape[axis]
    if n >= size:
        start = (n - size) // 2
        return np.take(data, np.arange(start, start + size), axis=axis)
    widths = [(0, 0)] * data.ndim
    before = (size - n) // 2
    widths[axis] = (before, size - n - before)
    return np.pad(data, widths, mode=mode)


def build_volume(source: Source, shape: tuple[int, int, int], seed: int = 0):
    """A :class:`mrdeeprecon.volume.Volume` of ``shape`` (z, y, x), float32, from ``source``.

    Spacing is 1 mm, or 0.5 mm in-plane when the source was upsampled to fill a larger matrix.
    ``metadata["noise_sigma"]`` is the SD of the added Gaussian noise per channel (intensity units).
    """
    from mrdeeprecon.standardize import resample_kspace
    from mrdeeprecon.volume import Volume

    data = source.data
    z, y, x = shape
    upsample = 2 if max(y / data.shape[1], x / data.shape[2]) > 1.5 else 1
    if upsample > 1:
        data = resample_kspace(data, (data.shape[0], upsample * data.shape[1], upsample * data.shape[2]))
    data = _fit_axis(data, 0, z, "symmetric")
    data = _fit_axis(_fit_axis(data, 1, y, "constant"), 2, x, "constant")
    rng = np.random.default_rng(seed)
    sigma = NOISE_FRACTION * float(np.percentile(data, 99))
    noisy = np.hypot(
        data + rng.normal(0.0, sigma, data.shape).astype(np.float32),
        rng.normal(0.0, sigma, data.shape).astype(np.float32),
    ).astype(np.float32)
    in_plane = 1.0 / upsample
    return Volume(data=noisy, spacing=(in_plane, in_plane, 1.0), metadata={"noise_sigma": sigma})
