"""Packaging consistency: what Slicer's build would ship, and the extension metadata."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODULE = REPO / "MRDeepRecon"


def _cmake_list(text: str, variable: str) -> set[str]:
    match = re.search(rf"set\({variable}\s*(.*?)\)", text, re.S)
    assert match, f"{variable} not set"
    return set(match.group(1).split())


def test_every_python_file_is_listed_in_the_module_cmake():
    listed = _cmake_list((MODULE / "CMakeLists.txt").read_text(), "MODULE_PYTHON_SCRIPTS")
    present = {str(p.relative_to(MODULE)) for p in MODULE.rglob("*.py") if "__pycache__" not in p.parts}
    assert present - listed == set(), "not listed in MRDeepRecon/CMakeLists.txt"
    assert listed - present == set(), "listed but missing"


def test_s4ext_matches_cmake_metadata():
    cmake = (REPO / "CMakeLists.txt").read_text()
    s4ext = dict(
        line.split(" ", 1) for line in (REPO / "MRDeepRecon.s4ext").read_text().splitlines()
        if line.strip() and not line.startswith("#") and " " in line
    )
    meta = dict(re.findall(r'set\(EXTENSION_(\w+) "(.*?)"\)', cmake))
    assert s4ext["homepage"] == meta["HOMEPAGE"]
    assert s4ext["category"] == meta["CATEGORY"]
    assert s4ext["contributors"] == meta["CONTRIBUTORS"]
    assert s4ext["description"] == meta["DESCRIPTION"]
    assert s4ext["iconurl"] == meta["ICONURL"]
    assert s4ext["screenshoturls"] == meta["SCREENSHOTURLS"]
    assert s4ext["depends"] == meta["DEPENDS"] == "PyTorch"
