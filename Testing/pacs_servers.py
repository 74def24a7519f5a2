"""Real DICOM storage servers for the network tests: Orthanc and dcmtk's ``storescp``.

Each context manager starts the server in its own process group on 127.0.0.1 with free ports and
temporary folders, waits until it answers, and terminates the whole group on exit. A server that
does not start fails the test with its log. A machine without the tool skips the test (CI fails),
through :func:`conftest.require_tool`.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest

from conftest import require_tool

HOST = "127.0.0.1"
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0
ORTHANC_AET = "ORTHANC"
STORESCP_AET = "STORESCP"


@dataclass(frozen=True)
class OrthancServer:
    """A running Orthanc: DICOM port, REST base URL (no trailing slash) and storage folder."""

    dicom_port: int
    http_url: str
    storage_dir: Path

    def get(self, route: str, method: str = "GET") -> bytes:
        """The body of the answer to ``{method} {http_url}{route}``."""
        request = urllib.request.Request(self.http_url + route, method=method)
        with urllib.request.urlopen(request, timeout=START_TIMEOUT_S) as answer:
            return answer.read()

    def get_json(self, route: str):
        return json.loads(self.get(route))

    def delete_all_instances(self) -> None:
        """Empty the server (cheaper than starting a new one: Orthanc takes seconds to stop)."""
        for patient in self.get_json("/patients"):
            self.get(f"/patients/{patient}", method="DELETE")
        assert self.get_json("/instances") == []


@dataclass(frozen=True)
class StoreScpServer:
    """A running ``storescp``: DICOM port and the folder it writes received objects to."""

    dicom_port: int
    output_dir: Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    """Terminate the process group ``process`` leads (SIGTERM, then SIGKILL)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def _running(command: list[str], log_path: Path, ready: Callable[[], bool], name: str) -> Iterator[None]:
    """Run ``command`` (its output into ``log_path``) until the block ends, once ``ready()``."""
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ready():
            exited = process.poll() is not None
            if exited or time.monotonic() > deadline:
                state = "exited" if exited else f"did not answer within {START_TIMEOUT_S:g} s"
                log_text = log_path.read_text(errors="replace")
                pytest.fail(f"{name} {state}: {' '.join(command)}\n{log_text}")
            time.sleep(0.05)
        yield
    finally:
        _stop(process)


@contextmanager
def orthanc_server() -> Iterator[OrthancServer]:
    """A fresh Orthanc (AE ``ORTHANC``, called AE title checked, no plugins, local HTTP only)."""
    executable = require_tool("Orthanc")
    with tempfile.TemporaryDirectory(prefix="mrdeeprecon-orthanc-") as tmp:
        tmp_dir = Path(tmp)
        storage = tmp_dir / "storage"
        storage.mkdir()
        dicom_port, http_port = free_port(), free_port()
        while http_port == dicom_port:
            http_port = free_port()
        config = {
            "Name": "MRDeepReconTest",
            "StorageDirectory": str(storage),
            "IndexDirectory": str(storage),
            "StorageCompression": False,
            "Plugins": [],
            "HttpServerEnabled": True,
            "HttpPort": http_port,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "OrthancExplorerEnabled": False,
            "WebDavEnabled": False,
            "MetricsEnabled": False,
            "HttpThreadsCount": 4,
            "DicomServerEnabled": True,
            "DicomAet": ORTHANC_AET,
            "DicomPort": dicom_port,
            "DicomCheckCalledAet": True,
            "DicomModalities": {},
            "DicomAlwaysAllowStore": True,
            "DicomThreadsCount": 1,
            "ConcurrentJobs": 1,
            "SaveJobs": False,
            "SyncStorageArea": False,
        }
        config_path = tmp_dir / "orthanc.json"
        config_path.write_text(json.dumps(config, indent=2))
        server = OrthancServer(dicom_port, f"http://{HOST}:{http_port}", storage)

        def answers() -> bool:
            try:
                return bool(server.get_json("/system").get("DicomAet"))
            except (OSError, ValueError):  # not listening yet, or a half-started server
                return False

        command = [executable, "--no-jobs", str(config_path)]
        with _running(command, tmp_dir / "orthanc.log", answers, "Orthanc"):
            yield server


def _answers_associations(port: int) -> bool:
    """Whether 127.0.0.1:``port`` answers an association request (a refusal counts) and a C-ECHO."""
    from pynetdicom import AE
    from pynetdicom.sop_class import Verification

    ae = AE()
    ae.add_requested_context(Verification)
    ae.acse_timeout = ae.connection_timeout = ae.dimse_timeout = 2
    assoc = ae.associate(HOST, port, ae_title=STORESCP_AET)
    if not assoc.is_established:
        return assoc.is_rejected
    status = assoc.send_c_echo()
    assoc.release()
    return status.get("Status") == 0x0000


@contextmanager
def storescp_server(*options: str) -> Iterator[StoreScpServer]:
    """A fresh dcmtk ``storescp`` (AE ``STORESCP``) writing what it receives into a temporary folder.

    ``options`` are added to its command line, e.g. ``+xi`` (accept Implicit VR Little Endian only)
    or ``--abort-after`` (abort the association on the first C-STORE request).
    """
    executable = require_tool("storescp")
    with tempfile.TemporaryDirectory(prefix="mrdeeprecon-storescp-") as tmp:
        tmp_dir = Path(tmp)
        output = tmp_dir / "received"
        output.mkdir()
        port = free_port()
        command = [executable, *options, "-od", str(output), "-aet", STORESCP_AET, str(port)]
        with _running(command, tmp_dir / "storescp.log", lambda: _answers_associations(port), "storescp"):
            yield StoreScpServer(port, output)
