"""``reconciler --version`` and ``reconciler schema``: what is installed, and the JSON Schemas it reads and writes."""

from __future__ import annotations

import json
import platform
from importlib import metadata, resources

import reconciler
from reconciler.errors import UsageError

__all__ = ["SCHEMAS", "schema", "schema_text", "version_text"]

#: ``reconciler schema NAME`` → the package resource holding it.
SCHEMAS = {"desired-state": ("reconciler.desired", "reconciler.schema.json"),
           "deployment": ("reconciler.desired", "deployment.schema.json"),
           "plan": ("reconciler", "schemas/plan.schema.json")}


def _installed(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def version_text() -> str:
    """Three lines for a bug report: the tool, the Tableau client library, and Python."""
    return (f"reconciler {reconciler.__version__}\n"
            f"tableauserverclient {_installed('tableauserverclient')}\n"
            f"Python {platform.python_version()} ({platform.python_implementation()}, {platform.system()})")


def schema_text(name: str) -> str:
    """The JSON Schema ``name`` as shipped in this installation, reformatted (indent 2, final newline)."""
    if name not in SCHEMAS:
        raise UsageError(f"There is no schema {name!r}; the schemas are: {', '.join(SCHEMAS)}.")
    package, file = SCHEMAS[name]
    data = json.loads(resources.files(package).joinpath(file).read_text(encoding="utf-8"))
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def schema(name: str) -> int:
    print(schema_text(name), end="")
    return 0
