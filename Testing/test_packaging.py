"""Packaging consistency: what Slicer's build would ship, and the extension metadata."""

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODULE = REPO / "MRDeepRecon"
MODULE_NAME = "MRDeepRecon"

#: Folders under MRDeepRecon/ the extension does not ship: the engine's training and evaluation
#: (``mrdeeprecon train`` / ``evaluate``, run outside Slicer).
NOT_SHIPPED = ("mrdeeprecon/training", "mrdeeprecon/evaluation")
#: The shipped places allowed to import them (file, top-level function): the command line's train,
#: train-recon and evaluate commands, and its parser's training flags (built only for those commands).
COMMANDS_OUTSIDE_SLICER = {
    ("mrdeeprecon/cli.py", "_cmd_train"),
    ("mrdeeprecon/cli.py", "_cmd_train_recon"),
    ("mrdeeprecon/cli.py", "_cmd_evaluate"),
    ("mrdeeprecon/cli.py", "build_parser"),
}


def _cmake_list(text: str, variable: str) -> set[str]:
    """The entries of ``set(variable ...)``, with ``${MODULE_NAME}`` expanded."""
    match = re.search(rf"set\({variable}\s*(.*?)\)", text, re.S)
    assert match, f"{variable} not set"
    body = "\n".join(line.split("#", 1)[0] for line in match.group(1).splitlines())
    return {entry.replace("${MODULE_NAME}", MODULE_NAME) for entry in body.split()}


def _module_cmake() -> str:
    return (MODULE / "CMakeLists.txt").read_text()


def _without_comments(text: str) -> str:
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())


def test_module_name_is_the_module_script():
    assert re.search(r"set\(MODULE_NAME\s+(\w+)\)", _module_cmake()).group(1) == MODULE_NAME
    assert (MODULE / f"{MODULE_NAME}.py").is_file()


#: The module's self-test (run by ctest, not shipped): Testing/Python/CMakeLists.txt registers it.
SELF_TEST = MODULE / "Testing" / "Python" / "MRDeepReconSelfTest.py"


def _python_files() -> set[str]:
    """The Python files under MRDeepRecon/ the extension ships: all but its Testing folder."""
    return {
        p.relative_to(MODULE).as_posix()
        for p in MODULE.rglob("*.py")
        if "__pycache__" not in p.parts and p.relative_to(MODULE).parts[0] != "Testing"
    }


def _not_shipped(path: str) -> bool:
    return any(path.startswith(folder + "/") for folder in NOT_SHIPPED)


def test_every_python_file_is_listed_in_the_module_cmake():
    listed = _cmake_list(_module_cmake(), "MODULE_PYTHON_SCRIPTS")
    present = _python_files()
    assert {p for p in present - listed if not _not_shipped(p)} == set(), "not listed in MRDeepRecon/CMakeLists.txt"
    assert listed - present == set(), "listed but missing"
    assert {p for p in listed if _not_shipped(p)} == set(), "training/evaluation code is not shipped in the extension"
    assert f"{MODULE_NAME}.py" in listed
    for folder in NOT_SHIPPED:
        assert (MODULE / folder / "__init__.py").is_file(), f"{folder} moved: update NOT_SHIPPED"


def _engine_imports(path: Path) -> list[tuple[str, str]]:
    """(imported ``mrdeeprecon`` module, enclosing top-level function or "") of every import in
    ``path`` (module level and inside functions), relative imports resolved."""
    package = list(path.relative_to(MODULE).parts[:-1])  # of a module, and of an __init__.py alike
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for top in tree.body:
        where = top.name if isinstance(top, (ast.FunctionDef, ast.ClassDef)) else ""
        for node in ast.walk(top):
            if isinstance(node, ast.Import):
                found.extend((alias.name, where) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[: len(package) - node.level + 1]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                found.append((module, where))
                found.extend((f"{module}.{alias.name}", where) for alias in node.names)
    return [(module, where) for module, where in found if module.split(".")[0] == "mrdeeprecon"]


def test_shipped_code_does_not_import_what_is_not_shipped():
    """Only the command line's ``train`` and ``evaluate`` commands (never run by the module) reach
    the training and evaluation code; everything else the extension ships works without it."""
    unshipped = {folder.replace("/", ".") for folder in NOT_SHIPPED}
    reaching = set()
    for relative in _cmake_list(_module_cmake(), "MODULE_PYTHON_SCRIPTS"):
        for module, where in _engine_imports(MODULE / relative):
            if any(module == u or module.startswith(u + ".") for u in unshipped):
                reaching.add((relative, where))
    assert reaching <= COMMANDS_OUTSIDE_SLICER, sorted(reaching - COMMANDS_OUTSIDE_SLICER)
    assert reaching, "the check found no import at all: is the parsing broken?"


def test_every_resource_file_is_listed_in_the_module_cmake():
    listed = _cmake_list(_module_cmake(), "MODULE_PYTHON_RESOURCES")
    present = {
        p.relative_to(MODULE).as_posix()
        for p in (MODULE / "Resources").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and not p.name.startswith(".")
    }
    assert present - listed == set(), "under MRDeepRecon/Resources but not in MODULE_PYTHON_RESOURCES"
    assert listed - present == set(), "in MODULE_PYTHON_RESOURCES but missing"
    for needed in (f"Resources/Icons/{MODULE_NAME}.png", f"Resources/UI/{MODULE_NAME}.ui"):
        assert needed in listed


def test_module_build_keeps_generic_tests_and_adds_the_testing_folder():
    cmake = _without_comments(_module_cmake())
    build = re.search(r"slicerMacroBuildScriptedModule\((.*?)\)", cmake, re.S)
    assert build and "WITH_GENERIC_TESTS" in build.group(1).split()
    assert re.search(r"if\(BUILD_TESTING\)\s*add_subdirectory\(Testing\)\s*endif\(\)", cmake)
    testing = _without_comments((MODULE / "Testing" / "CMakeLists.txt").read_text())
    assert re.search(r"add_subdirectory\(Python\)", testing)


def test_module_testing_cmake_registers_the_self_test():
    """The ctest runs MRDeepReconTest from the self-test file (a path that resolves to it)."""
    cmake = _without_comments((MODULE / "Testing" / "Python" / "CMakeLists.txt").read_text())
    calls = re.findall(r"slicer_add_python_unittest\(\s*SCRIPT\s+(\S+?)\s*\)", cmake)
    assert len(calls) == 1, cmake
    script = calls[0]
    variables = {"MODULE_NAME": MODULE_NAME, "CMAKE_CURRENT_SOURCE_DIR": str(MODULE / "Testing" / "Python")}
    variables.update(
        (name, str(Path(path.replace("${CMAKE_CURRENT_SOURCE_DIR}", variables["CMAKE_CURRENT_SOURCE_DIR"])).resolve()))
        for name, path in re.findall(r'get_filename_component\((\w+)\s+"?([^"\s]+)"?\s+ABSOLUTE\)', cmake)
    )
    resolved = re.sub(r"\$\{(\w+)\}", lambda m: variables[m.group(1)], script)
    path = Path(resolved) if Path(resolved).is_absolute() else MODULE / "Testing" / "Python" / resolved
    assert path.resolve() == SELF_TEST.resolve()
    assert "class MRDeepReconTest(ScriptedLoadableModuleTest)" in path.read_text()


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


def test_extension_icon_is_in_the_repository_where_iconurl_points():
    """iconurl names Resources/Icons/MRDeepRecon.png of the main branch: the file is there."""
    cmake = (REPO / "CMakeLists.txt").read_text()
    url = dict(re.findall(r'set\(EXTENSION_(\w+) "(.*?)"\)', cmake))["ICONURL"]
    relative = url.split("/main/", 1)[1]
    icon = REPO / relative
    assert icon.is_file(), relative
    assert icon.read_bytes() == (MODULE / "Resources" / "Icons" / f"{MODULE_NAME}.png").read_bytes()
