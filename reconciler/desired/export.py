"""State → files: the YAML that describes a live site, for adopting an existing site into code.

The document is built so that ``validate`` accepts it and ``plan`` against the same site reports no
changes: the schedules its tasks use (Server) or one template per distinct recurrence (Cloud),
every item with tasks or an encryption flag, grouped by project and sorted.

What Tableau does not fully report is never written as if it were known: a Server schedule whose
monthly days are not reported ("Customized Monthly") goes under ``referenced_schedules:`` (used,
never changed); on Cloud, an item with such a task keeps its tasks unmanaged (no ``refresh:``), and
the header says which.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import yaml

from reconciler.model import Item, LiveState, Recurrence, Schedule, site_label

__all__ = ["DEFAULT_SITE_LABEL", "export_deployment", "export_document", "export_yaml", "site_labels"]

SCHEMA_HINT = ("# For editor completion, add a first line: "
               "# yaml-language-server: $schema=<path to reconciler's schemas/reconciler.schema.json>")
DEPLOYMENT_SCHEMA_HINT = ("# For editor completion, add a first line: "
                          "# yaml-language-server: $schema=<path to reconciler's schemas/deployment.schema.json>")
#: The label (file name under ``sites/``) of the Default site, whose contentUrl is "".
DEFAULT_SITE_LABEL = "default"
_TIME = re.compile(r"^\d{2}:\d{2}$")


class _Dumper(yaml.SafeDumper):
    """Quotes times (``"02:00"``) so that every reader, YAML 1.1 or 1.2, sees a string."""


class _FastDumper(yaml.CSafeDumper):
    """``_Dumper`` with libyaml's emitter: the same bytes for the strings ``_C_SAFE`` admits, 4 times
    faster (a 100,000-task export spent 14 of its 19 s in the pure-Python emitter)."""


def _represent_str(dumper: yaml.SafeDumper | yaml.CSafeDumper, value: str) -> yaml.ScalarNode:
    # Every string of the file goes through ${VAR} replacement on load: a name holding "${" is written "$${".
    value = value.replace("${", "$${")
    style = '"' if _TIME.match(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)
_FastDumper.add_representer(str, _represent_str)
#: Characters on which libyaml's emitter and PyYAML's differ (characters outside the Basic
#: Multilingual Plane, NEL and the Unicode line and paragraph separators), and the other controls:
#: a document with any of them in a name is written by the pure-Python emitter, as before.
_C_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff"
                       "\U00010000-\U0010ffff]")


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _dumper_for(doc: dict[str, Any]) -> type[yaml.SafeDumper | yaml.CSafeDumper]:
    """The C emitter when it writes exactly what the Python one would (tests hold them byte-equal)."""
    if not hasattr(yaml, "CSafeDumper") or _C_UNSAFE.search("\n".join(_strings(doc))):
        return _Dumper
    return _FastDumper


def _in_projects(item: Item, projects: Sequence[tuple[str, ...]]) -> bool:
    return not projects or any(item.project[: len(p)] == p for p in projects)


def _reference(item: Item) -> Any:
    """The path string when it names this item and nothing else; else the exact parts, or the id."""
    if not item.project:
        return {"id": item.id}
    if "/" in item.name or any("/" in part for part in item.project):
        return {"project": list(item.project), "name": item.name}
    return item.path


def _schedule_entry(schedule: Schedule) -> dict[str, Any]:
    entry: dict[str, Any] = dict(schedule.recurrence.to_dict())
    if schedule.priority != 50:
        entry["priority"] = schedule.priority
    if schedule.execution != "parallel":
        entry["execution"] = schedule.execution
    if schedule.state != "active":
        entry["state"] = schedule.state
    return entry


def _template_names(recurrences: Sequence[Recurrence]) -> dict[Recurrence, str]:
    names: dict[Recurrence, str] = {}
    used: set[str] = set()
    for recurrence in recurrences:
        base = recurrence.describe()
        name = base[0].upper() + base[1:]
        count = 2
        while name in used:
            name = f"{base} ({count})"
            count += 1
        used.add(name)
        names[recurrence] = name
    return names


def unreported_items(live: LiveState) -> list[Item]:
    """Cloud: the items with a task whose monthly days Tableau does not report (left unmanaged by export)."""
    ids = {(t.item_kind, t.item_id) for t in live.tasks if t.recurrence is not None and t.recurrence.days_unknown}
    return sorted((i for i in live.items if (i.kind, i.id) in ids), key=lambda i: (i.kind, i.path))


def export_document(live: LiveState, projects: Sequence[str] = (),
                    templates: Mapping[Recurrence, str] | None = None) -> dict[str, Any]:
    """The file form of ``live`` (only items under ``projects`` when given).

    On Cloud, ``templates`` names the schedule templates (a deployment names them once for all its sites);
    by default each distinct recurrence of the site gets one, named after it.
    """
    scope = [tuple(p.strip("/").split("/")) for p in projects]
    items = {(i.kind, i.id): i for i in live.items}
    tasks_by_item: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for task in live.tasks:
        item = items.get((task.item_kind, task.item_id))
        if item is not None and _in_projects(item, scope):
            tasks_by_item[(task.item_kind, task.item_id)].append(task)
    cloud = live.flavor == "cloud"
    doc: dict[str, Any] = {"version": 1, "server": live.server, "site": live.site, "flavor": live.flavor}
    if not cloud:  # extract encryption at rest is Tableau Server's: Cloud files may not declare it
        doc["encryption"] = {"mode": live.encryption_mode}
    schedules: dict[str, Any] = {}
    template: dict[Recurrence, str] = {}
    unmanaged = {(i.kind, i.id) for i in unreported_items(live)} if cloud else set()
    for key in unmanaged:
        tasks_by_item.pop(key, None)
    referenced: list[str] = []
    if cloud:
        recurrences = sorted({t.recurrence for tasks in tasks_by_item.values() for t in tasks if t.recurrence},
                             key=lambda r: (r.describe(), repr(r)))
        template = dict(templates) if templates is not None else _template_names(recurrences)
        schedules = {name: recurrence.to_dict() for recurrence, name in sorted(template.items(), key=lambda x: x[1])
                     if recurrence in recurrences}
    else:
        used = {t.schedule for tasks in tasks_by_item.values() for t in tasks if t.schedule}
        schedules = {s.name: _schedule_entry(s) for s in live.schedules
                     if s.name in used and not s.recurrence.days_unknown}
        referenced = sorted(s.name for s in live.schedules if s.name in used and s.recurrence.days_unknown)
    if schedules:
        doc["schedules"] = schedules
    if referenced:
        doc["referenced_schedules"] = referenced
    extracts = []
    encrypt_managed = live.encryption_mode == "enabled" and not cloud
    for item in sorted(live.items, key=lambda i: (i.project, i.kind, i.name, i.id)):
        key = (item.kind, item.id)
        tasks = tasks_by_item.get(key, [])
        wants_encrypt = encrypt_managed and item.encrypt
        if (not tasks and not wants_encrypt) or (key in unmanaged and not wants_encrypt):
            continue
        if not _in_projects(item, scope):
            continue
        entry: dict[str, Any] = {item.kind: _reference(item)}
        if wants_encrypt:
            entry["encrypt"] = True
        refresh = []
        for task in sorted(tasks, key=lambda t: (t.type, t.schedule or "", t.recurrence.describe()
                                                 if t.recurrence else "", t.id)):
            name = template.get(task.recurrence) if (cloud and task.recurrence) else task.schedule
            refresh.append({"schedule": name, "type": task.type})
        if tasks:
            entry["refresh"] = refresh
        extracts.append(entry)
    if extracts:
        doc["extracts"] = extracts
    if scope:
        doc["policy"] = {"scope": {"projects": list(projects)}}
    return doc


def export_yaml(live: LiveState, projects: Sequence[str] = (), when: str = "", version: str = "") -> str:
    """The YAML text, with a header saying where and when it came from."""
    doc = export_document(live, projects)
    header = [
        SCHEMA_HINT,
        f"# Exported by reconciler {version} from {site_label(live.site)} on {live.server} ({live.flavor}), "
        f"{when}.".replace("  ", " "),
        "# Review it, commit it, then `reconciler plan` should report no changes.",
        *_notes(live),
    ]
    return "\n".join(header) + "\n" + _dump(doc)


def _dump(doc: dict[str, Any]) -> str:
    return yaml.dump(doc, Dumper=_dumper_for(doc), sort_keys=False, allow_unicode=True, default_flow_style=False,
                     width=120)


def _notes(live: LiveState) -> list[str]:
    """The header lines saying what Tableau did not fully report."""
    header: list[str] = []
    if any(s.recurrence.days_unknown for s in live.schedules) and live.flavor != "cloud":
        header.append("# referenced_schedules: lists schedules whose monthly days Tableau does not report "
                      "(made in its web UI); reconciler uses them and never changes them.")
    hidden = unreported_items(live) if live.flavor == "cloud" else []
    if hidden:
        header.append(f"# Not managed: the tasks of {len(hidden)} item(s) with a monthly schedule whose days Tableau "
                      "does not report: " + ", ".join(f"{i.kind} {i.path}" for i in hidden[:5])
                      + (", ..." if len(hidden) > 5 else "") + ".")
    return header


def site_labels(content_urls: Sequence[str]) -> list[str]:
    """The label (file name under ``sites/``) of each site: its contentUrl, ``default`` for the Default site.

    When a site's contentUrl is itself ``default``, the Default site becomes ``default-site`` (then
    ``default-site-2``...), so that no two sites share a file.
    """
    taken = {url for url in content_urls if url}
    label = DEFAULT_SITE_LABEL
    count = 1
    while label in taken:
        label = "default-site" if count == 1 else f"default-site-{count}"
        count += 1
    return [url if url else label for url in content_urls]


def export_deployment(server: str, flavor: str, schedules: Sequence[Schedule], sites: Sequence[tuple[str, LiveState]],
                      when: str = "", version: str = "") -> dict[str, str]:
    """A deployment folder describing ``sites``: relative path → file text.

    ``deployment.yaml`` holds the server, the flavor and every schedule a site's tasks use: on Server the
    server schedules (from ``schedules``, completed by the sites' own reads), those whose details Tableau did
    not report (not read, or "Customized Monthly") under ``referenced_schedules:``; on Cloud one template per
    distinct recurrence of all the sites. ``sites/LABEL.yaml`` holds each site as ``export_yaml`` writes it,
    without ``server:``, ``flavor:`` and ``schedules:``, which the deployment file holds. A label given as ""
    is the one ``site_labels`` gives the site. Loading the folder gives each site the state its own export gives.
    """
    labels = [label or fallback for (label, _), fallback in
              zip(sites, site_labels([live.site for _, live in sites]), strict=True)]
    if len(set(labels)) != len(labels):
        raise ValueError(f"two sites have the same label: {labels}")
    cloud = flavor == "cloud"
    deployment: dict[str, Any] = {"version": 1, "server": server, "flavor": flavor}
    templates: dict[Recurrence, str] | None = None
    if cloud:
        recurrences = sorted({t.recurrence for _, live in sites for t in live.tasks
                              if t.recurrence is not None and not t.recurrence.days_unknown},
                             key=lambda r: (r.describe(), repr(r)))
        templates = _template_names(recurrences)
        if templates:
            deployment["schedules"] = {name: recurrence.to_dict()
                                       for recurrence, name in sorted(templates.items(), key=lambda x: x[1])}
    else:
        pool = {s.name: s for s in schedules}
        for _, live in sites:
            for schedule in live.schedules:
                known = pool.get(schedule.name)
                if known is None or (schedule.detailed and not known.detailed):
                    pool[schedule.name] = schedule
        used = {t.schedule for _, live in sites for t in live.tasks if t.schedule}
        chosen = sorted((pool[name] for name in used if name in pool), key=lambda s: s.name)
        managed = {s.name: _schedule_entry(s) for s in chosen if s.detailed and not s.recurrence.days_unknown}
        referenced = [s.name for s in chosen if s.name not in managed]
        if managed:
            deployment["schedules"] = managed
        if referenced:
            deployment["referenced_schedules"] = referenced
    header = [
        DEPLOYMENT_SCHEMA_HINT,
        f"# Exported by reconciler {version} from {server} ({flavor}), {when}: {len(sites)} "
        f"site{'s' if len(sites) != 1 else ''} under sites/.".replace("  ", " "),
        "# Review it, commit it, then `reconciler plan` on this folder should report no changes.",
    ]
    if "referenced_schedules" in deployment:
        header.append("# referenced_schedules: lists schedules whose details Tableau does not report (such as "
                      "monthly ones made in its web UI); reconciler uses them and never changes them.")
    files = {"deployment.yaml": "\n".join(header) + "\n" + _dump(deployment)}
    for label, (_, live) in zip(labels, sites, strict=True):
        doc = export_document(live, templates=templates)
        for key in ("server", "flavor", "schedules", "referenced_schedules"):
            doc.pop(key, None)
        site_header = [
            SCHEMA_HINT,
            f"# Exported by reconciler {version} from {site_label(live.site)} on {server} ({flavor}), "
            f"{when}.".replace("  ", " "),
            "# Its server, flavor and schedules are in ../deployment.yaml.",
            *(line for line in _notes(live) if not line.startswith("# referenced_schedules:")),
        ]
        files[f"sites/{label}.yaml"] = "\n".join(site_header) + "\n" + _dump(doc)
    return files
