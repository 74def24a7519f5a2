"""Enhance in a separate process so that Slicer stays responsive.

:class:`BackgroundEnhancement` writes the input node as NRRD and its scan context as JSON into a
temporary folder, and runs the engine's command line on them::

    PYTHON -m mrdeeprecon.cli enhance in.nrrd out.nrrd --context context.json --record record.json
        --progress lines SETTINGS

(``SETTINGS``: the flags of the parameters' engine settings,
:func:`mrdeeprecon.cli.settings_arguments`)

in a new process group (POSIX: a new session; Windows: ``CREATE_NEW_PROCESS_GROUP``), so that
:meth:`~BackgroundEnhancement.cancel` ends the whole process tree. Reader threads collect its
output; :meth:`~BackgroundEnhancement.poll` (from a timer) never blocks and parses the
``PROGRESS <fraction> <message>`` lines. :meth:`~BackgroundEnhancement.finish` loads ``out.nrrd``
and places it in the scene with :meth:`MRDeepReconLogic.store_result`, the same code path as the
blocking :meth:`MRDeepReconLogic.process`. Neither the input node nor the scene is touched before
``finish``.

Inside Slicer ``python_executable`` is the ``PythonSlicer`` launcher (Slicer's Python with its
environment) and ``module_dir`` the module folder that holds the ``mrdeeprecon`` package.
"""

from __future__ import annotations

import dataclasses
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Optional

from mrdeeprecon import EnhanceSettings, MRDeepReconError, ScanContext
from mrdeeprecon.cli import PROGRESS_PREFIX, settings_arguments
from mrdeeprecon.io import load_volume, save_volume

from .node_volume import volume_from_node
from .parameters import ProcessParameters

INPUT_NAME = "input.nrrd"
OUTPUT_NAME = "output.nrrd"
CONTEXT_NAME = "context.json"
#: The enhancement record (settings, model, device) the command line writes beside its output.
RECORD_NAME = "record.json"
#: The folder (in Slicer's temporary folder) where the panel keeps the scan-specific fine-tunes.
ADAPTATION_CACHE_NAME = "MRDeepRecon-adaptations"
#: Prefix of the command line's one-line error on stderr.
ERROR_PREFIX = "mrdeeprecon: error: "
#: Seconds a cancelled process gets to end after SIGTERM before it is killed.
TERMINATE_GRACE_S = 5.0
#: Interval (s) at which :meth:`BackgroundEnhancement.wait` polls.
WAIT_INTERVAL_S = 0.05


@dataclass
class BackgroundStatus:
    """Where a background run stands.

    Attributes:
        running: the process (or the reading of its output) has not ended.
        fraction: the last reported progress, in [0, 1].
        message: the message of the last progress line.
        log_lines: output lines (other than progress lines) received since the previous poll.
        returncode: the exit code once ended (negative: ended by a signal), else ``None``.
        error: one line saying why the run failed (the command line's error message), or
            ``"cancelled"``; ``None`` while running and after success.
    """

    running: bool
    fraction: float = 0.0
    message: str = ""
    log_lines: list[str] = field(default_factory=list)
    returncode: Optional[int] = None
    error: Optional[str] = None


def _read_lines(stream: IO[str], name: str, lines: "queue.Queue[tuple[str, str]]") -> None:
    for line in stream:
        lines.put((name, line.rstrip("\r\n")))
    stream.close()


def python_slicer_executable(python: str = sys.executable) -> Optional[str]:
    """The ``PythonSlicer`` launcher (Slicer's Python with Slicer's environment) that runs the
    engine: the one on ``PATH``, else the one next to the interpreter ``python``; ``None`` when
    there is neither."""
    found = shutil.which("PythonSlicer")
    if found:
        return found
    candidate = os.path.join(os.path.dirname(python), "PythonSlicer" + (".exe" if os.name == "nt" else ""))
    return candidate if os.path.isfile(candidate) else None


class BackgroundProcess:
    """One ``mrdeeprecon.cli`` command in a child process with a temporary folder: progress
    lines, the one-line error, cancel of the process tree (use a new object for each run)."""

    def __init__(self) -> None:
        self._process: Optional[subprocess.Popen] = None
        self._folder: Optional[Path] = None
        self._lines: "queue.Queue[tuple[str, str]]" = queue.Queue()
        self._readers: list[threading.Thread] = []
        self._stderr: list[str] = []
        self._status = BackgroundStatus(running=False)
        self._cancelled = False
        self._input_name = ""
        self._input_path = ""

    def _launch(self, folder: Path, command: list[str], module_dir: Path) -> None:
        """Run ``command`` (its files in ``folder``, removed if it cannot start) in a new
        process group and start the reader threads; raises if a run was already started."""
        if self._process is not None:
            shutil.rmtree(folder, ignore_errors=True)
            raise MRDeepReconError("this background run was already started; use a new one")
        try:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                encoding="utf-8",
                errors="replace",
                env=self._environment(Path(module_dir)),
                **self._group_options(),
            )
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        self._folder = folder
        self._status = BackgroundStatus(running=True, message="starting")
        for name, stream in (("stdout", self._process.stdout), ("stderr", self._process.stderr)):
            reader = threading.Thread(target=_read_lines, args=(stream, name, self._lines), daemon=True)
            reader.start()
            self._readers.append(reader)

    @staticmethod
    def _environment(module_dir: Path) -> dict[str, str]:
        env = dict(os.environ)
        paths = [str(module_dir)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
        env["PYTHONPATH"] = os.pathsep.join(paths)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    @staticmethod
    def _group_options() -> dict[str, Any]:
        if sys.platform == "win32":
            return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
        return {"start_new_session": True}

    def poll(self) -> BackgroundStatus:
        """The current status, without blocking; a failed run's files are removed here."""
        process = self._process
        if process is None or not self._status.running:
            return dataclasses.replace(self._status, log_lines=[])
        ended = process.poll() is not None and not any(r.is_alive() for r in self._readers)
        new_lines = []
        while True:
            try:
                name, line = self._lines.get_nowait()
            except queue.Empty:
                break
            if name == "stdout" and line.startswith(PROGRESS_PREFIX + " "):
                _, fraction, *message = line.split(" ", 2)
                self._status.fraction = float(fraction)
                self._status.message = message[0] if message else ""
                continue
            new_lines.append(line)
            if name == "stderr":
                self._stderr.append(line)
        if ended:
            self._status.running = False
            self._status.returncode = process.returncode
            if process.returncode != 0:
                self._status.error = self._error_line(process.returncode)
                self._remove_files()
        return dataclasses.replace(self._status, log_lines=new_lines)

    def _error_line(self, returncode: int) -> str:
        """The command line's error message (the temporary input path replaced by the node's
        name), else the last line on stderr, else the exit code."""
        errors = [line for line in self._stderr if line.startswith(ERROR_PREFIX)]
        if errors:
            line = errors[-1][len(ERROR_PREFIX):]
            return line.replace(self._input_path, self._input_name) if self._input_path else line
        lines = [line for line in self._stderr if line.strip()]
        return lines[-1] if lines else f"the background process ended with exit code {returncode}"

    def wait(self, timeout: Optional[float] = None) -> BackgroundStatus:
        """Block until the run ends or ``timeout`` seconds pass (for scripts and tests); the
        status's ``log_lines`` hold every line received meanwhile."""
        deadline = None if timeout is None else time.monotonic() + timeout
        lines: list[str] = []
        while True:
            status = self.poll()
            lines.extend(status.log_lines)
            if not status.running or (deadline is not None and time.monotonic() >= deadline):
                return dataclasses.replace(status, log_lines=lines)
            time.sleep(WAIT_INTERVAL_S)

    def cancel(self) -> None:
        """End the process tree, wait for it, and remove the temporary files (also the files of
        a run that already ended). The scene is not touched."""
        process = self._process
        if process is not None and process.poll() is None:
            self._cancelled = True
            self._kill_tree(process)
        for reader in self._readers:
            reader.join()
        if process is not None and self._status.running:
            self.poll()
            if self._cancelled:
                self._status.error = "cancelled"
        self._remove_files()

    @staticmethod
    def _kill_tree(process: subprocess.Popen) -> None:
        if sys.platform == "win32":
            subprocess.run(
                ["taskkill", "/F", "/T", "/PID", str(process.pid)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            process.wait()
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(TERMINATE_GRACE_S)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def _result_folder(self, what: str) -> Path:
        """The temporary folder of a run that ended well; raises while the ``what`` (e.g.
        ``"enhancement"``) runs, after it failed or was cancelled."""
        status = self.poll()
        if status.running:
            raise MRDeepReconError(f"the background {what} is still running")
        if status.error is not None or self._folder is None:
            raise MRDeepReconError(status.error or "no result: the run was not started or is finished")
        return self._folder

    @property
    def folder(self) -> Optional[Path]:
        """The temporary folder of the run (``None`` once removed)."""
        return self._folder

    @property
    def pid(self) -> Optional[int]:
        """The child process's id."""
        return None if self._process is None else self._process.pid

    def _remove_files(self) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


class BackgroundEnhancement(BackgroundProcess):
    """One enhancement of one node in a child process (use a new object for each run)."""

    def __init__(self) -> None:
        super().__init__()
        self.parameters: Optional[ProcessParameters] = None

    def start(
        self,
        input_node,
        parameters: ProcessParameters,
        context: ScanContext,
        python_executable: str,
        module_dir: Path,
        adaptation_cache: Optional[Path] = None,
    ) -> None:
        """Write the input and launch the run; returns at once.

        Args:
            input_node: the scalar volume to enhance (read, never modified).
            parameters: what to do (checked when they were made).
            context: the input's scan context as read; ``parameters``' overrides are applied.
            python_executable: the interpreter that runs the engine (``PythonSlicer`` in Slicer).
            module_dir: the folder holding the ``mrdeeprecon`` package (put on ``PYTHONPATH``).
            adaptation_cache: where the scan-specific fine-tune is kept between runs, so that
                enhancing the same node again (another noise reduction) reuses it
                (``--adaptation-cache``, given only when the parameters adapt); ``None``: not kept.

        Raises:
            MRDeepReconError: a run was already started or the input cannot be written.
        """
        if self._process is not None:
            raise MRDeepReconError("this background run was already started; use a new one")
        context = parameters.scan_context(context)
        self.parameters = parameters
        self._input_name = input_node.GetName()
        folder = Path(tempfile.mkdtemp(prefix="MRDeepRecon-"))
        self._input_path = str(folder / INPUT_NAME)
        try:
            save_volume(volume_from_node(input_node), folder / INPUT_NAME)
            (folder / CONTEXT_NAME).write_text(json.dumps({"scan_context": context.to_dict()}))
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        self._launch(folder, self._command(python_executable, folder, parameters, adaptation_cache), module_dir)

    @staticmethod
    def _command(python: str, folder: Path, settings: EnhanceSettings, adaptation_cache: Optional[Path]) -> list[str]:
        adapting = adaptation_cache is not None and settings.adaptation_steps > 0
        cache = ["--adaptation-cache", str(adaptation_cache)] if adapting else []
        return [
            python, "-m", "mrdeeprecon.cli", "enhance",
            str(folder / INPUT_NAME), str(folder / OUTPUT_NAME),
            "--context", str(folder / CONTEXT_NAME),
            "--record", str(folder / RECORD_NAME),
            "--progress", "lines",
            *settings_arguments(settings),
            *cache,
        ]  # fmt: skip

    def finish(self, logic, input_node, output_node=None):
        """Load the result and place it with :meth:`MRDeepReconLogic.store_result`; returns the
        output node (``None``: a new ``<input>_DLR`` node). The temporary files are removed.

        Raises:
            MRDeepReconError: the run is still going, failed or was cancelled.
        """
        folder = self._result_folder("enhancement")
        try:
            volume = load_volume(folder / OUTPUT_NAME)
            record = json.loads((folder / RECORD_NAME).read_text(encoding="utf-8"))
            volume.metadata["enhancement"] = record["enhancement"]
            return logic.store_result(input_node, output_node, volume, self.parameters)
        finally:
            self._remove_files()
