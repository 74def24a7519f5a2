"""Run one bad-input case and judge it.

A case passes when it either

* is **refused**: a non-zero exit (CLI) or an :class:`~mrdeeprecon.errors.MRDeepReconError` (API),
  with exactly one error line on stderr that names the file or the setting at fault
  (argparse's own refusals add their usage line), or
* **succeeds with a correct result**: exit 0 and an output that reads back finite, non-negative
  (magnitude in, magnitude out) and of the expected grid,

and in both cases: no traceback, no hang (a time limit per case), the inputs byte-identical
(SHA-256 before and after), no file added to an input's folder, and after a refusal no output
and no temporary file beside it.

Cases run in this process (``mrdeeprecon.cli.main`` and the API) with stderr captured at the file
descriptor, so messages printed by C++ libraries (ITK, GDCM) count too; ``mode="process"`` runs the
CLI cases as ``python -m mrdeeprecon.cli`` instead, the way a user runs them.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

#: Seconds a case may take before it counts as a hang.
TIME_LIMIT_S = 120


@dataclass
class Invocation:
    """What a case runs and what it may touch.

    Attributes:
        argv: ``mrdeeprecon`` arguments (a CLI case), or ``None`` for an API case.
        call: the API call (an API case).
        inputs: files or folders that must stay byte-identical, with no file added beside them.
        output: the file or folder the case would write; absent after a refusal.
        names: the refusal message must contain one of these (a file name, a flag, a setting).
        expect: ``"refuse"``, ``"succeed"`` or ``"either"``.
        check: verifies a success's output (raises ``AssertionError``); default: it reads back
            finite and non-negative.
        side_outputs: names a success may also write beside ``output`` (``degrade``'s JSON).
        warns: a success must print a ``warning:`` line naming one of these (a skipped file).
        respect_permissions: run as a process that cannot override file permissions (root
            otherwise reads a mode-000 file): the unreadable-file cases.
    """

    argv: list[str] | None = None
    call: Callable[[], object] | None = None
    inputs: list[Path] = field(default_factory=list)
    output: Path | None = None
    names: tuple[str, ...] = ()
    expect: str = "refuse"
    check: Callable[[], None] | None = None
    side_outputs: tuple[str, ...] = ()
    warns: tuple[str, ...] = ()
    respect_permissions: bool = False


@dataclass(frozen=True)
class Case:
    """One bad input: ``build(folder)`` makes its files inside ``folder`` and says what to run."""

    name: str
    family: str
    build: Callable[[Path], Invocation]
    needs_shared: bool = False


@dataclass
class Outcome:
    name: str
    family: str
    verdict: str  # "refused", "succeeded", or a failure starting with "FAIL"
    message: str
    seconds: float

    @property
    def passed(self) -> bool:
        return not self.verdict.startswith("FAIL")


class _TimeLimit(BaseException):
    """Raised by SIGALRM inside a case (a BaseException, so no ``except Exception`` hides it)."""


@contextlib.contextmanager
def _time_limit(seconds: int) -> Iterator[None]:
    def alarm(signum, frame):  # noqa: ARG001 - signal handler signature
        raise _TimeLimit()

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _captured_stderr() -> Iterator[io.StringIO]:
    """Everything written to file descriptor 2 and ``sys.stderr`` while inside; the text is in the
    yielded buffer afterwards."""
    buffer = io.StringIO()
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        text_sink = io.TextIOWrapper(os.fdopen(os.dup(sink.fileno()), "wb"), encoding="utf-8", write_through=True)
        try:
            with contextlib.redirect_stderr(text_sink), warnings.catch_warnings():
                # Python's default filters, reset per case (so a warning shows in every case that
                # raises it): what a user's terminal would show
                warnings.resetwarnings()
                warnings.simplefilter("default")
                for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
                    warnings.simplefilter("ignore", category)
                yield buffer
        finally:
            text_sink.flush()
            os.dup2(saved, 2)
            os.close(saved)
            text_sink.close()
            sink.seek(0)
            buffer.write(sink.read().decode("utf-8", "replace"))


def _digest(paths: list[Path]) -> dict[str, str]:
    """SHA-256 of every file under ``paths`` (and of each path's folder listing)."""
    out: dict[str, str] = {}
    for root in paths:
        if root.is_symlink() or not root.exists():
            out[str(root)] = "link" if root.is_symlink() else "absent"
            continue
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*"))
        for path in files:
            if path.is_file() and not path.is_symlink():
                out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                out[str(path)] = "link" if path.is_symlink() else "folder"
    return out


def _listing(folders: set[Path]) -> dict[str, list[str]]:
    return {str(f): sorted(p.name for p in f.iterdir()) for f in folders if f.is_dir()}


def _watched_folders(invocation: Invocation) -> set[Path]:
    """The folders that must gain no file: each input's folder (its own, for a folder) and the
    output's folder."""
    folders = set()
    for path in invocation.inputs:
        folders.add(path if path.is_dir() and not path.is_symlink() else path.parent)
    if invocation.output is not None:
        folders.add(invocation.output.parent)
    return folders


def _error_lines(stderr: str) -> list[str]:
    """The lines of a refusal's stderr that are not argparse's usage text."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    if lines and lines[0].startswith("usage:"):
        lines = [line for line in lines if "error:" in line]
    return lines


def _judge_refusal(stderr: str, names: tuple[str, ...]) -> tuple[str, str]:
    lines = _error_lines(stderr)
    if len(lines) != 1:
        return "FAIL: not one line", " | ".join(lines)[:400] or "(nothing on stderr)"
    line = lines[0]
    if "Traceback" in line or "error:" not in line:
        return "FAIL: not an error line", line
    if names and not any(n in line for n in names):
        return "FAIL: does not name the file or setting", f"{line}  (expected one of {list(names)})"
    return "refused", line


def _default_check(output: Path, source: Path | None) -> None:
    """The output reads back, finite, of a storage type we write, and non-negative where the
    source is (magnitude in, magnitude out)."""
    import numpy as np

    from mrdeeprecon.io import load_volume

    volume = load_volume(output)
    assert volume.data.dtype in (np.float32, np.int16, np.uint16), f"output dtype {volume.data.dtype}"
    assert np.isfinite(volume.data).all(), "non-finite output"
    if source is not None and volume.data.min() < 0:
        assert load_volume(source).data.min() < 0, f"negative output {volume.data.min()} from a non-negative input"


def _run_in_process(invocation: Invocation) -> tuple[int | None, str, str | None]:
    """(exit code or None for an API call, stderr, traceback or None)."""
    from mrdeeprecon.cli import main
    from mrdeeprecon.errors import MRDeepReconError

    crash = None
    code: int | None = None
    with _captured_stderr() as stderr, contextlib.redirect_stdout(io.StringIO()):
        try:
            if invocation.argv is not None:
                try:
                    code = main(invocation.argv)
                except SystemExit as exc:  # argparse
                    code = exc.code if isinstance(exc.code, int) else 1
            else:
                try:
                    invocation.call()  # type: ignore[misc]
                    code = 0
                except MRDeepReconError as exc:
                    print(f"error: {exc}", file=sys.stderr)
                    code = 2
        except _TimeLimit:
            raise
        except BaseException:  # noqa: BLE001 - any other exception is the failure being looked for
            crash = traceback.format_exc()
    return code, stderr.getvalue(), crash


def _drop_permission_override() -> None:
    """In a child before exec: drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the bounding
    set, so that even root is refused a mode-000 file (Linux ``prctl(PR_CAPBSET_DROP)``)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, capability, 0, 0, 0) != 0 and os.geteuid() == 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def _run_as_process(invocation: Invocation) -> tuple[int | None, str, str | None]:
    repo = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(repo / "MRDeepRecon"))
    try:
        done = subprocess.run(
            [sys.executable, "-m", "mrdeeprecon.cli", *invocation.argv],  # type: ignore[misc]
            capture_output=True, text=True, timeout=TIME_LIMIT_S, env=env, stdin=subprocess.DEVNULL,
            preexec_fn=_drop_permission_override if invocation.respect_permissions else None,
        )
    except subprocess.TimeoutExpired as exc:
        raise _TimeLimit() from exc
    crash = done.stderr if "Traceback (most recent call last)" in done.stderr else None
    return done.returncode, done.stderr, crash


def run_case(case: Case, folder: Path, mode: str = "inprocess") -> Outcome:
    """Build ``case`` in the empty ``folder``, run it, and judge it (see the module docstring)."""
    start = time.perf_counter()
    try:
        invocation = case.build(folder)
    except Exception as exc:  # noqa: BLE001 - a harness bug is reported as such, the campaign goes on
        return Outcome(case.name, case.family, "FAIL: the case could not be built", f"{type(exc).__name__}: {exc}"[:400], 0.0)
    process = mode == "process" or invocation.respect_permissions
    if process and invocation.argv is None:
        process = False  # an API case runs here
    before = _digest(invocation.inputs)
    watched = _watched_folders(invocation)
    listed = _listing(watched)
    output_existed = invocation.output is not None and (invocation.output.exists() or invocation.output.is_symlink())
    try:
        with _time_limit(TIME_LIMIT_S):
            code, stderr, crash = (_run_as_process if process else _run_in_process)(invocation)
    except _TimeLimit:
        return Outcome(case.name, case.family, "FAIL: hang", f"no answer in {TIME_LIMIT_S} s", time.perf_counter() - start)
    except OSError as exc:  # the process could not be started: a harness problem, reported
        return Outcome(case.name, case.family, "FAIL: could not run", str(exc)[:400], time.perf_counter() - start)
    seconds = time.perf_counter() - start

    def outcome(verdict: str, message: str) -> Outcome:
        return Outcome(case.name, case.family, verdict, message, seconds)

    if crash is not None:
        return outcome("FAIL: traceback", crash.strip().splitlines()[-1][:400])
    if _digest(invocation.inputs) != before:
        return outcome("FAIL: input modified", ", ".join(str(p) for p in invocation.inputs))
    after = _listing(watched)
    if code != 0:
        added = {f: sorted(set(after.get(f, [])) - set(names)) for f, names in listed.items()}
        added = {f: names for f, names in added.items() if names}
        if added:
            return outcome("FAIL: left files behind", str(added))
        if invocation.output is not None and not output_existed and invocation.output.exists():
            return outcome("FAIL: partial output", str(invocation.output))
        verdict, line = _judge_refusal(stderr, invocation.names)
        if verdict == "refused" and invocation.expect == "succeed":
            return outcome("FAIL: refused a valid input", line)
        return outcome(verdict, line)
    for folder_, names in listed.items():
        allowed = {invocation.output.name, *invocation.side_outputs} if invocation.output is not None else set()
        added_names = set(after.get(folder_, [])) - set(names) - allowed
        if added_names:
            return outcome("FAIL: left files behind", f"{folder_}: {sorted(added_names)}")
    if invocation.expect == "refuse":
        return outcome("FAIL: accepted", (stderr.strip().splitlines() or ["exit 0"])[-1][:400])
    noise = [line for line in stderr.splitlines() if line.strip() and not line.startswith("warning:")]
    if noise:
        return outcome("FAIL: stray output on stderr", " | ".join(noise)[:400])
    warned = [line for line in stderr.splitlines() if line.startswith("warning:")]
    if invocation.warns and invocation.argv is not None and not any(name in line for line in warned for name in invocation.warns):
        return outcome("FAIL: no warning", f"expected a warning naming one of {list(invocation.warns)}")
    try:
        if invocation.check is not None:
            invocation.check()
        elif invocation.output is not None:
            _default_check(invocation.output, invocation.inputs[0] if len(invocation.inputs) == 1 else None)
    except AssertionError as exc:
        return outcome("FAIL: wrong result", str(exc)[:400])
    except Exception as exc:  # noqa: BLE001 - an unreadable result is a wrong result
        return outcome("FAIL: wrong result", f"{type(exc).__name__}: {exc}"[:400])
    return outcome("succeeded", "")
