"""The scan context (how k-space was sampled) from a DICOM header, classic or enhanced.

:func:`context_from_dicom` reads only standard attributes. Enhanced (multi-frame) objects keep
most of them inside functional-group macros; each attribute is looked up first in the
Shared Functional Groups Sequence, then in the first item of the Per-Frame Functional Groups
Sequence (the context is assumed constant over the frames of one series), then at the top level
(classic objects, and the copies Philips also writes at the top level of enhanced objects).

Every field of the returned :class:`~mrdeeprecon.context.ScanContext` gets
``sources[field]``: the DICOM keyword it was derived from, or ``"default"``.

Rules (units: samples, mm, Hz/pixel; in-plane array axes 1 = y = rows, 2 = x = columns):

* ``acquisition``: ``MRAcquisitionType`` (``2D``/``3D``).
* ``phase_axis``: ``InPlanePhaseEncodingDirection`` through
  :data:`~mrdeeprecon.sampling.PHASE_AXIS_OF_DICOM` (``ROW`` → 2: phase varies along a row, i.e.
  along x; ``COL`` → 1); missing or another value → 1 (default).
* ``acquired_matrix`` (frequency, phase):

  - ``AcquisitionMatrix`` = (frequency rows, frequency columns, phase rows, phase columns):
    frequency is the non-zero one of the first pair, phase the non-zero one of the second.
    Siemens writes the acquired lines there (base resolution × phase resolution × phase FOV,
    before partial Fourier, without oversampling), Philips classic objects the acquired matrix,
    GE the prescribed xres/yres before ZIP interpolation (GE private tags are not read: the
    standard attribute already carries the acquired matrix).
  - otherwise (enhanced objects) ``MRAcquisitionFrequencyEncodingSteps`` and
    ``MRAcquisitionPhaseEncodingStepsInPlane`` (MR FOV/Geometry macro).
  - otherwise unknown: ``None`` and in-plane ``kmax`` 1 (default). ``NumberOfPhaseEncodingSteps``
    is not used: vendors disagree on whether it counts oversampling and partial-Fourier lines.

* ``displayed_matrix`` = (``Rows``, ``Columns``) (or ``volume_shape[1:]`` when absent).
* ``kmax`` (frequency, phase, slice), each clipped to (0, 1]:

  - frequency = acquired frequency samples / displayed samples along the frequency axis;
  - phase = acquired phase steps / phase FOV in displayed pixels, where the phase FOV is the
    frequency FOV × ``PercentPhaseFieldOfView`` / 100. With square displayed FOVs (Philips,
    GE, most Siemens) this is acquired / (displayed phase samples × percent phase FOV / 100);
    with a rectangular displayed FOV (Siemens stores 256 × 192 for 75 % phase FOV) the pixel
    spacings (``PixelSpacing``) convert the frequency FOV to phase pixels, which gives the same
    physical resolution ratio;
  - slice: 1 for 2D acquisitions; for 3D, slice spacing / ``SliceThickness`` (partitions
    reconstructed with overlap, e.g. GE ZIP2 or Philips overcontiguous slices, are interpolated),
    1 when either is unknown.

* ``partial_fourier`` (phase, slice): only the enhanced ``PartialFourier`` (YES/NO) and
  ``PartialFourierDirection`` (``PHASE``, ``SLICE_SELECT``, ``COMBINATION``; ``FREQUENCY`` is a
  partial echo and does not change the phase/slice fractions) are standard. DICOM stores no
  fraction: along phase it is taken as acquired phase steps / the full-resolution lines
  (``MRAcquisitionFrequencyEncodingSteps`` × ``PercentSampling`` × ``PercentPhaseFieldOfView``)
  when that ratio lies in [0.5, 1); otherwise, and along slice, the common 5/8 (0.625) is assumed.
  Classic headers (Siemens, GE, Philips) carry no standard partial-Fourier attribute: (1, 1)
  ("default"); vendor private fields are not read.
* ``acceleration`` (phase, slice) and ``undersampling``: ``ParallelAcquisition`` NO → (1, 1);
  else ``ParallelReductionFactorInPlane`` and, for 3D only, ``ParallelReductionFactorOutOfPlane``
  (for 2D it is simultaneous multi-slice, not k-space undersampling). A factor above 1 is
  ``"random"`` when ``ParallelAcquisitionTechnique`` names compressed sensing (Philips
  ``CSENSE``, ``CS``, GE ``HYPERSENSE``), else ``"uniform"``. GE ASSET/ARC factors live in
  private tags (0043,1083) and classic Philips objects do not state the factor: both stay
  default.
* ``elliptical``: ``CoverageOfKSpace`` ``ELLIPSOIDAL`` or ``CYLINDRICAL`` (corners of the
  phase/slice plane skipped) → True; else False (default when absent).
* ``percent_phase_fov``, ``percent_sampling``: ``PercentPhaseFieldOfView``, ``PercentSampling``
  (default 100). ``slice_thickness``: ``SliceThickness``. ``slice_spacing``: the spacing measured
  from the slice positions when the caller passes it (``ImagePositionPatient``), else
  ``SpacingBetweenSlices``. ``pixel_bandwidth``: ``PixelBandwidth``. ``manufacturer``:
  ``Manufacturer``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pydicom

from ..context import ScanContext
from ..sampling import PHASE_AXIS_OF_DICOM, frequency_axis_of
from .dicom_values import as_number

DEFAULT = "default"
COMPRESSED_SENSING_TECHNIQUES = frozenset({"CSENSE", "CS", "COMPRESSED_SENSING", "HYPERSENSE"})
ELLIPTICAL_COVERAGES = frozenset({"ELLIPSOIDAL", "CYLINDRICAL"})
ASSUMED_PARTIAL_FOURIER = 0.625


def _present(value: Any) -> bool:
    return value is not None and value != "" and not (hasattr(value, "__len__") and len(value) == 0)


def _group_items(ds: pydicom.Dataset) -> list[pydicom.Dataset]:
    """Functional-group items to search, in precedence order: shared, then the first frame."""
    items = []
    for keyword in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        seq = ds.get(keyword)
        if seq:
            items.append(seq[0])
    return items


def find_attribute(ds: pydicom.Dataset, keyword: str) -> Any:
    """Value of ``keyword`` in a standard functional-group macro (shared, first frame) or top level.

    Private sequences (e.g. Philips (2005,xxxx) copies) are not searched. Returns ``None`` when
    the attribute is absent or empty.
    """
    for group in _group_items(ds):
        for element in group:
            if element.VR != "SQ" or element.tag.is_private or not element.value:
                continue
            value = element.value[0].get(keyword)
            if _present(value):
                return value
    value = ds.get(keyword)
    return value if _present(value) else None


def _text(ds: pydicom.Dataset, keyword: str) -> str | None:
    value = find_attribute(ds, keyword)
    return None if value is None else str(value).strip().upper()


def _number(ds: pydicom.Dataset, keyword: str) -> float | None:
    return as_number(find_attribute(ds, keyword))


def _acquired_matrix(ds: pydicom.Dataset) -> tuple[tuple[int, int] | None, str]:
    """(frequency, phase) acquired samples and the keyword they came from."""
    matrix = find_attribute(ds, "AcquisitionMatrix")
    if matrix is not None and len(matrix) == 4:
        frequency = max(int(matrix[0]), int(matrix[1]))
        phase = max(int(matrix[2]), int(matrix[3]))
        if frequency > 0 and phase > 0:
            return (frequency, phase), "AcquisitionMatrix"
    frequency = _number(ds, "MRAcquisitionFrequencyEncodingSteps")
    phase = _number(ds, "MRAcquisitionPhaseEncodingStepsInPlane")
    if frequency and phase:
        return (int(frequency), int(phase)), "MRAcquisitionPhaseEncodingStepsInPlane"
    return None, DEFAULT


def _clip_fraction(value: float) -> float:
    return min(1.0, value)


def _in_plane_kmax(
    acquired: tuple[int, int],
    displayed: tuple[int, int],
    phase_axis: int,
    pixel_spacing: tuple[float, float] | None,
    percent_phase_fov: float,
) -> tuple[float, float]:
    """(frequency, phase) kmax from the acquired and displayed matrices (see module docstring)."""
    phase_index, frequency_index = phase_axis - 1, frequency_axis_of(phase_axis) - 1  # (rows, columns)
    n_frequency = displayed[frequency_index]
    if pixel_spacing is None:
        phase_fov_pixels = displayed[phase_index] * percent_phase_fov / 100.0
    else:
        ratio = pixel_spacing[frequency_index] / pixel_spacing[phase_index]
        phase_fov_pixels = n_frequency * ratio * percent_phase_fov / 100.0
    return (
        _clip_fraction(acquired[0] / n_frequency),
        _clip_fraction(acquired[1] / phase_fov_pixels),
    )


def _partial_fourier(
    ds: pydicom.Dataset,
    acquired: tuple[int, int] | None,
    percent_sampling: float,
    percent_fov: float,
) -> tuple[tuple[float, float], str]:
    """((phase, slice) fractions, source keyword); rules in the module docstring."""
    flag = _text(ds, "PartialFourier")
    if flag is None:
        return (1.0, 1.0), DEFAULT
    if flag != "YES":
        return (1.0, 1.0), "PartialFourier"
    direction = _text(ds, "PartialFourierDirection") or "PHASE"
    phase = slice_ = 1.0
    if direction in ("PHASE", "COMBINATION"):
        phase = ASSUMED_PARTIAL_FOURIER
        frequency_steps = _number(ds, "MRAcquisitionFrequencyEncodingSteps")
        if acquired is not None and frequency_steps:
            full_lines = frequency_steps * percent_sampling / 100.0 * percent_fov / 100.0
            ratio = acquired[1] / full_lines
            if 0.5 <= ratio < 1.0:
                phase = ratio
    if direction in ("SLICE_SELECT", "COMBINATION"):
        slice_ = ASSUMED_PARTIAL_FOURIER
    return (phase, slice_), "PartialFourierDirection"


def _acceleration(ds: pydicom.Dataset, acquisition: str) -> tuple[tuple[float, float], str, str]:
    """((phase, slice) factors, undersampling pattern, source keyword)."""
    if _text(ds, "ParallelAcquisition") == "NO":
        return (1.0, 1.0), "none", "ParallelAcquisition"
    in_plane = _number(ds, "ParallelReductionFactorInPlane")
    out_of_plane = _number(ds, "ParallelReductionFactorOutOfPlane") if acquisition == "3D" else None
    if in_plane is None and out_of_plane is None:
        return (1.0, 1.0), "none", DEFAULT
    factors = (max(1.0, in_plane or 1.0), max(1.0, out_of_plane or 1.0))
    if max(factors) <= 1.0:
        return factors, "none", "ParallelReductionFactorInPlane"
    technique = _text(ds, "ParallelAcquisitionTechnique")
    if technique is None:
        return factors, "uniform", "ParallelReductionFactorInPlane"
    pattern = "random" if technique in COMPRESSED_SENSING_TECHNIQUES else "uniform"
    return factors, pattern, "ParallelAcquisitionTechnique"


def context_from_dicom(
    ds: pydicom.Dataset,
    volume_shape: tuple[int, int, int] | None = None,
    slice_spacing: float | None = None,
) -> ScanContext:
    """The k-space sampling of the series of ``ds`` (a classic slice or an enhanced object).

    Args:
        ds: a DICOM header (pixel data not needed).
        volume_shape: ``(z, y, x)`` of the loaded volume; its in-plane shape stands in for
            ``Rows``/``Columns`` when the header lacks them.
        slice_spacing: centre-to-centre slice distance (mm) measured from the slice positions;
            preferred over ``SpacingBetweenSlices``.

    Returns:
        A validated :class:`ScanContext` whose ``sources`` names, for every field, the DICOM
        keyword used or ``"default"``. The rules, per vendor, are in the module docstring.
    """
    values: dict[str, Any] = {}
    sources: dict[str, str] = {f.name: DEFAULT for f in dataclasses.fields(ScanContext)}
    del sources["sources"]

    def put(name: str, value: Any, source: str) -> None:
        values[name] = value
        sources[name] = source

    acquisition = _text(ds, "MRAcquisitionType")
    if acquisition in ("2D", "3D"):
        put("acquisition", acquisition, "MRAcquisitionType")
    acquisition = values.get("acquisition", ScanContext.acquisition)

    direction = _text(ds, "InPlanePhaseEncodingDirection")
    if direction in PHASE_AXIS_OF_DICOM:
        put("phase_axis", PHASE_AXIS_OF_DICOM[direction], "InPlanePhaseEncodingDirection")
    phase_axis = values.get("phase_axis", ScanContext.phase_axis)

    percent_fov = _number(ds, "PercentPhaseFieldOfView")
    if percent_fov:
        put("percent_phase_fov", percent_fov, "PercentPhaseFieldOfView")
    percent_fov = values.get("percent_phase_fov", ScanContext.percent_phase_fov)
    percent_sampling = _number(ds, "PercentSampling")
    if percent_sampling:
        put("percent_sampling", percent_sampling, "PercentSampling")
    percent_sampling = values.get("percent_sampling", ScanContext.percent_sampling)

    rows, columns = _number(ds, "Rows"), _number(ds, "Columns")
    displayed = None
    if rows and columns:
        displayed = (int(rows), int(columns))
        put("displayed_matrix", displayed, "Rows")
    elif volume_shape is not None:
        displayed = (int(volume_shape[1]), int(volume_shape[2]))
        put("displayed_matrix", displayed, DEFAULT)

    acquired, matrix_source = _acquired_matrix(ds)
    if acquired is not None:
        put("acquired_matrix", acquired, matrix_source)
    spacing = find_attribute(ds, "PixelSpacing")
    pixel_spacing = (float(spacing[0]), float(spacing[1])) if spacing is not None else None
    kmax_in_plane = (1.0, 1.0)
    if acquired is not None and displayed is not None:
        kmax_in_plane = _in_plane_kmax(acquired, displayed, phase_axis, pixel_spacing, percent_fov)

    thickness = _number(ds, "SliceThickness")
    if thickness:
        put("slice_thickness", thickness, "SliceThickness")
    header_spacing = _number(ds, "SpacingBetweenSlices")
    if slice_spacing:
        put("slice_spacing", float(slice_spacing), "ImagePositionPatient")
    elif header_spacing:
        put("slice_spacing", header_spacing, "SpacingBetweenSlices")
    distance = values.get("slice_spacing")

    kmax_slice = 1.0
    if acquisition == "3D" and thickness and distance:
        kmax_slice = _clip_fraction(distance / thickness)
    if acquired is not None and displayed is not None:
        kmax_source = matrix_source
    elif kmax_slice < 1.0:
        kmax_source = "SliceThickness"
    else:
        kmax_source = DEFAULT
    put("kmax", (*kmax_in_plane, kmax_slice), kmax_source)

    partial_fourier, pf_source = _partial_fourier(ds, acquired, percent_sampling, percent_fov)
    put("partial_fourier", partial_fourier, pf_source)

    factors, pattern, acceleration_source = _acceleration(ds, acquisition)
    put("acceleration", factors, acceleration_source)
    put("undersampling", pattern, acceleration_source)

    coverage = _text(ds, "CoverageOfKSpace")
    if coverage is not None:
        put("elliptical", coverage in ELLIPTICAL_COVERAGES, "CoverageOfKSpace")

    bandwidth = _number(ds, "PixelBandwidth")
    if bandwidth:
        put("pixel_bandwidth", bandwidth, "PixelBandwidth")
    manufacturer = find_attribute(ds, "Manufacturer")
    if manufacturer is not None:
        put("manufacturer", str(manufacturer), "Manufacturer")

    return ScanContext(**values, sources=sources)
