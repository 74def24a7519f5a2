"""Siemens twix ``.dat`` (VB and VD/VE, single- or multi-RAID) → :class:`RawKSpace`, through
``twixtools`` (``read_twix`` parses the file, ``map_twix`` sorts its readouts into image, noise,
reference … categories).

Handles: the last measurement of the file (the imaging scan; earlier RAID measurements are
adjustments); its image readouts placed at their line (``Lin``) and slice (``Sli``, 2D) or
partition (``Par``, 3D) counters with the header's centre line / partition / column at n // 2
(reflected readouts flipped); repeated lines (averages, segments) averaged; lines never acquired
zero and False in the line mask (slices, ky, 1); the readout oversampling (``flReadoutOSFactor``)
removed by cropping the centre of the readout after an FFT along it; the noise scan (``noise``,
NOISEADJSCAN readouts, from any measurement of the file) kept for pre-whitening, each readout
cropped to the same centre of its band (:func:`~mrdeeprecon.raw.whitening.noise_scan_for_imaging`).
Header: TE, TR, field strength, FOV, slice positions, the PRS → patient (LPS) rotation of the first
slice, and the imaging ADC's dwell time (``dwell_us``, µs per acquired sample: the protocol's
``sRXSPEC.alDwellTime[0]`` in ns, which includes the readout oversampling).

Not known: the noise scan's dwell time. The MDH has no dwell field, and ``alDwellTime`` is a
protocol's imaging ADC; that of a separate adjustment measurement is not documented to be its noise
readouts' dwell. The noise scan is therefore not rescaled for a dwell ratio, and the header carries
a warning saying so whenever there is a noise scan.

Skipped: parallel-imaging reference scans (PATREFSCAN: often another contrast), phase-correction,
phase-stabilisation and feedback readouts. Refused with one error: several echoes, repetitions,
sets, cardiac phases or slabs; non-Cartesian trajectories; a file that ends before its last scan.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np

from mrdeeprecon.errors import MRDeepReconError, one_line
from mrdeeprecon.raw.kspace_data import RawHeader, RawKSpace
from mrdeeprecon.raw.readouts import ReadoutGrid, centred_extent, remove_readout_oversampling
from mrdeeprecon.raw.whitening import noise_scan_for_imaging

_ONE_VALUE_COUNTERS = ("Eco", "Rep", "Set", "Phs")
_CARTESIAN = 1  # sKSpace.ucTrajectory


def read_twix(path: Path) -> RawKSpace:
    """Read the imaging scan (and the noise scan) of a twix file."""
    import twixtools

    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):  # twixtools reports damaged files on stdout
            measurements = twixtools.read_twix(str(path), verbose=False)
            mapped = [twixtools.map_twix(measurement, verbose=False) for measurement in measurements]
    except Exception as exc:  # twixtools raises IndexError / ValueError / struct.error on bad files
        raise MRDeepReconError(f"not a readable Siemens twix file: {one_line(exc)}", path) from None
    warning = " ".join(printed.getvalue().split())
    if "error" in warning.lower():
        raise MRDeepReconError(f"the twix file is truncated or damaged ({warning[:200]})", path)
    if not mapped or "image" not in mapped[-1]:
        raise MRDeepReconError("the twix file holds no imaging readouts", path)
    image, hdr = mapped[-1]["image"], mapped[-1]["hdr"]
    readouts = [mdb for mdb in image.mdb_list if mdb.is_image_scan()]
    if not any(mdb.is_flag_set("LASTSCANINMEAS") for mdb in readouts):
        raise MRDeepReconError("the measurement ends before its last scan (no LASTSCANINMEAS readout): the file is incomplete", path)
    try:
        k_space = hdr["MeasYaps"]["sKSpace"]
        slice_list = hdr["MeasYaps"]["sSliceArray"]["asSlice"]
    except (KeyError, TypeError) as exc:
        raise MRDeepReconError(f"the twix protocol lacks {one_line(exc)}", path) from None
    if int(k_space.get("ucTrajectory", _CARTESIAN)) != _CARTESIAN:
        raise MRDeepReconError("the trajectory is not Cartesian; only Cartesian k-space is read", path)
    for counter in _ONE_VALUE_COUNTERS:
        values = {int(getattr(mdb.mdh.Counter, counter)) for mdb in readouts}
        if len(values) > 1:
            raise MRDeepReconError(f"the readouts have {len(values)} '{counter}' values; only one is read", path)

    is_3d = int(k_space.get("ucDimension", 2)) == 4
    if is_3d and len({mdb.cSlc for mdb in readouts}) > 1:
        raise MRDeepReconError("a 3D scan with several slabs is not read", path)
    first = readouts[0].mdh
    oversampling = float(hdr["Meas"].get("flReadoutOSFactor", 1.0))
    lines = [int(mdb.cLin) for mdb in readouts]
    depths = [int(mdb.cPar if is_3d else mdb.cSlc) for mdb in readouts]
    ny = centred_extent(int(k_space.get("lPhaseEncodingLines", 1)), int(first.CenterLin), max(lines))
    if is_3d:
        nz = centred_extent(int(k_space.get("lPartitions", 1)), int(first.CenterPar), max(depths))
        shift_z = nz // 2 - int(first.CenterPar)
    else:
        nz, shift_z = max(len(slice_list), max(depths) + 1), 0
    samples = max(int(mdb.mdh.SamplesInScan) for mdb in readouts)
    nx = centred_extent(int(round(int(k_space.get("lBaseResolution", 1)) * oversampling)), int(first.CenterCol), samples - 1)
    grid = ReadoutGrid(int(first.UsedChannels), nz, ny, nx, path)
    for mdb, line, depth in zip(readouts, lines, depths):
        data, centre = mdb.data, int(mdb.mdh.CenterCol)
        if mdb.is_flag_set("REFLECT"):
            data, centre = data[:, ::-1], data.shape[1] - 1 - centre
        grid.add(depth + shift_z, line + ny // 2 - int(first.CenterLin), data, centre)
    data, mask = grid.result()
    data = remove_readout_oversampling(data, int(round(nx / oversampling)))

    dwell_us = _dwell_us(hdr)
    noise = [mdb.data for m in mapped if "noise" in m for mdb in m["noise"].mdb_list]
    noise_scan, warnings = None, ()
    if noise:
        noise_scan, _, warnings = noise_scan_for_imaging(noise, data.shape[-1] / nx, None, dwell_us)
    first_slice = slice_list[0]
    thickness = float(first_slice.get("dThickness", 0.0))
    fov = (float(first_slice.get("dReadoutFOV", 0.0)), float(first_slice.get("dPhaseFOV", 0.0)), thickness if is_3d else thickness * nz)
    header = RawHeader(
        matrix=(data.shape[3], data.shape[2], data.shape[1]),
        fov_mm=fov if all(f > 0 for f in fov) else None,
        acquisition="3D" if is_3d else "2D",
        te_ms=_first_us_as_ms(hdr["MeasYaps"].get("alTE")),
        tr_ms=_first_us_as_ms(hdr["MeasYaps"].get("alTR")),
        field_strength_t=_field_strength(hdr),
        position_mm=_centre(slice_list[:nz] if not is_3d else slice_list[:1]),
        direction=_direction(measurements[-1]),
        source_format="twix",
        dwell_us=dwell_us,
        warnings=warnings,
    )
    return RawKSpace(data, mask, header, noise=noise_scan, source_path=path)


def _first_us_as_ms(values) -> float | None:
    """The first of a protocol list in µs (alTE, alTR), in ms."""
    return float(values[0]) / 1000.0 if values else None


def _dwell_us(hdr: dict) -> float | None:
    """The imaging ADC's dwell time per acquired sample in µs: ``sRXSPEC.alDwellTime[0]`` (ns, the
    first contrast's); None where absent or 0."""
    dwells = hdr["MeasYaps"].get("sRXSPEC", {}).get("alDwellTime") or [0]
    return float(dwells[0]) / 1000.0 if float(dwells[0]) > 0 else None


def _field_strength(hdr: dict) -> float | None:
    value = hdr.get("Dicom", {}).get("flMagneticFieldStrength")
    return float(value) if value else None


def _centre(slices: list) -> tuple[float, float, float]:
    """Mean of the slices' ``sPosition`` (Sag, Cor, Tra = LPS mm; an absent entry is 0)."""
    positions = [[float(s.get("sPosition", {}).get(axis, 0.0)) for axis in ("dSag", "dCor", "dTra")] for s in slices]
    return tuple(float(v) for v in np.mean(positions, axis=0))


def _direction(measurement: dict) -> tuple[tuple[float, float, float], ...] | None:
    """Columns read, phase, slice of twixtools' PRS → patient (LPS) rotation of the first slice;
    None when twixtools found no geometry."""
    geometries = measurement.get("geometry") or []
    if not geometries:
        return None
    prs_to_pcs = np.asarray(geometries[0].prs_to_pcs(), float)  # columns: phase, read, slice
    columns = prs_to_pcs[:, [1, 0, 2]]
    return tuple(tuple(float(v) for v in row) for row in columns)
