"""The package's layers (docs/architecture.md) hold: a wrong import fails here, with the line that made it.

Every import is checked, at the top of a module or inside a function alike.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "reconciler"

#: For each layer (a module or subpackage of reconciler), the layers of ours it may import.
ALLOWED: dict[str, set[str]] = {
    "model": set(),
    "gcpause": set(),
    "hints": set(),
    "errors": {"model"},
    "desired": {"model", "errors", "gcpause", "hints"},
    "plan": {"model", "errors", "gcpause", "hints"},
    "tableau": {"model", "errors", "gcpause", "hints"},
    "apply": {"model", "errors", "plan", "tableau"},
    "report": {"model", "errors", "plan"},
    "emulator": set(),
    "demo": set(),
    "commands": {"model", "errors", "gcpause", "hints", "desired", "plan", "tableau", "apply", "report", "emulator",
                 "demo"},
    "cli": {"commands", "errors", "emulator"},
    "__main__": {"cli"},
}
#: Third-party packages only one layer may import.
EXCLUSIVE = {"tableauserverclient": "tableau", "deepdiff": "plan", "yaml": "desired", "jsonschema": "desired"}


def _layer(path: Path) -> str:
    parts = path.relative_to(PACKAGE).parts
    return parts[0].removesuffix(".py") if parts[0] != "__init__.py" else "__init__"


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.extend((node.lineno, f"{node.module}.{alias.name}") if node.module == "reconciler"
                       else (node.lineno, node.module) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level > 0 and node.module is not None and node.level > 1:
            out.append((node.lineno, "reconciler.<relative>." + node.module))
    return out


def _violations() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        layer = _layer(path)
        if layer == "__init__":
            continue
        for line, name in _imports(path):
            top = name.split(".")[0]
            where = f"{path.relative_to(PACKAGE.parent)}:{line}"
            if top in EXCLUSIVE and EXCLUSIVE[top] != layer:
                found.append(f"{where}: {layer} imports {top}, which only {EXCLUSIVE[top]}/ may import")
            if top != "reconciler":
                continue
            parts = name.split(".")
            target = parts[1] if len(parts) > 1 else "__init__"
            if target in ("__version__", "__init__"):  # the package root holds only its version: anyone may read it
                continue
            if target != layer and target not in ALLOWED.get(layer, set()):
                found.append(f"{where}: {layer} imports reconciler.{target}, outside its layers "
                             f"({', '.join(sorted(ALLOWED.get(layer, set()))) or 'none'})")
    return found


def test_every_layer_imports_only_what_it_may() -> None:
    assert _violations() == []


def test_every_layer_is_known() -> None:
    layers = {_layer(p) for p in PACKAGE.rglob("*.py")} - {"__init__"}
    assert layers <= set(ALLOWED), f"add {sorted(layers - set(ALLOWED))} to ALLOWED and docs/architecture.md"


@pytest.mark.parametrize(("layer", "source", "problem"), [
    ("plan", "import tableauserverclient\n", "only tableau/ may import"),
    ("model", "from reconciler.plan import make_plan\n", "outside its layers"),
    ("desired", "def f():\n    from reconciler.tableau import read\n", "outside its layers"),
])
def test_a_wrong_import_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layer: str, source: str,
                                  problem: str) -> None:
    fake = tmp_path / "reconciler"
    (fake / layer).mkdir(parents=True)
    (fake / layer / "bad.py").write_text(source)
    monkeypatch.setattr(__import__(__name__, fromlist=["PACKAGE"]), "PACKAGE", fake)
    (violation,) = _violations()
    assert violation.startswith(f"reconciler/{layer}/bad.py:") and problem in violation
