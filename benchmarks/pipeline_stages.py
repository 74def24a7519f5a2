"""Where the time of a warm ``enhance()`` goes, stage by stage, and the network's share.

    python benchmarks/pipeline_stages.py --engine DIR --input IN.npy --report JSON
        [--device cpu] [--threads N] [--model-kind 3d] [--noise-reduction 3] [--repeats R]

One child process per engine and model (run by ``run.py``'s ``pipeline-on-device`` section): the
engine in ``DIR`` (a folder holding a ``mrdeeprecon`` package: this checkout's, or an older one
given with ``run.py --baseline-engine`` for a before/after comparison in the same run) enhances
the ``.npy`` volume (with this checkout's bundled models, whatever the engine) once unmeasured (model load, kernel selection), then ``R`` times. Per run:
the wall time of ``enhance``; the network's time (every ``CEUNet.forward``, device synchronised,
whatever the engine); and, where the engine marks its stages (:mod:`mrdeeprecon.stage_timing`),
the time of each: copy, standardise, noise map, gather, network, blend, noise reduction,
destandardise. Medians are written as JSON. Needs numpy, torch and safetensors only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from common import ENGINE_DIR, set_thread_environment, set_torch_threads


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", type=Path, required=True)
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--model-kind", default="3d")
    parser.add_argument("--noise-reduction", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=3)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    set_thread_environment(args.threads)
    sys.path.insert(0, str(args.engine))
    os.environ.setdefault("MRDEEPRECON_MODEL_DIR", str(ENGINE_DIR / "Resources" / "models"))  # every engine, the same models
    import contextlib

    import numpy as np
    import torch

    from mrdeeprecon.inference import enhance
    from mrdeeprecon.model.ce_unet import CEUNet
    from mrdeeprecon.settings import EnhanceSettings
    from mrdeeprecon.volume import Volume

    try:
        from mrdeeprecon import stage_timing
    except ImportError:  # an engine from before the stages were marked
        stage_timing = None
    set_torch_threads(args.threads)
    device = torch.device(args.device)
    synchronize = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    network = [0.0]
    forward = CEUNet.forward

    def timed_forward(self, x, context):
        synchronize()
        start = time.perf_counter()
        out = forward(self, x, context)
        synchronize()
        network[0] += time.perf_counter() - start
        return out

    CEUNet.forward = timed_forward
    volume = Volume(np.load(args.input), spacing=(1.0, 1.0, 1.0))
    settings = EnhanceSettings(device=args.device, model_kind=args.model_kind, noise_reduction=args.noise_reduction)
    enhance(volume, settings)
    runs: list[dict[str, Any]] = []
    for _ in range(args.repeats):
        network[0] = 0.0
        recording = stage_timing.record() if stage_timing else contextlib.nullcontext({})
        synchronize()
        start = time.perf_counter()
        with recording as stages:
            enhance(volume, settings)
        synchronize()
        runs.append({"total_s": time.perf_counter() - start, "network_forward_s": network[0], "stages_s": dict(stages)})
    median = lambda values: statistics.median(values)  # noqa: E731
    names = sorted({name for run in runs for name in run["stages_s"]})
    report = {
        "engine": str(args.engine),
        "shape_zyx": list(volume.shape),
        "model_kind": args.model_kind,
        "device": args.device,
        "threads": torch.get_num_threads(),
        "repeats": args.repeats,
        "total_s": median([r["total_s"] for r in runs]),
        "network_forward_s": median([r["network_forward_s"] for r in runs]),
        "stages_s": {name: median([r["stages_s"].get(name, 0.0) for r in runs]) for name in names},
        "runs": runs,
    }
    report["network_share"] = report["network_forward_s"] / report["total_s"]
    args.report.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
