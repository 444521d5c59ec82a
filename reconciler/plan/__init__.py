"""The planner: desired state × live state → Plan, its saved JSON form, fingerprints and drift.

Pure code: no network, no file I/O. The only deepdiff user in the package.
"""

from __future__ import annotations

from .drift import BUCKETS, DriftEntry, DriftReport, ManagedObject, make_drift
from .fingerprint import observe, stale_objects
from .health import HealthReport, TaskHealth, make_health
from .load import LoadProfile, Start, busy_profile, live_starts, make_profile, slot_label
from .make import PlanResult, make_plan, make_plan_result
from .permissions import PermissionGap, permission_gaps
from .serialize import is_digest, plan_digest, plan_from_json, plan_to_dict, plan_to_json
from .types import (
    FORMAT_VERSION,
    PHASES,
    SYMBOLS,
    Action,
    FieldChange,
    ItemTarget,
    LoadChange,
    Phase,
    Plan,
    ResourceChange,
    ScheduleTarget,
    SiteTarget,
    SlotChange,
    Target,
    TaskTarget,
    Unmanaged,
)

__all__ = [
    "BUCKETS",
    "FORMAT_VERSION",
    "PHASES",
    "SYMBOLS",
    "Action",
    "DriftEntry",
    "DriftReport",
    "FieldChange",
    "HealthReport",
    "ItemTarget",
    "LoadChange",
    "LoadProfile",
    "ManagedObject",
    "PermissionGap",
    "Phase",
    "Plan",
    "PlanResult",
    "ResourceChange",
    "ScheduleTarget",
    "SiteTarget",
    "SlotChange",
    "Start",
    "Target",
    "TaskHealth",
    "TaskTarget",
    "Unmanaged",
    "busy_profile",
    "is_digest",
    "live_starts",
    "make_drift",
    "make_health",
    "make_plan",
    "make_plan_result",
    "make_profile",
    "observe",
    "permission_gaps",
    "plan_digest",
    "plan_from_json",
    "plan_to_dict",
    "plan_to_json",
    "slot_label",
    "stale_objects",
]
