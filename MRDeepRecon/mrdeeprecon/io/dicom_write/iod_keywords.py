"""The attribute vocabulary of the two IODs: which source attributes are dropped or rebuilt,
which belong only to classic MR Image, only to Enhanced MR Image, or only to ORIGINAL images, and
how classic attributes map onto Enhanced MR functional groups."""

from __future__ import annotations

#: Top-level attributes of the source header that do not describe the new instances.
DROPPED_KEYWORDS = frozenset(
    {
        # instance identity and the source's own derivation / references
        "SOPInstanceUID", "InstanceNumber", "InstanceCreationDate", "InstanceCreationTime",
        "InstanceCreatorUID", "SeriesInstanceUID", "SeriesNumber", "SeriesDescription",
        "SeriesDate", "SeriesTime", "ContentDate", "ContentTime", "ImageType",
        "DerivationDescription", "DerivationCodeSequence", "SourceImageSequence",
        "ReferencedImageSequence", "ReferencedImageEvidenceSequence",
        "SourceImageEvidenceSequence", "ReferencedRawDataSequence", "ReferencedSeriesSequence",
        "ReferencedInstanceSequence", "ReferencedPresentationStateSequence",
        "ReferencedWaveformSequence", "StudiesContainingOtherReferencedInstancesSequence",
        "IconImageSequence", "StorageMediaFileSetUID", "StorageMediaFileSetID",
        "DataSetTrailingPadding", "ImagesInAcquisition", "PatientOrientation",
        # pixels and their value mapping
        "PixelData", "FloatPixelData", "DoubleFloatPixelData", "Rows", "Columns",
        "SamplesPerPixel", "PhotometricInterpretation", "PlanarConfiguration", "BitsAllocated",
        "BitsStored", "HighBit", "PixelRepresentation", "PixelAspectRatio",
        "SmallestImagePixelValue", "LargestImagePixelValue", "SmallestPixelValueInSeries",
        "LargestPixelValueInSeries", "PixelPaddingValue", "PixelPaddingRangeLimit",
        "RescaleSlope", "RescaleIntercept", "RescaleType", "ModalityLUTSequence",
        "WindowCenter", "WindowWidth", "WindowCenterWidthExplanation", "VOILUTFunction",
        "VOILUTSequence", "RealWorldValueMappingSequence", "PresentationLUTShape",
        # geometry and multi-frame structure
        "ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "SliceThickness",
        "SpacingBetweenSlices", "SliceLocation", "NumberOfFrames", "FrameIncrementPointer",
        "SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence",
        "DimensionOrganizationSequence", "DimensionIndexSequence", "DimensionOrganizationType",
        "ConcatenationUID", "ConcatenationFrameOffsetNumber", "InConcatenationNumber",
        "InConcatenationTotalNumber",
    }
)  # fmt: skip

#: Functional groups of an enhanced source that are rebuilt (or, for the localizer references
#: and the stored-value mappings, dropped) instead of copied.
REBUILT_GROUPS = frozenset(
    {
        "FrameContentSequence", "PlanePositionSequence", "PlaneOrientationSequence",
        "PixelMeasuresSequence", "PixelValueTransformationSequence", "FrameVOILUTSequence",
        "RealWorldValueMappingSequence", "DerivationImageSequence", "ReferencedImageSequence",
        "MRImageFrameTypeSequence", "PixelIntensityRelationshipLUTSequence",
        "FramePixelShiftSequence", "FrameDisplayShutterSequence",
    }
)  # fmt: skip

#: Classic MR Image attribute ↔ (Enhanced MR functional group, attribute of its item).
MR_GROUP_MAP = (
    ("RepetitionTime", "MRTimingAndRelatedParametersSequence", "RepetitionTime"),
    ("FlipAngle", "MRTimingAndRelatedParametersSequence", "FlipAngle"),
    ("EchoTrainLength", "MRTimingAndRelatedParametersSequence", "EchoTrainLength"),
    ("EchoTime", "MREchoSequence", "EffectiveEchoTime"),
    ("NumberOfAverages", "MRAveragesSequence", "NumberOfAverages"),
    ("InPlanePhaseEncodingDirection", "MRFOVGeometrySequence", "InPlanePhaseEncodingDirection"),
    ("PercentSampling", "MRFOVGeometrySequence", "PercentSampling"),
    ("PercentPhaseFieldOfView", "MRFOVGeometrySequence", "PercentPhaseFieldOfView"),
    ("PixelBandwidth", "MRImagingModifierSequence", "PixelBandwidth"),
    ("ImagingFrequency", "MRImagingModifierSequence", "TransmitterFrequency"),
    ("ReceiveCoilName", "MRReceiveCoilSequence", "ReceiveCoilName"),
    ("TransmitCoilName", "MRTransmitCoilSequence", "TransmitCoilName"),
)

#: Classic MR Image attributes that the MR Timing and Related Parameters functional group holds
#: under the same tags (PS3.3 C.8.13.5.2): an enhanced object written from a classic source
#: carries the filled ones there (:func:`.enhanced._groups_from_classic`). All are type 1C,
#: required only in ORIGINAL frames, so one the source lacks is left out, never written empty.
CLASSIC_TIMING_KEYWORDS = (
    "RepetitionTime",
    "FlipAngle",
    "EchoTrainLength",
    "RFEchoTrainLength",
    "GradientEchoTrainLength",
)

#: Enhanced General Equipment attributes (type 1); a source without one gets ``UNKNOWN``.
ENHANCED_EQUIPMENT = (
    "Manufacturer",
    "ManufacturerModelName",
    "DeviceSerialNumber",
    "SoftwareVersions",
)

#: Enhanced MR attributes that dciodvfy allows only in ORIGINAL (or MIXED) images: the MR Pulse
#: Sequence module and the Bulk Motion Synchronization module. A derived enhanced object leaves
#: them out (the classic output keeps the pulse sequence in ScanningSequence, SequenceVariant...).
ORIGINAL_ONLY_KEYWORDS = (
    "PulseSequenceName", "MRAcquisitionType", "EchoPulseSequence", "MultipleSpinEcho",
    "MultiPlanarExcitation", "PhaseContrast", "VelocityEncodingAcquisitionSequence",
    "TimeOfFlightContrast", "ArterialSpinLabelingContrast", "SteadyStatePulseSequence",
    "EchoPlanarPulseSequence", "SaturationRecovery", "SpectrallySelectedSuppression",
    "OversamplingPhase", "GeometryOfKSpaceTraversal", "RectilinearPhaseEncodeReordering",
    "SegmentedKSpaceTraversal", "CoverageOfKSpace", "NumberOfKSpaceTrajectories",
    "BulkMotionCompensationTechnique", "BulkMotionSignalSource",
)  # fmt: skip

#: Enhanced MR top-level attributes that the classic MR Image IOD does not have: a classic series
#: written from an enhanced source leaves them out (dciodvfy: "not present in standard DICOM
#: IOD"), with :data:`ORIGINAL_ONLY_KEYWORDS` (the pulse sequence is translated into
#: ScanningSequence, SequenceVariant ... by :func:`.classic._classic_from_enhanced`).
ENHANCED_ONLY_KEYWORDS = (
    "PixelPresentation", "VolumetricProperties", "VolumeBasedCalculationTechnique", "ComplexImageComponent",
    "AcquisitionContrast", "SynchronizationTrigger", "AcquisitionTimeSynchronized", "TimeDistributionProtocol",
    "SynchronizationFrameOfReferenceUID", "RespiratoryTriggerDelayThreshold", "AcquisitionContextSequence",
    "ApplicableSafetyStandardAgency", "ApplicableSafetyStandardDescription", "RespiratoryMotionCompensationTechnique",
    "CardiacSynchronizationTechnique", "KSpaceFiltering", "AcquisitionDuration", "ResonantNucleus",
)  # fmt: skip

#: The defined terms of a classic MR image's ImageType value 3 (PS3.3 C.8.3.1.1.1).
CLASSIC_MR_IMAGE_FLAVOURS = (
    "DENSITY MAP", "DIFFUSION MAP", "IMAGE ADDITION", "MODULUS SUBTRACT", "MPR", "OTHER", "PHASE MAP",
    "PHASE SUBTRACT", "PROJECTION IMAGE", "T1 MAP", "T2 MAP", "VELOCITY MAP",
)  # fmt: skip

#: Attributes of a classic MR header that the Enhanced MR IOD does not have at its top level
#: (per-frame acquisition facts, classic pulse-sequence words): an enhanced object written from
#: a classic source leaves them out (dciodvfy: "not present in standard DICOM IOD"). TE, TR, the
#: flip angle, the echo train length, the averages and the FOV move into functional groups first
#: (:func:`.enhanced._groups_from_classic`).
CLASSIC_ONLY_KEYWORDS = (
    "AcquisitionDate", "AcquisitionTime", "ScanningSequence", "SequenceVariant", "ScanOptions", "SequenceName",
    "AngioFlag", "RepetitionTime", "InversionTime", "ImagingFrequency", "EchoNumbers", "EchoTrainLength",
    "NumberOfPhaseEncodingSteps", "PixelBandwidth", "BeatRejectionFlag", "HeartRate", "CardiacNumberOfImages",
    "TriggerWindow", "TriggerTime", "ReconstructionDiameter", "ReceiveCoilName", "TransmitCoilName", "FlipAngle",
    "VariableFlipAngleFlag", "SAR", "dBdt", "TemporalPositionIdentifier", "NumberOfTemporalPositions",
    "ContrastBolusAgent", "ContrastBolusVolume", "AnatomicRegionSequence", "SliceLocation", "SpacingBetweenSlices",
    "LowRRValue", "HighRRValue", "IntervalsAcquired", "IntervalsRejected",
    "PVCRejection", "SkipBeats", "NumberOfAverages", "EchoTime", "PercentSampling", "PercentPhaseFieldOfView",
    "AcquisitionMatrix", "InPlanePhaseEncodingDirection",
)
