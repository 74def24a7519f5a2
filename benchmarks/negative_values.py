"""What clipping magnitude output at zero changes: negative voxels before, and the QA numbers.

    python benchmarks/negative_values.py [--noise-reduction 2] [--out benchmarks/RESULTS.md]
        [--json benchmarks/results_negative_values.json]

For each real magnitude series in ../shared/data/dicom (a few slices each, to stay short on the
CPU), the bundled 2D model enhances it twice: as shipped (magnitude in, magnitude out: clipped at
0) and with the clip switched off. Reported: the share of negative voxels and the minimum
(as a percentage of the 99th percentile) without the clip, the noise reduction the engine reports
it achieved (``noise_reduction_achieved``), and the QA report's numbers
(:func:`mrdeeprecon.qa.run_qa`: measured noise reduction in the automatic ROI, edge sharpness per
encoding direction, the change map's mean change and the share of voxels changed beyond
``k σ_noise``) with and without it. The section
``negative_values`` of RESULTS.md is replaced.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from common import BENCHMARKS_DIR, REPO, use_repository_engine, write_section

#: name → (path under ../shared/data/dicom, read_dicom selection, slices kept (start, stop)).
SERIES = {
    "Philips 3T phantom T1 TSE (enhanced)": ("philips_phantom/201_T1W_TSE_Sno_CSno_CSAIno", {}, None),
    "Philips 3T dual-echo FFE, echo 2 magnitude": ("real_world/philips_dual_echo", {"echo": 2, "image_type": "M"}, (8, 20)),
    "Siemens Skyra MPRAGE": ("siemens_skyra_mprage", {}, (90, 102)),
    "Siemens XA30 T1 TFL (enhanced)": ("siemens_xa30_t1tfl_2mm", {}, (40, 52)),
    "Siemens EPI mosaic": ("transfer_syntaxes/1.dcm", {}, None),
}


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--noise-reduction", type=float, default=2.0)
    parser.add_argument("--out", type=Path, default=BENCHMARKS_DIR / "RESULTS.md")
    parser.add_argument("--json", type=Path, default=BENCHMARKS_DIR / "results_negative_values.json")
    return parser.parse_args(argv)


def _crop(volume, slices: tuple[int, int] | None):
    if slices is None:
        return volume
    start, stop = slices
    metadata = dict(volume.metadata)
    for key in ("sop_instance_uids", "frame_numbers"):
        metadata[key] = metadata[key][start:stop]
    origin = tuple((volume.ijk_to_lps() @ [0, 0, start, 1.0])[:3])
    return volume.with_data(volume.data[start:stop].copy(), origin=origin, metadata=metadata)


def _qa_numbers(original, enhanced, context) -> dict[str, Any]:
    """The QA numbers of one output, or the QA's error (one line) where it refuses the series."""
    from mrdeeprecon.errors import MRDeepReconError
    from mrdeeprecon.qa import run_qa

    try:
        report = run_qa(original, enhanced, context)
    except MRDeepReconError as error:
        return {"error": str(error)}
    roi = report.rois[0]
    return {
        "noise_reduction_measured": roi.measured_noise_reduction,
        "sharpness": {axis.axis: axis.median_ratio for axis in report.sharpness},
        "mean_change": report.change.mean,
        "fraction_changed_beyond_noise": report.change.fraction_above,
    }


def _measure(name: str, relative: str, selection: dict, slices, factor: float) -> dict[str, Any]:
    import numpy as np

    import mrdeeprecon.inference as inference
    from mrdeeprecon.io import load_volume
    from mrdeeprecon.settings import EnhanceSettings

    volume = _crop(load_volume(REPO.parent / "shared" / "data" / "dicom" / relative, **selection), slices)
    context = volume.metadata["scan_context"]
    settings = EnhanceSettings(factor, device="cpu", model_kind="2d")
    clipped = inference.enhance(volume, settings)
    keep = inference._is_magnitude
    inference._is_magnitude = lambda _volume: False  # the same run without the clip
    try:
        unclipped = inference.enhance(volume, settings)
    finally:
        inference._is_magnitude = keep
    raw = unclipped.data
    p99 = float(np.percentile(raw, 99))
    return {
        "series": name,
        "shape_zyx": list(volume.shape),
        "input_min": float(volume.data.min()),
        "negative_fraction_unclipped": float(np.mean(raw < 0)),
        "min_unclipped_percent_of_p99": 100.0 * float(raw.min()) / p99,
        "output_min_clipped": float(clipped.data.min()),
        "noise_reduction_reported": float(clipped.metadata["enhancement"]["noise_reduction_achieved"]),
        "qa_clipped": _qa_numbers(volume, clipped, context),
        "qa_unclipped": _qa_numbers(volume, unclipped, context),
    }


def _table(rows: list[dict[str, Any]], factor: float) -> str:
    lines = [
        f"Noise reduction {factor:g}, bundled 2D model; QA of the clipped (shipped) and unclipped output.",
        "",
        "| series | voxels < 0 unclipped | min unclipped (% of p99) | NR the engine reports | measured NR clipped / unclipped | sharpness clipped / unclipped | mean change clipped / unclipped | changed beyond noise clipped / unclipped |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        c, u = r["qa_clipped"], r["qa_unclipped"]
        head = (
            f"| {r['series']} | {100 * r['negative_fraction_unclipped']:.2f} % | "
            f"{r['min_unclipped_percent_of_p99']:.1f} | {r['noise_reduction_reported']:.2f} | "
        )
        if "error" in c:
            lines.append(head + f"QA refused: {c['error']} | | | |")
            continue
        sharp = ", ".join(
            f"{axis} {c['sharpness'][axis]:.3f} / {u['sharpness'][axis]:.3f}" for axis in c["sharpness"]
        )
        lines.append(
            head + f"{c['noise_reduction_measured']:.3f} / {u['noise_reduction_measured']:.3f} | {sharp} | "
            f"{c['mean_change']:.4g} / {u['mean_change']:.4g} | "
            f"{100 * c['fraction_changed_beyond_noise']:.2f} % / {100 * u['fraction_changed_beyond_noise']:.2f} % |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    use_repository_engine()
    rows = [
        _measure(name, relative, selection, slices, args.noise_reduction)
        for name, (relative, selection, slices) in SERIES.items()
    ]
    for row in rows:
        print(json.dumps(row))
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    args.json.write_text(json.dumps({"measured": stamp, "rows": rows}, indent=2) + "\n")
    write_section(args.out, "negative_values", _table(rows, args.noise_reduction))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
