"""Write an enhanced volume as a new, derived DICOM MR series.

Input: the result of :func:`mrdeeprecon.enhance` (float32 ``data`` of shape ``(z, y, x)`` =
``(slice, row, column)``, LPS millimetre geometry, see :mod:`mrdeeprecon.volume`). For DICOM
input its metadata still holds what :func:`~mrdeeprecon.io.dicom.read_dicom` recorded about the
source (``dicom_header``, ``sop_instance_uids``, ``frame_numbers``, ...), plus ``enhancement``.

Output (:func:`write_derived_series`), one of

* classic *MR Image Storage*: one file per slice, ``0001.dcm``, ``0002.dcm``, ... in slice order;
* *Enhanced MR Image Storage*: one multi-frame file ``0001.dcm``.

Kept from the source header (the first sorted source slice): patient, study, frame of reference,
equipment and acquisition attributes. Between the two IODs the acquisition values are mapped:

* enhanced source → classic: EchoTime, RepetitionTime, FlipAngle, InversionTime (only with IR),
  PixelBandwidth, coils, ... from the functional groups; ScanningSequence, SequenceVariant and
  ScanOptions derived from the MR Pulse Sequence / MR Modifier attributes (``RM`` and ``NONE``
  when nothing applies).
* classic source → enhanced, in the shared functional group: MR Timing and Related Parameters
  with the RepetitionTime, FlipAngle, EchoTrainLength (and RF / gradient echo train lengths) the
  source has (type 1C, required only in ORIGINAL frames: what it lacks, such as SAR and operating
  modes, is left out, never invented or written empty; dciodvfy, which cannot test the frame type
  there, reports those as missing), MR Echo (EffectiveEchoTime), MR Averages and MR FOV/Geometry
  (when the source fills all of its attributes). The other classic acquisition attributes (SAR,
  dB/dt, InversionTime, coils, pixel bandwidth, imaging frequency, ...) are not carried: their groups would need values
  a classic header lacks, and the Enhanced MR IOD has no top-level place for them. Frame Anatomy
  comes from AnatomicRegionSequence, else BodyPartExamined coded through CID 4030, else SCT
  "Unknown"; ApplicableSafetyStandardAgency, required by Enhanced MR, is ``IEC`` with a
  description saying it was assumed when the source has none.
* enhanced output in general: ImageType/FrameType ``DERIVED\\PRIMARY\\<flavour>\\NONE`` (denoised)
  or ``...\\RESAMPLED`` (super-resolved), ContentQualification ``RESEARCH``. The MR Pulse Sequence
  and Bulk Motion Synchronization modules are left out: dciodvfy accepts them only in ORIGINAL
  images (the classic output keeps them as ScanningSequence etc.).

New: SeriesInstanceUID and SOPInstanceUIDs (``generate_uid(uid_prefix)``), SeriesNumber (source +
offset), SeriesDescription, series/content dates, ImageType ``DERIVED``, DerivationDescription and
DerivationCodeSequence (Smoothing; Spatial resampling with super-resolution), SourceImageSequence
(per slice the nearest source slice(s) along the normal, with ReferencedFrameNumber for an
enhanced source), ReferencedSeriesSequence, ContributingEquipmentSequence (MRDeepRecon as
*Modifying Equipment*). BurnedInAnnotation is ``NO`` unless the source says ``YES``.
Dropped: whatever described the source pixels or instances: private tags, overlays, curves, icon
images, localizer and raw-data references, source UIDs, pixel statistics, Real World Value
Mapping, group lengths, an empty ``Laterality`` (a classic series without ``BodyPartExamined``
gets an empty one back: type 2C, required then).

Geometry: slice ``k`` lies at ``ImagePositionPatient = volume.ijk_to_lps() @ (0, 0, k, 1)``;
``ImageOrientationPatient`` = (``direction[:, 0]``, ``direction[:, 1]``), ``PixelSpacing`` =
(``spacing[1]``, ``spacing[0]``) = (row spacing, column spacing), ``SpacingBetweenSlices`` =
``spacing[2]``, ``SliceLocation`` = position along ``row × column``. ``SliceThickness`` is the
source's nominal (acquired) thickness: super-resolution refines the sampling grid, it does not
change the excitation profile that was measured; without a source thickness it is the input's
slice spacing (``spacing[2]`` × the slice super-resolution factor). A volume whose ``direction``
is left-handed is written in its own slice order; DICOM readers, which sort along
``row × column``, then read it with the slice axis reversed (same voxels in space).

Pixels: 16 bit with a zero-preserving rescale (:mod:`~mrdeeprecon.io.dicom_encoding`; uint16 when
no value is negative, else int16); RescaleType ``US``. A source that stores plain integers (no
rescale, or slope 1 and intercept 0) keeps that scale where the range fits: whole numbers, and no
rescale attributes in a classic series (the MR IOD has none). Window centre/width come from the source
(classic top level, or the enhanced Frame VOI LUT group), else from the output's 1st–99th
percentiles.

A reconstruction from raw k-space (:func:`write_original_series`, :mod:`.original`) is written
the same way as an ORIGINAL classic series: ImageType ``ORIGINAL\\PRIMARY\\M\\NONE``, no
derivation, references or contributing equipment; description ``MRDeepRecon recon <method>``;
TE / TR / field strength from the raw header; the patient and study of ``--like`` (an existing
series, :mod:`.like_series`) or a research placeholder in a new study.

NIfTI/NRRD input has no patient: :class:`PatientStudy` or a research placeholder is required, and
a complete MR header is made from scratch (new study and frame of reference, Manufacturer
``MRDeepRecon``, ScanningSequence ``RM``, unknown type-2 values left empty).

The series is written into a hidden temporary folder beside ``out_dir`` and renamed to
``out_dir`` at the end; any error or cancellation removes the temporary folder. Nothing is ever
written into the source folder.

Modules: :mod:`.options` (what the caller asks for and gets back), :mod:`.source` (the source
series), :mod:`.checks` (refusals before writing), :mod:`.plan` (what is decided once for the
series), :mod:`.derivation` (derivation and reference bookkeeping), :mod:`.iod_keywords` and
:mod:`.pulse_sequence` (the attribute vocabulary of the two IODs), :mod:`.header` (the header
every instance shares; writing an instance), :mod:`.classic` and :mod:`.enhanced` (the two
writers), :mod:`.original` (ORIGINAL images of a raw reconstruction), :mod:`.like_series`
(patient and study of an existing series), :mod:`.series` (the entry points, atomic),
:mod:`.items` (small data set builders).
"""

from __future__ import annotations

from .derivation import engine_version
from .options import (
    RESEARCH_PATIENT_ID,
    RESEARCH_PATIENT_NAME,
    DerivedSeries,
    DerivedSeriesOptions,
    PatientStudy,
)
from .like_series import patient_study_like
from .series import (
    check_derived_target,
    check_original_target,
    write_derived_series,
    write_original_series,
)

__all__ = [
    "check_derived_target",
    "check_original_target",
    "DerivedSeries",
    "DerivedSeriesOptions",
    "PatientStudy",
    "patient_study_like",
    "RESEARCH_PATIENT_ID",
    "RESEARCH_PATIENT_NAME",
    "write_derived_series",
    "write_original_series",
    "engine_version",
]
