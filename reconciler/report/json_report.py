"""Plans and drift reports as JSON: the saved-plan format, and a stable drift document."""

from __future__ import annotations

import json

import reconciler
from reconciler.plan import BUCKETS, DriftReport, Plan, plan_to_json

__all__ = ["DRIFT_FORMAT_VERSION", "drift_to_dict", "render_drift_json", "render_plan_json"]

#: Version of the drift JSON document.
DRIFT_FORMAT_VERSION = "1.1"


def render_plan_json(plan: Plan) -> str:
    """The saved-plan JSON (``plan_to_json``)."""
    return plan_to_json(plan)


def drift_to_dict(report: DriftReport) -> dict[str, object]:
    """The drift document.

    Keys: ``format_version``, ``reconciler_version``, ``server``, ``site``, ``flavor``, ``in_sync`` (bool: nothing
    changed, missing or unmanaged), ``drifted`` (bool: what the exit code says, 2 when true), ``unhealthy_fails``,
    ``counts`` (``changed``, ``missing``, ``unmanaged``, ``unhealthy``), ``coverage`` (``managed_tasks``,
    ``tasks_in_scope``, ``fraction``, ``percent``), ``managed`` (``address``, ``kind``, ``source``)
    and ``entries`` (``bucket``, ``address``, ``detail``, ``source``, ``object``, ``fields`` of
    ``path``/``before``/``after``; ``figures``: the job-history numbers behind an unhealthy finding),
    entries ordered by bucket then address.
    """
    return {
        "format_version": DRIFT_FORMAT_VERSION,
        "reconciler_version": reconciler.__version__,
        "server": report.server,
        "site": report.site,
        "flavor": report.flavor,
        "in_sync": report.in_sync,
        "drifted": report.drifted,
        "unhealthy_fails": report.unhealthy_fails,
        "counts": {bucket: report.counts[bucket] for bucket in BUCKETS},
        "coverage": {
            "managed_tasks": report.managed_tasks,
            "tasks_in_scope": report.tasks_in_scope,
            "fraction": report.coverage,
            "percent": report.coverage_percent,
        },
        "managed": [{"address": m.address, "kind": m.kind, "source": m.source} for m in report.managed],
        "entries": [
            {
                "bucket": e.bucket,
                "address": e.address,
                "detail": e.detail,
                "source": e.source,
                "object": e.object,
                "fields": [{"path": f.path, "before": f.before, "after": f.after} for f in e.fields],
                "figures": dict(e.figures),
            }
            for e in report.entries
        ],
    }


def render_drift_json(report: DriftReport) -> str:
    """The drift document as deterministic JSON (sorted keys, indent 2, final newline)."""
    return json.dumps(drift_to_dict(report), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
