"""The ``pipeline-on-device`` section: a warm ``enhance()`` stage by stage, on the CPU or CUDA.

The 192 × 256 × 256 (z, y, x) input (``inputs.py``; 12 × 64 × 64 in quick mode) is written once
as ``.npy``; for the 2D and the 3D bundled model a child process (``pipeline_stages.py``) enhances
it warm, noise reduction as in the run, and reports the median time of each stage and of the
network. With ``baseline`` (a folder holding an older ``mrdeeprecon`` package, ``run.py
--baseline-engine``) the same children run that engine too, in the same run: the before/after
comparison of the whole ``enhance()`` and of everything but the network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from common import ENGINE_DIR, run_child
from inputs import Source, build_volume

KINDS = ("2d", "3d")


def _child(engine: Path, path: Path, kind: str, device: str, threads: int, noise_reduction: float, repeats: int, workdir: Path) -> dict[str, Any]:
    arguments = [
        "--engine", str(engine), "--input", str(path), "--device", device, "--threads", str(threads),
        "--model-kind", kind, "--noise-reduction", str(noise_reduction), "--repeats", str(repeats),
    ]
    report, _ = run_child("pipeline_stages.py", arguments, workdir / f"stages_{engine.name}_{kind}.json")
    return report


def run(
    source: Source,
    device: str,
    threads: int,
    noise_reduction: float,
    quick: bool,
    repeats: int,
    workdir: Path,
    baseline: Path | None = None,
) -> dict[str, Any]:
    """Per model kind: this checkout's stage times (``current``) and, given ``baseline``, the
    older engine's totals (``baseline``)."""
    shape = (12, 64, 64) if quick else (192, 256, 256)
    path = workdir / "stages_input.npy"
    np.save(path, build_volume(source, shape).data)
    section: dict[str, Any] = {
        "shape_zyx": list(shape),
        "noise_reduction": noise_reduction,
        "baseline_engine": str(baseline) if baseline else None,
        "kinds": {},
    }
    for kind in KINDS:
        entry = {"current": _child(ENGINE_DIR, path, kind, device, threads, noise_reduction, repeats, workdir)}
        if baseline is not None:
            entry["baseline"] = _child(baseline, path, kind, device, threads, noise_reduction, repeats, workdir)
        section["kinds"][kind] = entry
    return section
