"""C-STORE to real servers: Orthanc (checked through its REST API) and dcmtk's storescp."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Iterator

import pydicom
import pytest
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, RLELossless, generate_uid

from conftest import pydicom_testdata, shared_path
from mrdeeprecon.errors import Cancelled, MRDeepReconError
from mrdeeprecon.io.pacs import InstanceResult, PacsTarget, SendSummary, send_files
from mrdeeprecon.progress import CancelToken
from pacs_servers import (
    HOST,
    ORTHANC_AET,
    STORESCP_AET,
    OrthancServer,
    StoreScpServer,
    free_port,
    orthanc_server,
    storescp_server,
)

UID_KEYWORDS = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")


@pytest.fixture(scope="module")
def orthanc_process() -> Iterator[OrthancServer]:
    with orthanc_server() as server:
        yield server


@pytest.fixture
def orthanc(orthanc_process: OrthancServer) -> OrthancServer:
    """The module's Orthanc, emptied."""
    orthanc_process.delete_all_instances()
    return orthanc_process


@pytest.fixture
def storescp() -> Iterator[StoreScpServer]:
    with storescp_server() as server:
        yield server


@pytest.fixture
def classic_files(philips_classic_dir: Path) -> list[Path]:
    files = sorted(philips_classic_dir.iterdir())
    assert len(files) == 24
    return files


@pytest.fixture
def enhanced_file() -> Path:
    return shared_path("dicom/philips_phantom/201_T1W_TSE_Sno_CSno_CSAIno/0001.dcm")


def _by_uid(datasets) -> dict[str, pydicom.Dataset]:
    return {str(ds.SOPInstanceUID): ds for ds in datasets}


def _assert_same_instance(received: pydicom.Dataset, sent: pydicom.Dataset) -> None:
    """Same UIDs and pixel bytes; the whole dataset (meta information aside) equal as well."""
    for keyword in UID_KEYWORDS:
        assert received[keyword].value == sent[keyword].value, keyword
    assert received.PixelData == sent.PixelData
    assert received == sent


def _orthanc_instances(orthanc: OrthancServer) -> dict[str, pydicom.Dataset]:
    """SOPInstanceUID → dataset of every instance Orthanc stored (checked against its index)."""
    out = {}
    for instance_id in orthanc.get_json("/instances"):
        tags = orthanc.get_json(f"/instances/{instance_id}/simplified-tags")
        ds = pydicom.dcmread(io.BytesIO(orthanc.get(f"/instances/{instance_id}/file")))
        assert ds.SOPInstanceUID == tags["SOPInstanceUID"]
        out[tags["SOPInstanceUID"]] = ds
    return out


def test_series_and_enhanced_object_reach_orthanc_unchanged(orthanc, classic_files, enhanced_file):
    """Two SOP classes and a compressed (RLE) file, so three presentation contexts, one association."""
    rle_file = pydicom_testdata("MR_small_RLE.dcm")
    files = classic_files + [enhanced_file, rle_file]
    fractions = []
    summary = send_files(
        files, PacsTarget.parse(f"{HOST}:{orthanc.dicom_port}", ORTHANC_AET),
        progress=lambda fraction, message: fractions.append(fraction),
    )
    assert summary.ok and summary.sent == 26 and summary.failed == 0
    assert [r.status for r in summary.results] == [0x0000] * 26
    assert [r.path for r in summary.results] == files
    assert summary.summary_line() == f"sent 26/26 instances to ORTHANC@{HOST}:{orthanc.dicom_port}"
    assert fractions == sorted(fractions) and fractions[-1] == 1.0

    sent = _by_uid(pydicom.dcmread(path) for path in files)
    assert {r.sop_instance_uid for r in summary.results} == set(sent)
    stored = _orthanc_instances(orthanc)
    assert set(stored) == set(sent)
    for uid, ds in sent.items():
        _assert_same_instance(stored[uid], ds)
    assert sent[str(pydicom.dcmread(enhanced_file).SOPInstanceUID)].NumberOfFrames > 1
    rle_uid = str(pydicom.dcmread(rle_file).SOPInstanceUID)
    assert stored[rle_uid].file_meta.TransferSyntaxUID == RLELossless


def test_series_reaches_storescp_unchanged(storescp, classic_files):
    summary = send_files(classic_files, PacsTarget("localhost", storescp.dicom_port, STORESCP_AET))
    assert summary.ok and summary.sent == 24, summary.summary_line()
    received = _by_uid(pydicom.dcmread(path) for path in storescp.output_dir.iterdir())
    sent = _by_uid(pydicom.dcmread(path) for path in classic_files)
    assert set(received) == set(sent)
    for uid, ds in sent.items():
        _assert_same_instance(received[uid], ds)


def test_implicit_only_peer_gets_the_explicit_files_converted(classic_files):
    with storescp_server("+xi") as storescp:
        summary = send_files(classic_files[:3], PacsTarget(HOST, storescp.dicom_port, STORESCP_AET))
        received = _by_uid(pydicom.dcmread(path) for path in storescp.output_dir.iterdir())
    assert summary.ok, summary.summary_line()
    sent = _by_uid(pydicom.dcmread(path) for path in classic_files[:3])
    assert set(received) == set(sent)
    for uid, ds in sent.items():
        assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
        assert received[uid].file_meta.TransferSyntaxUID == ImplicitVRLittleEndian
        assert received[uid].PixelData == ds.PixelData
        assert received[uid].SeriesInstanceUID == ds.SeriesInstanceUID


def test_association_aborted_mid_series_is_reported_per_instance(classic_files):
    with storescp_server("--abort-after") as storescp:
        summary = send_files(classic_files[:4], PacsTarget(HOST, storescp.dicom_port, STORESCP_AET))
    assert (summary.sent, summary.failed, summary.ok) == (0, 4, False)
    assert [r.status for r in summary.results] == [None] * 4
    assert summary.results[0].message.startswith("no response")
    assert all(r.message == "not sent: the association was closed" for r in summary.results[1:])
    line = summary.summary_line()
    assert "sent 0/4 instances" in line and "4 failed, first 0001.dcm: no response" in line


def test_refusing_peer_is_reported(classic_files):
    with storescp_server("--refuse") as storescp:
        with pytest.raises(MRDeepReconError, match=rf"{HOST}:{storescp.dicom_port}: association rejected"):
            send_files(classic_files[:1], PacsTarget(HOST, storescp.dicom_port, STORESCP_AET))


def test_sop_class_the_peer_does_not_support(storescp, classic_files, tmp_path):
    unknown = tmp_path / "private.dcm"
    ds = pydicom.dcmread(classic_files[0])
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.826.0.1.3680043.10.1.999"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.save_as(unknown)
    target = PacsTarget(HOST, storescp.dicom_port, STORESCP_AET)

    with pytest.raises(MRDeepReconError, match="accepted none of the proposed presentation contexts"):
        send_files([unknown], target)
    summary = send_files([*classic_files[:2], unknown], target)
    assert (summary.sent, summary.failed) == (2, 1)
    assert summary.results[2].status is None
    assert summary.results[2].message.startswith("not sent: No presentation context")
    assert len(list(storescp.output_dir.iterdir())) == 2


def test_wrong_called_ae_title_is_rejected(orthanc, classic_files, caplog):
    target = PacsTarget(HOST, orthanc.dicom_port, called_aet="NOT-ORTHANC")
    expected = rf"{HOST}:{orthanc.dicom_port}: association rejected.*Called AE title not recognised"
    with pytest.raises(MRDeepReconError, match=expected):
        send_files(classic_files, target)
    assert orthanc.get_json("/instances") == []
    assert not [record for record in caplog.records if record.name.startswith("pynetdicom")]


def test_closed_port_names_the_address():
    port = free_port()
    one_file = shared_path("dicom/philips_phantom/501_T1W_FFE_Sno_CS4/0001.dcm")
    with pytest.raises(MRDeepReconError, match=rf"{HOST}:{port}: could not connect: Connection refused") as info:
        send_files([one_file], PacsTarget(HOST, port))
    assert "\n" not in str(info.value)


def test_cancel_stops_between_instances(orthanc, classic_files):
    token = CancelToken()
    progress = []

    def on_progress(fraction: float, message: str) -> None:
        progress.append(message)
        if fraction >= 3 / 24:
            token.cancel()

    with pytest.raises(Cancelled):
        send_files(classic_files, PacsTarget(HOST, orthanc.dicom_port, ORTHANC_AET), on_progress, token)
    assert len(orthanc.get_json("/instances")) == 3
    assert progress[-1].startswith("sent 3/24")


def test_files_that_cannot_be_sent_fail_before_connecting(tmp_path):
    not_dicom = tmp_path / "notes.txt"
    not_dicom.write_text("not DICOM")
    target = PacsTarget(HOST, free_port())  # nothing listens: reaching the network would fail differently
    with pytest.raises(MRDeepReconError, match="notes.txt: not a DICOM file"):
        send_files([not_dicom], target)
    with pytest.raises(MRDeepReconError, match="no files"):
        send_files([], target)


def test_summary_counts_warnings_as_stored_and_names_the_first_failure():
    def result(name: str, status: int | None, message: str) -> InstanceResult:
        return InstanceResult(Path(name), "1.2.3", status, message)

    summary = SendSummary(
        PacsTarget("pacs.example", 104, "PACS"),
        (
            result("a.dcm", 0x0000, "stored"),
            result("b.dcm", 0xB000, "stored with warning 0xB000 Coercion of Data Elements"),
            result("c.dcm", 0xA700, "failed: 0xA700 Refused: Out of Resources"),
            result("d.dcm", None, "not sent: the association was closed"),
        ),
    )
    assert (summary.sent, summary.failed, summary.ok) == (2, 2, False)
    assert summary.summary_line() == (
        "sent 2/4 instances to PACS@pacs.example:104 (1 with warnings); "
        "2 failed, first c.dcm: failed: 0xA700 Refused: Out of Resources"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pacs.example.org:104", ("pacs.example.org", 104)),
        (" 10.0.0.7:11112 ", ("10.0.0.7", 11112)),
        ("[::1]:4242", ("::1", 4242)),
        ("[fe80::1%eth0]:104", ("fe80::1%eth0", 104)),
    ],
)
def test_parse_accepts_host_and_port(text, expected):
    target = PacsTarget.parse(text)
    assert (target.host, target.port) == expected
    assert (target.called_aet, target.calling_aet) == ("ANY-SCP", "MRDEEPRECON")


def test_parse_keeps_ae_titles_and_formats_ipv6():
    target = PacsTarget.parse("[::1]:104", called_aet="ORTHANC", calling_aet="SLICER")
    assert (target.called_aet, target.calling_aet) == ("ORTHANC", "SLICER")
    assert str(target) == "ORTHANC@[::1]:104"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("pacs.example.org", "has no port"),
        ("pacs.example.org:", "is not a number"),
        (":104", "has no host"),
        ("pacs:abc", "is not a number"),
        ("pacs:-1", "is not a number"),
        ("pacs:0", "not a port number"),
        ("pacs:65536", "not a port number"),
        ("pacs:104000000000", "not a port number"),
        ("::1:104", "IPv6 address in brackets"),
        ("[::1]104", "is not \\[IPV6\\]:PORT"),
        ("[::1:104", "is not \\[IPV6\\]:PORT"),
        ("[]:104", "has no host"),
    ],
)
def test_parse_rejects_bad_addresses(text, problem):
    with pytest.raises(MRDeepReconError, match=problem):
        PacsTarget.parse(text)


@pytest.mark.parametrize("aet", ["", "   ", "A" * 17, "BACK\\SLASH", "TAB\tAE", "ÄRZTE"])
def test_bad_ae_titles_are_refused(aet):
    with pytest.raises(MRDeepReconError, match="AE title"):
        PacsTarget.parse("pacs:104", called_aet=aet)


@pytest.mark.parametrize("multiframe", [False, True], ids=["classic", "enhanced-multiframe"])
def test_cli_enhances_writes_and_sends_a_derived_series(orthanc, tmp_path, capsys, tiny_models, multiframe):
    """`mrdeeprecon enhance SERIES OUT --format dicom --send`: every derived instance arrives intact."""
    from mrdeeprecon.cli import main

    source = shared_path("dicom/philips_phantom/201_T1W_TSE_Sno_CSno_CSAIno")
    out = tmp_path / "derived"
    args = [
        "enhance", str(source), str(out), "--format", "dicom", "--model", str(tiny_models["2d"]),
        "--send", f"{HOST}:{orthanc.dicom_port}", "--called-aet", ORTHANC_AET,
    ]
    assert main(args + (["--enhanced-multiframe"] if multiframe else [])) == 0
    written = sorted(out.iterdir())
    assert len(written) == (1 if multiframe else 12)
    assert f"sent {len(written)}/{len(written)} instances to {ORTHANC_AET}@{HOST}:{orthanc.dicom_port}" in capsys.readouterr().out
    received = _orthanc_instances(orthanc)
    sent = _by_uid(pydicom.dcmread(path) for path in written)
    assert set(received) == set(sent)
    for uid, ds in sent.items():
        _assert_same_instance(received[uid], ds)


def test_cli_checks_the_pacs_before_any_work(orthanc, tmp_path, capsys, tiny_models):
    """A PACS that refuses our association (a wrong called AE title) is found by a C-ECHO before
    the series is enhanced: one line naming the PACS, nothing written."""
    from mrdeeprecon.cli import main

    source = shared_path("dicom/philips_phantom/201_T1W_TSE_Sno_CSno_CSAIno")
    out = tmp_path / "derived"
    args = ["enhance", str(source), str(out), "--format", "dicom", "--model", str(tiny_models["2d"]), "--quiet",
            "--noise-reduction", "1", "--send", f"{HOST}:{orthanc.dicom_port}", "--called-aet", "WRONG-AET"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{HOST}:{orthanc.dicom_port}" in err and "rejected" in err
    assert not out.exists() and orthanc.get_json("/instances") == []
