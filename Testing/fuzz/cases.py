"""The bad-input campaign: more than 1 000 cases, each a damaged input or setting run through the
CLI (``info``, ``enhance`` to NIfTI and to DICOM, ``degrade``, ``qa``, ``evaluate``) or the
Python API (``load_volume``, ``enhance``, ``save_volume``, ``EnhanceSettings``).

Families (the rows of ``docs/FUZZ.md``):

* DICOM bytes: random bytes flipped in the header or the pixels, truncated files, random-byte
  files in place of a slice or beside the series;
* DICOM tags: each attribute the reader needs, missing from one file or from all; bad values
  (negative / zero / huge spacing, NaN positions, degenerate orientation, huge dimensions ...);
* series layout: two orientations, sizes or series in one folder, single-slice series, 4D,
  gaps, non-MR modalities and SOP classes;
* real DICOM from ``../shared/data``: every transfer syntax (decoded to the same pixels),
  enhanced multi-frame, multi-echo and phase series;
* NIfTI / NRRD: NaN / Inf, all-zero and constant volumes, odd types and dimensions, truncated
  and corrupted files, bad headers;
* paths: empty, missing, FIFO, symlink loops, unreadable, unicode; outputs inside the input,
  existing, unwritable;
* parameters: invalid values of every flag and of the API's arguments.

Every case builds its own files inside a fresh folder (the seeds are copied in), so cases are
independent and can run in any order or subset.
"""

from __future__ import annotations

import gzip
import os
import shutil
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

from conftest import SHARED_DATA
from fuzz.runner import Case, Invocation

REPO = Path(__file__).resolve().parents[2]

#: (slices, rows, columns) of the synthetic seed series: small enough that a successful case
#: runs the bundled model in well under a second.
SEED_SHAPE = (8, 24, 20)


# ---------------------------------------------------------------- seeds


@lru_cache(maxsize=None)
def _seed_dir() -> Path:
    """A folder of seed inputs, made once per process: ``series`` (classic MR DICOM),
    ``brain.nii.gz`` (the same volume as NIfTI)."""
    import tempfile

    from mrdeeprecon.io import load_volume, save_volume
    from synthetic_dicom import mr_series

    root = Path(tempfile.mkdtemp(prefix="mrdeeprecon-fuzz-seeds-"))
    mr_series(root / "series", SEED_SHAPE)
    save_volume(load_volume(root / "series"), root / "brain.nii.gz")
    return root


def _copy_series(folder: Path, name: str = "series") -> Path:
    target = folder / name
    shutil.copytree(_seed_dir() / "series", target)
    return target


def _copy_nifti(folder: Path, name: str = "brain.nii.gz") -> Path:
    target = folder / name
    shutil.copyfile(_seed_dir() / "brain.nii.gz", target)
    return target


def _out(folder: Path) -> Path:
    out = folder / "out"
    out.mkdir(exist_ok=True)
    return out


# ---------------------------------------------------------------- commands


#: A command: (input, case folder, names a refusal mentions, expectation) → what to run.
Runner = Callable[[Path, Path, tuple[str, ...], str], Invocation]
#: What a case's ``make(folder)`` returns: the input, the names its refusal mentions, the
#: expectation, and optionally the names a success must warn about (skipped files).
Made = tuple


def _info(source: Path, folder: Path, names: tuple[str, ...], expect: str) -> Invocation:
    return Invocation(argv=["info", str(source)], inputs=[source], names=names, expect=expect)


def _enhance_nifti(source: Path, folder: Path, names: tuple[str, ...], expect: str) -> Invocation:
    output = _out(folder) / "enhanced.nii.gz"
    return Invocation(argv=["enhance", str(source), str(output), "--quiet"], inputs=[source], output=output, names=names, expect=expect)


def _enhance_dicom(source: Path, folder: Path, names: tuple[str, ...], expect: str) -> Invocation:
    output = _out(folder) / "derived"
    return Invocation(
        argv=["enhance", str(source), str(output), "--format", "dicom", "--quiet"],
        inputs=[source], output=output, names=names, expect=expect,
    )


def _degrade(source: Path, folder: Path, names: tuple[str, ...], expect: str) -> Invocation:
    output = _out(folder) / "degraded.nii.gz"
    return Invocation(argv=["degrade", str(source), str(output), "--noise", "0.05"], inputs=[source], output=output,
                      side_outputs=("degraded.json",), names=names, expect=expect)


def _api_load(source: Path, folder: Path, names: tuple[str, ...], expect: str) -> Invocation:
    from mrdeeprecon.io import load_volume

    return Invocation(call=lambda: load_volume(source), inputs=[source], names=names, expect=expect, check=lambda: None)


def _api_enhance(source: Path, folder: Path, names: tuple[str, ...], expect: str) -> Invocation:
    from mrdeeprecon.inference import enhance
    from mrdeeprecon.io import load_volume
    from mrdeeprecon.settings import EnhanceSettings

    return Invocation(call=lambda: enhance(load_volume(source), EnhanceSettings(device="cpu")), inputs=[source], names=names, expect=expect)


COMMANDS: dict[str, Runner] = {
    "info": _info,
    "enhance-nifti": _enhance_nifti,
    "enhance-dicom": _enhance_dicom,
    "degrade": _degrade,
    "api-load": _api_load,
    "api-enhance": _api_enhance,
}


def _file_cases(family: str, makers: dict[str, tuple[Callable[[Path], Path], str]], commands: tuple[str, ...]) -> list[Case]:
    """The cases of damaged single files: label → (``maker(folder)`` writing the file, expectation);
    a refusal must name the file."""
    cases = []
    for label, (maker, expect) in makers.items():
        def make(folder: Path, maker=maker, expect=expect):
            path = maker(folder)
            return path, (path.name,), expect

        cases += _cases(family, label, make, commands)
    return cases


def _cases(family: str, label: str, make: Callable[[Path], Made], commands: tuple[str, ...], needs_shared: bool = False) -> list[Case]:
    """One case per command: ``make(folder)`` builds the damaged input (see :data:`Made`)."""
    out = []
    for command in commands:
        def build(folder: Path, command: str = command) -> Invocation:
            source, names, expect, *warns = make(folder)
            invocation = COMMANDS[command](source, folder, names, expect)
            if warns and warns[0]:
                invocation.warns = warns[0]
                if invocation.argv is None:  # the API says it in the volume's metadata
                    invocation.check = _skipped_check(source, warns[0])
            return invocation

        out.append(Case(f"{family}/{label}/{command}", family, build, needs_shared))
    return out


def _skipped_check(source: Path, names: tuple[str, ...]) -> Callable[[], None]:
    def check() -> None:
        from mrdeeprecon.io import load_volume

        skipped = load_volume(source).metadata.get("skipped_files", [])
        assert any(Path(p).name in names for p in skipped), f"skipped_files {skipped} does not name {names}"

    return check


# ---------------------------------------------------------------- DICOM bytes


def _slice_file(series: Path, index: int) -> Path:
    return sorted(series.iterdir())[index]


def _pixel_offset(path: Path) -> int:
    """Byte offset of the pixel data's value in ``path``, a seed slice (uncompressed 16-bit pixels,
    the last element)."""
    return path.stat().st_size - 2 * SEED_SHAPE[1] * SEED_SHAPE[2]


def _byte_flips() -> list[Case]:
    cases = []
    for seed in range(60):
        def make(folder: Path, seed: int = seed):
            series = _copy_series(folder)
            target = _slice_file(series, seed % SEED_SHAPE[0])
            data = bytearray(target.read_bytes())
            rng = np.random.default_rng(seed)
            start, stop = (132, _pixel_offset(target)) if seed % 3 else (_pixel_offset(target), len(data))
            for offset in rng.integers(start, stop, size=1 + seed % 8):
                data[int(offset)] = int(rng.integers(0, 256))
            target.write_bytes(bytes(data))
            return series, (target.name, str(series)), "either"

        where = "header" if seed % 3 else "pixels"
        cases += _cases("DICOM: bytes flipped", f"{where}-seed{seed}", make, ("info", "enhance-nifti") if seed % 2 else ("api-load", "enhance-dicom"))
    return cases


def _truncations() -> list[Case]:
    cases = []
    for length in (0, 1, 64, 128, 131, 132, 140, 200, 400, "pixels-1", "pixels+10", "half-pixels", "end-1"):
        for index in (0, 3):
            def make(folder: Path, length=length, index=index):
                series = _copy_series(folder)
                target = _slice_file(series, index)
                data = target.read_bytes()
                pixels = _pixel_offset(target)
                cut = {"pixels-1": pixels - 1, "pixels+10": pixels + 10, "half-pixels": (pixels + len(data)) // 2, "end-1": len(data) - 1}.get(length, length)  # type: ignore[arg-type]
                target.write_bytes(data[: int(cut)])
                # without its first 132 bytes a file is not recognisably DICOM: it may be skipped,
                # and then the user is told; with them it is a damaged DICOM file, refused
                return series, (target.name,), "either", (target.name,)

            cases += _cases("DICOM: truncated file", f"{length}-bytes-slice{index}", make, ("info", "enhance-nifti", "api-load"))
    return cases


def _random_files() -> list[Case]:
    cases = []
    for size in (0, 1, 100, 132, 1000, 20000):
        for how in ("replaces-a-slice", "beside-the-series", "with-DICM-magic", "single-file-input"):
            def make(folder: Path, size=size, how=how):
                series = _copy_series(folder)
                rng = np.random.default_rng(size)
                garbage = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
                if how == "with-DICM-magic":
                    garbage = bytes(128) + b"DICM" + garbage
                if how == "replaces-a-slice":
                    target = _slice_file(series, 4)
                elif how == "single-file-input":
                    target = folder / "random.dcm"
                else:
                    target = series / f"zz_{size}.dcm"
                target.write_bytes(garbage)
                if how == "single-file-input":
                    return target, (target.name,), "refuse"
                # garbage beside a complete series may be skipped, but the user must be told
                expect = "either" if how == "beside-the-series" else "refuse"
                return series, (target.name,), expect, (target.name,)

            cases += _cases("DICOM: random-byte files", f"{size}-bytes-{how}", make, ("info", "enhance-nifti", "api-load"))
    return cases


# ---------------------------------------------------------------- DICOM tags


REQUIRED_TAGS = (
    "Rows", "Columns", "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation", "SamplesPerPixel",
    "PhotometricInterpretation", "PixelData", "ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing",
    "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID", "StudyInstanceUID", "FrameOfReferenceUID", "Modality",
    "SliceThickness", "InstanceNumber", "ImageType", "EchoTime", "MRAcquisitionType", "PatientID", "PatientName",
)


def _edit_series(folder: Path, edit: Callable, which: str) -> tuple[Path, list[Path]]:
    """Copy the seed series and apply ``edit(dataset, index)`` to one file (``which="one"``,
    the fourth) or to all; returns the folder and the edited files."""
    import pydicom

    series = _copy_series(folder)
    files = sorted(series.iterdir())
    edited = [files[3]] if which == "one" else files
    for index, path in enumerate(edited):
        ds = pydicom.dcmread(path)
        edit(ds, index)
        ds.save_as(path, enforce_file_format=False)
    return series, edited


def _missing_tags() -> list[Case]:
    cases = []
    for tag in REQUIRED_TAGS:
        for which in ("one", "all"):
            def make(folder: Path, tag=tag, which=which):
                def edit(ds, index):
                    if tag in ds:
                        del ds[tag]

                series, edited = _edit_series(folder, edit, which)
                names = (edited[0].name, str(series), tag) if which == "one" else (str(series), tag, edited[0].name)
                return series, names, "either"

            cases += _cases("DICOM: attribute missing", f"{tag}-{which}", make, ("info", "enhance-nifti", "enhance-dicom"))
    return cases


def _set(keyword: str, value) -> Callable:
    def edit(ds, index):
        setattr(ds, keyword, value)

    return edit


def _set_raw(tag: int, vr: str, raw: bytes) -> Callable:
    """Write ``raw`` bytes as the value, bypassing pydicom's validation (what a broken scanner
    or anonymiser writes)."""
    from pydicom.dataelem import RawDataElement
    from pydicom.tag import Tag

    def edit(ds, index):
        ds._dict[Tag(tag)] = RawDataElement(Tag(tag), vr, len(raw), raw, 0, False, True)  # noqa: SLF001 - deliberate damage

    return edit


BAD_VALUES: dict[str, Callable] = {
    "PixelSpacing-negative": _set("PixelSpacing", [-0.9, 0.8]),
    "PixelSpacing-zero": _set("PixelSpacing", [0, 0.8]),
    "PixelSpacing-1e9": _set("PixelSpacing", [1e9, 1e9]),
    "PixelSpacing-one-value": _set("PixelSpacing", [0.9]),
    "PixelSpacing-text": _set_raw(0x00280030, "DS", b"abc\\def "),
    "PixelSpacing-nan": _set_raw(0x00280030, "DS", b"nan\\0.8 "),
    "SliceThickness-zero": _set("SliceThickness", 0),
    "SliceThickness-negative": _set("SliceThickness", -5),
    "SliceThickness-text": _set_raw(0x00180050, "DS", b"thick "),
    "ImagePositionPatient-nan": _set_raw(0x00200032, "DS", b"nan\\0\\0 "),
    "ImagePositionPatient-inf": _set_raw(0x00200032, "DS", b"inf\\0\\0 "),
    "ImagePositionPatient-two-values": _set("ImagePositionPatient", [1.0, 2.0]),
    "ImagePositionPatient-1e30": _set_raw(0x00200032, "DS", b"1e30\\0\\0"),
    "ImageOrientationPatient-zero": _set("ImageOrientationPatient", [0, 0, 0, 0, 0, 0]),
    "ImageOrientationPatient-parallel": _set("ImageOrientationPatient", [1, 0, 0, 1, 0, 0]),
    "ImageOrientationPatient-not-unit": _set("ImageOrientationPatient", [2, 0, 0, 0, 3, 0]),
    "ImageOrientationPatient-nan": _set_raw(0x00200037, "DS", b"nan\\0\\0\\0\\1\\0 "),
    "ImageOrientationPatient-five-values": _set("ImageOrientationPatient", [1, 0, 0, 0, 1]),
    "Rows-zero": _set("Rows", 0),
    "Rows-65535": _set("Rows", 65535),
    "Columns-65535": _set("Columns", 65535),
    "Rows-larger-than-data": _set("Rows", 25),
    "BitsAllocated-12": _set("BitsAllocated", 12),
    "BitsAllocated-7": _set("BitsAllocated", 7),
    "BitsAllocated-64": _set("BitsAllocated", 64),
    "BitsStored-0": _set("BitsStored", 0),
    "BitsStored-above-allocated": _set("BitsStored", 20),
    "PixelRepresentation-2": _set("PixelRepresentation", 2),
    "SamplesPerPixel-3": _set("SamplesPerPixel", 3),
    "PhotometricInterpretation-RGB": _set("PhotometricInterpretation", "RGB"),
    "PhotometricInterpretation-PALETTE": _set("PhotometricInterpretation", "PALETTE COLOR"),
    "PhotometricInterpretation-MONOCHROME1": _set("PhotometricInterpretation", "MONOCHROME1"),
    "PhotometricInterpretation-garbage": _set("PhotometricInterpretation", "XYZ"),
    "RescaleSlope-zero": _set("RescaleSlope", 0),
    "RescaleSlope-nan": _set_raw(0x00281053, "DS", b"nan "),
    "RescaleSlope-1e30": _set("RescaleSlope", "1e30"),
    "RescaleSlope-negative": _set("RescaleSlope", -1),
    "RescaleIntercept-text": _set_raw(0x00281052, "DS", b"zero"),
    "NumberOfFrames-3": _set("NumberOfFrames", 3),
    "NumberOfFrames-0": _set("NumberOfFrames", 0),
    "EchoTime-text": _set_raw(0x00180081, "DS", b"short "),
    "EchoTime-negative": _set("EchoTime", -3),
    "RepetitionTime-zero": _set("RepetitionTime", 0),
    "MagneticFieldStrength-1e6": _set("MagneticFieldStrength", 1e6),
    "AcquisitionMatrix-zeros": _set("AcquisitionMatrix", [0, 0, 0, 0]),
    "AcquisitionMatrix-huge": _set("AcquisitionMatrix", [0, 65535, 65535, 0]),
    "InPlanePhaseEncodingDirection-garbage": _set("InPlanePhaseEncodingDirection", "DIAG"),
    "MRAcquisitionType-garbage": _set("MRAcquisitionType", "4D"),
    "PercentSampling-zero": _set("PercentSampling", 0),
    "PercentPhaseFieldOfView-1000": _set("PercentPhaseFieldOfView", 1000),
    "ImageType-empty": _set("ImageType", ""),
    "ImageType-PHASE": _set("ImageType", ["ORIGINAL", "PRIMARY", "P", "ND"]),
    "SeriesInstanceUID-empty": _set("SeriesInstanceUID", ""),
    "SeriesInstanceUID-65-chars": _set_raw(0x0020000E, "UI", b"1." * 32 + b"1\0"),
    "PatientName-200-chars": _set_raw(0x00100010, "PN", b"A" * 200),
    "SeriesDescription-100-chars": _set_raw(0x0008103E, "LO", b"D" * 100),
    "SpecificCharacterSet-unknown": _set("SpecificCharacterSet", "ISO_IR 999"),
    "SpecificCharacterSet-latin1-bytes": _set_raw(0x00100010, "PN", "Müller^Jörg".encode("latin-1") + b" "),
    "WindowCenter-text": _set_raw(0x00281050, "DS", b"auto"),
}


def _bad_values() -> list[Case]:
    cases = []
    for label, edit in BAD_VALUES.items():
        tag = label.split("-")[0]
        for which, commands in (("all", ("info", "enhance-dicom")), ("one", ("enhance-nifti",))):
            def make(folder: Path, edit=edit, which=which, tag=tag):
                series, edited = _edit_series(folder, edit, which)
                return series, (edited[0].name, str(series), tag), "either"

            cases += _cases("DICOM: bad attribute value", f"{label}-{which}", make, commands)
    return cases


# ---------------------------------------------------------------- series layout


def _layouts() -> dict[str, Callable[[Path], tuple[Path, tuple[str, ...], str]]]:
    import pydicom

    from synthetic_dicom import mr_series

    def merged(folder: Path, **second) -> Path:
        series = _copy_series(folder)
        other = mr_series(folder / "other", **second)
        for path in sorted(other.iterdir()):
            shutil.move(path, series / f"b_{path.name}")
        other.rmdir()
        return series

    def two_orientations(folder: Path):
        series = merged(folder, orientation=(0, 1, 0, 0, 0, -1))
        return series, (str(series),), "refuse"

    def two_sizes(folder: Path):
        return merged(folder, shape=(8, 20, 24)), ("series",), "refuse"

    def same_series_two_sizes(folder: Path):
        series = _copy_series(folder)
        path = _slice_file(series, 2)
        ds = pydicom.dcmread(path)
        ds.Rows, ds.Columns = 12, 10
        ds.PixelData = np.zeros((12, 10), np.uint16).tobytes()
        ds.save_as(path)
        return series, (str(series), path.name), "refuse"

    def same_series_two_orientations(folder: Path):
        series = _copy_series(folder)
        path = _slice_file(series, 2)
        ds = pydicom.dcmread(path)
        ds.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]
        ds.save_as(path)
        return series, (str(series), path.name), "refuse"

    def single_slice(folder: Path):
        series = _copy_series(folder)
        for path in sorted(series.iterdir())[1:]:
            path.unlink()
        return series, (str(series),), "either"

    def single_file(folder: Path):
        series = _copy_series(folder)
        return _slice_file(series, 0), ("000.dcm",), "either"

    def two_slices(folder: Path):
        series = _copy_series(folder)
        for path in sorted(series.iterdir())[2:]:
            path.unlink()
        return series, (str(series),), "either"

    def gap(folder: Path):
        series = _copy_series(folder)
        _slice_file(series, 4).unlink()
        return series, (str(series),), "refuse"

    def duplicate_position(folder: Path):
        series = _copy_series(folder)
        shutil.copyfile(_slice_file(series, 3), series / "copy.dcm")
        return series, (str(series),), "refuse"

    def duplicate_position_new_uid(folder: Path):
        from pydicom.uid import generate_uid

        series = _copy_series(folder)
        ds = pydicom.dcmread(_slice_file(series, 3))
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.save_as(series / "echo2.dcm")
        return series, (str(series),), "refuse"

    def time_series(folder: Path):
        from pydicom.uid import generate_uid

        series = _copy_series(folder)
        for path in sorted(series.iterdir()):
            ds = pydicom.dcmread(path)
            ds.TemporalPositionIdentifier, ds.NumberOfTemporalPositions = 1, 2
            ds.save_as(path)
            ds.TemporalPositionIdentifier = 2
            ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
            ds.save_as(series / f"t2_{path.name}")
        return series, (str(series),), "refuse"

    def two_series(folder: Path):
        return merged(folder), ("--series", "series"), "refuse"

    def shuffled_names(folder: Path):
        series = _copy_series(folder)
        for i, path in enumerate(sorted(series.iterdir())):
            path.rename(series / f"{(i * 5) % 8}_{'x' * i}")
        return series, (str(series),), "succeed"

    def subfolders_only(folder: Path):
        series = _copy_series(folder)
        root = folder / "patient"
        root.mkdir()
        shutil.move(series, root / "series")
        return root, ("patient",), "refuse"

    def sheared(folder: Path):
        series = _copy_series(folder)
        for k, path in enumerate(sorted(series.iterdir())):
            ds = pydicom.dcmread(path)
            position = [float(v) for v in ds.ImagePositionPatient]
            ds.ImagePositionPatient = [position[0] + 0.7 * k, position[1], position[2]]
            ds.save_as(path)
        return series, (str(series),), "either"

    def uneven_spacing(folder: Path):
        series = _copy_series(folder)
        for k, path in enumerate(sorted(series.iterdir())):
            ds = pydicom.dcmread(path)
            position = [float(v) for v in ds.ImagePositionPatient]
            ds.ImagePositionPatient = [position[0], position[1], position[2] + 0.05 * k * k]
            ds.save_as(path)
        return series, (str(series),), "refuse"

    def mixed_bits(folder: Path):
        series = _copy_series(folder)
        path = _slice_file(series, 5)
        ds = pydicom.dcmread(path)
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
        ds.PixelData = np.zeros(SEED_SHAPE[1:], np.uint8).tobytes()
        ds.save_as(path)
        return series, (str(series), path.name), "either"

    def mixed_signed(folder: Path):
        series = _copy_series(folder)
        path = _slice_file(series, 5)
        ds = pydicom.dcmread(path)
        ds.PixelRepresentation = 1
        ds.save_as(path)
        return series, (str(series), path.name), "either"

    def mixed_rescale(folder: Path):
        series = _copy_series(folder)
        path = _slice_file(series, 5)
        ds = pydicom.dcmread(path)
        ds.RescaleSlope, ds.RescaleIntercept = 2, 0
        ds.save_as(path)
        return series, (str(series),), "succeed"

    def mixed_transfer_syntax(folder: Path):
        from pydicom.uid import ImplicitVRLittleEndian

        series = _copy_series(folder)
        path = _slice_file(series, 5)
        ds = pydicom.dcmread(path)
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
        ds.save_as(path, implicit_vr=True, little_endian=True)
        return series, (str(series),), "succeed"

    return {
        "two-orientations": two_orientations, "two-sizes": two_sizes, "one-series-two-sizes": same_series_two_sizes,
        "one-series-two-orientations": same_series_two_orientations, "single-slice": single_slice, "single-file": single_file,
        "two-slices": two_slices, "missing-slice": gap, "duplicate-file": duplicate_position,
        "duplicate-position": duplicate_position_new_uid, "time-series": time_series, "two-series": two_series,
        "shuffled-names": shuffled_names, "sub-folders-only": subfolders_only, "sheared": sheared,
        "uneven-spacing": uneven_spacing, "mixed-bits": mixed_bits, "mixed-signedness": mixed_signed,
        "mixed-rescale": mixed_rescale, "mixed-transfer-syntax": mixed_transfer_syntax,
    }


def _series_layouts() -> list[Case]:
    cases = []
    for label, make in _layouts().items():
        cases += _cases("DICOM: series layout", label, make, ("info", "enhance-nifti", "enhance-dicom", "api-enhance"))
    return cases


NON_MR = {
    "CT-modality": ("CT", None), "PT-modality": ("PT", None), "US-modality": ("US", None), "OT-modality": ("OT", None),
    "CT-image-storage": ("CT", "1.2.840.10008.5.1.4.1.1.2"), "secondary-capture": ("MR", "1.2.840.10008.5.1.4.1.1.7"),
    "MR-in-CT-storage": ("MR", "1.2.840.10008.5.1.4.1.1.2"), "PET-storage": ("PT", "1.2.840.10008.5.1.4.1.1.128"),
    "RT-dose": ("RTDOSE", "1.2.840.10008.5.1.4.1.1.481.2"), "MR-spectroscopy": ("MR", "1.2.840.10008.5.1.4.1.1.4.2"),
    "raw-data": ("MR", "1.2.840.10008.5.1.4.1.1.66"), "empty-modality": ("", None),
}


def _non_mr() -> list[Case]:
    cases = []
    for label, (modality, sop_class) in NON_MR.items():
        def make(folder: Path, modality=modality, sop_class=sop_class):
            def edit(ds, index):
                ds.Modality = modality
                if sop_class is not None:
                    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = sop_class

            series, _ = _edit_series(folder, edit, "all")
            return series, (str(series),), "refuse"

        cases += _cases("DICOM: non-MR modality", label, make, ("info", "enhance-nifti", "enhance-dicom"))
    return cases


def _re_encoded() -> list[Case]:
    """The seed series written in other transfer syntaxes by pydicom: same pixels, same result."""
    from pydicom.uid import DeflatedExplicitVRLittleEndian, ImplicitVRLittleEndian, RLELossless

    cases = []
    for label, syntax in (("implicit-vr", ImplicitVRLittleEndian), ("deflated", DeflatedExplicitVRLittleEndian), ("rle", RLELossless)):
        def make(folder: Path, syntax=syntax):
            import pydicom

            series = _copy_series(folder)
            for path in sorted(series.iterdir()):
                ds = pydicom.dcmread(path)
                if syntax == RLELossless:
                    ds.compress(RLELossless)
                else:
                    ds.file_meta.TransferSyntaxUID = syntax
                ds.save_as(path, implicit_vr=syntax == ImplicitVRLittleEndian, little_endian=True, enforce_file_format=True)
            return series, (str(series),), "succeed"

        def build_check(folder: Path, make=make, label=label) -> Invocation:
            from mrdeeprecon.io import load_volume

            series, names, expect = make(folder)
            reference = _seed_dir() / "series"

            def check() -> None:
                np.testing.assert_array_equal(load_volume(series).data, load_volume(reference).data)

            return Invocation(call=lambda: load_volume(series), inputs=[series], names=names, expect=expect, check=check)

        cases += _cases("DICOM: transfer syntaxes", label, make, ("info", "enhance-nifti", "enhance-dicom"))
        cases.append(Case(f"DICOM: transfer syntaxes/{label}/same-pixels", "DICOM: transfer syntaxes", build_check))
    return cases


# ---------------------------------------------------------------- real DICOM (../shared/data)


def _shared(relative: str) -> Path:
    return SHARED_DATA / relative


def _transfer_syntaxes() -> list[Case]:
    cases = []
    for number in range(1, 10):
        def build(folder: Path, number=number) -> Invocation:
            from mrdeeprecon.io import load_volume

            source = _shared(f"dicom/transfer_syntaxes/{number}.dcm")
            reference = _shared("dicom/transfer_syntaxes/1.dcm")

            def check() -> None:
                got, want = load_volume(source).data, load_volume(reference).data
                # lossy syntaxes (JPEG baseline) are within a few grey levels, the lossless ones exact
                assert got.shape == want.shape, f"shape {got.shape} != {want.shape}"
                assert np.abs(got - want).max() <= 0.05 * float(want.max()), "pixels differ from the uncompressed slice"

            return Invocation(call=lambda: load_volume(source), inputs=[source], names=(source.name,), expect="succeed", check=check)

        cases.append(Case(f"real DICOM/transfer-syntax-{number}/same-pixels", "real DICOM", build, needs_shared=True))
        for command in ("info", "enhance-nifti", "enhance-dicom"):
            def run(folder: Path, number=number, command=command) -> Invocation:
                source = _shared(f"dicom/transfer_syntaxes/{number}.dcm")
                return COMMANDS[command](source, folder, (source.name,), "either")

            cases.append(Case(f"real DICOM/transfer-syntax-{number}/{command}", "real DICOM", run, needs_shared=True))
    return cases


#: Real series and what each command should do with them (``info`` lists the image sets of a
#: series that needs a choice; reading a phase image is allowed, enhancing it is not).
REAL_SERIES = {
    "philips-enhanced-multiframe": ("dicom/philips_phantom/201_T1W_TSE_Sno_CSno_CSAIno", {"info": "succeed", "api-load": "succeed", "enhance-nifti": "succeed"}),
    "philips-classic": ("dicom/philips_phantom/501_T1W_FFE_Sno_CS4", {"info": "succeed", "api-load": "succeed", "enhance-nifti": "succeed"}),
    "philips-dual-echo-without-choice": ("dicom/real_world/philips_dual_echo", {"info": "succeed", "api-load": "refuse", "enhance-nifti": "refuse"}),
    "siemens-phase-map": ("dicom/real_world/siemens_fieldmap_phase", {"info": "succeed", "api-load": "succeed", "enhance-nifti": "refuse"}),
    "folder-of-series-folders": ("dicom/philips_phantom", {"info": "refuse", "api-load": "refuse", "enhance-nifti": "refuse"}),
}


def _real_series() -> list[Case]:
    cases = []
    for label, (relative, expectations) in REAL_SERIES.items():
        for command, expect in expectations.items():
            def build(folder: Path, relative=relative, command=command, expect=expect) -> Invocation:
                source = _shared(relative)
                return COMMANDS[command](source, folder, (str(source),), expect)

            cases.append(Case(f"real DICOM/{label}/{command}", "real DICOM", build, needs_shared=True))

    def mosaic(damage: str) -> Callable[[Path], Made]:
        def make(folder: Path):
            import pydicom
            from pydicom.uid import generate_uid

            series = folder / "mosaic"
            series.mkdir()
            for index in range(3 if damage == "time-series" else 1):
                ds = pydicom.dcmread(_shared("dicom/transfer_syntaxes/1.dcm"))
                ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
                ds.InstanceNumber = index + 1
                if damage == "without-csa":
                    for tag in [t for t in ds.keys() if t.group == 0x0029]:
                        del ds[tag]
                ds.save_as(series / f"{index}.dcm")
            return series, (str(series), "0.dcm"), "refuse"

        return make

    cases += _cases("real DICOM", "mosaic-time-series", mosaic("time-series"), ("info", "api-load", "enhance-nifti"), needs_shared=True)
    cases += _cases("real DICOM", "mosaic-without-csa", mosaic("without-csa"), ("info", "api-load", "enhance-nifti"), needs_shared=True)

    def dual_echo(folder: Path, echo: str, image_type: str, expect: str) -> Invocation:
        source = _shared("dicom/real_world/philips_dual_echo")
        output = _out(folder) / "enhanced.nii.gz"
        argv = ["enhance", str(source), str(output), "--quiet", "--echo", echo, "--image-type", image_type]
        return Invocation(argv=argv, inputs=[source], output=output, names=("--echo", "echo", "image", str(source)), expect=expect)

    for echo, image_type, expect in (("1", "M", "succeed"), ("2", "magnitude", "succeed"), ("1", "phase", "refuse"),
                                     ("3", "M", "refuse"), ("0", "M", "refuse"), ("1", "bogus", "refuse")):
        cases.append(Case(f"real DICOM/dual-echo-{echo}-{image_type}", "real DICOM",
                          lambda folder, e=echo, t=image_type, x=expect: dual_echo(folder, e, t, x), needs_shared=True))
    return cases


def _synthetic_enhanced() -> list[Case]:
    """Enhanced MR multi-frame objects: valid, and with their functional groups damaged."""
    from synthetic_dicom import enhanced_object, write_series

    def valid(ds):
        return None

    def no_shared(ds):
        del ds.SharedFunctionalGroupsSequence

    def no_per_frame(ds):
        del ds.PerFrameFunctionalGroupsSequence

    def more_frames(ds):
        ds.NumberOfFrames = 9

    def fewer_frames(ds):
        ds.NumberOfFrames = 2

    def no_position(ds):
        del ds.PerFrameFunctionalGroupsSequence[1].PlanePositionSequence

    def same_positions(ds):
        for item in ds.PerFrameFunctionalGroupsSequence:
            item.PlanePositionSequence[0].ImagePositionPatient = [0.0, 5.0, 7.0]

    def empty_sequence(ds):
        ds.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence = []

    def zero_spacing(ds):
        ds.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].PixelSpacing = [0, 0]

    def frame_count_text(ds):
        from pydicom.dataelem import RawDataElement

        from pydicom.tag import Tag

        ds._dict[Tag(0x00280008)] = RawDataElement(Tag(0x00280008), "IS", 4, b"many", 0, False, True)  # noqa: SLF001

    damages = {
        "valid": (valid, "succeed"), "no-shared-groups": (no_shared, "refuse"), "no-per-frame-groups": (no_per_frame, "refuse"),
        "more-frames-than-data": (more_frames, "refuse"), "fewer-frames-than-groups": (fewer_frames, "refuse"),
        "frame-without-position": (no_position, "refuse"), "all-frames-one-position": (same_positions, "refuse"),
        "empty-pixel-measures": (empty_sequence, "refuse"), "zero-spacing": (zero_spacing, "refuse"),
        "frame-count-text": (frame_count_text, "refuse"),
    }
    cases = []
    for label, (damage, expect) in damages.items():
        def make(folder: Path, damage=damage, expect=expect):
            ds = enhanced_object([0.0, 3.0, 6.0, 9.0, 12.0, 15.0, 18.0, 21.0], [1.0] * 8, rows=24, columns=20)
            damage(ds)
            path = write_series(folder / "enhanced", [ds], ["multiframe.dcm"]) / "multiframe.dcm"
            return path, (path.name,), expect

        cases += _cases("DICOM: enhanced multi-frame", label, make, ("info", "enhance-nifti", "api-load"))
    return cases


# ---------------------------------------------------------------- NIfTI / NRRD


def _volume_file(folder: Path, data: np.ndarray, name: str = "volume.nii.gz", spacing=(0.8, 0.9, 1.5)) -> Path:
    import nibabel as nib

    path = folder / name
    affine = np.diag([*spacing[: max(0, min(3, data.ndim))], *([1.0] * (3 - min(3, data.ndim))), 1.0])
    nib.save(nib.Nifti1Image(data, affine, dtype=data.dtype), str(path))
    return path


def _base_array() -> np.ndarray:
    """The seed volume in NIfTI's (x, y, z) order, float32."""
    import nibabel as nib

    return np.asarray(nib.load(str(_seed_dir() / "brain.nii.gz")).dataobj, dtype=np.float32)


NIFTI_VALUES: dict[str, tuple[Callable[[np.ndarray], np.ndarray], str]] = {
    "one-nan": (lambda a: _put(a, np.nan), "refuse"),
    "one-plus-inf": (lambda a: _put(a, np.inf), "refuse"),
    "one-minus-inf": (lambda a: _put(a, -np.inf), "refuse"),
    "all-nan": (lambda a: np.full_like(a, np.nan), "refuse"),
    "all-zero": (lambda a: np.zeros_like(a), "either"),
    "constant": (lambda a: np.full_like(a, 7.0), "either"),
    "constant-negative": (lambda a: np.full_like(a, -3.0), "either"),
    "negative-values": (lambda a: a - a.mean(), "either"),
    "huge-values": (lambda a: a * np.float32(1e30), "either"),
    "tiny-values": (lambda a: a * np.float32(1e-30), "either"),
    "float64": (lambda a: a.astype(np.float64), "succeed"),
    "int16": (lambda a: a.astype(np.int16), "succeed"),
    "uint8": (lambda a: np.clip(a / 8, 0, 255).astype(np.uint8), "succeed"),
    "int64": (lambda a: a.astype(np.int64), "either"),
    "uint16": (lambda a: a.astype(np.uint16), "succeed"),
    "int32": (lambda a: a.astype(np.int32), "succeed"),
    "complex64": (lambda a: a.astype(np.complex64), "refuse"),
    "four-d": (lambda a: np.stack([a, a], axis=-1), "refuse"),
    "four-d-one-volume": (lambda a: a[..., None], "either"),
    "two-d": (lambda a: a[:, :, 0], "either"),
    "one-voxel": (lambda a: a[:1, :1, :1], "either"),
    "one-row": (lambda a: a[:, :1, :1], "either"),
    "single-slice": (lambda a: a[:, :, :1], "either"),
    "two-by-two-by-two": (lambda a: a[:2, :2, :2], "either"),
    "long-thin": (lambda a: np.tile(a[:, :2, :], (1, 1, 40)), "either"),
}


def _put(array: np.ndarray, value: float) -> np.ndarray:
    out = array.copy()
    out[3, 4, 5] = value
    return out


def _nifti_values() -> list[Case]:
    makers = {
        label: (lambda folder, transform=transform: _volume_file(folder, transform(_base_array())), expect)
        for label, (transform, expect) in NIFTI_VALUES.items()
    }
    return _file_cases("NIfTI: voxel values and shapes", makers, ("info", "enhance-nifti", "api-enhance", "degrade"))


def _nifti_headers() -> list[Case]:
    import struct

    import nibabel as nib

    def with_header(edit: Callable) -> Callable[[Path], Path]:
        def make(folder: Path) -> Path:
            image = nib.Nifti1Image(_base_array(), np.diag([0.8, 0.9, 1.5, 1.0]))
            edit(image)
            path = folder / "volume.nii"
            nib.save(image, str(path))
            return path

        return make

    def raw_header(offset: int, value: bytes) -> Callable[[Path], Path]:
        def make(folder: Path) -> Path:
            path = folder / "volume.nii"
            nib.save(nib.Nifti1Image(_base_array(), np.diag([0.8, 0.9, 1.5, 1.0])), str(path))
            data = bytearray(path.read_bytes())
            data[offset: offset + len(value)] = value
            path.write_bytes(bytes(data))
            return path

        return make

    def pixdim(values) -> Callable:
        def edit(image):
            image.header["pixdim"][1:4] = values
            image.set_qform(None)
            image.set_sform(None)

        return edit

    def singular(image):
        image.set_sform(np.zeros((4, 4)), code=1)
        image.set_qform(None)

    def nan_affine(image):
        affine = np.diag([0.8, 0.9, 1.5, 1.0])
        affine[0, 3] = np.nan
        image.set_sform(affine, code=1)
        image.set_qform(None)

    def sheared(image):
        affine = np.diag([0.8, 0.9, 1.5, 1.0])
        affine[0, 1] = 0.5
        image.set_sform(affine, code=1)
        image.set_qform(None)

    makers = {
        "pixdim-zero": (with_header(pixdim([0, 0, 0])), "refuse"),
        "pixdim-negative": (with_header(pixdim([-1, 1, 1])), "either"),
        "pixdim-nan": (raw_header(80, struct.pack("<f", np.nan)), "refuse"),
        "pixdim-1e9": (with_header(pixdim([1e9, 1e9, 1e9])), "refuse"),
        "sform-singular": (with_header(singular), "refuse"),
        "sform-nan": (with_header(nan_affine), "refuse"),
        "sform-sheared": (with_header(sheared), "either"),
        "scl-slope-nan": (raw_header(112, struct.pack("<f", np.nan)), "either"),
        "scl-slope-zero": (raw_header(112, struct.pack("<f", 0.0)), "either"),
        "scl-slope-inf": (raw_header(112, struct.pack("<f", np.inf)), "either"),  # NIfTI: not finite = no scaling
        "scl-slope-1e38": (raw_header(112, struct.pack("<f", 1e38)), "refuse"),
        "dim-huge": (raw_header(42, struct.pack("<hhh", 32767, 32767, 32767)), "refuse"),
        "dim-zero": (raw_header(42, struct.pack("<h", 0)), "refuse"),
        "dim-negative": (raw_header(42, struct.pack("<h", -5)), "refuse"),
        "ndim-eight": (raw_header(40, struct.pack("<h", 8)), "refuse"),
        "datatype-unknown": (raw_header(70, struct.pack("<h", 999)), "refuse"),
        "vox-offset-beyond-file": (raw_header(108, struct.pack("<f", 1e9)), "refuse"),
        "sizeof-hdr-wrong": (raw_header(0, struct.pack("<i", 12345)), "refuse"),
        "magic-wrong": (raw_header(344, b"xyz\0"), "refuse"),
    }
    return _file_cases("NIfTI: bad header", makers, ("info", "enhance-nifti", "api-load"))


def _nifti_corruption() -> list[Case]:
    def truncated(name: str, cut) -> Callable[[Path], Path]:
        def make(folder: Path) -> Path:
            source = _copy_nifti(folder, "full.nii.gz")
            if name.endswith(".gz"):
                data = source.read_bytes()
            else:
                data = gzip.decompress(source.read_bytes())
            source.unlink()
            path = folder / name
            path.write_bytes(data[: cut(len(data))])
            return path

        return make

    def garbage(name: str, size: int, prefix: bytes = b"") -> Callable[[Path], Path]:
        def make(folder: Path) -> Path:
            path = folder / name
            path.write_bytes(prefix + np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes())
            return path

        return make

    def nrrd(header: str, data: bytes | None = None, detached: bool = False) -> Callable[[Path], Path]:
        def make(folder: Path) -> Path:
            path = folder / ("volume.nhdr" if detached else "volume.nrrd")
            body = header.encode() + b"\n"
            path.write_bytes(body if detached else body + (data or b""))
            return path

        return make

    good_nrrd = "NRRD0004\ntype: float\ndimension: 3\nsizes: 4 4 4\nspacings: 1 1 1\nencoding: raw\nendian: little\n"
    makers = {}
    for name in ("volume.nii", "volume.nii.gz"):
        for label, cut in (("empty", lambda n: 0), ("10-bytes", lambda n: 10), ("header-only-part", lambda n: 200),
                           ("header-only", lambda n: 352), ("half", lambda n: n // 2), ("last-byte-missing", lambda n: n - 1),
                           ("few-bytes-missing", lambda n: n - 5)):
            makers[f"{name}-truncated-{label}"] = truncated(name, cut)
        for size in (0, 100, 348, 5000):
            makers[f"{name}-random-{size}-bytes"] = garbage(name, size)
    makers["volume.nii.gz-gzip-magic-then-garbage"] = garbage("volume.nii.gz", 4000, b"\x1f\x8b\x08\x00")
    makers["volume.nrrd-random"] = garbage("volume.nrrd", 3000)
    makers["nrrd-data-missing"] = nrrd(good_nrrd)
    makers["nrrd-data-short"] = nrrd(good_nrrd, b"\0" * 100)
    makers["nrrd-bad-type"] = nrrd(good_nrrd.replace("float", "quaternion"), b"\0" * 256)
    makers["nrrd-zero-spacing"] = nrrd(good_nrrd.replace("spacings: 1 1 1", "spacings: 0 1 1"), b"\0" * 256)
    makers["nrrd-nan-spacing"] = nrrd(good_nrrd.replace("spacings: 1 1 1", "spacings: nan 1 1"), b"\0" * 256)
    makers["nhdr-data-file-missing"] = nrrd(good_nrrd + "data file: missing.raw\n", detached=True)
    makers["nhdr-data-file-is-itself"] = nrrd(good_nrrd + "data file: volume.nhdr\n", detached=True)
    makers["nrrd-huge-sizes"] = nrrd(good_nrrd.replace("sizes: 4 4 4", "sizes: 100000 100000 100000"), b"\0" * 256)
    # a .nii.gz missing only (part of) its 8-byte gzip trailer still holds every voxel
    expectations = {
        label: (maker, "either" if label.endswith(("last-byte-missing", "few-bytes-missing")) and ".gz" in label else "refuse")
        for label, maker in makers.items()
    }
    return _file_cases("NIfTI/NRRD: corrupted file", expectations, ("info", "enhance-nifti", "api-load"))


# ---------------------------------------------------------------- paths


def _paths() -> list[Case]:
    def nonexistent(folder: Path):
        return folder / "nothing.nii.gz", ("nothing.nii.gz",), "refuse"

    def empty_string(folder: Path):
        return Path(""), ("",), "refuse"

    def empty_folder(folder: Path):
        target = folder / "empty"
        target.mkdir()
        return target, ("empty",), "refuse"

    def fifo(folder: Path):
        target = folder / "pipe.dcm"
        os.mkfifo(target)
        return target, ("pipe.dcm",), "refuse"

    def fifo_nifti(folder: Path):
        target = folder / "pipe.nii.gz"
        os.mkfifo(target)
        return target, ("pipe.nii.gz",), "refuse"

    def fifo_in_series(folder: Path):
        series = _copy_series(folder)
        os.mkfifo(series / "zz_pipe")
        return series, (str(series), "zz_pipe"), "either", ("zz_pipe",)

    def symlink_loop(folder: Path):
        target = folder / "loop"
        os.symlink(target, target)
        return target, ("loop",), "refuse"

    def symlink_loop_in_series(folder: Path):
        series = _copy_series(folder)
        os.symlink(series / "zz_loop", series / "zz_loop")
        return series, (str(series), "zz_loop"), "either", ("zz_loop",)

    def dangling(folder: Path):
        target = folder / "dangling.nii.gz"
        os.symlink(folder / "gone", target)
        return target, ("dangling.nii.gz",), "refuse"

    def symlinked_series(folder: Path):
        series = _copy_series(folder)
        link = folder / "link"
        os.symlink(series, link)
        return link, ("link",), "succeed"

    def unicode_folder(folder: Path):
        return _copy_series(folder, "série_T1_東京 ñ"), ("série_T1_東京 ñ",), "succeed"

    def unicode_nifti(folder: Path):
        return _copy_nifti(folder, "ぼりゅーむ €.nii.gz"), ("ぼりゅーむ €.nii.gz",), "succeed"

    def spaces_and_quotes(folder: Path):
        return _copy_nifti(folder, "my \"brain\" 'scan'.nii.gz"), ("my \"brain\" 'scan'.nii.gz",), "succeed"

    def long_name(folder: Path):
        return _copy_nifti(folder, "b" * 240 + ".nii.gz"), ("b" * 40,), "succeed"

    def directory_named_nifti(folder: Path):
        target = folder / "volume.nii.gz"
        target.mkdir()
        return target, ("volume.nii.gz",), "refuse"

    def dev_null(folder: Path):
        return Path("/dev/null"), ("/dev/null",), "refuse"

    def folder_of_text(folder: Path):
        target = folder / "notes"
        target.mkdir()
        (target / "README.txt").write_text("not an image\n")
        return target, ("notes",), "refuse"

    makers = {
        "nonexistent": nonexistent, "empty-string": empty_string, "empty-folder": empty_folder, "fifo-as-dicom": fifo,
        "fifo-as-nifti": fifo_nifti, "fifo-in-series-folder": fifo_in_series, "symlink-loop": symlink_loop,
        "symlink-loop-in-series-folder": symlink_loop_in_series, "dangling-symlink": dangling,
        "symlinked-series": symlinked_series, "unicode-folder": unicode_folder, "unicode-nifti": unicode_nifti,
        "spaces-and-quotes": spaces_and_quotes, "240-character-name": long_name,
        "folder-named-like-nifti": directory_named_nifti, "dev-null": dev_null, "folder-of-text": folder_of_text,
    }
    cases = []
    for label, make in makers.items():
        cases += _cases("paths: input", label, make, ("info", "enhance-nifti", "api-load"))
    for kind in ("nifti", "series"):
        def unreadable(folder: Path, kind=kind) -> Invocation:
            if kind == "nifti":
                source = _copy_nifti(folder)
                source.chmod(0)
            else:
                source = _copy_series(folder)
                _slice_file(source, 2).chmod(0)
            output = _out(folder) / "enhanced.nii.gz"
            return Invocation(argv=["enhance", str(source), str(output), "--quiet"], inputs=[source], output=output,
                              names=(source.name, "002.dcm"), expect="refuse", respect_permissions=True)

        cases.append(Case(f"paths: input/unreadable-{kind}/enhance-nifti", "paths: input", unreadable))
    return cases


def _outputs() -> list[Case]:
    def nifti_case(output_of: Callable[[Path, Path], Path], names: tuple[str, ...], expect: str = "refuse",
                   extra: tuple[str, ...] = (), source_kind: str = "series") -> Callable[[Path], Invocation]:
        def build(folder: Path) -> Invocation:
            source = _copy_series(folder) if source_kind == "series" else _copy_nifti(folder)
            output = output_of(folder, source)
            argv = ["enhance", str(source), str(output), "--quiet", *extra]
            return Invocation(argv=argv, inputs=[source], output=output, names=names, expect=expect)

        return build

    def existing_file(folder: Path, source: Path) -> Path:
        path = _out(folder) / "enhanced.nii.gz"
        path.write_bytes(b"old result")
        return path

    def existing_dicom_folder(folder: Path, source: Path) -> Path:
        path = _out(folder) / "derived"
        path.mkdir()
        (path / "keep.dcm").write_bytes(b"someone else's file")
        return path

    def empty_dicom_folder(folder: Path, source: Path) -> Path:
        path = _out(folder) / "derived"
        path.mkdir()
        return path

    def parent_is_file(folder: Path, source: Path) -> Path:
        blocker = _out(folder) / "file"
        blocker.write_text("x")
        return blocker / "enhanced.nii.gz"

    def read_only_place(folder: Path, source: Path) -> Path:
        return Path("/proc/mrdeeprecon-enhanced.nii.gz")

    def directory_named_nifti(folder: Path, source: Path) -> Path:
        path = _out(folder) / "enhanced.nii.gz"
        path.mkdir()
        return path

    makers = {
        "into-the-series-folder": (nifti_case(lambda f, s: s / "enhanced.nii.gz", ("source folder",)), "nifti"),
        "into-a-sub-folder-of-the-series": (nifti_case(lambda f, s: s / "sub" / "enhanced.nii.gz", ("enhanced.nii.gz",)), "nifti"),
        "over-the-input-file": (nifti_case(lambda f, s: s, ("input",), source_kind="nifti"), "nifti"),
        "dicom-into-the-series-folder": (nifti_case(lambda f, s: s, ("source",), extra=("--format", "dicom")), "dicom"),
        "dicom-into-a-sub-folder-of-the-series": (nifti_case(lambda f, s: s / "derived", ("source",), extra=("--format", "dicom")), "dicom"),
        "existing-nifti-is-replaced": (nifti_case(existing_file, (), expect="succeed"), "nifti"),
        "existing-dicom-folder-with-files": (nifti_case(existing_dicom_folder, ("derived",), extra=("--format", "dicom")), "dicom"),
        "existing-empty-dicom-folder": (nifti_case(empty_dicom_folder, (), expect="either", extra=("--format", "dicom")), "dicom"),
        "missing-output-folder": (nifti_case(lambda f, s: f / "no" / "such" / "enhanced.nii.gz", ("enhanced.nii.gz",)), "nifti"),
        "parent-is-a-file": (nifti_case(parent_is_file, ("enhanced.nii.gz",)), "nifti"),
        "unwritable-place": (nifti_case(read_only_place, ("mrdeeprecon-enhanced.nii.gz",)), "nifti"),
        "a-folder-named-like-nifti": (nifti_case(directory_named_nifti, ("enhanced.nii.gz",)), "nifti"),
        "unknown-suffix": (nifti_case(lambda f, s: _out(f) / "enhanced.png", ("enhanced.png",)), "nifti"),
        "no-suffix": (nifti_case(lambda f, s: _out(f) / "enhanced", ("enhanced", "--format")), "nifti"),
        "unicode-output": (nifti_case(lambda f, s: _out(f) / "résultat 東京.nii.gz", (), expect="succeed"), "nifti"),
        "nrrd-output": (nifti_case(lambda f, s: _out(f) / "enhanced.nrrd", (), expect="succeed"), "nifti"),
        "nifti-uncompressed-output": (nifti_case(lambda f, s: _out(f) / "enhanced.nii", (), expect="succeed"), "nifti"),
        "format-nrrd-with-nifti-name": (nifti_case(lambda f, s: _out(f) / "enhanced.nii.gz", ("--format",), extra=("--format", "nrrd")), "nifti"),
        "record-into-missing-folder": (nifti_case(lambda f, s: _out(f) / "enhanced.nii.gz", ("record.json",), extra=("--record", "/nonexistent/record.json")), "nifti"),
    }
    cases = [Case(f"paths: output/{label}/enhance", "paths: output", build) for label, (build, _) in makers.items()]

    def degrade_into_series(folder: Path) -> Invocation:
        source = _copy_series(folder)
        output = source / "degraded.nii.gz"
        return Invocation(argv=["degrade", str(source), str(output), "--noise", "0.05"], inputs=[source], output=output, names=("source folder",))

    def qa_into_non_empty(folder: Path) -> Invocation:
        source = _copy_nifti(folder)
        report = _out(folder) / "qa"
        report.mkdir()
        (report / "mine.txt").write_text("keep")
        argv = ["qa", str(source), str(source), "--out", str(report), "--quiet", "--roi", "box:2,2,1:18,20,7"]

        def check() -> None:  # the report joins the user's file, which stays as it was
            assert (report / "mine.txt").read_text() == "keep" and (report / "qa.json").is_file()

        return Invocation(argv=argv, inputs=[source], output=report, names=("qa",), expect="either", check=check)

    def evaluate_into_existing(folder: Path) -> Invocation:
        source = _copy_nifti(folder)
        report = _out(folder) / "evaluation"
        report.mkdir()
        (report / "mine.txt").write_text("keep")
        argv = ["evaluate", str(source), "--out", str(report), "--methods", "ours", "--quiet", "--degrade", "--noise 0.05"]
        return Invocation(argv=argv, inputs=[source, report], output=None, names=("evaluation",))

    cases += [
        Case("paths: output/degrade-into-the-series-folder/degrade", "paths: output", degrade_into_series),
        Case("paths: output/qa-into-a-non-empty-folder/qa", "paths: output", qa_into_non_empty),
        Case("paths: output/evaluate-into-an-existing-folder/evaluate", "paths: output", evaluate_into_existing),
    ]
    return cases


# ---------------------------------------------------------------- parameters


ENHANCE_FLAGS: dict[str, tuple[str, ...]] = {
    "--noise-reduction": ("-1", "0", "0.5", "0.99", "10.5", "1e9", "nan", "inf", "-inf", "abc", "", "2,5"),
    "--sr-frequency": ("0", "0.5", "-1", "5", "nan", "inf", "x"),
    "--sr-phase": ("0", "-2", "100", "nan"),
    "--sr-slice": ("0", "-2", "100", "nan"),
    "--tile-size": ("0", "-1", "1", "7", "31", "1e9", "a"),
    "--batch-size": ("0", "-1", "a", "1.5"),
    "--device": ("tpu", "cuda", "mps", ""),
    "--model-kind": ("4d", ""),
    "--echo": ("0", "-1", "99", "x"),
    "--image-type": ("bogus", "phase", ""),
    "--series": ("1.2.3", "", "not-a-uid"),
    "--acq-kmax-frequency": ("0", "-1", "2", "nan"),
    "--acq-kmax-phase": ("0", "inf"),
    "--acq-kmax-slice": ("-0.5",),
    "--acq-partial-fourier-phase": ("0.3", "1.5", "nan"),
    "--acq-partial-fourier-slice": ("0", "2"),
    "--acq-acceleration": ("0", "-1", "nan", "1000"),
    "--acq-type": ("4D",),
    "--acq-phase-axis": ("z",),
    "--progress": ("sometimes",),
    "--format": ("jpeg",),
}

DICOM_FLAGS: dict[str, tuple[str, ...]] = {
    "--series-number-offset": ("-1000", "1e12", "x", "99999999999"),
    "--uid-prefix": ("abc", "1.2.3", "1.2.3." + "4" * 60 + ".", "01.2.", "1..2.", "1.2.x."),
    "--series-description": ("D" * 200, "back\\slash", "new\nline"),
    "--patient-name": ("P" * 400,),
    "--send": ("nohost", "host:abc", "localhost:99999", ":104", "localhost:1"),
    "--called-aet": ("A" * 40,),
}


#: Words a refusal of these flags may use instead of the flag's name (the engine does not know
#: the command line).
FLAG_WORDS = {
    "--series-number-offset": ("series number",),
    "--send": ("PACS", "port", "host"),
    "--called-aet": ("AE title",),
    "--uid-prefix": ("UID",),
}


def _parameters() -> list[Case]:
    cases = []

    def enhance_with(flag: str, value: str, dicom: bool) -> Callable[[Path], Invocation]:
        def build(folder: Path) -> Invocation:
            source = _copy_series(folder)
            output = _out(folder) / ("derived" if dicom else "enhanced.nii.gz")
            extra = ["--format", "dicom"] if dicom else []
            if flag in ("--patient-name",):
                source = _copy_nifti(folder)
                extra += ["--patient-id", "X1"]
            if flag == "--called-aet":
                extra += ["--send", "localhost:1"]
            argv = ["enhance", str(source), str(output), "--quiet", *extra, flag, value]
            names = (flag, flag.lstrip("-").replace("-", " "), flag.lstrip("-").split("-")[-1], "argument", value[:20] or "''",
                     *FLAG_WORDS.get(flag, ()))
            return Invocation(argv=argv, inputs=[source], output=output, names=names, expect="either")

        return build

    for flag, values in ENHANCE_FLAGS.items():
        for value in values:
            cases.append(Case(f"parameters: enhance/{flag}={value[:24]!r}", "parameters: enhance", enhance_with(flag, value, False)))
    for flag, values in DICOM_FLAGS.items():
        for value in values:
            cases.append(Case(f"parameters: enhance/{flag}={value[:24]!r}", "parameters: enhance", enhance_with(flag, value, True)))

    def model_file(kind: str) -> Callable[[Path], Invocation]:
        def build(folder: Path) -> Invocation:
            import json

            bundled = REPO / "MRDeepRecon" / "Resources" / "models" / "ce_unet_2d.safetensors"
            models = folder / "models"
            models.mkdir()
            path = models / "model.safetensors"
            if kind == "missing":
                pass
            elif kind == "folder":
                path.mkdir()
            elif kind == "garbage":
                path.write_bytes(os.urandom(2000))
                path.with_suffix(".json").write_text(bundled.with_suffix(".json").read_text())
            elif kind == "pickle":
                import pickle

                path = models / "model.pt"
                path.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
            else:
                shutil.copyfile(bundled, path)
                card = json.loads(bundled.with_suffix(".json").read_text())
                if kind == "no-card":
                    card = None
                elif kind == "card-garbage":
                    path.with_suffix(".json").write_text("{not json")
                    card = None
                elif kind == "sha-mismatch":
                    card["sha256"] = "0" * 64
                elif kind == "no-calibration":
                    card.pop("calibration", None)
                elif kind == "wrong-architecture":
                    card["architecture"] = dict(card.get("architecture", {}), base_channels=64)
                elif kind == "truncated":
                    path.write_bytes(bundled.read_bytes()[:5000])
                if card is not None:
                    path.with_suffix(".json").write_text(json.dumps(card))
            source = _copy_series(folder)
            output = _out(folder) / "enhanced.nii.gz"
            argv = ["enhance", str(source), str(output), "--quiet", "--model", str(path)]
            return Invocation(argv=argv, inputs=[source, models], output=output, names=(path.name, "model"))

        return build

    for kind in ("missing", "folder", "garbage", "pickle", "no-card", "card-garbage", "sha-mismatch",
                 "no-calibration", "wrong-architecture", "truncated"):
        cases.append(Case(f"parameters: model/{kind}", "parameters: model", model_file(kind)))

    def slice_sr_2d(folder: Path) -> Invocation:
        source = _copy_series(folder)
        output = _out(folder) / "enhanced.nii.gz"
        argv = ["enhance", str(source), str(output), "--quiet", "--model-kind", "2d", "--sr-slice", "2"]
        return Invocation(argv=argv, inputs=[source], output=output, names=("--model-kind 3d",))

    def context_json(text: str | None, kind: str = "file") -> Callable[[Path], Invocation]:
        def build(folder: Path) -> Invocation:
            source = _copy_series(folder)
            context = folder / "context.json"
            if kind == "folder":
                context.mkdir()
            elif text is not None:
                context.write_text(text)
            output = _out(folder) / "enhanced.nii.gz"
            argv = ["enhance", str(source), str(output), "--quiet", "--context", str(context)]
            return Invocation(argv=argv, inputs=[source], output=output, names=("context.json",))

        return build

    cases.append(Case("parameters: enhance/slice-SR-with-2D-model", "parameters: enhance", slice_sr_2d))
    contexts = {
        "missing": None, "list": "[1, 2]", "garbage": "{oops", "kmax-text": '{"scan_context": {"kmax": "abc"}}',
        "kmax-negative": '{"scan_context": {"kmax": [-1, 1, 1]}}', "unknown-field": '{"scan_context": {"warp": 9}}',
        "empty": "", "null": "null", "nested-wrong": '{"scan_context": [1]}', "pf-out-of-range": '{"scan_context": {"partial_fourier": [0.1, 1]}}',
    }
    for label, text in contexts.items():
        cases.append(Case(f"parameters: context JSON/{label}", "parameters: context JSON", context_json(text)))
    cases.append(Case("parameters: context JSON/a-folder", "parameters: context JSON", context_json(None, "folder")))

    def degrade_with(flag: str, value: str) -> Callable[[Path], Invocation]:
        def build(folder: Path) -> Invocation:
            source = _copy_nifti(folder)
            output = _out(folder) / "degraded.nii.gz"
            argv = ["degrade", str(source), str(output), flag, value]
            return Invocation(argv=argv, inputs=[source], output=output, side_outputs=("degraded.json",), names=(flag, flag.lstrip("-").split("-")[-1], "argument", value or "''"), expect="either")

        return build

    degrade_flags = {
        "--noise": ("-1", "nan", "inf", "1e9"), "--kmax-frequency": ("0", "1.5", "-0.1", "nan"), "--kmax-slice": ("0",),
        "--partial-fourier-phase": ("0.2", "1.2", "nan"), "--undersample-uniform": ("0.5", "0", "1000", "nan"),
        "--undersample-random": ("0.9", "-3"), "--partial-fourier-recon": ("magic",), "--seed": ("-1", "x", "1e30"),
    }
    for flag, values in degrade_flags.items():
        for value in values:
            cases.append(Case(f"parameters: degrade/{flag}={value!r}", "parameters: degrade", degrade_with(flag, value)))

    def qa_with(extra: list[str], names: tuple[str, ...]) -> Callable[[Path], Invocation]:
        def build(folder: Path) -> Invocation:
            source = _copy_nifti(folder)
            report = _out(folder) / "qa"
            # an explicit ROI where the case is not about it: the seed is too small for the automatic one
            roi = [] if "--roi" in extra else ["--roi", "box:2,2,1:18,20,7"]
            argv = ["qa", str(source), str(source), "--out", str(report), "--quiet", *roi, *extra]
            return Invocation(argv=argv, inputs=[source], output=report, names=names, expect="either", check=lambda: None)

        return build

    qa_cases = {
        "noise-reduction-negative": (["--noise-reduction", "-1"], ("noise",)),
        "noise-reduction-nan": (["--noise-reduction", "nan"], ("noise",)),
        "roi-beyond-volume": (["--roi", "box:0,0,0:500,500,500"], ("box", "ROI", "roi")),
        "roi-empty-box": (["--roi", "box:5,5,5:5,5,5"], ("box", "ROI", "roi")),
        "roi-garbage": (["--roi", "triangle:1,2"], ("triangle", "ROI", "roi")),
        "roi-sphere-negative-radius": (["--roi", "sphere:5,5,4:-3"], ("sphere", "ROI", "roi", "radius")),
        "roi-mask-missing": (["--roi", "mask:/nonexistent/mask.nii.gz"], ("mask.nii.gz",)),
        "line-garbage": (["--line", "1,2:3"], ("line", "1,2:3")),
        "line-outside": (["--line", "0,0,0:900,900,900"], ("line", "900")),
        "enhanced-missing": (["--enhanced-series", "1.2.3"], ("1.2.3", "series")),
    }
    for label, (extra, names) in qa_cases.items():
        cases.append(Case(f"parameters: qa/{label}", "parameters: qa", qa_with(extra, names)))

    def evaluate_with(extra: list[str], names: tuple[str, ...]) -> Callable[[Path], Invocation]:
        def build(folder: Path) -> Invocation:
            source = _copy_nifti(folder)
            report = _out(folder) / "evaluation"
            argv = ["evaluate", str(source), "--out", str(report), "--quiet", "--methods", "ours", *extra]
            return Invocation(argv=argv, inputs=[source], output=report, names=names, expect="either", check=lambda: None)

        return build

    evaluate_cases = {
        "slices-reversed": (["--slices", "5:2"], ("--slices", "slice range")),
        "slices-garbage": (["--slices", "a:b"], ("--slices", "slice range")),
        "slices-beyond": (["--slices", "100:200"], ("--slices", "slice range")),
        "methods-unknown": (["--methods", "magic"], ("magic", "--methods")),
        "degrade-garbage": (["--degrade", "--frobnicate 3"], ("--degrade", "frobnicate")),
        "degrade-bad-value": (["--degrade", "--noise -1"], ("--degrade", "noise")),
        "noise-reduction-zero": (["--noise-reduction", "0"], ("noise",)),
    }
    for label, (extra, names) in evaluate_cases.items():
        cases.append(Case(f"parameters: evaluate/{label}", "parameters: evaluate", evaluate_with(extra, names)))
    return cases


def _api() -> list[Case]:
    def volume():
        from mrdeeprecon.io import load_volume

        return load_volume(_seed_dir() / "brain.nii.gz")

    def calls(folder: Path) -> dict[str, tuple[Callable[[Path], Callable[[], object]], tuple[str, ...]]]:
        """Label → (the call made in ``folder``, names its refusal mentions)."""
        from mrdeeprecon.inference import enhance
        from mrdeeprecon.io import load_volume, save_volume
        from mrdeeprecon.io.dicom import read_dicom
        from mrdeeprecon.settings import EnhanceSettings

        return {
            "load_volume(None)": (lambda f: lambda: load_volume(None), ("path",)),
            "load_volume(123)": (lambda f: lambda: load_volume(123), ("path",)),
            "load_volume(bytes)": (lambda f: lambda: load_volume(b"/tmp"), ("path",)),
            "load_volume(list)": (lambda f: lambda: load_volume([]), ("path",)),
            "load_volume(series, echo='a')": (lambda f: lambda: load_volume(_copy_series(f), echo="a"), ("echo",)),
            "read_dicom(series, series_uid=5)": (lambda f: lambda: read_dicom(_copy_series(f), series_uid=5), ("series",)),
            "enhance(None, settings)": (lambda f: lambda: enhance(None, EnhanceSettings()), ("volume",)),
            "enhance(ndarray, settings)": (lambda f: lambda: enhance(np.zeros((4, 4, 4)), EnhanceSettings()), ("volume",)),
            "enhance(path, settings)": (lambda f: lambda: enhance(str(_copy_nifti(f)), EnhanceSettings()), ("volume",)),
            "enhance(volume, None)": (lambda f: lambda: enhance(volume(), None), ("settings",)),
            "enhance(volume, dict)": (lambda f: lambda: enhance(volume(), {"noise_reduction": 2}), ("settings",)),
            "enhance(volume, settings, context='x')": (lambda f: lambda: enhance(volume(), EnhanceSettings(), context="x"), ("context",)),
            "enhance(volume, settings, progress=5)": (lambda f: lambda: enhance(volume(), EnhanceSettings(), progress=5), ("progress",)),
            "EnhanceSettings(noise_reduction='2')": (lambda f: lambda: EnhanceSettings(noise_reduction="2"), ()),
            "EnhanceSettings(noise_reduction='x')": (lambda f: lambda: EnhanceSettings(noise_reduction="x"), ("noise",)),
            "EnhanceSettings(noise_reduction=None)": (lambda f: lambda: EnhanceSettings(noise_reduction=None), ("noise",)),
            "EnhanceSettings(noise_reduction=nan)": (lambda f: lambda: EnhanceSettings(noise_reduction=float("nan")), ("noise",)),
            "EnhanceSettings(noise_reduction=-1)": (lambda f: lambda: EnhanceSettings(noise_reduction=-1), ("noise",)),
            "EnhanceSettings(super_resolution=(1, 2))": (lambda f: lambda: EnhanceSettings(super_resolution=(1, 2)), ("super",)),
            "EnhanceSettings(super_resolution=None)": (lambda f: lambda: EnhanceSettings(super_resolution=None), ("super",)),
            "EnhanceSettings(device='tpu')": (lambda f: lambda: EnhanceSettings(device="tpu"), ("device",)),
            "EnhanceSettings(tile_size='big')": (lambda f: lambda: EnhanceSettings(tile_size="big"), ("tile",)),
            "EnhanceSettings(batch_size=0)": (lambda f: lambda: EnhanceSettings(batch_size=0), ("batch",)),
            "EnhanceSettings(model_path=5)": (lambda f: lambda: EnhanceSettings(model_path=5), ("model",)),
            "save_volume(volume, None)": (lambda f: lambda: save_volume(volume(), None), ("path",)),
            "save_volume(volume, txt)": (lambda f: lambda: save_volume(volume(), f / "out.txt"), ("out.txt",)),
            "save_volume(volume, folder)": (lambda f: lambda: save_volume(volume(), f), (folder.name,)),
            "save_volume(None, nifti)": (lambda f: lambda: save_volume(None, f / "out.nii.gz"), ("volume",)),
        }

    cases = []
    for label in calls(Path("labels")):
        def build(folder: Path, label=label) -> Invocation:
            make, names = calls(folder)[label]
            expect = "either" if label == "EnhanceSettings(noise_reduction='2')" else "refuse"
            return Invocation(call=make(folder), inputs=[], names=names, expect=expect, check=lambda: None)

        cases.append(Case(f"API/{label}", "API", build))
    return cases


def all_cases() -> list[Case]:
    """Every case of the campaign, in a fixed order."""
    return [
        *_byte_flips(), *_truncations(), *_random_files(), *_missing_tags(), *_bad_values(), *_series_layouts(),
        *_non_mr(), *_re_encoded(), *_synthetic_enhanced(), *_transfer_syntaxes(), *_real_series(),
        *_nifti_values(), *_nifti_headers(), *_nifti_corruption(), *_paths(), *_outputs(), *_parameters(), *_api(),
    ]


def fast_subset(cases: list[Case], every: int = 12) -> list[Case]:
    """The cases ``make test`` runs: the first of each family and every ``every``-th after it."""
    seen: set[str] = set()
    out = []
    for index, case in enumerate(cases):
        if case.family not in seen or index % every == 0:
            out.append(case)
        seen.add(case.family)
    return out
