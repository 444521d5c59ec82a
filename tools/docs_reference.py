"""Reference pages generated at docs build time, so they cannot drift from the code (a mkdocs hook).

``docs/file-format.md`` holds ``<!-- reference: file-format -->``: replaced by every key of the desired-state
JSON Schema with its type and description. ``docs/cli.md`` holds ``<!-- reference: cli -->``: replaced by every
command of the typer app with its help and options. ``docs/plan-format.md`` holds ``<!-- reference: plan -->``:
the keys of the plan schema. ``<!-- reference: deployment -->`` (also in ``docs/file-format.md``): the keys of a
deployment's ``deployment.yaml``. ``python tools/docs_reference.py cli|file-format|plan|deployment`` prints one.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from importlib import resources
from typing import Any

MARKERS = ("file-format", "cli", "plan", "deployment")


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return f"[{name}](#{name.lower()})"
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    if "enum" in schema:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in schema["enum"])
    kind = schema.get("type")
    if kind == "array":
        items = schema.get("items", {})
        return f"list of {_type(items)}" if items else "list"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"mapping of name → {_type(schema['additionalProperties'])}"
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind:
        return str(kind)
    if "oneOf" in schema:
        return " or ".join(_type(s) for s in schema["oneOf"])
    return "any"


def _table(properties: dict[str, Any], required: list[str], prefix: str = "") -> list[str]:
    rows = ["| key | type | description |", "| --- | --- | --- |"]
    for name, sub in properties.items():
        must = " (required)" if name in required else ""
        rows.append(f"| `{prefix}{name}`{must} | {_type(sub)} | {_cell(sub.get('description', ''))} |")
    return rows


def _nested(properties: dict[str, Any], prefix: str) -> Iterator[str]:
    """Objects inside objects or lists (encryption, policy, a change's fields...) get their own table."""
    for name, sub in properties.items():
        label = f"{prefix}{name}"
        items = sub.get("items")
        if sub.get("type") == "array" and isinstance(items, dict) and "properties" in items:
            sub, label = items, f"{label}[]"
        if sub.get("type") == "object" and "properties" in sub:
            yield ""
            yield f"#### `{label}`"
            yield ""
            yield from _table(sub["properties"], sub.get("required", []), f"{label}.")
            yield from _nested(sub["properties"], f"{label}.")


def schema_markdown(schema: dict[str, Any], title: str, defs: bool = True) -> str:
    out = [f"{_cell(schema.get('description', ''))}", "", f"Schema `$id`: `{schema['$id']}`", "",
           f"### {title}", ""]
    out += _table(schema["properties"], schema.get("required", []))
    out += list(_nested(schema["properties"], ""))
    for name, sub in schema.get("$defs", {}).items() if defs else ():
        out += ["", f"### {name}", ""]
        if sub.get("description"):
            out += [_cell(sub["description"]), ""]
        if "properties" in sub:
            out += _table(sub["properties"], sub.get("required", []))
            out += list(_nested(sub["properties"], ""))
        else:
            out += [f"Type: {_type(sub)}."]
    return "\n".join(out) + "\n"


def _schema(package: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(resources.files(package).joinpath(name).read_text(encoding="utf-8"))
    return data


def file_format_markdown() -> str:
    return schema_markdown(_schema("reconciler.desired", "reconciler.schema.json"), "Top level")


def deployment_markdown() -> str:
    """The server file of a deployment; its ``schedule`` is the site file's (described once, above it)."""
    return schema_markdown(_schema("reconciler.desired", "deployment.schema.json"), "deployment.yaml", defs=False)


def plan_markdown() -> str:
    return schema_markdown(_schema("reconciler", "schemas/plan.schema.json"), "The plan object")


def _option_line(param: Any) -> str:
    names = ", ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
    details = []
    if getattr(param, "envvar", None):
        details.append(f"env `{param.envvar}`")
    default = param.default
    if not callable(default) and default not in (None, False, (), []) and not getattr(param, "is_flag", False):
        details.append(f"default `{default}`")
    if getattr(param, "multiple", False):
        details.append("repeatable")
    extra = f" ({'; '.join(details)})" if details else ""
    return f"| {names} | {_cell(param.help or '')}{extra} |"


def _command_markdown(path: str, command: Any) -> list[str]:
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    usage = " ".join([path, "[OPTIONS]", *(f"{p.name.upper()}{'...' if p.nargs == -1 else ''}" for p in arguments)])
    out = ["", f"## `{path}`", "", f"```text\n{usage}\n```", ""]
    out += [line.strip() for line in (command.help or "").strip().splitlines()]
    for argument in arguments:
        out += ["", f"`{argument.name.upper()}`: {_cell(argument.help or '')}"]
    options = [p for p in command.params if p.param_type_name == "option" and not p.hidden]
    if options:
        out += ["", "| option | |", "| --- | --- |"]
        out += [_option_line(p) for p in options]
    return out


def cli_markdown() -> str:
    import typer

    from reconciler.cli import app

    root = typer.main.get_command(app)
    out = [_cell(root.help or ""), "", "| option | |", "| --- | --- |"]
    out += [_option_line(p) for p in root.params if not getattr(p, "hidden", False)]

    def walk(path: str, group: Any) -> Iterator[str]:
        for name, command in group.commands.items():
            if hasattr(command, "commands"):
                yield from walk(f"{path} {name}", command)
            else:
                yield from _command_markdown(f"{path} {name}", command)

    out += list(walk("reconciler", root))
    return "\n".join(out) + "\n"


GENERATORS = {"file-format": file_format_markdown, "cli": cli_markdown, "plan": plan_markdown,
              "deployment": deployment_markdown}


def on_page_markdown(markdown: str, **_: Any) -> str:
    """mkdocs hook: fill in every ``<!-- reference: NAME -->`` marker."""
    for name, generate in GENERATORS.items():
        marker = f"<!-- reference: {name} -->"
        if marker in markdown:
            markdown = markdown.replace(marker, generate())
    return markdown


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in GENERATORS:
        sys.exit(f"usage: python tools/docs_reference.py {{{','.join(GENERATORS)}}}")
    print(GENERATORS[sys.argv[1]](), end="")
