"""Speed against BM4D on the same noisy crop (32 × 128 × 128, z, y, x; 8 × 16 × 16 in quick mode).

The crop is a benchmark volume of that shape (the centre of the real source plus Rician noise of
known SD σ, see ``inputs.py``). BM4D (``bm4d.bm4d(crop, σ)``, its default profile, with the benchmark's
thread count through ``OMP_NUM_THREADS``) and ``mrdeeprecon.inference.enhance`` (3D model, in
memory) each run once unmeasured on a tiny volume (BM4D not in quick mode), then ``repeats``
times on the crop; the ratio is BM4D's median time over ours. BM4D costs 1–2 s per call whatever
the size (measured on 8 × 16 × 16), which weighs on a small crop. ``bm4d`` is optional: without it the section says so.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from common import measure
from inputs import Source, build_volume

TINY = (8, 16, 16)  # the smallest (z, y, x) BM4D's default blocks accept


def _bm4d_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("bm4d")
    except PackageNotFoundError:
        return "unknown"


def run(
    source: Source, device: str, quick: bool, repeats: int, noise_reduction: float
) -> dict[str, Any]:
    if importlib.util.find_spec("bm4d") is None:
        return {"available": False, "note": "the bm4d package is not installed; comparison skipped"}
    import bm4d

    from mrdeeprecon.inference import enhance
    from mrdeeprecon.settings import EnhanceSettings

    crop_shape = TINY if quick else (32, 128, 128)
    volume = build_volume(source, crop_shape)
    tiny = build_volume(source, TINY)
    sigma = volume.metadata["noise_sigma"]
    settings = EnhanceSettings(noise_reduction=noise_reduction, device=device, model_kind="3d")

    if not quick:  # BM4D's ~1–2 s cost per call is not a first-call cost; quick mode skips this
        bm4d.bm4d(tiny.data, sigma)
    theirs = measure(lambda: bm4d.bm4d(volume.data, sigma), repeats, warmup=0)
    enhance(tiny, settings)
    ours = measure(lambda: enhance(volume, settings), repeats, warmup=0)
    return {
        "available": True,
        "bm4d_version": _bm4d_version(),
        "crop_zyx": list(crop_shape),
        "sigma": sigma,
        "bm4d_s": theirs.median_s,
        "bm4d_samples_s": list(theirs.samples_s),
        "ours_s": ours.median_s,
        "ours_samples_s": list(ours.samples_s),
        "speedup": theirs.median_s / ours.median_s,
    }
