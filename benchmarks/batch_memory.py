"""Memory of a long batch: does one process grow while it enhances 50 series?

    python benchmarks/batch_memory.py [--series 50] [--shape 24 192 160]
        [--out benchmarks/RESULTS.md] [--json benchmarks/results_batch_memory.json]

Makes ``--series`` synthetic MR series (classic DICOM, ``Testing/synthetic_dicom.mr_series``,
different seeds) and enhances them with :func:`mrdeeprecon.batch.run_batch` in this process on
the CPU, reading the resident set size (``/proc/self/statm``) after every item. Reported: RSS
after the first item (model loaded, allocator warm), after the fifth, after the last, and the
growth from the fifth to the last (the goal: under 5 %). The section ``batch_memory`` of
RESULTS.md is replaced.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from common import BENCHMARKS_DIR, REPO, use_repository_engine, write_section

#: Relative RSS growth from the fifth item to the last above which the goal is missed.
GROWTH_GOAL = 0.05


def _rss_mib() -> float:
    with open("/proc/self/statm") as stream:
        return int(stream.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=50)
    parser.add_argument("--shape", type=int, nargs=3, default=(24, 192, 160), metavar=("SLICES", "ROWS", "COLUMNS"))
    parser.add_argument("--out", type=Path, default=BENCHMARKS_DIR / "RESULTS.md")
    parser.add_argument("--json", type=Path, default=BENCHMARKS_DIR / "results_batch_memory.json")
    args = parser.parse_args(argv)
    use_repository_engine()
    sys.path.insert(0, str(REPO / "Testing"))
    import torch

    from mrdeeprecon.batch import find_items, run_batch
    from mrdeeprecon.settings import EnhanceSettings
    from synthetic_dicom import mr_series

    torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))
    with tempfile.TemporaryDirectory(prefix="mrdeeprecon-batch-memory-") as folder:
        root = Path(folder)
        for index in range(args.series):
            mr_series(root / "in" / f"s{index:03d}", tuple(args.shape), seed=index)
        items = find_items(root / "in", EnhanceSettings(device="cpu"))
        rss: list[float] = []
        started = time.perf_counter()
        run_batch(items, root / "out", log=lambda line: rss.append(_rss_mib()))
        seconds = time.perf_counter() - started
    growth = (rss[-1] - rss[4]) / rss[4]
    result = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "series": args.series,
        "shape_zyx": list(args.shape),
        "seconds": round(seconds, 1),
        "rss_mib_after_item": [round(r, 1) for r in rss],
        "growth_5th_to_last": round(growth, 4),
        "goal_met": growth < GROWTH_GOAL,
    }
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    text = "\n".join([
        "## Batch memory (`python benchmarks/batch_memory.py`)",
        "",
        f"{args.series} synthetic series of {' x '.join(map(str, args.shape))} voxels (z, y, x) enhanced by one "
        f"`run_batch` on the CPU ({seconds:.0f} s, {result['when']}). Resident set size after item 1: {rss[0]:.0f} MiB, "
        f"after item 5: {rss[4]:.0f} MiB, after item {args.series}: {rss[-1]:.0f} MiB: growth {100 * growth:+.1f} % "
        f"from the 5th to the last (goal under {100 * GROWTH_GOAL:.0f} %: {'met' if result['goal_met'] else 'not met'}). "
        f"Every item's RSS: `{args.json.name}`.",
    ])
    write_section(args.out, "batch_memory", text)
    print(text)
    return 0 if result["goal_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
