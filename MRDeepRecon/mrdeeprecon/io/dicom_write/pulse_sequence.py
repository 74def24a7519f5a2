"""The MR pulse-sequence vocabulary of classic MR Image: ScanningSequence, SequenceVariant and
ScanOptions defined terms (PS3.3 C.8.3.1) from an Enhanced MR source's MR Pulse Sequence, MR
Modifier and synchronisation attributes."""

from __future__ import annotations

from .source import SourceSeries


def scanning_sequence(source: SourceSeries) -> list[str]:
    """Classic ScanningSequence from the Enhanced MR pulse-sequence attributes (RM, research
    mode, when none of SE, IR, GR, EP applies)."""
    value = source.group_value
    echo = str(value("", "EchoPulseSequence") or "")
    terms = (
        ("SE", echo in ("SPIN", "BOTH")),
        ("IR", str(value("MRModifierSequence", "InversionRecovery") or "") == "YES"),
        ("GR", echo in ("GRADIENT", "BOTH")),
        ("EP", str(value("", "EchoPlanarPulseSequence") or "") == "YES"),
    )
    return [term for term, applies in terms if applies] or ["RM"]


def sequence_variant(source: SourceSeries) -> list[str]:
    """Classic SequenceVariant from the Enhanced MR pulse-sequence attributes."""
    value = source.group_value
    terms = []
    if str(value("", "SegmentedKSpaceTraversal") or "") in ("PARTIAL", "FULL"):
        terms.append("SK")
    if str(value("MRImagingModifierSequence", "MagnetizationTransfer") or "NONE") != "NONE":
        terms.append("MTC")
    steady = str(value("", "SteadyStatePulseSequence") or "NONE")
    if steady == "TIME_REVERSED":
        terms.append("TRSS")
    elif steady != "NONE":
        terms.append("SS")
    if str(value("MRModifierSequence", "Spoiling") or "NONE") != "NONE":
        terms.append("SP")
    inversion = str(value("MRModifierSequence", "InversionRecovery") or "") == "YES"
    gradient = str(value("", "EchoPulseSequence") or "") == "GRADIENT"
    prepared = any(
        str(value(seq, kw) or "") == "YES"
        for seq, kw in (("MRModifierSequence", "T2Preparation"), ("", "SaturationRecovery"))
    )
    if prepared or (inversion and gradient):
        terms.append("MP")
    if str(value("", "OversamplingPhase") or "NONE") != "NONE":
        terms.append("OSP")
    return terms or ["NONE"]


def scan_options(source: SourceSeries) -> list[str]:
    """Classic ScanOptions from the Enhanced MR modifier and synchronisation attributes."""
    value = source.group_value
    terms = []
    if str(value("MRModifierSequence", "PartialFourier") or "") == "YES":
        direction = str(value("MRModifierSequence", "PartialFourierDirection") or "")
        terms.append("PFF" if direction == "FREQUENCY" else "PFP")
    if str(value("MRModifierSequence", "FlowCompensation") or "NONE") != "NONE":
        terms.append("FC")
    if str(value("", "CardiacSynchronizationTechnique") or "NONE") != "NONE":
        terms.append("CG")
    if str(value("", "RespiratoryMotionCompensationTechnique") or "NONE") != "NONE":
        terms.append("RG")
    if str(value("", "SpectrallySelectedSuppression") or "NONE").startswith("FAT"):
        terms.append("FS")
    if str(value("MRModifierSequence", "SpatialPresaturation") or "NONE") == "SLAB":
        terms.append("SP")
    return terms
