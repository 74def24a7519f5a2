"""Full pipeline, read → enhance → write, each measurement in its own child process.

A case writes its input volume once (not timed), then runs ``pipeline_child.py`` ``repeats`` times;
per split (read, enhance, write, their sum, the child's whole wall time with interpreter start
and imports but without its warm repeats) the median is reported, and the largest peak resident set (VmHWM) and CUDA
allocation over the runs. One discarded child run on a small volume first warms the file cache
and the shared libraries (not in quick mode).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import run_child
from inputs import Source, build_volume
from volume_files import file_name, write_volume


@dataclass(frozen=True)
class PipelineCase:
    """What one pipeline case runs: volume shape (z, y, x), model, tiling (None = engine default),
    and the planes the network runs along (3: the volume is read as a 3D acquisition)."""

    name: str
    shape: tuple[int, int, int]
    model_kind: str
    warm_repeats: int = 0
    batch_size: int | None = None
    tile_size: int | None = None
    planes: int = 1


@dataclass(frozen=True)
class ChildOptions:
    """How every child runs: device, threads, noise reduction, file format, scratch folder."""

    device: str
    threads: int
    noise_reduction: float
    io_format: str
    workdir: Path


def _child_arguments(case: PipelineCase, options: ChildOptions, source: Path, output: Path) -> list[str]:
    arguments = [
        "--input", str(source),
        "--output", str(output),
        "--device", options.device,
        "--threads", str(options.threads),
        "--model-kind", case.model_kind,
        "--noise-reduction", str(options.noise_reduction),
        "--warm-repeats", str(case.warm_repeats),
    ]
    if case.batch_size:
        arguments += ["--batch-size", str(case.batch_size)]
    if case.tile_size:
        arguments += ["--tile-size", str(case.tile_size)]
    if case.planes != 1:
        arguments += ["--planes", str(case.planes)]
    return arguments


def _input_file(source: Source, case: PipelineCase, options: ChildOptions) -> Path:
    path = options.workdir / file_name("in_" + "x".join(map(str, case.shape)), options.io_format)
    if not path.exists():
        write_volume(build_volume(source, case.shape), path)
    return path


def _summary(runs: list[dict[str, Any]], walls: list[float]) -> dict[str, Any]:
    def median(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    totals = [r["read_s"] + r["enhance_s"] + r["write_s"] for r in runs]
    warm = [r["warm_enhance_s"] for r in runs if r["warm_enhance_s"] is not None]
    summary = {
        "read_s": median("read_s"),
        "enhance_s": median("enhance_s"),
        "write_s": median("write_s"),
        "total_s": statistics.median(totals),
        "total_samples_s": totals,
        "process_wall_s": statistics.median(w - r["warm_total_s"] for w, r in zip(walls, runs)),
        "imports_s": median("imports_s"),
        "warm_enhance_s": statistics.median(warm) if warm else None,
        "peak_rss_bytes": max(r["peak_rss_bytes"] for r in runs),
    }
    if "cuda_max_allocated_bytes" in runs[0]:
        summary["cuda_max_allocated_bytes"] = max(r["cuda_max_allocated_bytes"] for r in runs)
        summary["cuda_max_reserved_bytes"] = max(r["cuda_max_reserved_bytes"] for r in runs)
    return summary


def run_case(source: Source, case: PipelineCase, options: ChildOptions, repeats: int) -> dict[str, Any]:
    """Median timings and peak memory of ``repeats`` child runs of ``case``."""
    path = _input_file(source, case, options)
    output = options.workdir / file_name(f"out_{case.name}", options.io_format)
    runs, walls = [], []
    for index in range(repeats):
        report = options.workdir / f"{case.name}_{index}.json"
        run, wall = run_child("pipeline_child.py", _child_arguments(case, options, path, output), report)
        runs.append(run)
        walls.append(wall)
    return {
        "name": case.name,
        "shape_zyx": list(case.shape),
        "model_kind": case.model_kind,
        "planes": case.planes,
        "batch_size": runs[0]["batch_size"],
        "tile_size": runs[0]["tile_size"],
        "output_shape_zyx": runs[0]["output_shape_zyx"],
        "repeats": repeats,
        **_summary(runs, walls),
    }


def warm_up(source: Source, options: ChildOptions) -> None:
    """One discarded child run on a small volume (file cache, shared libraries, model files)."""
    run_case(source, PipelineCase("warmup", (8, 64, 64), "3d"), options, repeats=1)


def run(source: Source, options: ChildOptions, quick: bool, repeats: int) -> dict[str, Any]:
    """End-to-end cases (the 256×256×176 goal; 3D model, and 2D unless quick), the same volume with
    three planes (an option, outside the goal: its time and memory) and the 512×512×200 memory case
    (3D model)."""
    e2e_shape = (12, 64, 64) if quick else (176, 256, 256)
    memory_shape = (12, 128, 128) if quick else (200, 512, 512)
    cases = [PipelineCase("e2e_3d", e2e_shape, "3d", warm_repeats=1)]
    if not quick:
        cases.append(PipelineCase("e2e_2d", e2e_shape, "2d", warm_repeats=1))
    cases.append(PipelineCase("planes3_3d", e2e_shape, "3d", warm_repeats=1, planes=3))
    cases.append(PipelineCase("memory_3d", memory_shape, "3d"))
    if not quick:
        warm_up(source, options)
    return {
        "io_format": options.io_format,
        "noise_reduction": options.noise_reduction,
        "source": source.description,
        "cases": {case.name: run_case(source, case, options, repeats) for case in cases},
    }
