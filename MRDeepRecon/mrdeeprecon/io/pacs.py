"""Send DICOM files to a PACS or any DICOM storage SCP (C-STORE, through pynetdicom).

:func:`send_files` reads the headers of all files first, proposes one presentation context per SOP
class found (the files' own uncompressed transfer syntax, then Explicit VR Little Endian, then
Implicit VR Little Endian; a compressed file gets its own context with its transfer syntax), opens
one association for the whole series and stores the files one by one. Each instance's C-STORE
status is kept in the returned :class:`SendSummary`: ``0x0000`` is success, the storage warnings
``0xB000``, ``0xB006`` and ``0xB007`` count as stored (with the warning in the message), anything
else is a failure. An association that cannot be established raises :class:`MRDeepReconError`
with the reason (rejected, no response, connection refused, ...).

pynetdicom logs every association at INFO level; importing this module sets its logger
(``"pynetdicom"``) to CRITICAL unless an application configured that logger's level before.
Failures reach the caller as exceptions or in the summary instead.
"""

from __future__ import annotations

import logging
import re
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import pydicom
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE, Association, evt
from pynetdicom.pdu import PDU, A_ABORT_RQ, A_ASSOCIATE_AC, A_ASSOCIATE_RJ
from pynetdicom.presentation import PresentationContext, build_context
from pynetdicom.status import STORAGE_SERVICE_CLASS_STATUS, code_to_category

from ..errors import MRDeepReconError
from ..progress import CancelToken, ProgressCallback, check, report

__all__ = ["PacsTarget", "InstanceResult", "SendSummary", "send_files"]

_PYNETDICOM_LOGGER = logging.getLogger("pynetdicom")
if _PYNETDICOM_LOGGER.level == logging.NOTSET:
    _PYNETDICOM_LOGGER.setLevel(logging.CRITICAL)

SUCCESS = 0x0000
#: C-STORE warning statuses (PS3.4 B.2.3): the instance was stored, possibly altered.
STORED_WITH_WARNING = (0xB000, 0xB006, 0xB007)
#: pynetdicom refuses to request more presentation contexts than this in one association.
MAX_CONTEXTS = 128
#: AE titles: 1 to 16 characters of the default character repertoire, no backslash.
_AE_TITLE = re.compile(r"[ -\[\]-~]{1,16}")
_PORT = re.compile(r"[0-9]+")


def _check_ae_title(value: str, what: str) -> str:
    if not _AE_TITLE.fullmatch(value) or not value.strip():
        raise MRDeepReconError(
            f"{what} AE title {value!r} is not valid (1 to 16 printable ASCII characters, "
            "not only spaces, no backslash)"
        )
    return value.strip()


@dataclass(frozen=True)
class PacsTarget:
    """Where to send: the peer's address and the AE titles of both ends.

    Attributes:
        host: host name, IPv4 or IPv6 address (without brackets) of the storage SCP.
        port: its DICOM port (1 to 65535).
        called_aet: the peer's AE title.
        calling_aet: our AE title.
    """

    host: str
    port: int
    called_aet: str = "ANY-SCP"
    calling_aet: str = "MRDEEPRECON"

    def __post_init__(self) -> None:
        if not self.host or any(c.isspace() for c in self.host):
            raise MRDeepReconError(f"PACS host {self.host!r} is not valid")
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 1 <= self.port <= 65535:
            raise MRDeepReconError(f"PACS port {self.port!r} is not a port number (1 to 65535)")
        object.__setattr__(self, "called_aet", _check_ae_title(self.called_aet, "called"))
        object.__setattr__(self, "calling_aet", _check_ae_title(self.calling_aet, "calling"))

    @classmethod
    def parse(
        cls, host_port: str, called_aet: str | None = None, calling_aet: str | None = None
    ) -> "PacsTarget":
        """A target from ``"HOST:PORT"`` (an IPv6 address in brackets: ``"[::1]:104"``).

        ``None`` AE titles take the defaults (``ANY-SCP`` called, ``MRDEEPRECON`` calling).

        Raises:
            MRDeepReconError: for a missing or invalid host, port or AE title.
        """
        text = host_port.strip()
        if text.startswith("["):
            host, bracket, rest = text[1:].partition("]")
            if not bracket or not rest.startswith(":"):
                raise MRDeepReconError(f"PACS address {host_port!r} is not [IPV6]:PORT")
            port_text = rest[1:]
        else:
            host, colon, port_text = text.rpartition(":")
            if not colon:
                raise MRDeepReconError(f"PACS address {host_port!r} has no port (HOST:PORT)")
            if ":" in host:
                raise MRDeepReconError(
                    f"PACS address {host_port!r}: put an IPv6 address in brackets ([IPV6]:PORT)"
                )
        if not host:
            raise MRDeepReconError(f"PACS address {host_port!r} has no host (HOST:PORT)")
        if not _PORT.fullmatch(port_text):
            raise MRDeepReconError(f"PACS address {host_port!r}: port {port_text!r} is not a number")
        defaults = {}
        if called_aet is not None:
            defaults["called_aet"] = called_aet
        if calling_aet is not None:
            defaults["calling_aet"] = calling_aet
        return cls(host=host, port=int(port_text), **defaults)

    @property
    def address(self) -> str:
        """``host:port``, with an IPv6 host in brackets."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.called_aet}@{self.address}"


@dataclass(frozen=True)
class InstanceResult:
    """The outcome of storing one file.

    Attributes:
        path: the file.
        sop_instance_uid: its ``SOPInstanceUID``.
        status: the C-STORE response status, or ``None`` when the file was not sent or no
            response came (association closed, no accepted presentation context, timeout).
        message: ``"stored"``, the warning, or why it failed.
    """

    path: Path
    sop_instance_uid: str
    status: int | None
    message: str

    @property
    def stored(self) -> bool:
        """Whether the peer stored the instance (success or a storage warning)."""
        return self.status == SUCCESS or self.status in STORED_WITH_WARNING


@dataclass(frozen=True)
class SendSummary:
    """All instances' results of one :func:`send_files` call, in the order of the files."""

    target: PacsTarget
    results: tuple[InstanceResult, ...]

    @property
    def sent(self) -> int:
        """Number of instances stored by the peer (including those with a warning)."""
        return sum(result.stored for result in self.results)

    @property
    def failed(self) -> int:
        """Number of instances not stored."""
        return len(self.results) - self.sent

    @property
    def ok(self) -> bool:
        """Whether every instance was stored."""
        return self.failed == 0

    def summary_line(self) -> str:
        """One line, e.g. ``"sent 24/24 instances to ORTHANC@127.0.0.1:4242"``.

        Warnings are counted, and the first failure's reason is named.
        """
        line = f"sent {self.sent}/{len(self.results)} instances to {self.target}"
        warnings = sum(result.status in STORED_WITH_WARNING for result in self.results)
        if warnings:
            line += f" ({warnings} with warnings)"
        failures = [result for result in self.results if not result.stored]
        if failures:
            line += f"; {len(failures)} failed, first {failures[0].path.name}: {failures[0].message}"
        return line


@dataclass(frozen=True)
class _Header:
    """What the association needs to know about one file before sending it."""

    path: Path
    sop_class_uid: UID
    sop_instance_uid: str
    transfer_syntax: UID


def _read_header(path: Path) -> _Header:
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except FileNotFoundError:
        raise MRDeepReconError("no such file", path) from None
    except InvalidDicomError:
        raise MRDeepReconError("not a DICOM file", path) from None
    except Exception as exc:  # pydicom raises many types for damaged files
        raise MRDeepReconError(f"unreadable DICOM file ({exc})", path) from exc
    missing = [kw for kw in ("SOPClassUID", "SOPInstanceUID") if not ds.get(kw)]
    if missing:
        raise MRDeepReconError(f"cannot be sent: no {' and no '.join(missing)}", path)
    transfer_syntax = ds.file_meta.get("TransferSyntaxUID")
    if not transfer_syntax:
        raise MRDeepReconError("cannot be sent: no Transfer Syntax UID in the file meta information", path)
    return _Header(path, UID(ds.SOPClassUID), str(ds.SOPInstanceUID), UID(transfer_syntax))


def _contexts(headers: Sequence[_Header]) -> list[PresentationContext]:
    """Presentation contexts for the files' SOP classes and transfer syntaxes.

    Per SOP class one context offers the files' uncompressed transfer syntaxes, then Explicit and
    Implicit VR Little Endian (pynetdicom converts between uncompressed syntaxes of the same byte
    order); every compressed (or unknown) transfer syntax gets a context of its own, since it
    cannot be converted.
    """
    native: dict[UID, list[UID]] = {}  # SOP class → uncompressed transfer syntaxes of its files
    compressed: dict[tuple[UID, UID], None] = {}  # (SOP class, transfer syntax), an ordered set
    for header in headers:
        syntax = header.transfer_syntax
        if not syntax.is_transfer_syntax or syntax.is_compressed:
            compressed[(header.sop_class_uid, syntax)] = None
        else:
            syntaxes = native.setdefault(header.sop_class_uid, [])
            if syntax not in syntaxes:
                syntaxes.append(syntax)
    contexts = []
    for sop_class, syntaxes in native.items():
        offered = list(dict.fromkeys([*syntaxes, ExplicitVRLittleEndian, ImplicitVRLittleEndian]))
        contexts.append(build_context(sop_class, offered))
    contexts += [build_context(sop_class, [syntax]) for sop_class, syntax in compressed]
    if len(contexts) > MAX_CONTEXTS:
        raise MRDeepReconError(
            f"the files need {len(contexts)} presentation contexts (SOP class and transfer syntax "
            f"combinations), more than the {MAX_CONTEXTS} one association can request; send them in parts"
        )
    return contexts


@dataclass
class _Watch:
    """What pynetdicom's events tell about an association attempt (it only logs why one fails).

    ``answer`` is the first PDU the peer sent: the A-ASSOCIATE-AC/RJ or an A-ABORT.
    """

    connected: bool = False
    answer: Optional[PDU] = None

    def handlers(self) -> list:
        return [(evt.EVT_CONN_OPEN, self._on_connection), (evt.EVT_PDU_RECV, self._on_pdu)]

    def _on_connection(self, event: evt.Event) -> None:
        self.connected = True

    def _on_pdu(self, event: evt.Event) -> None:
        if self.answer is None:
            self.answer = event.pdu


def _rejection(pdu: A_ASSOCIATE_RJ) -> str:
    try:
        return f"{pdu.reason_str}; {pdu.result_str}, source: {pdu.source_str}"
    except ValueError:  # values outside the standard's tables
        return f"result {pdu.result}, source {pdu.source}, reason {pdu.reason_diagnostic}"


def _association_failure(
    target: PacsTarget, contexts: Sequence[PresentationContext], watch: _Watch, elapsed_s: float,
    timeout_s: float,
) -> MRDeepReconError:
    """The error for an association that was not established, with the most precise reason known."""
    if isinstance(watch.answer, A_ASSOCIATE_RJ):
        reason = f"association rejected by the peer ({_rejection(watch.answer)})"
    elif isinstance(watch.answer, A_ASSOCIATE_AC):
        kinds = sorted({UID(cx.abstract_syntax).name for cx in contexts})
        reason = f"the peer accepted none of the proposed presentation contexts ({', '.join(kinds)})"
    elif isinstance(watch.answer, A_ABORT_RQ):
        reason = "the peer aborted the association request"
    elif watch.answer is not None:
        reason = f"unexpected answer to the association request ({type(watch.answer).__name__} PDU)"
    elif watch.connected:
        reason = f"no response to the association request within {timeout_s:g} s"
    elif elapsed_s >= timeout_s:
        reason = f"could not connect: no answer within {timeout_s:g} s"
    else:
        reason = f"could not connect: {_connection_error(target, timeout_s)}"
    return MRDeepReconError(f"cannot send to {target}: {reason}")


def _connection_error(target: PacsTarget, timeout_s: float) -> str:
    """Why a TCP connection to the target fails (pynetdicom only logs it): one more attempt."""
    try:
        with socket.create_connection((target.host, target.port), timeout=min(timeout_s, 5.0)):
            return "the connection failed"
    except OSError as exc:
        return exc.strerror or str(exc) or type(exc).__name__


def _status_message(status: int, response: pydicom.Dataset) -> str:
    if status == SUCCESS:
        return "stored"
    description = STORAGE_SERVICE_CLASS_STATUS.get(status, ("", ""))[1] or code_to_category(status)
    comment = str(response.get("ErrorComment", "")).strip()
    detail = f"0x{status:04X} {description}" + (f" ({comment})" if comment else "")
    return f"stored with warning {detail}" if status in STORED_WITH_WARNING else f"failed: {detail}"


def _store(assoc: Association, header: _Header, message_id: int) -> InstanceResult:
    """C-STORE one file on an established association."""

    def result(status: int | None, message: str) -> InstanceResult:
        return InstanceResult(header.path, header.sop_instance_uid, status, message)

    if not assoc.is_established:
        return result(None, "not sent: the association was closed")
    try:
        dataset = pydicom.dcmread(header.path)
    except Exception as exc:  # the header was readable; the rest of the file may not be
        return result(None, f"not sent: unreadable DICOM file ({exc})")
    try:
        response = assoc.send_c_store(dataset, msg_id=message_id)
    except (ValueError, AttributeError, RuntimeError) as exc:  # no accepted context, encoding, closed
        return result(None, f"not sent: {exc}")
    if "Status" not in response:
        # The association is unusable (the peer aborted, or it timed out): close it now, so the
        # remaining files are reported as not sent instead of racing pynetdicom's own clean-up.
        if assoc.is_established:
            assoc.abort()
        return result(None, "no response (timeout, or the peer aborted the association)")
    status = int(response.Status)
    return result(status, _status_message(status, response))


#: Verification SOP Class (C-ECHO).
VERIFICATION = "1.2.840.10008.1.1"


def check_reachable(target: PacsTarget, timeout_s: float = 10) -> None:
    """Associate with the peer and send a C-ECHO, so that a wrong host, port or AE title is
    reported before any work is done (rather than after a series was enhanced and written).

    A peer that accepts the association but not the Verification service counts as reachable.

    Raises:
        MRDeepReconError: naming the target and the reason when no association could be made.
    """
    ae = AE(ae_title=target.calling_aet)
    ae.add_requested_context(VERIFICATION)
    ae.connection_timeout = ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout_s
    watch = _Watch()
    started = time.monotonic()
    try:
        assoc = ae.associate(target.host, target.port, ae_title=target.called_aet, evt_handlers=watch.handlers())
    except socket.gaierror as exc:
        raise MRDeepReconError(f"cannot send to {target}: unknown host ({exc.strerror or exc})") from None
    if assoc.is_established:
        if assoc.accepted_contexts:
            assoc.send_c_echo()
        assoc.release()
        return
    if isinstance(watch.answer, A_ASSOCIATE_AC):
        return
    raise _association_failure(target, ae.requested_contexts, watch, time.monotonic() - started, timeout_s)


def send_files(
    files: Sequence[Path],
    target: PacsTarget,
    progress: Optional[ProgressCallback] = None,
    cancel: Optional[CancelToken] = None,
    timeout_s: float = 30,
) -> SendSummary:
    """Send DICOM files to a storage SCP over one association, file by file.

    Args:
        files: DICOM Part 10 files (any SOP classes and transfer syntaxes).
        target: the peer and AE titles.
        progress: called after each instance with the fraction sent.
        cancel: checked before each instance; when set, the association is released and
            :class:`Cancelled` raised (instances already sent stay on the peer).
        timeout_s: the connection, association (ACSE) and per-message (DIMSE) timeout.

    Returns:
        A :class:`SendSummary` with every file's status; failed instances do not raise.

    Raises:
        MRDeepReconError: no files, an unreadable file or one without SOP/transfer syntax UIDs
            (before connecting), or an association that could not be established (naming the
            target and the reason).
        Cancelled: when ``cancel`` was set.
    """
    if not files:
        raise MRDeepReconError("no files to send")
    check(cancel)
    headers = [_read_header(Path(path)) for path in files]
    ae = AE(ae_title=target.calling_aet)
    ae.requested_contexts = _contexts(headers)
    ae.connection_timeout = ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout_s

    watch = _Watch()
    report(progress, 0.0, f"connecting to {target}")
    started = time.monotonic()
    try:
        assoc = ae.associate(
            target.host, target.port, ae_title=target.called_aet, evt_handlers=watch.handlers()
        )
    except socket.gaierror as exc:
        raise MRDeepReconError(f"cannot send to {target}: unknown host ({exc.strerror or exc})") from None
    if not assoc.is_established:
        raise _association_failure(
            target, ae.requested_contexts, watch, time.monotonic() - started, timeout_s
        )

    results: list[InstanceResult] = []
    try:
        for index, header in enumerate(headers):
            check(cancel)
            results.append(_store(assoc, header, message_id=index % 65535 + 1))
            report(progress, (index + 1) / len(headers), f"sent {index + 1}/{len(headers)} to {target}")
    finally:
        if assoc.is_established:
            assoc.release()
    return SendSummary(target, tuple(results))
