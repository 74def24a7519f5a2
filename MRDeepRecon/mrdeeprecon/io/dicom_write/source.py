"""What the writer needs to know about the series the volume was read from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset

from ...errors import MRDeepReconError
from ...volume import Volume
from ..dicom import MR_IMAGE_STORAGE, _functional_item


@dataclass
class SourceSeries:
    """The source series of a volume, from what :func:`~mrdeeprecon.io.dicom.read_dicom`
    recorded in its metadata.

    Attributes:
        header: the first sorted source slice's header; ``None`` for NIfTI/NRRD input.
        path: the file or folder the volume was read from.
        sop_instance_uids: per sorted source slice (array axis 0 order), its SOPInstanceUID.
        frame_numbers: per sorted source slice, its 1-based frame in that instance (1 for
            classic).
        sop_class_uid: the source's SOPClassUID.
        frame: the 0-based frame of the first sorted source slice in an enhanced header
            (``None`` for classic).
    """

    header: Dataset | None
    path: Path | None
    sop_instance_uids: list[str] = field(default_factory=list)
    frame_numbers: list[int] = field(default_factory=list)
    sop_class_uid: str = ""
    frame: int | None = None

    @classmethod
    def of(cls, volume: Volume) -> SourceSeries:
        meta = volume.metadata
        path = Path(meta["source_path"]) if meta.get("source_path") else None
        header = meta.get("dicom_header")
        if header is None:
            return cls(header=None, path=path)
        uids = [str(u) for u in meta.get("sop_instance_uids") or []]
        frames = [int(f) for f in meta.get("frame_numbers") or [1] * len(uids)]
        if not uids or len(frames) != len(uids):
            raise MRDeepReconError(
                "the volume's DICOM metadata are incomplete (sop_instance_uids / frame_numbers)",
                path,
            )
        enhanced = "PerFrameFunctionalGroupsSequence" in header
        return cls(
            header=header,
            path=path,
            sop_instance_uids=uids,
            frame_numbers=frames,
            sop_class_uid=str(header.get("SOPClassUID", MR_IMAGE_STORAGE)),
            frame=frames[0] - 1 if enhanced else None,
        )

    @property
    def is_dicom(self) -> bool:
        return self.header is not None

    @property
    def is_enhanced(self) -> bool:
        return self.frame is not None

    def group_value(self, sequence: str, keyword: str) -> Any:
        """``keyword`` of the first sorted frame's functional group ``sequence`` (per-frame,
        else shared), else the header's top level (vendors copy some values there; ``sequence``
        ``""`` = top level only)."""
        assert self.header is not None
        if self.frame is not None and sequence:
            functional = _functional_item(self.header, self.frame, sequence)
            if functional is not None and keyword in functional:
                return functional[keyword].value
        return self.header.get(keyword)

    def folder(self) -> Path | None:
        """The folder holding the source series (a file's parent)."""
        if self.path is None:
            return None
        return self.path if self.path.is_dir() else self.path.parent
