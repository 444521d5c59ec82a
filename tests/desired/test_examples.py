"""Every file in examples/ is accepted by `reconciler validate` and by the JSON Schema itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from reconciler.cli import main
from reconciler.desired import load_deployment, load_desired, load_schema
from reconciler.desired.schema import DEPLOYMENT_SCHEMA_FILE
from reconciler.desired.yamlpos import parse_text

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
# examples/ci/ holds CI pipelines, not desired-state files.
FILES = sorted(p for p in EXAMPLES.rglob("*")
               if p.suffix in (".yaml", ".yml") and "ci" not in p.relative_to(EXAMPLES).parts)
TARGETS = ["server-site.yaml", "cloud-site.yaml", "encryption.yaml", "multi-file"]
DEPLOYMENTS = ["deployment", "deployment-cloud"]


def _schema_file(path: Path) -> str:
    return DEPLOYMENT_SCHEMA_FILE if path.name == "deployment.yaml" else "reconciler.schema.json"


def test_the_examples_exist() -> None:
    assert len(FILES) >= 6
    for target in TARGETS:
        assert (EXAMPLES / target).exists()
    assert (EXAMPLES / "README.md").read_text(encoding="utf-8").count("**`") >= 4


@pytest.mark.parametrize("target", TARGETS)
def test_example_validates(target: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(EXAMPLES / target)]) == 0
    out = capsys.readouterr().out
    assert " schedules, " in out and " items, " in out and "refresh tasks (flavor: " in out


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(EXAMPLES)) for p in FILES])
def test_example_matches_the_schema_directly(path: Path) -> None:
    # yaml.safe_load is YAML 1.1 and would read the key `on:` as True; editors (and our loader)
    # read YAML 1.2-style keys as text, so the data comes from our parser, without interpolation.
    parsed, problems = parse_text(path.read_text(encoding="utf-8"), path.name, lambda text: text)
    assert not problems and parsed is not None
    jsonschema.validate(parsed.data, load_schema(_schema_file(path)), cls=jsonschema.Draft202012Validator)


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(EXAMPLES)) for p in FILES])
def test_example_points_editors_at_the_schema(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    target = (path.parent / first.split("$schema=", 1)[1]).resolve()
    assert target == (ROOT / "schemas" / _schema_file(path)).resolve()


@pytest.mark.parametrize("target", DEPLOYMENTS)
def test_deployment_example_validates_with_a_line_per_site(target: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(EXAMPLES / target)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith(f"{target}/: a deployment of 3 sites on https://tableau.example.com", 0,
                             lines[0].index(", 10 files"))
    assert [line.split()[0] for line in lines[1:]] == ["default", "finance", "marketing"]
    assert main(["validate", str(EXAMPLES / target), "--site", "finance"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


@pytest.mark.parametrize(("target", "flavor"), [("deployment", "server"), ("deployment-cloud", "cloud")])
def test_deployment_examples_share_schedules_across_sites(target: str, flavor: str) -> None:
    deployment = load_deployment(EXAMPLES / target)
    assert deployment.flavor == flavor
    assert [(s.label, s.desired.site) for s in deployment.sites] == [("default", ""), ("finance", "finance"),
                                                                     ("marketing", "marketing")]
    used = [{t.schedule for e in s.desired.extracts for t in e.refresh or ()} for s in deployment.sites]
    # the new schedule is used by two sites; every schedule of the file is used by some site
    assert [("Nightly 04:00" in names) for names in used] == [False, True, True]
    declared = {s.name for s in deployment.schedules} | {r.name for r in deployment.referenced_schedules}
    assert set().union(*used) == declared
    assert len(deployment.sites[0].desired.files) > 1  # the Default site is a folder of files


def test_examples_use_both_flavors_and_every_frequency() -> None:
    server = load_desired([EXAMPLES / "server-site.yaml"])
    cloud = load_desired([EXAMPLES / "cloud-site.yaml"])
    assert (server.flavor, cloud.flavor) == ("server", "cloud")
    assert {s.recurrence.frequency for s in server.schedules} == {"hourly", "daily", "weekly", "monthly"}
    assert any(t.type == "incremental" for e in server.extracts for t in e.refresh or ())
    assert any(t.schedule is None and t.recurrence is not None for e in cloud.extracts for t in e.refresh or ())


def test_schema_file_is_the_package_copy() -> None:
    link = ROOT / "schemas" / "reconciler.schema.json"
    assert json.loads(link.read_text(encoding="utf-8")) == load_schema()
    assert load_schema() is load_schema()
    jsonschema.Draft202012Validator.check_schema(load_schema())


def _properties(schema: Any, path: str = "") -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    if isinstance(schema, dict):
        for name, sub in schema.get("properties", {}).items():
            found.append((f"{path}.{name}", sub))
        for key, sub in schema.items():
            if key != "properties":
                found.extend(_properties(sub, f"{path}/{key}"))
            else:
                for name, prop in sub.items():
                    found.extend(_properties(prop, f"{path}.{name}"))
    elif isinstance(schema, list):
        for index, sub in enumerate(schema):
            found.extend(_properties(sub, f"{path}[{index}]"))
    return found


def test_every_schema_property_has_a_description() -> None:
    schema = load_schema()
    assert schema["$id"] and schema["$schema"].endswith("2020-12/schema")
    properties = _properties(schema)
    assert len(properties) > 40
    missing = [path for path, sub in properties if not sub.get("description")]
    assert missing == []


def test_validate_never_opens_a_connection(monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("validate opened a network connection")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    for target in TARGETS:
        assert main(["validate", str(EXAMPLES / target)]) == 0
    assert capsys.readouterr().out.count(" refresh tasks (flavor: ") == len(TARGETS)


def test_each_example_is_its_own_configuration(capsys: pytest.CaptureFixture[str]) -> None:
    """`--each` validates several sites kept side by side; merged, the examples rightly conflict."""
    configurations = [str(EXAMPLES / name) for name in TARGETS]
    assert main(["validate", "--each", *configurations]) == 0
    out = capsys.readouterr().out
    assert all(f"{path}: " in out for path in configurations)
    assert main(["validate", *configurations]) == 1
    assert "declare it once" in capsys.readouterr().err
