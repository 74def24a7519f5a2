"""One read → enhance → write of a volume file in a fresh process, timed, with its peak memory.

Run by ``pipeline.py`` (one process per measurement, so the peak resident set is this case's):

    python benchmarks/pipeline_child.py --input IN --output OUT --report JSON [--device cpu]
        [--threads N] [--model-kind 3d] [--noise-reduction 3] [--batch-size B] [--tile-size T]
        [--warm-repeats K] [--planes 3]

The engine's public API does the work (``mrdeeprecon.io`` or ``.npy`` for the files,
``mrdeeprecon.inference.enhance``). Imports happen before the clock starts (``imports_s``); the
first ``enhance`` is cold (model load, kernel selection), as in a CLI or Slicer background run;
``--warm-repeats`` more calls in the same process give the warm enhance time. Written JSON:
seconds ``imports_s``, ``read_s``, ``enhance_s``, ``write_s``, ``warm_enhance_s`` (median or
null), ``warm_total_s`` (all warm calls), bytes ``peak_rss_bytes`` (VmHWM) and on CUDA ``cuda_max_allocated_bytes`` /
``cuda_max_reserved_bytes`` of the cold enhance.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from common import peak_rss_bytes, set_thread_environment, set_torch_threads, use_repository_engine


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--model-kind", default="3d")
    parser.add_argument("--noise-reduction", type=float, default=3.0)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--tile-size", type=int)
    parser.add_argument("--warm-repeats", type=int, default=0)
    parser.add_argument("--planes", type=int, default=1, help="3: the network along three axes, the volume read as a 3D acquisition")
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    set_thread_environment(args.threads)
    start = time.perf_counter()
    use_repository_engine()
    import torch

    from mrdeeprecon.context import ScanContext
    from mrdeeprecon.inference import enhance
    from mrdeeprecon.settings import EnhanceSettings
    from volume_files import read_volume, write_volume

    if args.input.suffix != ".npy":
        import mrdeeprecon.io  # noqa: F401  (SimpleITK, pydicom: imports are not reading time)
    set_torch_threads(args.threads)
    imports = time.perf_counter() - start

    optional = {k: v for k, v in (("batch_size", args.batch_size), ("tile_size", args.tile_size)) if v}
    settings = EnhanceSettings(
        noise_reduction=args.noise_reduction,
        device=args.device,
        model_kind=args.model_kind,
        planes=args.planes,
        **optional,
    )
    context = ScanContext(acquisition="3D") if args.planes == 3 else None
    cuda = args.device == "cuda"

    start = time.perf_counter()
    volume = read_volume(args.input)
    read = time.perf_counter() - start
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    result = enhance(volume, settings, context)
    enhance_time = time.perf_counter() - start
    cuda_memory = (
        {
            "cuda_max_allocated_bytes": torch.cuda.max_memory_allocated(),
            "cuda_max_reserved_bytes": torch.cuda.max_memory_reserved(),
        }
        if cuda
        else {}
    )
    start = time.perf_counter()
    write_volume(result, args.output)
    write = time.perf_counter() - start

    warm = []
    for _ in range(args.warm_repeats):
        start = time.perf_counter()
        enhance(volume, settings, context)
        warm.append(time.perf_counter() - start)

    report = {
        "shape_zyx": list(volume.shape),
        "output_shape_zyx": list(result.shape),
        "batch_size": settings.batch_size,
        "tile_size": settings.tile_size,
        "model_kind": args.model_kind,
        "planes": args.planes,
        "device": args.device,
        "threads": torch.get_num_threads(),
        "imports_s": imports,
        "read_s": read,
        "enhance_s": enhance_time,
        "write_s": write,
        "warm_enhance_s": statistics.median(warm) if warm else None,
        "warm_total_s": sum(warm),
        "peak_rss_bytes": peak_rss_bytes(),
        **cuda_memory,
    }
    args.report.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
