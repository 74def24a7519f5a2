"""Old pipeline against new, on the CPU: does moving enhance() to torch change its output?

    python benchmarks/pipeline_equivalence.py (--old-engine DIR | --old-ref REV) [--threads 2]
        [--out benchmarks/RESULTS.md] [--json benchmarks/results_equivalence.json]

The old engine is a folder holding a ``mrdeeprecon`` package (``--old-engine``), or this
repository's ``MRDeepRecon/mrdeeprecon`` at a git revision, extracted into a temporary folder
(``--old-ref``, e.g. the commit before the torch pipeline landed); the new one is this checkout's.
Each engine runs every case in its own child process (this script with ``--engine``), so the
two packages never meet in one interpreter, and writes each output as ``.npy``.

The cases cover the 2D and the 3D bundled model and a randomly initialised model with a noise-map
input, super-resolution along each encoding direction, both phase-encoding axes (the transposed
layout), an oblique direction, odd sizes, zero borders of an integer image, an acquired k-space
band below the grid's (``kmax`` < 1, so the noise map and the knob crop k-space), noise reduction
1 and above, and several tile and batch sizes. Inputs are cut from the benchmarks' real source
volume (``inputs.py``, Rician background noise). The criterion of the issue: per case,
max |new − old| ≤ 1e-4 × the old output's 99th percentile; geometry (shape, spacing, origin)
identical. Writes the ``pipeline_equivalence`` section of RESULTS.md and a JSON of every number;
exits 1 when a case fails.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np

from common import BENCHMARKS_DIR, ENGINE_DIR, REPO, set_thread_environment, write_section

#: The criterion: max |new − old| over the old output's 99th percentile.
TOLERANCE = 1e-4
OBLIQUE = [[0.9, -0.3, 0.3], [0.3, 0.95, 0.0], [-0.3, 0.1, 0.95]]


@dataclass(frozen=True)
class Case:
    """One enhancement both engines run: input shape (z, y, x) and everything else."""

    name: str
    shape: tuple[int, int, int]
    model: str  # "2d", "3d" (bundled) or "map" (random, noise-map input)
    settings: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    oblique: bool = False
    zero_border_int16: bool = False


CASES = (
    Case("2d_plain", (10, 96, 112), "2d", {"noise_reduction": 3.0}, {"phase_axis": 2}),
    Case("2d_transposed_odd", (9, 97, 111), "2d", {"noise_reduction": 3.0}, {"phase_axis": 1}),
    Case("2d_sr_frequency", (6, 80, 96), "2d", {"noise_reduction": 2.0, "super_resolution": (2.0, 1.0, 1.0)}, {"phase_axis": 2}),
    Case("2d_sr_phase_odd_transposed", (5, 81, 75), "2d", {"noise_reduction": 5.0, "super_resolution": (1.0, 1.5, 1.0)}, {"phase_axis": 1}),
    Case("3d_sr_slice", (12, 80, 96), "3d", {"noise_reduction": 3.0, "super_resolution": (1.0, 1.0, 2.0)}, {"acquisition": "3D", "phase_axis": 2}),
    Case("3d_tiled_oblique", (9, 150, 131), "3d", {"noise_reduction": 4.0, "tile_size": 64, "batch_size": 3}, {"acquisition": "3D", "phase_axis": 1}, oblique=True),
    Case("3d_kmax_band", (11, 96, 96), "3d", {"noise_reduction": 6.0, "batch_size": 5}, {"acquisition": "3D", "phase_axis": 2, "kmax": (0.7, 0.6, 0.8)}),
    Case("2d_reachable_nr", (8, 96, 100), "2d", {"noise_reduction": 1.3}, {"phase_axis": 2, "kmax": (0.8, 0.7, 1.0)}),
    Case("2d_tiled_nr1", (6, 101, 90), "2d", {"noise_reduction": 1.0, "tile_size": 48, "batch_size": 7}, {"phase_axis": 2}),
    Case("2d_zero_border_int16", (6, 96, 96), "2d", {"noise_reduction": 3.0, "batch_size": 1}, {"phase_axis": 1}, zero_border_int16=True),
    Case("map_sr_inplane_tiled", (5, 90, 100), "map", {"noise_reduction": 3.0, "super_resolution": (1.5, 1.5, 1.0), "tile_size": 64, "batch_size": 4}, {"phase_axis": 2}),
)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    old = parser.add_mutually_exclusive_group()
    old.add_argument("--old-engine", type=Path, help="folder holding the old mrdeeprecon package")
    old.add_argument("--old-ref", help="git revision of this repository whose MRDeepRecon/mrdeeprecon is the old engine")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=BENCHMARKS_DIR / "RESULTS.md")
    parser.add_argument("--json", type=Path, default=BENCHMARKS_DIR / "results_equivalence.json")
    parser.add_argument("--engine", type=Path, help=argparse.SUPPRESS)  # child: the engine folder
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)  # child: inputs and outputs
    args = parser.parse_args(argv)
    if args.engine is None and args.old_engine is None and args.old_ref is None:
        parser.error("name the old engine: --old-engine DIR or --old-ref REV")
    return args


def _extract(ref: str, into: Path) -> Path:
    """``MRDeepRecon/mrdeeprecon`` at git revision ``ref`` under ``into``; returns the folder that
    holds the ``mrdeeprecon`` package."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", ref, "MRDeepRecon/mrdeeprecon"],
        capture_output=True, check=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "MRDeepRecon"


def _prepare(work: Path) -> None:
    """Inputs (``.npy``), the random noise-map model and the case list, for both children."""
    sys.path.insert(0, str(ENGINE_DIR))
    import torch

    from inputs import build_volume, load_source
    from mrdeeprecon.model.ce_unet import CEUNet, CEUNetConfig
    from mrdeeprecon.model.weights import bundled_model_path, load_model, save_model

    source = load_source(None)
    models = {kind: str(bundled_model_path(kind)) for kind in ("2d", "3d")}
    torch.manual_seed(0)
    mapped = CEUNet(CEUNetConfig(in_slices=1, base_channels=8, depth=2, context_hidden=16, noise_input="map"))
    _, card_2d = load_model(bundled_model_path("2d"), "cpu")
    models["map"] = str(work / "map_model.safetensors")
    save_model(mapped, Path(models["map"]), {"name": "random-map", "calibration": card_2d["calibration"]})
    for case in CASES:
        data = build_volume(source, case.shape, seed=len(case.name)).data
        if case.zero_border_int16:
            data = np.round(data / data.max() * 3000).astype(np.int16)
            data[:, :7] = 0
            data[:, :, -5:] = 0
        np.save(work / f"{case.name}_in.npy", data)
    (work / "cases.json").write_text(json.dumps({"models": models, "cases": [asdict(c) for c in CASES]}))


def _child(engine: Path, work: Path, threads: int) -> None:
    """Run every case with the engine in ``engine``; outputs and geometry into ``work/out_<engine name>``."""
    sys.path.insert(0, str(engine))
    import torch

    from mrdeeprecon.context import ScanContext
    from mrdeeprecon.inference import enhance
    from mrdeeprecon.settings import EnhanceSettings
    from mrdeeprecon.volume import Volume

    torch.set_num_threads(threads)
    spec = json.loads((work / "cases.json").read_text())
    out = work / f"out_{engine.name}"
    out.mkdir(exist_ok=True)
    geometry = {}
    for case in spec["cases"]:
        settings = EnhanceSettings(device="cpu", model_path=spec["models"][case["model"]], **{
            k: tuple(v) if isinstance(v, list) else v for k, v in case["settings"].items()})
        context = ScanContext(**{k: tuple(v) if isinstance(v, list) else v for k, v in case["context"].items()})
        direction = np.asarray(OBLIQUE) if case["oblique"] else np.eye(3)
        direction = direction / np.linalg.norm(direction, axis=0)
        volume = Volume(np.load(work / f"{case['name']}_in.npy"), spacing=(0.9, 0.8, 2.5), origin=(-20.0, 10.0, 5.0), direction=direction)
        result = enhance(volume, settings, context)
        np.save(out / f"{case['name']}.npy", result.data)
        geometry[case["name"]] = {"spacing": list(result.spacing), "origin": list(result.origin),
                                  "achieved": result.metadata["enhancement"]["noise_reduction_achieved"]}
    (out / "geometry.json").write_text(json.dumps(geometry))


def _run_engine(engine: Path, work: Path, threads: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--engine", str(engine), "--work", str(work), "--threads", str(threads)]
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"the engine in {engine} failed:\n{completed.stderr}")
    return json.loads((work / f"out_{engine.name}" / "geometry.json").read_text())


def _compare(work: Path, old: Path, new: Path, geometry: dict[str, dict]) -> list[dict[str, Any]]:
    rows = []
    for case in CASES:
        a = np.load(work / f"out_{old.name}" / f"{case.name}.npy").astype(np.float64)
        b = np.load(work / f"out_{new.name}" / f"{case.name}.npy").astype(np.float64)
        same_shape = a.shape == b.shape
        p99 = float(np.percentile(a, 99))
        error = float(np.abs(b - a).max()) if same_shape else float("inf")
        old_geometry, new_geometry = geometry["old"][case.name], geometry["new"][case.name]
        same_grid = same_shape and all(
            np.allclose(old_geometry[key], new_geometry[key], rtol=0, atol=1e-9) for key in ("spacing", "origin")
        )
        rows.append({
            **asdict(case),
            "output_shape": list(b.shape),
            "old_p99": p99,
            "max_abs_error": error,
            "relative_error": error / p99,
            "achieved_old": old_geometry["achieved"],
            "achieved_new": new_geometry["achieved"],
            "same_geometry": bool(same_grid),
            "passed": bool(same_grid and error <= TOLERANCE * p99),
        })
    return rows


def _markdown(rows: list[dict[str, Any]], old_label: str, threads: int) -> str:
    lines = [
        "## Pipeline on the device: old (numpy) against new (torch) on the CPU (`python benchmarks/pipeline_equivalence.py`)",
        "",
        f"Measured {datetime.now(timezone.utc).isoformat(timespec='seconds')} with {threads} threads; old engine: "
        f"{old_label}; new: this checkout. Criterion: max |new − old| ≤ {TOLERANCE:g} × the old output's 99th "
        "percentile, and the same output grid (shape, spacing, origin). Every number: `results_equivalence.json`.",
        "",
        "| case | model | input z×y×x | SR (f, p, s) | phase axis | tile / batch | NR | output z×y×x | max abs error | / p99 | achieved NR old → new | passed |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        settings = row["settings"]
        lines.append(
            f"| {row['name']} | {row['model']} | {'×'.join(map(str, row['shape']))} | "
            f"{', '.join(f'{s:g}' for s in settings.get('super_resolution', (1, 1, 1)))} | {row['context'].get('phase_axis')} | "
            f"{settings.get('tile_size', 256)} / {settings.get('batch_size', 'default')} | {settings['noise_reduction']:g} | "
            f"{'×'.join(map(str, row['output_shape']))} | {row['max_abs_error']:.3g} | {row['relative_error']:.2e} | "
            f"{row['achieved_old']:.4f} → {row['achieved_new']:.4f} | {'yes' if row['passed'] else '**no**'} |"
        )
    lines += ["", f"All cases within the criterion: {'yes' if all(r['passed'] for r in rows) else '**no**'}."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    set_thread_environment(args.threads)
    if args.engine is not None:
        _child(args.engine, args.work, args.threads)
        return 0
    with tempfile.TemporaryDirectory(prefix="mrdeeprecon-equivalence-") as folder:
        work = Path(folder)
        if args.old_engine is not None:
            old_engine, old_label = args.old_engine.resolve(), f"`{args.old_engine}`"
        else:
            old_engine, old_label = _extract(args.old_ref, work / "old"), f"git `{args.old_ref}`"
        old = work / "old_engine"
        old.symlink_to(old_engine)
        new = work / "new_engine"
        new.symlink_to(ENGINE_DIR)
        _prepare(work)
        geometry = {"old": _run_engine(old, work, args.threads), "new": _run_engine(new, work, args.threads)}
        rows = _compare(work, old, new, geometry)
    result = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "old_engine": old_label,
              "threads": args.threads, "tolerance": TOLERANCE, "cases": rows}
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    text = _markdown(rows, old_label, args.threads)
    write_section(args.out, "pipeline_equivalence", text)
    print(text)
    return 0 if all(r["passed"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
