"""ISMRMRD/MRD ``.h5`` → :class:`RawKSpace`, through the ``ismrmrd`` package.

Handles: Cartesian encodings (the first encoding space); 2D multi-slice (``idx.slice``) or 3D
(``idx.kspace_encode_step_2``); each readout placed at its ``idx.kspace_encode_step_1`` with its
``center_sample`` at kx = n // 2 (reversed readouts flipped, ``discard_pre``/``discard_post``
samples dropped); repeated lines (averages) averaged; lines never acquired stay zero and False in
the mask (slices, ky, 1); parallel-imaging calibration lines kept; navigator, phase-correction,
dummy and feedback readouts skipped; readout oversampling (encoded x > reconstructed x) removed.
Noise readouts (``ACQ_IS_NOISE_MEASUREMENT``) become the noise scan, matched to the imaging data
(:func:`~mrdeeprecon.raw.whitening.noise_scan_for_imaging`): cropped to the same centre of the
readout band, and its variance multiplied by the ratio of the noise and imaging readouts' dwell
times, their ``sample_time_us`` (µs per acquired sample); where that is 0 (not recorded) or differs
between the readouts of one kind, the scan is left unscaled and the header carries a warning. The
header records the imaging dwell (``dwell_us``) and the ratio applied (``noise_dwell_ratio``).

Refused with one error: non-Cartesian trajectories, several contrasts / repetitions / sets /
cardiac phases / encoding spaces (there is no choice of one that a user did not make).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mrdeeprecon.errors import MRDeepReconError, one_line
from mrdeeprecon.raw.ismrmrd_header import parse_encoding
from mrdeeprecon.raw.kspace_data import RawHeader, RawKSpace
from mrdeeprecon.raw.readouts import ReadoutGrid, centred_extent, remove_readout_oversampling
from mrdeeprecon.raw.whitening import noise_scan_for_imaging

_SKIPPED_FLAGS = (
    "ACQ_IS_NAVIGATION_DATA",
    "ACQ_IS_PHASECORR_DATA",
    "ACQ_IS_DUMMYSCAN_DATA",
    "ACQ_IS_RTFEEDBACK_DATA",
    "ACQ_IS_HPFEEDBACK_DATA",
    "ACQ_IS_SURFACECOILCORRECTIONSCAN_DATA",
    "ACQ_IS_PHASE_STABILIZATION_REFERENCE",
    "ACQ_IS_PHASE_STABILIZATION",
)
_ONE_VALUE_COUNTERS = ("contrast", "repetition", "set", "phase")


def read_ismrmrd(path: Path) -> RawKSpace:
    """Read the ``dataset`` group of an ISMRMRD/MRD file (XML header + acquisitions)."""
    import ismrmrd

    try:
        with ismrmrd.Dataset(str(path), "dataset", mode="r") as dataset:
            xml = dataset.read_xml_header()
            acquisitions = [dataset.read_acquisition(i) for i in range(dataset.number_of_acquisitions())]
    except MRDeepReconError:
        raise
    except Exception as exc:  # h5py OSError / KeyError, ismrmrd LookupError
        raise MRDeepReconError(f"not a readable ISMRMRD file: {one_line(exc)}", path) from None
    facts = parse_encoding(xml, path)
    if facts.trajectory != "cartesian":
        raise MRDeepReconError(f"the {facts.trajectory} trajectory is not Cartesian; only Cartesian k-space is read", path)

    skipped = tuple(getattr(ismrmrd, flag) for flag in _SKIPPED_FLAGS)
    noise, imaging = [], []
    for acq in acquisitions:
        if acq.is_flag_set(ismrmrd.ACQ_IS_NOISE_MEASUREMENT):
            noise.append(acq)
        elif not any(acq.is_flag_set(flag) for flag in skipped):
            imaging.append(acq)
    if not imaging:
        raise MRDeepReconError("the file holds no imaging acquisitions", path)
    for counter in _ONE_VALUE_COUNTERS:
        values = {int(getattr(acq.idx, counter)) for acq in imaging}
        if len(values) > 1:
            raise MRDeepReconError(f"the acquisitions have {len(values)} {counter} values; only one is read", path)
    if len({int(acq.encoding_space_ref) for acq in imaging}) > 1:
        raise MRDeepReconError("the acquisitions use several encoding spaces; only one is read", path)

    encoded_x, encoded_y, encoded_z = facts.encoded_matrix
    is_3d = encoded_z > 1
    lines = [int(acq.idx.kspace_encode_step_1) for acq in imaging]
    depths = [int(acq.idx.kspace_encode_step_2 if is_3d else acq.idx.slice) for acq in imaging]
    centre_ky = facts.centre_ky if facts.centre_ky is not None else encoded_y // 2
    ny = centred_extent(encoded_y, centre_ky, max(lines))
    if is_3d:
        centre_kz = facts.centre_kz if facts.centre_kz is not None else encoded_z // 2
        nz = centred_extent(encoded_z, centre_kz, max(depths))
        shift_z = nz // 2 - centre_kz
    else:
        nz, shift_z = max(facts.slices or 1, max(depths) + 1), 0
    coils = imaging[0].active_channels
    nx = max(encoded_x, max(acq.number_of_samples for acq in imaging))
    grid = ReadoutGrid(coils, nz, ny, nx, path)
    for acq, line, depth in zip(imaging, lines, depths):
        samples = acq.data[:, acq.discard_pre : acq.number_of_samples - acq.discard_post]
        centre = int(acq.center_sample) - acq.discard_pre
        if acq.is_flag_set(ismrmrd.ACQ_IS_REVERSE):
            samples, centre = samples[:, ::-1], samples.shape[1] - 1 - centre
        grid.add(depth + shift_z, line + ny // 2 - centre_ky, samples, centre)
    data, mask = grid.result()

    recon_x = facts.recon_matrix[0]
    data = remove_readout_oversampling(data, recon_x)
    fov = None
    if facts.encoded_fov_mm is not None:
        fx, fy, fz = facts.encoded_fov_mm
        fov = (fx * data.shape[-1] / nx, fy * ny / encoded_y, fz if is_3d else fz * nz)
    dwell_us = _dwell_us(imaging)
    noise_scan, dwell_ratio, warnings = None, None, ()
    if noise:
        noise_scan, dwell_ratio, warnings = noise_scan_for_imaging([acq.data for acq in noise], data.shape[-1] / nx, _dwell_us(noise), dwell_us)
    first = imaging[0]
    positions = {int(acq.idx.slice): np.asarray(acq.position, float) for acq in imaging}
    header = RawHeader(
        matrix=(data.shape[3], data.shape[2], data.shape[1]),
        fov_mm=fov if fov is not None and all(f > 0 for f in fov) else None,
        acquisition="3D" if is_3d else "2D",
        te_ms=facts.te_ms,
        tr_ms=facts.tr_ms,
        field_strength_t=facts.field_strength_t,
        position_mm=tuple(float(v) for v in np.mean(list(positions.values()), axis=0)),
        direction=_direction(first),
        source_format="ismrmrd",
        dwell_us=dwell_us,
        noise_dwell_ratio=dwell_ratio,
        warnings=warnings,
    )
    return RawKSpace(data, mask, header, noise=noise_scan, source_path=path)


def _dwell_us(acquisitions: list) -> float | None:
    """The readouts' common ``sample_time_us`` (dwell time per acquired sample, µs, a float32 rounded
    to 0.1 ns); None when it is 0 (not recorded) or differs between them."""
    dwells = {round(float(acq.sample_time_us), 4) for acq in acquisitions}
    dwell = dwells.pop() if len(dwells) == 1 else 0.0
    return dwell if dwell > 0 else None


def _direction(acq) -> tuple[tuple[float, float, float], ...] | None:
    """3×3 LPS direction cosines, columns = read, phase, slice directions of the acquisition header
    (ISMRMRD's patient coordinate system is DICOM's LPS); None when the header leaves them zero."""
    columns = np.array([acq.read_dir, acq.phase_dir, acq.slice_dir], float).T
    if not np.all(np.linalg.norm(columns, axis=0) > 0.5):
        return None
    return tuple(tuple(float(v) for v in row) for row in columns)
