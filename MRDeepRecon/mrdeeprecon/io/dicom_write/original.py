"""ORIGINAL images: a reconstruction from raw k-space (``mrdeeprecon recon``) written as the
acquisition's own MR series — no source series, no derivation. Its record, ImageType, default
description and the MR acquisition attributes its raw header gave."""

from __future__ import annotations

import re
from typing import Any

from pydicom.dataset import Dataset

from ...errors import MRDeepReconError
from ...volume import Volume
from ..dicom_encoding import format_ds
from .checks import LO_MAX

#: ImageType of a reconstructed magnitude image in a classic MR Image series: value 3 is one of the
#: MR Image module's defined terms (:data:`.iod_keywords.CLASSIC_MR_IMAGE_FLAVOURS`), so "OTHER";
#: Siemens' "M" (magnitude) there is not one (dciodvfy warns), and readers take an image without
#: negative values for magnitude.
ORIGINAL_IMAGE_TYPE = ("ORIGINAL", "PRIMARY", "OTHER")


def reconstruction_record(volume: Volume) -> dict[str, Any]:
    """``volume.metadata["raw_recon"]`` (what :func:`mrdeeprecon.raw.recon.reconstruct` did);
    raises without one."""
    record = volume.metadata.get("raw_recon")
    if not record:
        raise MRDeepReconError(
            "the volume has no reconstruction record (metadata['raw_recon']): "
            "write the result of mrdeeprecon.raw.recon.reconstruct()"
        )
    return record


def original_description(volume: Volume, research_placeholder: bool) -> str:
    """``"MRDeepRecon recon <method>"`` (``"RESEARCH "`` in front for a research placeholder
    patient), at most 64 characters."""
    method = re.sub(r"[\\\x00-\x1f]", " ", str(reconstruction_record(volume)["method"]))
    text = f"{'RESEARCH ' if research_placeholder else ''}MRDeepRecon recon {method}"
    return text[:LO_MAX]


def add_acquisition(ds: Dataset, volume: Volume) -> None:
    """The MR Image attributes the raw header states: MRAcquisitionType (2D/3D), EchoTime and
    RepetitionTime (ms), MagneticFieldStrength (T); the others stay as the scratch header made
    them (empty = unknown)."""
    acquisition = reconstruction_record(volume).get("acquisition") or {}
    if acquisition.get("acquisition") in ("2D", "3D"):
        ds.MRAcquisitionType = acquisition["acquisition"]
    for keyword, key in (("EchoTime", "te_ms"), ("RepetitionTime", "tr_ms"), ("MagneticFieldStrength", "field_strength_t")):
        if acquisition.get(key) is not None:
            setattr(ds, keyword, format_ds(float(acquisition[key])))
