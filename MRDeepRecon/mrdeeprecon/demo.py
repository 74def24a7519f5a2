"""``make demo``: a real MR volume from PyPI, a simulated faster acquisition, its enhancement.

The volume is nilearn's MNI152 2009a T1 template (shipped inside the nilearn wheel). The demo
simulates a scan with half the phase-encoding lines (k_max 0.5 along phase) and noise of 10 % of
the 99th percentile, enhances it with the bundled 2D model, writes ``original``, ``degraded`` and
``enhanced`` NIfTI files plus ``comparison.png`` (axial, coronal and sagittal planes and an axial
MIP; rows: original, degraded, enhanced) and prints PSNR / SSIM against the original.

Note: the shared MNI152 2009 template, a close relative of this volume, is one of the bundled
model's training volumes (see its model card); the model card's scores come from a held-out subject.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np

from .context import ScanContext
from .errors import MRDeepReconError
from .inference import enhance
from .io import load_volume, save_volume
from .kspace.degrade import DegradationSpec
from .metrics import score
from .settings import EnhanceSettings
from .simulate import simulate_acquisition

MNI_FILE = "datasets/data/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"
NOISE = 0.10
KMAX_PHASE = 0.5
NOISE_REDUCTION = 3.0


def mni152_path() -> Path:
    """Path of nilearn's MNI152 T1 file, found without importing nilearn."""
    spec = importlib.util.find_spec("nilearn")
    if spec is None or not spec.submodule_search_locations:
        raise MRDeepReconError("the demo needs nilearn (pip install nilearn) for its MNI152 T1 volume")
    path = Path(list(spec.submodule_search_locations)[0]) / MNI_FILE
    if not path.exists():
        raise MRDeepReconError("nilearn does not ship the MNI152 T1 template here", path)
    return path


def comparison_png(path: Path, volumes: dict[str, np.ndarray]) -> None:
    """Rows = volumes, columns = axial, coronal, sagittal middle planes and an axial MIP."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    reference = next(iter(volumes.values()))
    vmax = float(np.percentile(reference, 99.5))
    z, y, x = (s // 2 for s in reference.shape)
    views = {
        "axial": lambda v: v[z],
        "coronal": lambda v: v[:, y][::-1],
        "sagittal": lambda v: v[:, :, x][::-1],
        "axial MIP": lambda v: v.max(axis=0),
    }
    fig, axes = plt.subplots(len(volumes), len(views), figsize=(3 * len(views), 3 * len(volumes)), facecolor="black")
    for row, (name, volume) in enumerate(volumes.items()):
        for col, (view, cut) in enumerate(views.items()):
            ax = axes[row, col]
            ax.imshow(cut(volume), cmap="gray", vmin=0, vmax=vmax, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(view, color="white")
            if col == 0:
                ax.set_ylabel(name, color="white", fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=72, facecolor="black")
    plt.close(fig)


def run_demo(out_dir: Path, device: str = "auto") -> dict:
    """Run the demo into ``out_dir``; returns and prints the metrics."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    source = mni152_path()
    print(f"input: {source.name} (nilearn)")
    original = load_volume(source)
    original = original.with_data(original.data.astype(np.float32))
    context = ScanContext(acquisition="2D", phase_axis=1)
    spec = DegradationSpec(noise=NOISE, kmax=(1.0, KMAX_PHASE, 1.0))
    degraded, degraded_context = simulate_acquisition(original, spec, context, seed=0)
    print(f"simulated acquisition: noise {NOISE:.0%} of the 99th percentile, k_max {KMAX_PHASE} along phase (y)")

    def show(fraction: float, message: str) -> None:
        print(f"\r  enhancing {100 * fraction:5.1f}%", end="", flush=True)

    interactive = sys.stdout.isatty()
    settings = EnhanceSettings(noise_reduction=NOISE_REDUCTION, device=device)
    enhanced = enhance(degraded, settings, context=degraded_context, progress=show if interactive else None)
    print("" if interactive else f"enhanced with noise reduction {NOISE_REDUCTION:g}")
    for name, volume in (("original", original), ("degraded", degraded), ("enhanced", enhanced)):
        save_volume(volume, out_dir / f"{name}.nii.gz")
    comparison_png(out_dir / "comparison.png", {"original": original.data, "degraded": degraded.data, "enhanced": enhanced.data})
    metrics = {"degraded": score(original.data, degraded.data), "enhanced": score(original.data, enhanced.data)}
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    for name, m in metrics.items():
        print(f"{name:>9}: PSNR {m['psnr_db']:.2f} dB   SSIM {m['ssim']:.4f}")
    print(f"wrote {', '.join(p.name for p in sorted(out_dir.iterdir()))} in {out_dir}")
    return metrics
