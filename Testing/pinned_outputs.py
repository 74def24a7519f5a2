"""The enhancement's outputs pinned by small statistics: the cases, the statistics, their JSON.

``Testing/test_pinned_outputs.py`` runs every case of :data:`CASES` (synthetic phantoms, the
bundled 2D and 3D models, on the CPU) and compares the output with ``pinned_outputs.json``: its
mean, its SD and :data:`SAMPLES` voxels at fixed indices, each within :data:`TOLERANCE` × the
output's 99th percentile. Any change that alters results fails there.

The numbers belong to the bundled models: a commit that ships new weights (or changes what
``enhance`` computes on purpose) regenerates them and says why::

    .venv/bin/python Testing/pinned_outputs.py     # rewrites Testing/pinned_outputs.json
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

PINNED = Path(__file__).with_name("pinned_outputs.json")
#: Voxels sampled per case (fixed flat indices drawn once per output size, seed 0).
SAMPLES = 256
#: Agreement required, relative to the pinned output's 99th percentile (the pipeline issue's
#: criterion for a change of implementation).
TOLERANCE = 1e-4


@dataclass(frozen=True)
class Case:
    """One pinned enhancement: the phantom's shape (z, y, x) and seed, settings and context."""

    name: str
    shape: tuple[int, int, int]
    model_kind: str
    settings: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)


CASES = (
    Case("2d_phase_x", (6, 64, 72), "2d", {"noise_reduction": 3.0}, {"phase_axis": 2}),
    Case("2d_transposed_sr_phase_odd", (5, 61, 57), "2d", {"noise_reduction": 5.0, "super_resolution": (1.0, 1.5, 1.0)}, {"phase_axis": 1}),
    Case("2d_sr_frequency_tiled", (4, 80, 70), "2d", {"noise_reduction": 2.0, "super_resolution": (2.0, 1.0, 1.0), "tile_size": 64, "batch_size": 3}, {"phase_axis": 2}),
    Case("3d_sr_slice", (10, 64, 64), "3d", {"noise_reduction": 3.0, "super_resolution": (1.0, 1.0, 2.0)}, {"acquisition": "3D", "phase_axis": 2}),
    Case("3d_kmax_band_nr1", (9, 72, 64), "3d", {"noise_reduction": 1.0, "batch_size": 4}, {"acquisition": "3D", "phase_axis": 1, "kmax": (0.7, 0.6, 0.8)}),
)


def phantom(shape: tuple[int, int, int], seed: int) -> np.ndarray:
    """A magnitude image ``(z, y, x)``: an ellipsoid with inner structure on a dark background,
    Rician noise (float32, deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    z, y, x = np.meshgrid(*(np.linspace(-1, 1, n) for n in shape), indexing="ij")
    body = (x**2 / 0.8 + y**2 / 0.6 + z**2 / 1.5) < 1
    image = 300.0 * body + 150.0 * np.sin(7 * x) * np.cos(5 * y) * body + 200.0 * ((x - 0.2) ** 2 + y**2 < 0.05)
    sigma = 15.0
    noisy = np.hypot(image + rng.normal(0, sigma, shape), rng.normal(0, sigma, shape))
    return noisy.astype(np.float32)


def enhance_case(case: Case) -> np.ndarray:
    """The enhanced output of ``case`` on the CPU with the bundled model of its kind."""
    from mrdeeprecon.context import ScanContext
    from mrdeeprecon.inference import enhance
    from mrdeeprecon.settings import EnhanceSettings
    from mrdeeprecon.volume import Volume

    volume = Volume(phantom(case.shape, seed=len(case.name)), spacing=(0.9, 0.8, 2.0))
    settings = EnhanceSettings(device="cpu", model_kind=case.model_kind, **case.settings)
    return enhance(volume, settings, ScanContext(**case.context)).data


def sample_indices(size: int) -> np.ndarray:
    """:data:`SAMPLES` fixed flat indices into an output of ``size`` voxels."""
    return np.random.default_rng(0).choice(size, SAMPLES, replace=False)


def statistics(output: np.ndarray) -> dict[str, Any]:
    """What is pinned of one output: shape, mean, SD, 99th percentile, the sampled voxels."""
    values = output.astype(np.float64)
    return {
        "shape": list(output.shape),
        "mean": float(values.mean()),
        "sd": float(values.std()),
        "p99": float(np.percentile(values, 99)),
        "samples": [float(f"{v:.8g}") for v in values.flat[sample_indices(values.size)]],
    }


def model_hashes() -> dict[str, str]:
    """SHA-256 of each bundled model (the pinned numbers are theirs)."""
    from mrdeeprecon.model.weights import BUNDLED_NAMES, bundled_model_path, load_model

    return {kind: load_model(bundled_model_path(kind), "cpu")[1]["sha256"] for kind in BUNDLED_NAMES}


def main() -> int:
    import torch

    torch.set_num_threads(1)
    pinned = {
        "models_sha256": model_hashes(),
        "cases": {case.name: statistics(enhance_case(case)) for case in CASES},
    }
    text = json.dumps(pinned, indent=1)
    PINNED.write_text(re.sub(r"\[\s+([^\[\]{}]*?)\s+\]", lambda m: "[" + " ".join(m.group(1).split()) + "]", text) + "\n")
    print(f"wrote {PINNED}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "MRDeepRecon"))
    sys.exit(main())
