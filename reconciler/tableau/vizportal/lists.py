"""What Vizportal lists (tasks, schedules, a refresh's answer) and how a REST item maps to its Vizportal id."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.errors import ReconcilerError
from reconciler.tableau import wire
from reconciler.tableau.connect import Connection, translate_error

_WEB_ID = re.compile(r"/(datasources|workbooks)/(\d+)(?:[/?#]|$)")


@dataclass(frozen=True)
class VizportalTask:
    """One extract refresh task as ``getExtractTasks`` lists it: Vizportal ids only (no LUIDs).

    ``target_kind`` is read from a ``targetType`` member when there is one that names a data source or a
    workbook; no public sample shows that member, so it is usually None (unknown), and is then never
    used to tell tasks apart.
    """

    id: str
    schedule_id: str | None
    target_id: str | None
    target_kind: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VizportalTask:
        def text(key: str) -> str | None:
            value = data.get(key)
            return None if value is None or value == "" else str(value)

        kind = str(data.get("targetType") or "").replace(" ", "").replace("_", "").lower()
        return cls(str(data.get("id", "")), text("scheduleId"), text("targetId"),
                   "datasource" if kind == "datasource" else "workbook" if kind == "workbook" else None)


@dataclass(frozen=True)
class VizportalSchedule:
    id: str
    name: str


@dataclass(frozen=True)
class RefreshAnswer:
    """``runExtractRefreshesOnDatasources``: its ``errors`` (HTTP 200). Nothing else of it is relied on."""

    errors: tuple[Mapping[str, Any], ...]



# -- id mapping ---------------------------------------------------------------------------------------


def web_id(kind: str, webpage_url: str | None) -> str | None:
    """The Vizportal id at the end of a REST ``webpageUrl`` (``…/#/site/S/datasources/46``), or None."""
    match = _WEB_ID.search(webpage_url or "")
    if match is None or match.group(1) != f"{kind}s":
        return None
    return match.group(2)


def item_web_id(conn: Connection, kind: str, luid: str, label: str) -> str:
    """An item's Vizportal id, from its REST ``webpageUrl`` (a read); a clear error when there is none."""
    doing = f"reading {label}"
    try:
        content = conn.server.jobs.get_request(f"{conn.site_url}/{kind}s/{luid}").content
    except Exception as error:
        raise translate_error(error, doing) from error
    node = next(wire.parse(bytes(content)).iter(wire.tag(kind)), None)
    url = node.get("webpageUrl") if node is not None else None
    found = web_id(kind, url)
    if found is None:
        raise ReconcilerError(
            f"The REST API gives {label} {'no webpageUrl' if not url else f'the webpageUrl {url!r}'}, so its "
            f"Vizportal id (the number at the end of its web page's address, …/{kind}s/<id>) is not known and "
            "Vizportal cannot be used for it.")
    return found
