"""Shared helpers of the benchmark scripts: engine import path, thread control, timing, memory.

Nothing here imports SimpleITK, pydicom, scikit-image or nibabel, so the network and matmul
benchmarks run on a machine that has only numpy, torch and safetensors (a lent GPU machine).
Times are seconds (``time.perf_counter``), memory is bytes.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
ENGINE_DIR = REPO / "MRDeepRecon"
BENCHMARKS_DIR = Path(__file__).resolve().parent


def use_repository_engine() -> None:
    """Put this checkout's ``MRDeepRecon`` folder first on ``sys.path``.

    ``import mrdeeprecon`` then loads the engine of this repository (not an installed copy). Its
    ``__init__`` imports only numpy-level modules; readers (SimpleITK, pydicom) load on first use.
    """
    if str(ENGINE_DIR) not in sys.path:
        sys.path.insert(0, str(ENGINE_DIR))


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def set_thread_environment(threads: int) -> None:
    """Ask OpenMP/MKL/OpenBLAS for ``threads`` threads; call before numpy or torch is imported.

    The variables are inherited by the child processes of the pipeline benchmark (and by BM4D).
    """
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(threads)


def set_torch_threads(threads: int) -> None:
    """Intra-op threads of torch (the thread count every CPU number is measured with)."""
    import torch

    torch.set_num_threads(threads)


@dataclass(frozen=True)
class Timing:
    """Repeated measurements of one operation, seconds; ``median_s`` is the one reported."""

    median_s: float
    samples_s: tuple[float, ...]

    @classmethod
    def of(cls, samples: list[float]) -> "Timing":
        return cls(statistics.median(samples), tuple(samples))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def measure(
    operation: Callable[[], object],
    repeats: int,
    warmup: int = 1,
    synchronize: Callable[[], None] | None = None,
) -> Timing:
    """Run ``operation`` ``warmup`` times unmeasured, then ``repeats`` times; median wall time.

    ``synchronize`` (e.g. ``torch.cuda.synchronize``) is called before each clock read, so
    asynchronous device work is inside the measured interval.
    """
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    sync = synchronize or (lambda: None)
    for _ in range(warmup):
        operation()
    sync()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        operation()
        sync()
        samples.append(time.perf_counter() - start)
    return Timing.of(samples)


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (Linux ``VmHWM``; ``ru_maxrss`` elsewhere)."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    import resource

    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss if sys.platform == "darwin" else maxrss * 1024


def run_child(script: str, arguments: list[str], report_path: Path) -> tuple[dict[str, Any], float]:
    """Run ``benchmarks/<script>`` in a fresh interpreter (this one's ``sys.executable``).

    The child writes its measurements as JSON to ``report_path``. Returns that dictionary and the
    child's whole wall time in seconds (interpreter start and imports included). A failing child
    raises ``RuntimeError`` with its stderr.
    """
    command = [sys.executable, str(BENCHMARKS_DIR / script), *arguments, "--report", str(report_path)]
    start = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if completed.returncode != 0:
        raise RuntimeError(
            f"{script} {' '.join(arguments)} failed ({completed.returncode}):\n{completed.stderr}"
        )
    return json.loads(report_path.read_text()), wall


def gigabytes(n_bytes: float) -> float:
    """Bytes → GB (10⁹ bytes), the unit of the issue's memory goals."""
    return n_bytes / 1e9


def write_section(path: Path, name: str, text: str) -> None:
    """Put ``text`` into ``path`` between ``<!-- name:begin -->`` and ``<!-- name:end -->``.

    The speed run (``run.py``, section ``speed``) and the quality run (``quality.py``, section
    ``quality``) share ``RESULTS.md`` this way: each replaces its own section and keeps the other.
    """
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    block = f"{begin}\n{text.rstrip()}\n{end}\n"
    current = path.read_text() if path.exists() else ""
    if begin in current and end in current:
        head, rest = current.split(begin, 1)
        tail = rest.split(end, 1)[1].lstrip("\n")
        updated = head + block + ("\n" + tail if tail else "")
    else:
        updated = current + ("\n" if current else "") + block
    path.write_text(updated)
