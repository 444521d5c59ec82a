"""schemas/plan.schema.json: every plan the suite serializes is validated (conftest); it refuses what it should."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.emulator import Emulator
from reconciler.plan import serialize
from tests import plan_contract
from tests.plan_contract import PlanContractError, validate_plan


def test_the_conftest_hook_validates_every_serialized_plan(server_emu: Emulator, cli: Any, tmp_path: Path) -> None:
    assert serialize.plan_to_dict.__name__ == "checked", "conftest wraps plan_to_dict"
    before = plan_contract.validated[0]
    file = tmp_path / "site.yaml"
    file.write_text('version: 1\nschedules:\n  Nightly 02:00:\n    frequency: daily\n    start: "02:30"\n')
    result = cli("plan", file, "--format", "json")
    assert result.code == 0, result.err
    assert plan_contract.validated[0] == before + 1
    validate_plan(json.loads(result.out))


def _plan(server_emu: Emulator, cli: Any, tmp_path: Path) -> dict[str, Any]:
    file = tmp_path / "site.yaml"
    file.write_text('version: 1\nextracts:\n  - datasource: Sales/Orders\n    refresh: []\n')
    result = cli("plan", file, "--format", "json")
    assert result.code == 0, result.err
    data: dict[str, Any] = json.loads(result.out)
    assert data["resource_changes"]
    return data


BROKEN = {
    "an undocumented key": (lambda d: d.update(lock="mine"), "(top): Additional properties are not allowed"),
    "a digest that is not sha256": (lambda d: d.update(digest="abc"), "digest: 'abc' does not match"),
    "an unknown action": (lambda d: d["resource_changes"][0].update(actions=["teleport"]),
                          "resource_changes/0/actions"),
    "a target that is not a string": (lambda d: d["resource_changes"][0]["target"].update(task_id=7),
                                      "resource_changes/0/target/task_id"),
    "no digest": (lambda d: d.pop("digest"), "'digest' is a required property"),
}


@pytest.mark.parametrize(("edit", "where"), BROKEN.values(), ids=BROKEN.keys())
def test_the_schema_refuses_what_the_format_does_not_have(edit, where: str, server_emu: Emulator,  # type: ignore[no-untyped-def]
                                                         cli: Any, tmp_path: Path) -> None:
    data = _plan(server_emu, cli, tmp_path)
    edit(data)
    with pytest.raises(PlanContractError) as error:
        validate_plan(data)
    assert where in str(error.value)
