"""The fast subset of the bad-input campaign (``Testing/fuzz``; the whole of it is ``make fuzz``).

Each case is refused with one error line naming the file or setting, or gives a correct result;
never a traceback, a hang, a changed input, a file added beside the input or a partial output
(:mod:`fuzz.runner`).
"""

from __future__ import annotations

import pytest

from conftest import SHARED_DATA, _missing
from fuzz.cases import all_cases, fast_subset
from fuzz.runner import run_case

CASES = fast_subset(all_cases())


def test_the_campaign_has_every_family_and_over_a_thousand_cases() -> None:
    cases = all_cases()
    assert len(cases) >= 1000
    assert len({c.name for c in cases}) == len(cases)
    families = {c.family for c in cases}
    for family in ("DICOM: truncated file", "DICOM: attribute missing", "DICOM: series layout", "DICOM: non-MR modality",
                   "real DICOM", "DICOM: enhanced multi-frame", "NIfTI: voxel values and shapes", "NIfTI/NRRD: corrupted file",
                   "paths: input", "paths: output", "parameters: enhance", "API"):
        assert family in families


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case, tmp_path) -> None:
    if case.needs_shared and not SHARED_DATA.is_dir():
        _missing(f"shared data {SHARED_DATA}")
    outcome = run_case(case, tmp_path)
    assert outcome.passed, f"{outcome.verdict}: {outcome.message}"
