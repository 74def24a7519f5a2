"""Save the benchmark source volume as ``.npy`` for a machine without SimpleITK or nibabel.

    python benchmarks/export_source.py FILE.npy [--source VOLUME.nii.gz]

Writes the ``(z, y, x)`` float32 voxels (1 mm) of the source ``inputs.load_source`` picks (the MNI152
template of ../shared/data by default, about 34 MB). On the other machine run
``python benchmarks/run.py --source FILE.npy ...``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from common import use_repository_engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help=".npy file to write")
    parser.add_argument("--source", type=Path, help="volume to export instead of the default source")
    args = parser.parse_args()
    use_repository_engine()
    from inputs import load_source

    source = load_source(args.source)
    np.save(args.output.with_suffix(".npy"), source.data.astype(np.float32))
    print(f"wrote {args.output.with_suffix('.npy')}: {source.description}, shape (z, y, x) {source.data.shape}")


if __name__ == "__main__":
    main()
