"""The routing table (moto's `urls.py`): method + path template → handler name.

Templates use `{name}` placeholders (one path segment each); `{v}` is the API version, any value.
The template, not the raw path, is what `/_emulator/stats` counts.
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = ["ROUTES", "Route", "match"]


class Route(NamedTuple):
    method: str
    template: str
    handler: str
    pattern: re.Pattern[str]


_S = "/api/{v}/sites/{site_id}"
_TABLE: tuple[tuple[str, str, str], ...] = (
    ("POST", "/api/{v}/auth/signin", "sign_in"),
    ("POST", "/api/{v}/auth/signout", "sign_out"),
    ("POST", "/api/{v}/auth/switchSite", "switch_site"),
    ("GET", "/api/{v}/serverInfo", "get_server_info"),
    ("GET", "/api/{v}/sites", "list_sites"),
    ("GET", "/api/{v}/sites/{site_id}", "get_site"),
    ("PUT", "/api/{v}/sites/{site_id}", "update_site"),
    ("POST", f"{_S}/encrypt-extracts", "encrypt_extracts"),
    ("POST", f"{_S}/decrypt-extracts", "decrypt_extracts"),
    ("POST", f"{_S}/reencrypt-extracts", "reencrypt_extracts"),
    ("GET", f"{_S}/users", "list_users"),
    ("GET", f"{_S}/users/{{user_id}}", "get_user"),
    ("GET", f"{_S}/projects", "list_projects"),
    ("POST", f"{_S}/projects", "create_project"),
    ("PUT", f"{_S}/projects/{{project_id}}", "update_project"),
    ("DELETE", f"{_S}/projects/{{project_id}}", "delete_project"),
    ("GET", f"{_S}/datasources", "list_datasources"),
    ("GET", f"{_S}/datasources/{{item_id}}", "get_datasource"),
    ("PUT", f"{_S}/datasources/{{item_id}}", "update_datasource"),
    ("POST", f"{_S}/datasources/{{item_id}}/refresh", "refresh_datasource"),
    ("POST", f"{_S}/datasources/{{item_id}}/createExtract", "create_datasource_extract"),
    ("POST", f"{_S}/datasources/{{item_id}}/deleteExtract", "delete_datasource_extract"),
    ("GET", f"{_S}/workbooks", "list_workbooks"),
    ("GET", f"{_S}/workbooks/{{item_id}}", "get_workbook"),
    ("PUT", f"{_S}/workbooks/{{item_id}}", "update_workbook"),
    ("POST", f"{_S}/workbooks/{{item_id}}/refresh", "refresh_workbook"),
    ("POST", f"{_S}/workbooks/{{item_id}}/createExtract", "create_workbook_extract"),
    ("POST", f"{_S}/workbooks/{{item_id}}/deleteExtract", "delete_workbook_extract"),
    ("GET", "/api/{v}/schedules", "list_schedules"),
    ("POST", "/api/{v}/schedules", "create_schedule"),
    ("PUT", "/api/{v}/schedules", "batch_update_schedule_state"),
    ("GET", "/api/{v}/schedules/{schedule_id}", "get_schedule"),
    ("PUT", "/api/{v}/schedules/{schedule_id}", "update_schedule"),
    ("DELETE", "/api/{v}/schedules/{schedule_id}", "delete_schedule"),
    ("PUT", f"{_S}/schedules/{{schedule_id}}/datasources", "add_datasource_to_schedule"),
    ("PUT", f"{_S}/schedules/{{schedule_id}}/workbooks", "add_workbook_to_schedule"),
    ("GET", f"{_S}/schedules/{{schedule_id}}/extracts", "list_extracts_in_schedule"),
    ("GET", f"{_S}/tasks/extractRefreshes", "list_extract_refresh_tasks"),
    ("POST", f"{_S}/tasks/extractRefreshes", "create_cloud_extract_refresh_task"),
    ("GET", f"{_S}/tasks/extractRefreshes/{{task_id}}", "get_extract_refresh_task"),
    ("POST", f"{_S}/tasks/extractRefreshes/{{task_id}}", "update_cloud_extract_refresh_task"),
    ("DELETE", f"{_S}/tasks/extractRefreshes/{{task_id}}", "delete_extract_refresh_task"),
    ("POST", f"{_S}/tasks/extractRefreshes/{{task_id}}/runNow", "run_extract_refresh_task"),
    ("GET", f"{_S}/jobs", "list_jobs"),
    ("GET", f"{_S}/jobs/{{job_id}}", "get_job"),
    ("PUT", f"{_S}/jobs/{{job_id}}", "cancel_job"),
)


def _compile(template: str) -> re.Pattern[str]:
    regex = re.sub(r"\{(\w+)\}", lambda m: f"(?P<{m.group(1)}>[^/]+)", template)
    # TSC calls /serverInfo; the docs say /serverinfo: route both, case-insensitively.
    regex = regex.replace("serverInfo", "(?i:serverinfo)")
    return re.compile(f"^{regex}$")


ROUTES: tuple[Route, ...] = tuple(Route(m, t, h, _compile(t)) for m, t, h in _TABLE)


def match(method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
    """Find the route for a request: (route, path parameters, whether the path exists for another method)."""
    path_known = False
    for route in ROUTES:
        m = route.pattern.match(path)
        if m is None:
            continue
        if route.method == method:
            return route, m.groupdict(), True
        path_known = True
    return None, {}, path_known
