"""Where the panel writes a DICOM export or a QA report: never into a folder that holds files.

The folder the user chose is used as it is when it does not exist yet or is empty; otherwise the
files go into a new sub-folder named after the result (``<name>``, ``<name>_2``, ...).
"""

from __future__ import annotations

from pathlib import Path

#: Name of the sub-folder when the result's name has no usable character.
FALLBACK_FOLDER_NAME = "MRDeepRecon"


def folder_is_chosen(folder: Path | str) -> bool:
    """Whether ``folder`` names a folder (the panel's unset path field reads as ``""`` or ``"."``)."""
    return str(folder) not in ("", ".")


def safe_folder_name(name: str) -> str:
    """``name`` with every character other than letters, digits, ``-``, ``_`` and ``.`` replaced
    by ``_``; :data:`FALLBACK_FOLDER_NAME` when nothing is left."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or FALLBACK_FOLDER_NAME


def new_folder_in(folder: Path | str, name: str) -> Path:
    """``folder`` itself when it is missing or an empty folder, else the first of
    ``folder/<safe name>``, ``folder/<safe name>_2``, ``folder/<safe name>_3``, ... that does not
    exist (:func:`safe_folder_name` of ``name``). Nothing is created."""
    folder = Path(folder)
    if not folder.exists() or (folder.is_dir() and not any(folder.iterdir())):
        return folder
    safe = safe_folder_name(name)
    candidate, index = folder / safe, 2
    while candidate.exists():
        candidate, index = folder / f"{safe}_{index}", index + 1
    return candidate


def output_folder(folder: Path | str, name: str) -> Path:
    """:func:`new_folder_in` with its parent folder created (the writers create the folder itself)."""
    out_dir = new_folder_in(folder, name)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    return out_dir
