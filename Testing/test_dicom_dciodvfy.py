"""dciodvfy (dicom3tools) on every written file: no error or warning the source does not already have.

For each source (Philips enhanced, Philips classic, oblique GE, Siemens) the derived series is
written as classic MR Image Storage and as Enhanced MR Image Storage, from the real engine's
output (:func:`test_dicom_write.enhanced_case`). The "Error - ..." lines of every written file
must be a subset of the error lines of the source image files (their union over the source
slices the volume was read from): copied attributes may bring their source's errors along
(Philips enhanced: ``VelocityEncodingDirection`` 0\\0\\0 and Pregnancy Status ``0``), nothing
else may appear. No normalisation of the messages is applied: none was needed, since the copied
attributes that carry source errors are reported without a module name, and the writer removes
what dciodvfy would report in a new context (an empty ``Laterality``, the MR Pulse Sequence
module in a DERIVED enhanced image). One kind of error is accepted in a derived Enhanced MR object
(:func:`timing_macro_false_positives`): the MR Timing and Related Parameters attributes it leaves
out, which PS3.3 requires only in ORIGINAL frames but dciodvfy's template requires always.

The NIfTI research-placeholder series has no source, so it must have no error at all.
"""

from __future__ import annotations

import functools
import subprocess
from dataclasses import replace
from pathlib import Path

import pydicom
import pytest

from conftest import require_tool
from mrdeeprecon import Volume
from mrdeeprecon.io.dicom_write import DerivedSeriesOptions, PatientStudy, write_derived_series
from test_dicom_write import CASES, enhanced_case, oblique_rotation, source_instances, synthetic


@functools.cache
def error_lines(path: str, kind: str = "Error") -> frozenset[str]:
    """The "Error - ..." (or "Warning - ...") lines dciodvfy prints for one file."""
    exe = require_tool("dciodvfy")
    run = subprocess.run([exe, path], capture_output=True, text=True, check=False)
    lines = (run.stdout + run.stderr).splitlines()
    return frozenset(line.strip() for line in lines if line.startswith(kind))


def source_errors(name: str, source: Volume, kind: str = "Error") -> frozenset[str]:
    """Union of the error (or warning) lines of the source files the volume was read from."""
    instances = source_instances(name)
    files = {instances[uid][0] for uid in source.metadata["sop_instance_uids"]}
    return frozenset().union(*(error_lines(str(f), kind) for f in files))


#: The one warning a derived series may add: a classic series written from an enhanced source
#: whose real-world values need a rescale carries RescaleSlope / Intercept / Type, which the
#: classic MR IOD does not define ("Modality LUT ... may cause windowing problems"). Without them
#: the stored values would have to be the real-world values rounded to whole numbers (a Philips
#: phantom series spans 0-156 there: 157 grey levels) or would lose their real-world meaning; a
#: classic Philips source carries the same attributes (and warnings).
RESCALE_WARNING = ("Rescale Intercept", "Rescale Slope", "Rescale Type", "Non-identity Modality LUT Module")


#: The type 1C attributes of the MR Timing and Related Parameters Macro (PS3.3 C.8.13.5.2) that a
#: classic header cannot give (every real classic source has TR, flip angle and echo train length:
#: their absence stays an error).
TIMING_MACRO_1C_NOT_IN_CLASSIC = (
    "RFEchoTrainLength", "GradientEchoTrainLength", "SpecificAbsorptionRateSequence", "OperatingModeSequence",
)  # fmt: skip


def timing_macro_false_positives(path: Path) -> frozenset[str]:
    """dciodvfy's "Missing attribute" errors for the MR Timing and Related Parameters attributes
    that a DERIVED enhanced object leaves out of the group.

    PS3.3 C.8.13.5.2 requires them only where Frame Type value 1 is ORIGINAL ("May be present
    otherwise"), but dicom3tools checks them with ``Condition="Always"`` whenever the group is
    present (``libsrc/standard/module/mr.tpl``, commented ``FrameType[0] == ORIGINAL``). An
    enhanced object written from a classic source carries TR, flip angle and echo train length
    there, and a classic header has no SAR sequence, operating modes or RF / gradient echo train
    lengths to add without inventing them. An empty attribute is never accepted."""
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    shared = (ds.get("SharedFunctionalGroupsSequence") or [None])[0]
    timing = shared.get("MRTimingAndRelatedParametersSequence") if shared is not None else None
    if not timing or shared.MRImageFrameTypeSequence[0].FrameType[0] != "DERIVED":
        return frozenset()
    return frozenset(
        f"Error - Missing attribute Type 1C Conditional Element=<{keyword}> "
        "Module=<MRTimingAndRelatedParametersMacro>"
        for keyword in TIMING_MACRO_1C_NOT_IN_CLASSIC
        if keyword not in timing[0]
    )


@pytest.mark.parametrize("as_enhanced", [False, True], ids=["classic", "enhanced"])
@pytest.mark.parametrize("name", CASES)
def test_no_error_or_warning_beyond_the_source(tmp_path: Path, name: str, as_enhanced: bool) -> None:
    require_tool("dciodvfy")
    source, result = enhanced_case(name)
    series = write_derived_series(
        result, tmp_path / "out", DerivedSeriesOptions(enhanced=as_enhanced)
    )
    for kind in ("Error", "Warning"):
        allowed = source_errors(name, source, kind)
        for path in series.files:
            new = error_lines(str(path), kind) - allowed - timing_macro_false_positives(path)
            if kind == "Warning" and not as_enhanced and series.rescale_slope != 1.0:
                new = {line for line in new if not any(word in line for word in RESCALE_WARNING)}
            assert not new, f"{path.name}: {kind.lower()}s the source does not have:\n" + "\n".join(sorted(new))


def test_timing_group_of_a_classic_source_lacks_only_what_the_source_lacks(tmp_path: Path) -> None:
    """The Philips classic source written as Enhanced MR: dciodvfy's MR Timing errors name only
    attributes a classic header does not have (none for TR, flip angle or echo train length)."""
    require_tool("dciodvfy")
    _, result = enhanced_case("philips_classic")
    series = write_derived_series(result, tmp_path / "out", DerivedSeriesOptions(enhanced=True))
    timing = {line for line in error_lines(str(series.files[0])) if "MRTimingAndRelatedParameters" in line}
    assert timing <= timing_macro_false_positives(series.files[0])
    assert not any(f"<{keyword}>" in line for line in timing for keyword in ("RepetitionTime", "FlipAngle", "EchoTrainLength"))


def test_the_comparison_sees_errors(tmp_path: Path) -> None:
    """Guard against a silent dciodvfy: a file with a broken attribute is reported."""
    require_tool("dciodvfy")
    series = write_derived_series(
        synthetic(), tmp_path / "out", DerivedSeriesOptions(research_placeholder=True)
    )
    ds = pydicom.dcmread(series.files[0])
    del ds.Modality
    broken = tmp_path / "broken.dcm"
    ds.save_as(broken, enforce_file_format=True)
    assert any("Modality" in line for line in error_lines(str(broken)))


@pytest.mark.parametrize("as_enhanced", [False, True], ids=["classic", "enhanced"])
@pytest.mark.parametrize(
    "options",
    [
        DerivedSeriesOptions(research_placeholder=True),
        DerivedSeriesOptions(
            patient=PatientStudy(
                "Müller^Jürgen",
                "P-0042",
                "Research brain",
                "ACC1",
                patient_birth_date="19700102",
                patient_sex="O",
            )
        ),
    ],
    ids=["placeholder", "patient"],
)
def test_nifti_input_has_no_error_at_all(tmp_path: Path, options, as_enhanced: bool) -> None:
    require_tool("dciodvfy")
    volume = synthetic(shape=(5, 24, 20), direction=oblique_rotation())
    series = write_derived_series(volume, tmp_path / "out", replace(options, enhanced=as_enhanced))
    for path in series.files:
        assert error_lines(str(path)) == frozenset(), path.name


#: Every other vendor source in ../shared/data/dicom (the image set read where a series holds
#: several): name → (path under ../shared/data, read_dicom selection).
VENDOR_SOURCES = {
    "siemens_skyra": ("dicom/siemens_skyra_mprage", {}),
    "philips_3t_classic": ("dicom/philips_mprage_3t", {}),
    "siemens_xa30_enhanced": ("dicom/siemens_xa30_t1tfl_2mm", {}),
    "philips_dual_echo_e2": ("dicom/real_world/philips_dual_echo", {"echo": 2, "image_type": "M"}),
    "siemens_mosaic": ("dicom/transfer_syntaxes/1.dcm", {}),
    "siemens_mosaic_jpeg_lossless": ("dicom/transfer_syntaxes/5.dcm", {}),
}
#: Slices enhanced per vendor source: enough for the writer, fast on 2 CPU cores.
VENDOR_SLICES = 4


def _vendor_errors(path: Path, source: Volume) -> frozenset[str]:
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    uids = set(source.metadata["sop_instance_uids"])
    chosen = [
        f for f in files if str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID) in uids
    ]
    return frozenset().union(*(error_lines(str(f)) for f in chosen))


def _written_errors(volume: Volume, folder: Path, as_enhanced: bool) -> dict[str, frozenset[str]]:
    from mrdeeprecon.inference import enhance
    from mrdeeprecon.settings import EnhanceSettings
    from test_dicom_write import _first_slices

    part = _first_slices(volume, VENDOR_SLICES)
    result = enhance(part, EnhanceSettings(2.0, device="cpu", model_kind="2d"))
    series = write_derived_series(result, folder, DerivedSeriesOptions(enhanced=as_enhanced))
    return {path.name: error_lines(str(path)) - timing_macro_false_positives(path) for path in series.files}


@pytest.mark.parametrize("as_enhanced", [False, True], ids=["classic", "enhanced"])
@pytest.mark.parametrize("name", VENDOR_SOURCES)
def test_every_vendor_source_no_error_beyond_it(tmp_path: Path, name: str, as_enhanced: bool) -> None:
    require_tool("dciodvfy")
    from conftest import shared_path
    from mrdeeprecon.io import load_volume

    relative, selection = VENDOR_SOURCES[name]
    path = shared_path(relative)
    source = load_volume(path, **selection)
    allowed = _vendor_errors(path, source)
    for file, errors in _written_errors(source, tmp_path / "out", as_enhanced).items():
        assert not errors - allowed, f"{name} {file}: " + "\n".join(sorted(errors - allowed))


@pytest.mark.parametrize("as_enhanced", [False, True], ids=["classic", "enhanced"])
def test_laterality_kept_for_a_source_without_body_part(tmp_path: Path, as_enhanced: bool) -> None:
    """Type 2C Laterality: required (empty = unknown) in a classic series without
    BodyPartExamined, not allowed in an enhanced one; the source here has neither."""
    require_tool("dciodvfy")
    from conftest import shared_path
    from mrdeeprecon.io import load_volume

    relative, selection = VENDOR_SOURCES["philips_dual_echo_e2"]
    source = load_volume(shared_path(relative), **selection)
    header = source.metadata["dicom_header"]
    del header.BodyPartExamined
    if "Laterality" in header:
        del header.Laterality
    written = _written_errors(source, tmp_path / "out", as_enhanced)
    laterality = [line for errors in written.values() for line in errors if "Laterality" in line]
    assert laterality == []
    first = pydicom.dcmread(tmp_path / "out" / sorted(written)[0], stop_before_pixels=True)
    assert ("Laterality" in first) is (not as_enhanced)
