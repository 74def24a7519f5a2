"""Cancelling `mrdeeprecon enhance` from outside: Ctrl-C (SIGINT) and SIGTERM (a scheduler, `kill`,
the Slicer panel's Cancel) end the run with one line, no output, no temporary file and no process
left behind, and the source untouched."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from synthetic_dicom import mr_series

REPO = Path(__file__).resolve().parents[1]


def _digest(folder: Path) -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(folder.iterdir()))).hexdigest()


def _interruptible() -> None:
    """In the child: SIGINT back to its default, so that Python turns it into KeyboardInterrupt even
    when this test runs in a background job (whose shell started it with SIGINT ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(scope="module")
def series(tmp_path_factory) -> Path:
    """A synthetic MR series that takes the bundled model several seconds on a CPU."""
    return mr_series(tmp_path_factory.mktemp("cancel") / "series", (48, 192, 160))


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("output_format", ["nifti", "dicom"])
def test_a_signal_cancels_cleanly(series, tmp_path, signum, code, output_format) -> None:
    before = _digest(series)
    out, temporary = tmp_path / "out", tmp_path / "tmp"
    out.mkdir()
    temporary.mkdir()
    target = out / ("enhanced.nii.gz" if output_format == "nifti" else "derived")
    command = [sys.executable, "-m", "mrdeeprecon.cli", "enhance", str(series), str(target), "--device", "cpu",
               "--progress", "lines", *(["--format", "dicom"] if output_format == "dicom" else [])]
    env = dict(os.environ, TMPDIR=str(temporary), PYTHONPATH=str(REPO / "MRDeepRecon"), OMP_NUM_THREADS="1")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               start_new_session=True, preexec_fn=_interruptible)
    deadline = time.monotonic() + 300
    for line in process.stdout:  # type: ignore[union-attr]
        if line.startswith("PROGRESS") and float(line.split()[1]) > 0.0:
            break  # the network is running
        assert time.monotonic() < deadline, "no progress"
    else:
        pytest.fail(f"the run ended before it could be cancelled: {process.stderr.read()}")  # type: ignore[union-attr]
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == code, stderr
    assert stderr.strip().splitlines()[-1] == "mrdeeprecon: cancelled"
    assert "Traceback" not in stderr
    assert list(out.iterdir()) == [] and list(temporary.iterdir()) == []
    with pytest.raises(ProcessLookupError):  # nothing of its process group is left
        os.killpg(process.pid, 0)
    assert _digest(series) == before


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_a_signal_cancels_a_batch_cleanly(series, tmp_path, signum, code) -> None:
    out, temporary = tmp_path / "out", tmp_path / "tmp"
    temporary.mkdir()
    command = [sys.executable, "-m", "mrdeeprecon.cli", "batch", str(series.parent), "--out", str(out), "--device", "cpu",
               "--progress", "lines"]
    env = dict(os.environ, TMPDIR=str(temporary), PYTHONPATH=str(REPO / "MRDeepRecon"), OMP_NUM_THREADS="1")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               start_new_session=True, preexec_fn=_interruptible)
    for line in process.stdout:  # type: ignore[union-attr]
        if line.startswith("PROGRESS") and float(line.split()[1]) > 0.0:
            break
    else:
        pytest.fail(f"the batch ended before it could be cancelled: {process.stderr.read()}")  # type: ignore[union-attr]
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == code, stderr
    assert stderr.strip().splitlines()[-1] == "mrdeeprecon: cancelled" and "Traceback" not in stderr
    # the report says where it stopped; no output, nothing staged, nothing in the temporary folder
    assert sorted(p.name for p in out.iterdir()) == ["batch_report.csv", "batch_report.html"]
    assert "not started" in (out / "batch_report.csv").read_text()
    assert list(temporary.iterdir()) == []
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)
