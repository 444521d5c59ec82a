"""Saved plans: a terraform-like, versioned JSON form of a Plan, and its strict reader.

``plan_from_json(plan_to_json(p)) == p`` exactly. The reader refuses, with a clear PlanError, text
that is not JSON (a truncated file), misses or mistypes a key, was made by a newer reconciler, or
whose fingerprint no longer matches its observed objects, or whose digest no longer matches its content
(an edited file).

The digest is the sha256 of the canonical JSON (``canonical_json``: sorted keys, no spaces) of the
plan's JSON object without the keys ``digest`` and ``reconciler_version``: every change with its
before, after and target, the policy that guards it (``max_deletes``), the connection it was made
for and the fingerprint of what it read. Two plans with one digest make the same requests; any edit
of a saved plan changes it. ``reconciler apply --expect-digest`` compares against it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from json.encoder import encode_basestring as _json_string  # what json.dumps(..., ensure_ascii=False) uses
from typing import Any

import reconciler
from reconciler.errors import PlanError

from .deployment import DeploymentPlan, SitePlan
from .fingerprint import canonical_json, fingerprint
from .types import (
    FORMAT_VERSION,
    KINDS,
    PHASES,
    Action,
    FieldChange,
    LoadChange,
    Phase,
    Plan,
    ResourceChange,
    SlotChange,
    Unmanaged,
    target_from_dict,
)

__all__ = ["DEPLOYMENT_KIND", "deployment_digest", "deployment_from_json", "deployment_to_dict", "deployment_to_json",
           "is_deployment_json", "is_digest", "plan_digest", "plan_from_json", "plan_to_dict", "plan_to_json"]

#: Keys of the plan JSON outside the digest: the digest itself, and the version of the tool that wrote it.
_UNDIGESTED = ("digest", "reconciler_version")
_DIGEST = re.compile(r"[0-9a-f]{64}")

_ACTIONS: Mapping[Action, list[str]] = {
    Action.CREATE: ["create"],
    Action.UPDATE: ["update"],
    Action.MOVE: ["move"],
    Action.REPLACE: ["delete", "create"],
    Action.DELETE: ["delete"],
}


def _change_to_dict(change: ResourceChange) -> dict[str, object]:
    return {
        "address": change.address,
        "kind": change.kind,
        "actions": list(_ACTIONS[change.action]),
        "before": change.before,
        "after": change.after,
        "changes": [{"path": f.path, "before": f.before, "after": f.after} for f in change.changes],
        "source": change.source,
        "phase": int(change.phase),
        "target": change.target.to_dict(),
        "depends_on": list(change.depends_on),
        "warnings": list(change.warnings),
        "reason": change.reason,
    }


def _load_to_dict(load: LoadChange | None) -> dict[str, object] | None:
    if load is None:
        return None
    return {
        "peak_before": load.peak_before,
        "peak_after": load.peak_after,
        "max_starts_per_slot": load.max_starts_per_slot,
        "unplaced": load.unplaced,
        "slots": [{"when": s.when, "slots": list(s.slots), "before": s.before, "after": s.after,
                   "added": list(s.added)} for s in load.slots],
    }


def _load(r: _JsonObject) -> LoadChange | None:
    if r._get("load") is None:
        return None
    value = r.obj("load")
    lr = _JsonObject(value, f"{r.path}load.")
    limit = value.get("max_starts_per_slot")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool)):
        raise _invalid(f"{lr.path}max_starts_per_slot should be an integer or null")
    slots = []
    for s in lr.objects("slots"):
        numbers = s._get("slots")
        if not isinstance(numbers, list) or not all(isinstance(n, int) for n in numbers):
            raise _invalid(f"{s.path}slots should be a list of integers")
        slots.append(SlotChange(s.text("when"), tuple(numbers), s.integer("before"), s.integer("after"),
                                tuple(s.strings("added"))))
    return LoadChange(tuple(slots), lr.integer("peak_before"), lr.integer("peak_after"), limit,
                      lr.integer("unplaced"))


def _content(plan: Plan, unmanaged: bool = True) -> dict[str, object]:
    return {
        "format_version": plan.format_version,
        "reconciler_version": reconciler.__version__,
        "server": plan.server,
        "site": plan.site,
        "site_id": plan.site_id,
        "api_version": plan.api_version,
        "flavor": plan.flavor,
        "fingerprint": plan.fingerprint,
        "observed": dict(plan.observed),
        "has_changes": plan.has_changes,
        "counts": dict(plan.counts),
        "delete_count": plan.delete_count,
        "max_deletes": plan.max_deletes,
        "exceeds_max_deletes": plan.exceeds_max_deletes,
        "load": _load_to_dict(plan.load),
        "exceeds_load": plan.exceeds_load,
        "resource_changes": [_change_to_dict(c) for c in plan.changes],
        "unmanaged": [{"address": u.address, "kind": u.kind, "detail": u.detail} for u in plan.unmanaged]
        if unmanaged else [],
        "warnings": list(plan.warnings),
    }


def plan_digest(plan: Plan) -> str:
    """The sha256 (64 hex digits) that identifies what ``plan`` does (see the module docstring)."""
    content = {k: v for k, v in _content(plan, unmanaged=False).items() if k not in _UNDIGESTED}
    content["unmanaged"] = _UNMANAGED
    # The sha256 of canonical_json(content), fed piece by piece, with the unmanaged list written directly:
    # a large site has 100,000 entries, whose text is never held whole.
    digest = hashlib.sha256()
    for n, (key, value) in enumerate(sorted(content.items())):
        digest.update(f"{',' if n else '{'}{canonical_json(key)}:".encode())
        if value is _UNMANAGED:
            _digest_unmanaged(digest, plan.unmanaged)
        else:
            digest.update(canonical_json(value).encode())
    digest.update(b"}")
    return digest.hexdigest()


_UNMANAGED = object()


def _digest_unmanaged(digest: hashlib._Hash, unmanaged: Sequence[Unmanaged]) -> None:
    """Feed ``canonical_json`` of the plan JSON's ``unmanaged`` list to ``digest``: each entry's keys sorted,
    no spaces, no ASCII escaping (``json.dumps(..., ensure_ascii=False)`` encodes strings with
    ``encode_basestring``), a thousand entries at a time."""
    text = _json_string
    for start in range(0, len(unmanaged), 1000):
        entries = ",".join(f'{{"address":{text(u.address)},"detail":{text(u.detail)},"kind":{text(u.kind)}}}'
                           for u in unmanaged[start:start + 1000])
        digest.update(f"{',' if start else '['}{entries}".encode())
    digest.update(b"]" if unmanaged else b"[]")


def is_digest(text: str) -> bool:
    """True for a plan digest as written in the plan: 64 lower-case hex digits."""
    return _DIGEST.fullmatch(text) is not None


def plan_to_dict(plan: Plan) -> dict[str, object]:
    """The JSON-able form of a plan (see ``plan_to_json``), with its digest."""
    return {**_content(plan), "digest": plan_digest(plan)}


def plan_to_json(plan: Plan) -> str:
    """The saved-plan JSON: deterministic (sorted keys, indent 2), ends with a newline, no secrets."""
    return json.dumps(plan_to_dict(plan), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


class _JsonObject:
    """Typed access to a parsed JSON object, with the JSON path in every error."""

    def __init__(self, data: Mapping[str, Any], path: str) -> None:
        self.data = data
        self.path = path

    def _get(self, key: str) -> Any:
        if key not in self.data:
            raise _invalid(f"{self.path}{key} is missing")
        return self.data[key]

    def text(self, key: str) -> str:
        value = self._get(key)
        if not isinstance(value, str):
            raise _invalid(f"{self.path}{key} should be a string")
        return value

    def opt_text(self, key: str) -> str | None:
        value = self._get(key)
        if value is not None and not isinstance(value, str):
            raise _invalid(f"{self.path}{key} should be a string or null")
        return value

    def integer(self, key: str) -> int:
        value = self._get(key)
        if not isinstance(value, int) or isinstance(value, bool):
            raise _invalid(f"{self.path}{key} should be an integer")
        return value

    def obj(self, key: str) -> dict[str, Any]:
        value = self._get(key)
        if not isinstance(value, dict):
            raise _invalid(f"{self.path}{key} should be an object")
        return value

    def opt_obj(self, key: str) -> dict[str, object] | None:
        value = self._get(key)
        if value is not None and not isinstance(value, dict):
            raise _invalid(f"{self.path}{key} should be an object or null")
        return value

    def strings(self, key: str) -> list[str]:
        value = self._get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _invalid(f"{self.path}{key} should be a list of strings")
        return value

    def string_map(self, key: str) -> dict[str, str]:
        value = self.obj(key)
        if not all(isinstance(v, str) for v in value.values()):
            raise _invalid(f"{self.path}{key} should map names to strings")
        return value

    def objects(self, key: str) -> list[_JsonObject]:
        value = self._get(key)
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise _invalid(f"{self.path}{key} should be a list of objects")
        return [_JsonObject(v, f"{self.path}{key}[{i}].") for i, v in enumerate(value)]


def _invalid(detail: str) -> PlanError:
    return PlanError(f"The saved plan is invalid: {detail}. Make a new plan with `reconciler plan --out`.")


def _version_tuple(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        raise _invalid(f'format_version "{version}" is not a version number') from None


def _change(r: _JsonObject) -> ResourceChange:
    actions = r.strings("actions")
    action = next((a for a, spelled in _ACTIONS.items() if spelled == actions), None)
    if action is None:
        raise _invalid(f"{r.path}actions {actions} is not a known action")
    kind = r.text("kind")
    if kind not in KINDS:
        raise _invalid(f"{r.path}kind \"{kind}\" is not one of {', '.join(KINDS)}")
    phase = r.integer("phase")
    if phase not in PHASES:
        raise _invalid(f"{r.path}phase {phase} is not a known phase")
    changes = tuple(FieldChange(c.text("path"), c._get("before"), c._get("after")) for c in r.objects("changes"))
    return ResourceChange(
        address=r.text("address"), kind=kind, action=action, before=r.opt_obj("before"),
        after=r.opt_obj("after"), changes=changes, source=r.opt_text("source"), phase=Phase(phase),
        target=target_from_dict(kind, r.string_map("target"), r.text("address")),
        depends_on=tuple(r.strings("depends_on")),
        warnings=tuple(r.strings("warnings")), reason=r.opt_text("reason"),
    )


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise PlanError(
            f"The saved plan is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}); "
            "was the file truncated? Make a new plan with `reconciler plan --out`."
        ) from error


def plan_from_json(text: str) -> Plan:
    """Read a saved plan; PlanError (saying what is wrong and what to do) for anything but a valid one."""
    data = _parse(text)
    if not isinstance(data, dict):
        raise _invalid("it should be a JSON object")
    r = _JsonObject(data, "")
    version = r.text("format_version")
    if _version_tuple(version)[:1] > _version_tuple(FORMAT_VERSION)[:1]:
        made_by = data.get("reconciler_version")
        if made_by == reconciler.__version__:
            raise PlanError(
                f"The saved plan says plan format {version}, which this reconciler {made_by} (format "
                f"{FORMAT_VERSION}) never writes although the plan names this very version: the file was edited. "
                "Make a new plan with `reconciler plan --out`."
            )
        by = f" {made_by}" if isinstance(made_by, str) else ""
        raise PlanError(
            f"The saved plan was made by a newer reconciler{by} (plan format {version}; this reconciler "
            f"{reconciler.__version__} reads format {FORMAT_VERSION}); upgrade reconciler to apply it."
        )
    observed = r.string_map("observed")
    plan = Plan(
        format_version=version,
        server=r.text("server"),
        site=r.text("site"),
        site_id=r.text("site_id"),
        api_version=r.text("api_version"),
        flavor=r.text("flavor"),
        changes=tuple(_change(c) for c in r.objects("resource_changes")),
        unmanaged=tuple(Unmanaged(u.text("address"), u.text("kind"), u.text("detail")) for u in r.objects("unmanaged")),
        warnings=tuple(r.strings("warnings")),
        fingerprint=r.text("fingerprint"),
        observed=dict(sorted(observed.items())),
        max_deletes=r.integer("max_deletes"),
        load=_load(r) if "load" in data else None,
    )
    if plan.fingerprint != fingerprint(plan.server, plan.site_id, plan.api_version, plan.observed):
        raise _invalid("its fingerprint does not match its observed objects (was it edited?)")
    stored_digest = r.text("digest")
    if stored_digest != plan_digest(plan):
        raise PlanError(
            "The saved plan was edited after it was made: its digest does not match its content (a change, "
            "its target or before/after values, the policy or the connection differ from what `reconciler plan` "
            "wrote). Nothing was applied. Make a new plan with `reconciler plan --out FILE` and review it.")
    stored_counts = r.obj("counts")
    if r._get("has_changes") is not plan.has_changes or stored_counts != dict(plan.counts):
        raise _invalid("its summary (has_changes, counts) does not match its resource_changes (was it edited?)")
    addresses = [c.address for c in plan.changes]
    if len(set(addresses)) != len(addresses):
        raise _invalid("two resource_changes share an address")
    unknown = sorted({d for c in plan.changes for d in c.depends_on} - set(addresses))
    if unknown:
        raise _invalid(f"depends_on names changes that are not in the plan: {', '.join(unknown)}")
    return plan


#: ``kind`` of a deployment's saved plan (a single site's plan has no ``kind``).
DEPLOYMENT_KIND = "deployment"


def _deployment_content(plan: DeploymentPlan) -> dict[str, object]:
    return {
        "format_version": FORMAT_VERSION,
        "kind": DEPLOYMENT_KIND,
        "reconciler_version": reconciler.__version__,
        "server": plan.server,
        "flavor": plan.flavor,
        "owner": plan.owner,
        "has_changes": plan.has_changes,
        "failed": plan.failed,
        "warnings": list(plan.warnings),
        "sites": [{"label": s.label, "site": s.site, "error": s.error,
                   "plan": plan_to_dict(s.plan) if s.plan is not None else None} for s in plan.sites],
    }


def deployment_digest(plan: DeploymentPlan) -> str:
    """The sha256 of what a deployment's plan does: every site's plan digest, errors, and the schedule owner."""
    content = {
        "server": plan.server, "flavor": plan.flavor, "owner": plan.owner,
        "sites": [{"label": s.label, "site": s.site, "error": s.error,
                   "digest": plan_digest(s.plan) if s.plan is not None else None} for s in plan.sites],
    }
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()


def deployment_to_dict(plan: DeploymentPlan) -> dict[str, object]:
    return {**_deployment_content(plan), "digest": deployment_digest(plan)}


def deployment_to_json(plan: DeploymentPlan) -> str:
    """A deployment's saved plan: every site's saved plan (``plan_to_json``'s form) under ``sites``."""
    return json.dumps(deployment_to_dict(plan), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def is_deployment_json(data: object) -> bool:
    return isinstance(data, dict) and data.get("kind") == DEPLOYMENT_KIND


def deployment_from_json(text: str) -> DeploymentPlan:
    """Read a deployment's saved plan; every site's plan is checked as ``plan_from_json`` checks one."""
    data = _parse(text)
    if not is_deployment_json(data):
        raise _invalid("it is not a deployment's plan")
    r = _JsonObject(data, "")
    sites = []
    for n, entry in enumerate(r.objects("sites")):
        raw = entry.data.get("plan")
        site_plan = plan_from_json(json.dumps(raw)) if raw is not None else None
        failure = entry.data.get("error")
        if (site_plan is None) == (failure is None):
            raise _invalid(f"sites[{n}] must have a plan or an error")
        sites.append(SitePlan(entry.text("label"), entry.text("site"), plan=site_plan,
                              error=str(failure) if failure is not None else None))
    owner = data.get("owner")
    plan = DeploymentPlan(server=r.text("server"), flavor=r.text("flavor"), sites=tuple(sites),
                          owner=owner if isinstance(owner, str) else None, warnings=tuple(r.strings("warnings")))
    if r.text("digest") != deployment_digest(plan):
        raise PlanError(
            "The saved plan was edited after it was made: its digest does not match its content. Nothing was "
            "applied. Make a new plan with `reconciler plan DEPLOYMENT --out FILE` and review it.")
    return plan
