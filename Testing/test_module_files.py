"""The Slicer module's own files agree with each other, checked without Slicer.

MRDeepRecon.py, its panel package MRDeepReconGui (the parameter node is
``MRDeepReconGui/parameter_node.py``) and its self-test (Testing/Python/MRDeepReconSelfTest.py) are
read with ``ast`` (never imported: qt, ctk and slicer exist only inside the application), the .ui
with ``xml.etree``: widget names the code uses exist, each ``SlicerParameterName`` is a field of the
parameter node and each field has a widget of a kind ``connectGui`` can bind, the panel starts at
the parameter defaults, the names the panel takes from MRDeepReconLib exist there, and the icon is a
128×128 PNG.
"""

from __future__ import annotations

import ast
import py_compile
import re
import struct
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MODULE = REPO / "MRDeepRecon"
SCRIPT = MODULE / "MRDeepRecon.py"
#: The module's Qt panel: one section per file, wired by SCRIPT's widget.
PANEL_PACKAGE = "MRDeepReconGui"
GUI = MODULE / PANEL_PACKAGE
PARAMETER_NODE = GUI / "parameter_node.py"
SELF_TEST = MODULE / "Testing" / "Python" / "MRDeepReconSelfTest.py"
UI = MODULE / "Resources" / "UI" / "MRDeepRecon.ui"
ICON = MODULE / "Resources" / "Icons" / "MRDeepRecon.png"
LIB = MODULE / "MRDeepReconLib"

#: Parameter-node fields deliberately without a widget (none: every setting is in the panel).
GUI_LESS_FIELDS: set[str] = set()

#: What the application provides to a scripted module at import time.
SLICER_PROVIDED = {"qt", "ctk", "vtk", "slicer"}
#: Never imported when Slicer loads the module (installed on demand, or heavy).
LAZY_ONLY = {"torch", "numpy", "mrdeeprecon", "MRDeepReconLib", "safetensors", "skimage", "pynetdicom",
             "SimpleITK", "pydicom", "matplotlib", "PyTorchUtils", "SampleData"}

#: Sections the panel has (ctkCollapsibleButton texts).
SECTIONS = {"Raw k-space", "Inputs", "Acquisition", "Enhancement", "Advanced", "Comparison", "Export DICOM", "Quality assurance"}

#: Widget classes connectGui binds, per field type (Slicer's parameterNodeWrapper/guiConnectors.py).
BINDABLE = {
    "bool": {"QCheckBox", "QPushButton"},
    "float": {"ctkSliderWidget", "QDoubleSpinBox"},
    "int": {"QSlider", "QSpinBox"},
    "str": {"QLineEdit", "QTextEdit"},
    "pathlib.Path": {"ctkPathLineEdit", "ctkDirectoryButton"},
    "choice": {"QComboBox"},
    "node": {"qMRMLNodeComboBox"},
}

QT_CLASSES_PREFIXES = ("Q",)


# ----------------------------------------------------------------------------- parsing helpers


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _panel_files() -> list[Path]:
    """The module script and every file of its panel package."""
    return [SCRIPT, *sorted(GUI.glob("*.py"))]


@pytest.fixture(scope="module")
def tree() -> ast.Module:
    """The module script."""
    return _parse(SCRIPT)


@pytest.fixture(scope="module")
def parameter_tree() -> ast.Module:
    """The parameter node, its choices and its constants."""
    return _parse(PARAMETER_NODE)


@pytest.fixture(scope="module")
def panel_trees() -> dict[Path, ast.Module]:
    """The module script and the files of its panel package, by path."""
    return {path: _parse(path) for path in _panel_files()}


@pytest.fixture(scope="module")
def self_test() -> ast.Module:
    return ast.parse(SELF_TEST.read_text(encoding="utf-8"), filename=str(SELF_TEST))


@pytest.fixture(scope="module")
def ui() -> ET.Element:
    return ET.parse(UI).getroot()


def _constants(tree: ast.Module) -> dict:
    """Module-level ``NAME = literal`` assignments."""
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                out[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    return out


def _value(node: ast.AST, constants: dict):
    """A literal, a module constant, or ``list(CONSTANT)``."""
    if isinstance(node, ast.Name):
        return constants[node.id]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "list" and len(node.args) == 1:
        return list(_value(node.args[0], constants))
    return ast.literal_eval(node)


def _class(tree: ast.Module, name: str) -> ast.ClassDef:
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return node
    raise AssertionError(f"class {name} not found")


class Field:
    def __init__(self, name: str, kind: str, base: str, validators: dict, default):
        self.name, self.kind, self.base, self.validators, self.default = name, kind, base, validators, default

    def __repr__(self) -> str:
        return f"Field({self.name}: {self.kind})"


def _fields(tree: ast.Module) -> dict[str, Field]:
    """The fields of the @parameterNodeWrapper class, with their type, validators and default."""
    constants = _constants(tree)
    cls = _class(tree, "MRDeepReconParameterNode")
    decorators = {d.id if isinstance(d, ast.Name) else ast.unparse(d) for d in cls.decorator_list}
    assert "parameterNodeWrapper" in decorators
    fields = {}
    for node in cls.body:
        if not isinstance(node, ast.AnnAssign):
            continue
        annotation, validators = node.annotation, {}
        if isinstance(annotation, ast.Subscript) and ast.unparse(annotation.value) == "Annotated":
            elements = annotation.slice.elts
            annotation = elements[0]
            for extra in elements[1:]:
                assert isinstance(extra, ast.Call)
                validators[ast.unparse(extra.func)] = [_value(arg, constants) for arg in extra.args]
        base = ast.unparse(annotation)
        if base.startswith("vtkMRML"):
            kind = "node"
        elif "Choice" in validators:
            kind = "choice"
        else:
            kind = base
        default = None if node.value is None else ast.literal_eval(node.value)
        fields[node.target.id] = Field(node.target.id, kind, base, validators, default)
    return fields


def _widgets(ui: ET.Element) -> dict[str, ET.Element]:
    return {w.get("name"): w for w in ui.iter("widget")}


def _property(widget: ET.Element, name: str):
    """A property of a widget as Python: string, bool, number, list of strings or set text."""
    for prop in widget.findall("property"):
        if prop.get("name") != name:
            continue
        value = prop[0]
        if value.tag == "string":
            return value.text or ""
        if value.tag == "bool":
            return value.text == "true"
        if value.tag in ("double", "number"):
            return float(value.text)
        if value.tag == "stringlist":
            return [s.text for s in value.findall("string")]
        return value.text
    return None


def _bound(ui: ET.Element) -> dict[str, ET.Element]:
    """SlicerParameterName -> widget; fails on a parameter bound twice."""
    out: dict[str, ET.Element] = {}
    for widget in ui.iter("widget"):
        for prop in widget.findall("property"):
            if prop.get("name") == "SlicerParameterName":
                assert prop.get("stdset") == "0", f"{widget.get('name')}: dynamic property needs stdset=\"0\""
                name = prop.find("string").text
                assert name not in out, f"parameter {name} bound to {out.get(name).get('name')} and {widget.get('name')}"
                out[name] = widget
    return out


def _items(widget: ET.Element) -> list[str]:
    return [item.find("property/string").text for item in widget.findall("item")]


# ----------------------------------------------------------------------------- the .ui


def test_ui_is_designer_xml(ui):
    assert ui.tag == "ui" and ui.get("version") == "4.0"
    assert ui.find("class").text == "MRDeepRecon"
    top = ui.find("widget")
    assert top.get("class") == "qMRMLWidget" and top.get("name") == "MRDeepRecon"
    names = [w.get("name") for w in ui.iter("widget")]
    assert len(names) == len(set(names)), "widget names must be unique"
    layouts = [layout.get("name") for layout in ui.iter("layout")]
    assert len(layouts) == len(set(layouts)), "layout names must be unique"


def test_ui_declares_its_custom_widgets(ui):
    declared = {c.find("class").text: c for c in ui.iter("customwidget")}
    used = {w.get("class") for w in ui.iter("widget")}
    custom = {cls for cls in used if not cls.startswith(QT_CLASSES_PREFIXES)}
    assert custom <= set(declared), f"undeclared: {custom - set(declared)}"
    for cls, element in declared.items():
        assert element.find("header").text == f"{cls}.h"
        assert element.find("extends").text == "QWidget"
    assert declared["ctkCollapsibleButton"].find("container").text == "1"
    assert declared["qMRMLWidget"].find("container").text == "1"


def test_node_combo_boxes_follow_the_scene(ui):
    combos = {w.get("name") for w in ui.iter("widget") if w.get("class") == "qMRMLNodeComboBox"}
    connected = {
        c.find("receiver").text
        for c in ui.iter("connection")
        if c.find("sender").text == "MRDeepRecon"
        and c.find("signal").text == "mrmlSceneChanged(vtkMRMLScene*)"
        and c.find("slot").text == "setMRMLScene(vtkMRMLScene*)"
    }
    assert combos and combos == connected


def test_ui_sections(ui):
    texts = {_property(w, "text") for w in ui.iter("widget") if w.get("class") == "ctkCollapsibleButton"}
    assert SECTIONS <= texts


def test_volume_selectors(ui):
    widgets = _widgets(ui)
    bound = _bound(ui)
    for name in ("inputVolume", "outputVolume"):
        widget = bound[name]
        assert widget.get("class") == "qMRMLNodeComboBox"
        assert _property(widget, "nodeTypes") == ["vtkMRMLScalarVolumeNode"]
        assert _property(widget, "showChildNodeTypes") is False  # no label maps
    output = bound["outputVolume"]
    assert _property(output, "noneEnabled") is True
    assert _property(output, "addEnabled") is True
    assert _property(output, "renameEnabled") is True
    assert _property(bound["inputVolume"], "noneEnabled") is False
    assert widgets["applyButton"].get("class") == "QPushButton"
    assert widgets["progressBar"].get("class") == "QProgressBar"
    assert widgets["logTextEdit"].get("class") == "QPlainTextEdit"
    assert _property(widgets["logTextEdit"], "readOnly") is True


def test_noise_reduction_slider_matches_the_issue(ui, parameter_tree):
    slider = _bound(ui)["noiseReduction"]
    assert slider.get("class") == "ctkSliderWidget"
    assert _property(slider, "minimum") == 1.0
    assert _property(slider, "maximum") == 5.0
    assert _property(slider, "singleStep") == pytest.approx(0.1)
    assert _property(slider, "value") == 2.0
    field = _fields(parameter_tree)["noiseReduction"]
    assert field.base == "float" and field.validators["WithinRange"] == [1.0, 5.0] and field.default == 2.0


# ----------------------------------------------------------------------------- .ui <-> parameter node


def test_every_bound_widget_names_a_parameter_node_field(ui, parameter_tree):
    unknown = set(_bound(ui)) - set(_fields(parameter_tree))
    assert not unknown, f"SlicerParameterName without a field: {sorted(unknown)}"


def test_every_parameter_node_field_has_a_widget(ui, parameter_tree):
    missing = set(_fields(parameter_tree)) - set(_bound(ui)) - GUI_LESS_FIELDS
    assert not missing, f"fields without a widget: {sorted(missing)}"


def test_bound_widgets_are_of_a_kind_connectGui_binds(ui, parameter_tree):
    fields = _fields(parameter_tree)
    for name, widget in _bound(ui).items():
        field = fields[name]
        assert field.kind in BINDABLE, field
        assert widget.get("class") in BINDABLE[field.kind], f"{name}: {widget.get('class')} cannot represent {field.kind}"
        if widget.get("class") in ("ctkSliderWidget", "QDoubleSpinBox"):
            assert "WithinRange" in field.validators, f"{name}: a slider needs a bounded float"


def test_panel_starts_at_the_parameter_defaults(ui, parameter_tree):
    """Ranges, choices and initial values of the .ui are those of the parameter node."""
    fields = _fields(parameter_tree)
    constants = _constants(parameter_tree)
    for name, widget in _bound(ui).items():
        field = fields[name]
        cls = widget.get("class")
        if cls in ("ctkSliderWidget", "QDoubleSpinBox"):
            low, high = field.validators["WithinRange"]
            assert (_property(widget, "minimum"), _property(widget, "maximum")) == (low, high), name
            assert _property(widget, "value") == field.default, name
            step = _property(widget, "singleStep")
            assert step and step <= (high - low), name
        elif cls == "QCheckBox":
            assert bool(_property(widget, "checked")) == bool(field.default), name
        elif cls == "QComboBox":
            choices = field.validators["Choice"][0]
            items = _items(widget)
            assert len(items) == len(choices), name
            assert field.default in choices, name
            if name.startswith("sr"):
                assert items == constants["SR_LABELS"], name
                assert choices == constants["SR_FACTORS"] == [1.0, 1.5, 2.0], name
            else:
                assert items == [str(c) for c in choices], name


def test_super_resolution_and_device_choices(parameter_tree):
    fields = _fields(parameter_tree)
    for axis in ("srFrequency", "srPhase", "srSlice"):
        assert fields[axis].validators["Choice"][0] == [1.0, 1.5, 2.0] and fields[axis].default == 1.0
    assert fields["device"].validators["Choice"][0] == ["auto", "cuda", "cpu"]
    assert fields["model"].validators["Choice"][0] == ["auto", "2d", "3d"]
    assert fields["artifactCorrection"].default is True and fields["threePlanes"].default is False
    assert fields["acqType"].validators["Choice"][0] == ["2D", "3D"]


# ----------------------------------------------------------------------------- widget code <-> .ui


def _ui_references(tree: ast.Module) -> set[str]:
    """Names used as ``self.ui.<name>`` or ``widget.ui.<name>``."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) and node.value.attr == "ui":
            names.add(node.attr)
    return names


def test_every_widget_the_code_uses_exists_in_the_ui(ui, panel_trees, self_test):
    used = set().union(*map(_ui_references, panel_trees.values())) | _ui_references(self_test)
    assert len(used) > 20
    missing = used - set(_widgets(ui))
    assert not missing, f"self.ui.<name> not in the .ui: {sorted(missing)}"


def test_buttons_are_connected(ui):
    """Every button is connected where the module script wires the panel to its sections."""
    source = SCRIPT.read_text(encoding="utf-8")
    buttons = [w.get("name") for w in ui.iter("widget") if w.get("class") == "QPushButton"]
    for name in buttons:
        assert re.search(rf"self\.ui\.{name}\.connect\(\"clicked\(bool\)\"", source), f"{name} is not connected"


# ----------------------------------------------------------------------------- the module script


def test_module_script_compiles(tmp_path):
    for path in _panel_files():
        py_compile.compile(str(path), cfile=str(tmp_path / f"{path.stem}.pyc"), doraise=True)
    py_compile.compile(str(SELF_TEST), cfile=str(tmp_path / "MRDeepReconSelfTest.pyc"), doraise=True)


def _module_level_imports(tree: ast.Module, package: str | None = None) -> set[str]:
    """Top-level names of the modules ``tree`` imports at module level; a relative import (only in
    a file of ``package``) counts as ``package``."""
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level:
            assert package, "no relative imports in a scripted module"
            names.add(package)
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module.split(".")[0])
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            for child in ast.walk(node):
                if isinstance(child, (ast.Import, ast.ImportFrom)):
                    raise AssertionError(f"conditional import at module level (line {child.lineno})")
    return names


def test_module_level_imports_are_what_slicer_provides(panel_trees):
    """The module script and its panel package import, when Slicer loads the module, only what
    the application provides, the standard library and the panel package itself."""
    stdlib = getattr(sys, "stdlib_module_names", None)
    for path, tree in panel_trees.items():
        imported = _module_level_imports(tree, None if path == SCRIPT else PANEL_PACKAGE)
        assert not imported & LAZY_ONLY, f"{path.name} imports at module load: {sorted(imported & LAZY_ONLY)}"
        assert "torch" not in imported
        if stdlib is None:
            pytest.skip("sys.stdlib_module_names needs Python 3.10")
        allowed = set(stdlib) | SLICER_PROVIDED | {PANEL_PACKAGE}
        assert imported <= allowed, (path.name, sorted(imported - allowed))


def test_module_script_is_the_panel_wiring_only(tree):
    """The module script holds the module and its widget (the sections are MRDeepReconGui's)."""
    classes = {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
    assert classes == {"MRDeepRecon", "MRDeepReconWidget"}
    assert len(SCRIPT.read_text(encoding="utf-8").splitlines()) <= 400


def _defined_functions(trees) -> set[str]:
    """Names of the functions and methods defined in ``trees``."""
    return {node.name for tree in trees for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}


def test_module_classes_follow_the_template(tree, self_test, panel_trees):
    bases = {
        "MRDeepRecon": (tree, {"ScriptedLoadableModule"}),
        "MRDeepReconWidget": (tree, {"ScriptedLoadableModuleWidget", "VTKObservationMixin"}),
        "MRDeepReconTest": (self_test, {"ScriptedLoadableModuleTest"}),
    }
    for name, (source, expected) in bases.items():
        assert {ast.unparse(b) for b in _class(source, name).bases} == expected, name
    test_methods = {n.name for n in _class(self_test, "MRDeepReconTest").body if isinstance(n, ast.FunctionDef)}
    assert {"setUp", "runTest"} <= test_methods
    widget_methods = {n.name for n in _class(tree, "MRDeepReconWidget").body if isinstance(n, ast.FunctionDef)}
    assert {"setup", "cleanup", "enter", "exit"} <= widget_methods
    assert {"ensure_dependencies", "onApplyButton", "cancelJob"} <= _defined_functions(panel_trees.values())


def test_module_category_is_the_extension_category(tree):
    cmake = (REPO / "CMakeLists.txt").read_text()
    category = re.search(r'set\(EXTENSION_CATEGORY "(.*?)"\)', cmake).group(1)
    init = next(n for n in _class(tree, "MRDeepRecon").body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
    for node in ast.walk(init):
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "self.parent.categories":
            (element,) = node.value.elts
            strings = [a.value for a in ast.walk(element) if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            assert strings[-1] == category
            return
    raise AssertionError("self.parent.categories is not set")


def test_ui_and_icon_paths_used_by_the_script_exist():
    source = SCRIPT.read_text(encoding="utf-8")
    assert 'self.resourcePath("UI/MRDeepRecon.ui")' in source
    assert '"Resources", "Icons", "MRDeepRecon.png"' in source


# ----------------------------------------------------------------------------- script <-> MRDeepReconLib


def _lib_top_level(module: str) -> set[str]:
    path = LIB / f"{module}.py"
    assert path.is_file(), f"MRDeepReconLib/{module}.py does not exist"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom):
            names.update(alias.asname or alias.name for alias in node.names)
    return names


def _lib_class_methods(module: str, cls: str) -> set[str]:
    tree = ast.parse((LIB / f"{module}.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == cls:
            local = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}  # bases of other modules: not followed
            inherited = [_lib_class_methods(module, base.id) for base in node.bases if isinstance(base, ast.Name) and base.id in local]
            return {n.name for n in node.body if isinstance(n, ast.FunctionDef)}.union(*inherited)
    raise AssertionError(f"MRDeepReconLib/{module}.py has no class {cls}")


def test_names_taken_from_the_lib_exist(panel_trees, self_test):
    """``lib("module").name`` and ``from MRDeepReconLib.module import name`` (in the module script,
    its panel package and its self-test) point at real names."""
    used: set[tuple[str, str]] = set()
    for node in [node for tree in [*panel_trees.values(), self_test] for node in ast.walk(tree)]:
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name)
            and node.value.func.id == "lib"
        ):
            used.add((node.value.args[0].value, node.attr))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("MRDeepReconLib."):
            module = node.module.split(".", 1)[1]
            used.update((module, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module == "MRDeepReconLib":
            used.update(("__init__", alias.name) if alias.name not in {p.stem for p in LIB.glob("*.py")}
                        else (alias.name, None) for alias in node.names)
    assert used
    for module, name in sorted(used, key=str):
        if name is not None:
            assert name in _lib_top_level(module), f"MRDeepReconLib.{module} has no {name}"


def test_reload_order_names_existing_lib_modules(tree):
    listed = _constants(tree)["LIB_MODULES"]
    present = {p.stem for p in LIB.glob("*.py")} - {"__init__"}
    assert set(listed) <= present, sorted(set(listed) - present)


def test_reload_order_is_the_panel_packages_import_order(tree):
    """``GUI_MODULES`` names every module of the panel package, each after those it imports."""
    listed = _constants(tree)["GUI_MODULES"]
    assert set(listed) == {p.stem for p in GUI.glob("*.py")} - {"__init__"}
    for position, name in enumerate(listed):
        imported = {node.module for node in _parse(GUI / f"{name}.py").body if isinstance(node, ast.ImportFrom) and node.level}
        assert imported <= set(listed[:position]), f"{name} imports {sorted(imported - set(listed[:position]))} reloaded after it"


def test_comparison_methods_the_panel_calls_exist():
    """The panel drives the comparison through ``MRDeepReconLib.comparison_session``: the
    ``Comparison`` methods it calls exist."""
    methods = _lib_class_methods("comparison", "Comparison")
    called = set()
    session = ast.parse((LIB / "comparison_session.py").read_text(encoding="utf-8"))
    for node in ast.walk(session):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = ast.unparse(node.func.value)
            if owner == "self.comparison":
                called.add(node.func.attr)
    assert {"show", "set_slab_mip", "set_3d_mip", "show_difference"} <= called
    assert called <= methods, f"Comparison lacks {sorted(called - methods)}"


def test_comparison_session_methods_the_panel_calls_exist():
    methods = _lib_class_methods("comparison_session", "ComparisonSession")
    section = _class(_parse(GUI / "comparison_section.py"), "ComparisonSection")
    called = {
        node.func.attr
        for node in ast.walk(section)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        and ast.unparse(node.func.value) == "self._session"
    }
    assert {"show", "update", "forget", "forget_toggles"} <= called
    assert called <= methods, f"ComparisonSession lacks {sorted(called - methods)}"


def test_background_and_logic_calls_match_the_lib():
    assert {"start", "poll", "cancel", "finish"} <= _lib_class_methods("background", "BackgroundEnhancement")
    assert {"start", "finish"} <= _lib_class_methods("raw_input", "BackgroundReconstruction")
    assert {"process", "store_result"} <= _lib_class_methods("logic", "MRDeepReconLogic")


# ----------------------------------------------------------------------------- icon


def test_icon_is_a_128_pixel_png():
    data = ICON.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, chunk = struct.unpack(">I4s", data[8:16])
    assert chunk == b"IHDR" and length == 13
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (128, 128)
