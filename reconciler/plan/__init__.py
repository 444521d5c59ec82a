"""The planner: desired state × live state → Plan, its saved JSON form, fingerprints and drift.

Pure code: no network, no file I/O. The only deepdiff user in the package.
"""

from __future__ import annotations

from .drift import BUCKETS, DriftEntry, DriftReport, ManagedObject, make_drift
from .fingerprint import observe, stale_objects
from .make import make_plan
from .permissions import PermissionGap, permission_gaps
from .serialize import is_digest, plan_digest, plan_from_json, plan_to_dict, plan_to_json
from .types import (
    FORMAT_VERSION,
    PHASES,
    SYMBOLS,
    Action,
    FieldChange,
    Plan,
    ResourceChange,
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
    "ManagedObject",
    "PermissionGap",
    "Plan",
    "ResourceChange",
    "Unmanaged",
    "is_digest",
    "make_drift",
    "make_plan",
    "observe",
    "permission_gaps",
    "plan_digest",
    "plan_from_json",
    "plan_to_dict",
    "plan_to_json",
    "stale_objects",
]
