"""Derivation bookkeeping: what was done to which source images, by which equipment
(DerivationDescription / DerivationCodeSequence, ContributingEquipmentSequence,
SourceImageSequence, the referenced source series)."""

from __future__ import annotations

import importlib
import importlib.metadata
from typing import Any

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.sr.coding import Code
from pydicom.sr.codedict import codes

from ...volume import Volume
from .items import code_item, date_time_values, item
from .plan import SeriesPlan, enhancement_factors, enhancement_record

EQUIPMENT_NAME = "MRDeepRecon"

#: The network always filters (CID 7203 Image Derivation); super-resolution also resamples.
CODE_SMOOTHING = codes.DCM.Smoothing
CODE_RESAMPLING = codes.DCM.SpatialResampling
CODE_MODIFYING_EQUIPMENT = codes.DCM.ModifyingEquipment  # CID 7005
CODE_SOURCE_FOR_PROCESSING = codes.DCM.SourceImageForImageProcessingOperation  # CID 7202


def engine_version() -> str:
    """MRDeepRecon's version: ``mrdeeprecon.__version__``, else the installed distribution's,
    else ``"0.1.0"``."""
    package = importlib.import_module(__name__.split(".")[0])
    version = getattr(package, "__version__", None)
    if version:
        return str(version)
    try:
        return importlib.metadata.version("mrdeeprecon")
    except importlib.metadata.PackageNotFoundError:
        return "0.1.0"


def _derivation_codes(record: dict[str, Any]) -> list[Code]:
    """Smoothing (the network always filters), plus Spatial resampling for super-resolution."""
    _, sr = enhancement_factors(record)
    derivation = [CODE_SMOOTHING]
    if any(f > 1.0 for f in sr):
        derivation.append(CODE_RESAMPLING)
    return derivation


def _derivation_description(volume: Volume) -> str:
    """What was done, with which model, and to which images of the source (its image set:
    echo, magnitude ... when the reader recorded one)."""
    record = enhancement_record(volume)
    nr, sr = enhancement_factors(record)
    sha = str(record.get("model_sha256", ""))[:12]
    image_set = volume.metadata.get("image_set")
    source = "" if image_set is None else f", source images {image_set.describe()}"
    return (
        f"MRDeepRecon {engine_version()} deep-learning enhancement: noise reduction {nr:g}, "
        f"super-resolution {'x'.join(f'{f:g}' for f in sr)} (frequency x phase x slice), "
        f"model {record.get('model_name', 'unknown')} sha256:{sha}, "
        f"device {record.get('device', 'unknown')}{source}"
    )


def add_derivation(ds: Dataset, volume: Volume) -> None:
    """Set DerivationDescription and DerivationCodeSequence of ``volume``'s enhancement on
    ``ds`` (a classic header, or an enhanced frame's Derivation Image item)."""
    ds.DerivationDescription = _derivation_description(volume)
    ds.DerivationCodeSequence = Sequence(
        [code_item(c) for c in _derivation_codes(enhancement_record(volume))]
    )


def contributing_equipment(plan: SeriesPlan) -> Dataset:
    """ContributingEquipmentSequence item: MRDeepRecon as Modifying Equipment."""
    equipment = Dataset()
    equipment.Manufacturer = EQUIPMENT_NAME
    equipment.ManufacturerModelName = EQUIPMENT_NAME
    equipment.SoftwareVersions = engine_version()
    equipment.ContributionDateTime = date_time_values(plan.now)[2]
    equipment.ContributionDescription = _derivation_description(plan.volume)
    equipment.PurposeOfReferenceCodeSequence = Sequence([code_item(CODE_MODIFYING_EQUIPMENT)])
    return equipment


def _source_reference(plan: SeriesPlan, index: int, with_frame: bool) -> Dataset:
    reference = Dataset()
    reference.ReferencedSOPClassUID = plan.source.sop_class_uid
    reference.ReferencedSOPInstanceUID = plan.source.sop_instance_uids[index]
    if with_frame:
        reference.ReferencedFrameNumber = str(plan.source.frame_numbers[index])
    reference.PurposeOfReferenceCodeSequence = Sequence([code_item(CODE_SOURCE_FOR_PROCESSING)])
    return reference


def source_image_sequence(plan: SeriesPlan, k: int) -> Sequence:
    """SourceImageSequence of output slice ``k``: its nearest source slice(s), with
    ReferencedFrameNumber for an enhanced source."""
    return Sequence(
        [_source_reference(plan, i, plan.source.is_enhanced) for i in plan.references[k]]
    )


def _referenced_instances(plan: SeriesPlan) -> list[str]:
    """Source SOP Instance UIDs referenced by any output slice, each once, in slice order."""
    uids: list[str] = []
    for indices in plan.references:
        for i in indices:
            uid = plan.source.sop_instance_uids[i]
            if uid not in uids:
                uids.append(uid)
    return uids


def referenced_series(plan: SeriesPlan, instances_keyword: str) -> Sequence:
    """One item: the source series with every referenced instance, listed in
    ``instances_keyword`` (``ReferencedInstanceSequence`` for the Common Instance Reference
    module, ``ReferencedSOPSequence`` for the Hierarchical SOP Instance Reference macro)."""
    series = Dataset()
    series.SeriesInstanceUID = str(plan.source.header.SeriesInstanceUID)  # type: ignore[union-attr]
    instances = [
        item(ReferencedSOPClassUID=plan.source.sop_class_uid, ReferencedSOPInstanceUID=uid)
        for uid in _referenced_instances(plan)
    ]
    setattr(series, instances_keyword, Sequence(instances))
    return Sequence([series])
