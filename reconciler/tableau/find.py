"""Finding a data source, workbook or extract refresh task by what the user typed: a LUID or a path.

``refresh`` and ``demo`` name items the way the files do (``project/sub/name``); this turns that into
the item, or into an error with the close matches. The server's name filter is only a shortcut: what
it returns is checked with the one resolver, ``model.match_ref``.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote
from xml.etree import ElementTree as ET

from tableauserverclient.server.endpoint.exceptions import ServerResponseError

from reconciler.errors import ReconcilerError, TableauRequestError
from reconciler.hints import did_you_mean, suggest
from reconciler.model import Item, ItemKind, ItemRef, describe_item, match_ref, split_path
from reconciler.tableau import wire
from reconciler.tableau.connect import Connection, translate_error
from reconciler.tableau.read import PAGE_SIZE, list_all, project_tree

__all__ = ["LUID", "ambiguous_ref", "find_item", "find_task"]

#: A Tableau id (LUID): a UUID.
LUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def find_item(conn: Connection, kind: ItemKind, ref: str) -> Item:
    """A data source or workbook by LUID or by ``project/sub/name``; unknown → error with close matches."""
    label = "data source" if kind == "datasource" else "workbook"
    if LUID.match(ref):
        try:
            root = wire.parse(conn.get(f"{conn.site_url}/{kind}s/{ref}", f"looking up {label} {ref}"))
        except TableauRequestError as error:
            if not str(error.code or "").startswith("404"):
                raise
            root = None
        node = wire.find(root, kind) if root is not None else None
        if node is None:
            raise ReconcilerError(f"There is no {label} with id {ref} on this site.")
        return Item(kind, ref, node.get("name", ""), ())
    wanted = ItemRef(kind, *split_path(ref))
    paths = _project_paths(conn)
    # The server's filter is only a shortcut: "eq" treats "*" as a wildcard and a name may hold a "/" (so the
    # name is any tail of the path). What it returns is checked with the one resolver, match_ref; when nothing
    # matches exactly, every item is listed and checked, so a name the filter cannot express is still found.
    # A filter value cannot hold "," or "&", even encoded (Tableau's filtering docs): such a name is listed.
    tails = {tail for tail in ("/".join(ref.split("/")[i:]) for i in range(1, ref.count("/") + 1))
             if "," not in tail and "&" not in tail}
    found = [item for name in sorted(tails) for item in _filtered(conn, kind, name, paths, label, ref)]
    exact = match_ref(wanted, found)
    if not exact:
        found = _all_items(conn, kind, paths)
        exact = match_ref(wanted, found)
    if len(exact) == 1:
        return exact[0]
    if len(exact) > 1:
        raise ReconcilerError(f"{label.capitalize()} {ambiguous_ref(ref, exact)} Nothing was started; give its id "
                              "(LUID) instead: `reconciler export` lists every item's id.")
    hint = did_you_mean(suggest(ref, (item.path for item in found)), ref, said="you gave")
    shown = json.dumps(ref, ensure_ascii=False)
    if not ref.isascii() or ref != ref.strip():  # so that it can be told from a suggestion that looks the same
        shown += f" (escaped: {json.dumps(ref, ensure_ascii=True)})"
    raise ReconcilerError(f"{label.capitalize()} {shown} does not exist on this "
                          f"site (names are compared exactly).{hint} Give it as project/sub-project/name, or by its "
                          "id (LUID).")


def ambiguous_ref(ref: str, found: list[Item]) -> str:
    listed = "; ".join(describe_item(item) for item in sorted(found, key=lambda i: (i.project, i.name, i.id)))
    return (f"{json.dumps(ref, ensure_ascii=False)} is ambiguous: a \"/\" inside a project or item name makes it "
            f"name {len(found)} items: {listed}.")


def _filtered(conn: Connection, kind: ItemKind, name: str, paths: dict[str, tuple[str, ...]], label: str,
              ref: str) -> list[Item]:
    url = (f"{conn.site_url}/{kind}s?filter=name:eq:{quote(name, safe='')}"
           f"&fields=id,name,project.id,project.name&pageSize={PAGE_SIZE}")
    try:
        root = wire.parse(conn.get(url, f"looking up {label} {ref!r}"))
    except TableauRequestError as error:
        if not str(error.code or "").startswith("400"):  # a name the filter syntax cannot hold: list them all
            raise
        return []
    return [_item_of(node, kind, paths) for node in root.iter(wire.tag(kind))]


def _item_of(node: ET.Element, kind: ItemKind, paths: dict[str, tuple[str, ...]]) -> Item:
    project_node = wire.find(node, "project")
    project_id = project_node.get("id", "") if project_node is not None else ""
    return Item(kind, node.get("id", ""), node.get("name", ""), paths.get(project_id, ()), project_id)


def find_task(conn: Connection, task_id: str) -> str:
    """Check that an extract refresh task exists on this site (a read: nothing is started); returns its id."""
    doing = f"looking up task {task_id}"
    if LUID.match(task_id):
        try:
            content = conn.send("GET", f"{conn.site_url}/tasks/extractRefreshes/{task_id}")
        except ServerResponseError as error:
            if not str(error.code).startswith(("404", "400")):
                raise translate_error(error, doing) from error
        except Exception as error:
            raise translate_error(error, doing) from error
        else:
            if next(wire.parse(content).iter(wire.tag("extractRefresh")), None) is not None:
                return task_id
    raise ReconcilerError(f"There is no extract refresh task with id {task_id!r} on this site; nothing was "
                          "started. `reconciler export` lists each item's tasks; `--datasource`/`--workbook` "
                          "refresh an item without naming a task.")


def _all_items(conn: Connection, kind: ItemKind, paths: dict[str, tuple[str, ...]]) -> list[Item]:
    """Every item of a kind (when the filter found nothing exact: an error path or an awkward name)."""
    nodes = list_all(conn, f"{conn.site_url}/{kind}s?fields=id,name,project.id", kind, f"listing {kind}s")
    return [_item_of(node, kind, paths) for node in nodes]


def _project_paths(conn: Connection) -> dict[str, tuple[str, ...]]:
    nodes = list_all(conn, f"{conn.site_url}/projects", "project", "listing projects")
    return {project.id: project.path for project in project_tree(nodes)}
