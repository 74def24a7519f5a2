"""Run the MRDeepRecon speed benchmarks and write RESULTS.md plus a results JSON.

    python benchmarks/run.py [--quick] [--device cpu|cuda] [--threads N]
        [--only peak,network,pipeline,pipeline-on-device,scaling,bm4d | --network-only]
        [--repeats R] [--source FILE] [--baseline-engine DIR]
        [--out benchmarks/RESULTS.md] [--json benchmarks/results_cpu.json]

Sections: ``peak`` (matmul and 3×3 convolution FLOP/s), ``network`` (the CE U-Nets alone), ``pipeline`` (read →
enhance → write and peak memory, child processes), ``pipeline-on-device`` (a warm enhance stage
by stage: standardise, noise map, gather, network, blend, calibration, noise reduction, destandardise, copies;
with ``--baseline-engine`` an older engine's totals beside them), ``scaling`` (time vs slices), ``bm4d``
(speed against BM4D). ``--network-only`` (= ``--only peak,network``) needs only numpy, torch,
safetensors and this repository's ``MRDeepRecon/mrdeeprecon`` (no SimpleITK, pydicom,
scikit-image or nibabel). ``--quick`` uses tiny sizes and 2 repeats: a plumbing check whose
numbers mean nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from common import (
    BENCHMARKS_DIR,
    write_section,
    set_thread_environment,
    set_torch_threads,
    usable_cores,
    use_repository_engine,
)

SECTIONS = ("peak", "network", "pipeline", "pipeline-on-device", "scaling", "bm4d")
NOISE_REDUCTION = 3.0
MIN_CHEAP_REPEATS = 5  # peak and network runs take milliseconds: at least this many repeats


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="MRDeepRecon speed benchmarks (see benchmarks/README.md).")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 2 repeats: checks the scripts run, measures nothing")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--threads", type=int, default=usable_cores(), help="CPU threads for torch, OpenMP and BM4D (default: all usable cores)")
    parser.add_argument("--only", help=f"comma-separated sections among {','.join(SECTIONS)}")
    parser.add_argument("--network-only", action="store_true", help="same as --only peak,network (numpy + torch + safetensors only)")
    parser.add_argument("--repeats", type=int, help="repeats per measurement, median reported (default 3; quick 2)")
    parser.add_argument("--source", type=Path, help="real volume the inputs are built from (.nii.gz, or .npy from export_source.py)")
    parser.add_argument("--baseline-engine", type=Path, help="folder holding an older mrdeeprecon package, timed beside this one in pipeline-on-device")
    parser.add_argument("--out", type=Path, help="Markdown results (default benchmarks/RESULTS.md; RESULTS_gpu.md for cuda)")
    parser.add_argument("--json", type=Path, help="JSON results (default benchmarks/results_<device>.json)")
    args = parser.parse_args(argv)
    if args.network_only and args.only:
        parser.error("--network-only and --only are exclusive")
    only = "peak,network" if args.network_only else args.only
    args.sections = [s.strip() for s in only.split(",")] if only else list(SECTIONS)
    unknown = sorted(set(args.sections) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose among {', '.join(SECTIONS)}")
    if args.threads < 1:
        parser.error("--threads must be >= 1")
    args.repeats = args.repeats or (2 if args.quick else 3)
    suffix = "_gpu" if args.device == "cuda" else ""
    args.out = args.out or BENCHMARKS_DIR / f"RESULTS{suffix}.md"
    args.json = args.json or BENCHMARKS_DIR / f"results_{args.device}.json"
    return args


def _run_sections(args: argparse.Namespace, workdir: Path) -> tuple[dict[str, Any], dict[str, float]]:
    """Each requested section's results, and the seconds each took."""
    import bm4d_compare
    import network_speed
    import peak_flops
    import pipeline
    import pipeline_on_device
    import scaling
    from inputs import load_source
    from volume_files import available_format

    cheap = max(args.repeats, MIN_CHEAP_REPEATS)
    sections: dict[str, Any] = {}
    durations: dict[str, float] = {}

    def record(name: str, compute: Callable[[], dict[str, Any]]) -> None:
        if name in args.sections:
            start = time.perf_counter()
            sections[name] = compute()
            durations[name] = time.perf_counter() - start

    record("peak", lambda: peak_flops.run(args.device, args.quick, cheap))
    record("network", lambda: network_speed.run(args.device, args.quick, cheap, sections.get("peak")))
    if not {"pipeline", "pipeline-on-device", "scaling", "bm4d"} & set(args.sections):
        return sections, durations
    source = load_source(args.source)
    record("pipeline", lambda: pipeline.run(
        source,
        pipeline.ChildOptions(args.device, args.threads, NOISE_REDUCTION, available_format(), workdir),
        args.quick,
        args.repeats,
    ))
    record("pipeline-on-device", lambda: pipeline_on_device.run(
        source, args.device, args.threads, NOISE_REDUCTION, args.quick, args.repeats, workdir, args.baseline_engine
    ))
    record("scaling", lambda: scaling.run(source, args.device, args.quick, args.repeats, NOISE_REDUCTION))
    record("bm4d", lambda: bm4d_compare.run(source, args.device, args.quick, args.repeats, NOISE_REDUCTION))
    return sections, durations


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _arguments(argv)
    set_thread_environment(args.threads)
    use_repository_engine()
    import torch

    from machine import describe, load_average
    from mrdeeprecon.errors import MRDeepReconError
    from report import evaluate_goals, render

    set_torch_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("run.py: error: --device cuda but torch sees no CUDA device", file=sys.stderr)
        return 2
    start = time.perf_counter()
    machine = describe(args.device, args.threads)
    try:
        with tempfile.TemporaryDirectory(prefix="mrdeeprecon-bench-") as workdir:
            sections, durations = _run_sections(args, Path(workdir))
    except MRDeepReconError as error:
        print(f"run.py: error: {error}", file=sys.stderr)
        return 2
    results: dict[str, Any] = {
        "command": " ".join(["python benchmarks/run.py", *argv]),
        "machine": machine,
        "quick": args.quick,
        "repeats": args.repeats,
        "duration_s": time.perf_counter() - start,
        "section_durations_s": durations,
        "load_average_end": load_average(),
        "sections": sections,
    }
    results["goals"] = [goal.__dict__ for goal in evaluate_goals(results)]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_section(args.out, "speed", render([results]))
    print(f"wrote {args.out} and {args.json} in {results['duration_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
