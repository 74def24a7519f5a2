"""Write the training volumes (and the held-out curve volume) as ``.npz`` for a GPU machine.

    python benchmarks/export_training_data.py [--out gpu_carry]

A lent GPU machine has numpy, torch and safetensors but neither SimpleITK nor pydicom, and a run
carries at most 64 MiB. Each default training volume of ``mrdeeprecon train`` is scaled so its 99th
percentile is 16 000, cropped to the box of voxels above 5 % of that and stored as uint16 (about
43 MiB compressed for all nine); ``mrdeeprecon train --data OUT/training_volumes.npz
--curve-volume OUT/heldout_seg3d.npz`` then trains there exactly as here (training rescales every
volume to its own 99th percentile). Keep ``OUT`` out of git (``.git/info/exclude``) and name it in
the device call's ``carry``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from common import REPO, use_repository_engine

SCALE = 16_000.0
THRESHOLD = 0.05


def _quantised(data: np.ndarray, crop: bool) -> np.ndarray:
    volume = np.asarray(data, dtype=np.float32)
    volume = volume - min(0.0, float(volume.min()))
    volume = volume / np.percentile(volume, 99.0)
    if crop:
        inside = volume > THRESHOLD
        box = []
        for axis in range(3):
            kept = np.flatnonzero(inside.any(axis=tuple(a for a in range(3) if a != axis)))
            box.append(slice(kept[0], kept[-1] + 1))
        volume = volume[tuple(box)]
    return np.clip(np.round(volume * SCALE), 0, 65535).astype(np.uint16)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "gpu_carry")
    args = parser.parse_args(argv)
    use_repository_engine()
    from mrdeeprecon.io import load_volume
    from mrdeeprecon.training.train import DEFAULT_TRAINING, HELD_OUT, SHARED_DATA

    args.out.mkdir(parents=True, exist_ok=True)
    arrays = {Path(name).name.split(".")[0]: _quantised(load_volume(SHARED_DATA / name).data, crop=True)
              for name in DEFAULT_TRAINING}
    np.savez_compressed(args.out / "training_volumes.npz", **arrays)
    held_out = load_volume(SHARED_DATA / HELD_OUT[0]).data
    np.savez_compressed(args.out / "heldout_seg3d.npz", volume=_quantised(held_out, crop=False))
    for path in sorted(args.out.glob("*.npz")):
        print(f"{path}: {path.stat().st_size / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
