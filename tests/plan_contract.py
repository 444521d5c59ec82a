"""The plan format as a contract: every plan the tests serialize is checked against schemas/plan.schema.json."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "plan.schema.json"


@cache
def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


class PlanContractError(AssertionError):
    """A plan the code made does not match schemas/plan.schema.json."""


def validate_plan(data: Any) -> None:
    """Raise PlanContractError naming every place where ``data`` breaks the plan schema."""
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  {'/'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}" for e in errors[:10]]
        raise PlanContractError("plan JSON does not match schemas/plan.schema.json (update the schema and "
                                "docs/plan-format.md with the code):\n" + "\n".join(lines))


#: How many plans the session validated (the contract test checks the hook ran).
validated = [0]
