"""Awkward names on the emulator: rename items and projects, add projects and items (test set-up only)."""

from __future__ import annotations

from dataclasses import replace

from reconciler.emulator import Emulator
from reconciler.emulator.models import ContentItem, Project, new_id
from tests.e2e.helpers import site_id


def find_item(emu: Emulator, path: str, kind: str = "datasource") -> ContentItem:
    store = emu.store
    with store.lock:
        return next(i for i in store.items.values() if i.kind == kind and store.item_path(i.id) == path)


def rename_item(emu: Emulator, path: str, name: str, kind: str = "datasource") -> str:
    """Give the item at ``path`` a new name; returns its id."""
    item = find_item(emu, path, kind)
    with emu.store.lock:
        emu.store.items[item.id] = replace(item, name=name)
    return item.id


def rename_project(emu: Emulator, path: str, name: str) -> None:
    store = emu.store
    sid = site_id(emu)
    with store.lock:
        for project in list(store.projects.values()):
            parts = [project.name]
            parent = store.projects.get(project.parent_id) if project.parent_id else None
            while parent is not None:
                parts.insert(0, parent.name)
                parent = store.projects.get(parent.parent_id) if parent.parent_id else None
            if project.site_id == sid and "/".join(parts) == path:
                store.projects[project.id] = replace(project, name=name)
                return
    raise AssertionError(f"no project {path}")


def add_project(emu: Emulator, name: str, parent_id: str | None = None) -> str:
    store = emu.store
    sid = site_id(emu)
    with store.lock:
        owner = next(p.owner_id for p in store.projects.values() if p.site_id == sid)
        project = Project(id=new_id(), site_id=sid, name=name, parent_id=parent_id, owner_id=owner)
        store.projects[project.id] = project
    return project.id


def add_item(emu: Emulator, project_id: str, name: str, like: str = "Sales/Orders", kind: str = "datasource") -> str:
    """A copy of the item at ``like`` (without its tasks) named ``name`` in ``project_id``; returns its id."""
    model = find_item(emu, like, kind)
    with emu.store.lock:
        item = replace(model, id=new_id(), name=name, project_id=project_id, content_url=f"c{new_id()[:8]}")
        emu.store.items[item.id] = item
    return item.id
