"""``find_deployment`` and ``load_deployment``: a deployment folder → one checked configuration per site.

A deployment folder holds ``deployment.yaml`` (the server, its flavor, the schedules every site uses, the
server-level policy) and ``sites/``, whose every direct child, a folder of files or one file, is one site. Each
site is loaded with the single-site machinery (parse, schema, build, merge, platform rules), with the schedules
of the whole deployment in scope: a site's tasks name the deployment's schedules without restating them, and a
site file that restates one differently is an error naming both places. All problems of every site are raised
together as one DesiredStateInvalid.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from reconciler.desired.build import Fragment, build_fragment
from reconciler.desired.interpolate import interpolator
from reconciler.desired.loader import _display, _for_flavor, collect_files, folder_name
from reconciler.desired.rules import FLAVORS, merge, platform_problems
from reconciler.desired.schema import DEPLOYMENT_SCHEMA_FILE, check_schema
from reconciler.desired.yamlpos import StringHook, parse_file
from reconciler.errors import DesiredStateInvalid, Problem, UsageError
from reconciler.gcpause import gc_paused
from reconciler.hints import did_you_mean, suggest
from reconciler.model import Deployment, DesiredState, Policy, Schedule, ScheduleRef, SiteFiles, Source

__all__ = ["DEPLOYMENT_FILES", "SITES_FOLDER", "enclosing_deployment", "find_deployment", "load_deployment"]

#: The server-level file's names: a directory holding one of them (or that file given itself) is a deployment.
DEPLOYMENT_FILES = ("deployment.yaml", "deployment.yml")
#: The folder of a deployment holding one file or folder per site.
SITES_FOLDER = "sites"
_SUFFIXES = (".yaml", ".yml")
#: Keys of a site file that have no place in deployment.yaml, and where they go instead.
_SITE_ONLY = {
    "site": "each site says its contentUrl in its own files under sites/ (site: finance, or site: \"\" for the "
            "Default site)",
    "extracts": "a site's data sources, workbooks and their refresh tasks go in that site's files under sites/",
    "encryption": "extract encryption is a setting of each site: set encryption: in the site's files under sites/",
}


def find_deployment(paths: Sequence[str | Path]) -> Path | None:
    """The deployment folder when ``paths`` is one directory holding ``deployment.yaml`` (or that file itself).

    None otherwise: the paths are a single-site configuration, read by ``load_desired`` as before. A deployment
    named with other paths is refused (UsageError): a deployment is given alone, its sites come from ``sites/``.
    """
    roots = [(Path(p), _root_of(Path(p))) for p in paths]
    found = [(given, root) for given, root in roots if root is not None]
    if not found:
        return None
    if len(paths) > 1:
        given, root = found[0]
        what = (f"{folder_name(given)} is a deployment folder (it holds {_server_file_name(root)})"
                if given.is_dir() else f"{_display(given)} is the server file of the deployment {folder_name(root)}")
        raise UsageError(f"{what}, given with other paths; a deployment is given alone: name only its folder "
                         f"({folder_name(root)}), which reads every site under its sites/ folder (--site picks "
                         "some), or name one site's files without the deployment.")
    return found[0][1]


def _server_file_name(root: Path) -> str:
    return next((name for name in DEPLOYMENT_FILES if (root / name).is_file()), DEPLOYMENT_FILES[0])


def enclosing_deployment(paths: Sequence[str | Path]) -> tuple[Path, str] | None:
    """(deployment folder, site label) when the first of ``paths`` is a site (or inside one) of a deployment."""
    if not paths:
        return None
    path = Path(paths[0]).absolute()
    for parent in path.parents:
        if parent.name == SITES_FOLDER and _root_of(parent.parent) is not None:
            entry = path.relative_to(parent).parts[0]
            return parent.parent, Path(entry).stem if Path(entry).suffix.lower() in _SUFFIXES else entry
    return None


def _root_of(path: Path) -> Path | None:
    if path.is_dir():
        return path if any((path / name).is_file() for name in DEPLOYMENT_FILES) else None
    if path.is_file() and path.name in DEPLOYMENT_FILES:
        return path.parent
    return None


def load_deployment(root: Path, flavor: str | None = None, env: Mapping[str, str] | None = None,
                    sites: Sequence[str] = ()) -> Deployment:
    """Load and check a whole deployment folder: ``deployment.yaml`` and every site under ``sites/``.

    Every site is loaded and checked (the schedules are the deployment's, so every site's files take part),
    then ``sites`` (labels or contentUrls, as given to ``--site``) picks the ones returned; an unknown one is a
    UsageError listing the sites. ``flavor`` overrides the files' ``flavor:``; when either is known each site's
    state is checked against the platform rules and made for that flavor (``for_flavor``: on Cloud the tasks
    carry their template's recurrence). ``env`` supplies ``${VAR}`` values. Raises DesiredStateInvalid with every
    problem of every file.
    """
    if flavor is not None and flavor not in FLAVORS:
        raise DesiredStateInvalid([Problem(None, f"the flavor must be server or cloud, not {flavor!r}.")])
    with gc_paused():
        return _Loader(Path(root), flavor, os.environ if env is None else env).load(tuple(sites))


@dataclass
class _Site:
    label: str
    entry: Path
    fragments: list[Fragment] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


class _Loader:
    def __init__(self, root: Path, flavor: str | None, env: Mapping[str, str]) -> None:
        self.root = root
        self.flavor = flavor
        self.hook: StringHook = interpolator(env)
        self.problems: list[Problem] = []
        self.notes: list[str] = []

    def load(self, wanted: tuple[str, ...]) -> Deployment:
        server_file = self.server_file()
        base = self.read_server_file(server_file) if server_file is not None else Fragment(DEPLOYMENT_FILES[0])
        sites = [self.read_site(label, entry) for label, entry in self.site_entries(server_file)]
        flavor = self.flavor or _value(base, "flavor")
        schedules = self.schedules(base, sites, flavor)
        referenced = _referenced(base, sites)
        shared = Fragment(base.name, schedules=schedules, referenced=referenced,
                          declared=set().union(base.declared, *(f.declared for s in sites for f in s.fragments)),
                          places={k: v for f in [base, *(f for s in sites for f in s.fragments)]
                                  for k, v in f.places.items()})
        for key in ("server", "flavor"):
            if key in base.settings:
                shared.settings[key] = base.settings[key]
        loaded = [(site, self.site_state(site, base, shared, flavor)) for site in sites]
        self.check_site_urls(loaded)
        problems = list(dict.fromkeys(self.problems))  # a rule on the shared schedules is broken once, not per site
        if problems:
            raise DesiredStateInvalid(problems)
        chosen = _choose([(site.label, desired) for site, desired in loaded], wanted, folder_name(self.root))
        prune, max_deletes = _value(base, "policy.prune"), _value(base, "policy.max_deletes")
        return Deployment(
            root=folder_name(self.root), server=_value(base, "server"), flavor=flavor,
            schedules=tuple(schedules), referenced_schedules=tuple(referenced),
            policy=Policy(prune=bool(prune), max_deletes=50 if max_deletes is None else int(max_deletes)),
            sites=tuple(SiteFiles(label, desired) for label, desired in chosen),
            files=(base.name, *(name for site in sites for name in site.files)), notes=tuple(self.notes))

    # --- the files ------------------------------------------------------------------------------------------
    def server_file(self) -> Path | None:
        present = [self.root / name for name in DEPLOYMENT_FILES if (self.root / name).is_file()]
        if not present:
            self.problems.append(Problem(None, f"{folder_name(self.root)}: no deployment.yaml here; a deployment "
                                               "folder holds deployment.yaml and a sites/ folder."))
            return None
        if len(present) > 1:
            self.problems.append(Problem(Source(_display(present[1]), 1, 1),
                                         f"{_display(present[0])} and this file are both the deployment's server "
                                         "file; keep one of them."))
        return present[0]

    def read_server_file(self, path: Path) -> Fragment:
        name = _display(path)
        parsed, found = parse_file(path, name, self.hook)
        self.problems.extend(found)
        if parsed is None:
            return Fragment(name)
        errors = check_schema(parsed.data, parsed.locator, DEPLOYMENT_SCHEMA_FILE)
        for at, problem in errors:
            key = at[0] if len(at) == 1 else None
            if isinstance(key, str) and key in _SITE_ONLY:
                problem = Problem(problem.source, f"{key}: does not belong in {path.name}: {_SITE_ONLY[key]}.")
            self.problems.append(problem)
        fragment = build_fragment(parsed, [at for at, _ in errors])
        self.problems.extend(fragment.problems)
        fragment.problems = []
        return fragment

    def site_entries(self, server_file: Path | None) -> list[tuple[str, Path]]:
        where = Source(_display(server_file), 1, 1) if server_file is not None else None
        for entry in sorted(self.root.iterdir()) if self.root.is_dir() else ():
            if entry.is_file() and entry.suffix.lower() in _SUFFIXES and entry.name not in DEPLOYMENT_FILES \
                    and not entry.name.startswith("."):
                self.notes.append(f"{_display(entry)} was not read: a deployment reads deployment.yaml and the "
                                  f"sites under {SITES_FOLDER}/; move it into a site's folder if it is one.")
        folder = self.root / SITES_FOLDER
        if not folder.is_dir():
            self.problems.append(Problem(where, f"this deployment has no {SITES_FOLDER}/ folder: add one file "
                                                f"({SITES_FOLDER}/LABEL.yaml) or folder ({SITES_FOLDER}/LABEL/) per "
                                                "site, each saying site: (the site's contentUrl)."))
            return []
        entries: list[tuple[str, Path]] = []
        seen: dict[str, Path] = {}
        for entry in sorted(folder.iterdir()):
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                label = entry.name
            elif entry.is_file() and entry.suffix.lower() in _SUFFIXES:
                label = entry.stem
            elif entry.is_symlink() and not entry.exists():
                self.notes.append(f"{_display(entry)} is a broken symlink (it points at {os.readlink(entry)}); it "
                                  "was not read.")
                continue
            else:
                continue  # a README.md beside the sites
            if label in seen:
                self.problems.append(Problem(Source(_display(entry), 1, 1),
                                             f'this and {_display(seen[label])} are both the site "{label}"; '
                                             "keep one of them (a site is one file or one folder)."))
                continue
            seen[label] = entry
            entries.append((label, entry))
        if not entries:
            self.problems.append(Problem(where, f"this deployment has no sites: {_display(folder)} holds no site; "
                                                f"add one file ({SITES_FOLDER}/LABEL.yaml) or folder "
                                                f"({SITES_FOLDER}/LABEL/) per site."))
        return entries

    def read_site(self, label: str, entry: Path) -> _Site:
        site = _Site(label, entry)
        for path, name in collect_files([entry], self.problems, self.notes):
            parsed, found = parse_file(path, name, self.hook)
            self.problems.extend(found)
            if parsed is None:
                continue
            errors = check_schema(parsed.data, parsed.locator)
            self.problems.extend(problem for _, problem in errors)
            site.fragments.append(build_fragment(parsed, [at for at, _ in errors]))
            site.files.append(name)
        return site

    # --- the rules across the deployment -----------------------------------------------------------------------
    def schedules(self, base: Fragment, sites: list[_Site], flavor: str | None) -> list[Schedule]:
        """Every schedule of the deployment, sorted by name; a site restating one differently is a problem."""
        owners: dict[str, Schedule] = {s.name: s for s in base.schedules}
        what = "a schedule template of the deployment" if flavor == "cloud" else "a server schedule"
        for site in sites:
            in_site: dict[str, Schedule] = {}
            for fragment in site.fragments:
                for schedule in fragment.schedules:
                    twin = in_site.setdefault(schedule.name, schedule)
                    if twin is not schedule:
                        self.problems.append(Problem(schedule.source, f'the schedule "{schedule.name}" is declared '
                                                                      f"twice: here and at {twin.source}; keep one "
                                                                      "of them."))
                        continue
                    other = owners.setdefault(schedule.name, schedule)
                    if other is not schedule and other != schedule:
                        self.problems.append(Problem(schedule.source, f'schedule "{schedule.name}" differs from '
                                                     f"{other.source} ({_differences(schedule, other)}); {what} is "
                                                     "defined once: remove it here to use that one (site files "
                                                     "name the deployment's schedules without restating them), or "
                                                     "make the two the same."))
        return sorted(owners.values(), key=lambda s: s.name)

    def site_state(self, site: _Site, base: Fragment, shared: Fragment, flavor: str | None) -> DesiredState:
        problems: list[Problem] = []
        fragments = [shared]
        for fragment in site.fragments:
            settings = dict(fragment.settings)
            for key in ("server", "flavor"):
                mine = settings.pop(key, None)
                theirs = base.settings.get(key)
                if mine is None or (theirs is not None and theirs.value == mine.value):
                    continue
                there = (f"{_show(theirs.value)} in {theirs.source}" if theirs is not None
                         else f"nothing in {base.name} (which should say it, once for every site)")
                problems.append(Problem(mine.source, f"{key}: is {_show(mine.value)} here but {there}; a site of "
                                                     f"a deployment has the deployment's {key}: leave {key}: out of "
                                                     f"the site's files, or make it the same as {base.name}'s."))
            fragments.append(replace(fragment, settings=settings, schedules=[], referenced=[], declared=set(),
                                     places={}))
        desired, places = merge(fragments, problems, declared_in=base.name)
        desired = replace(desired, files=tuple(site.files))
        if flavor is not None:
            desired = desired.with_flavor(flavor)
        if desired.site is None and site.fragments:
            first = Source(site.files[0], 1, 1)
            problems.append(Problem(first, f'the site "{site.label}" does not say which site it is: add site: with '
                                           f'its contentUrl (site: {json.dumps(site.label)}, or site: "" for the '
                                           "Default site) to one of its files."))
        if problems:
            if desired.flavor is not None:
                problems.extend(platform_problems(desired, desired.flavor, places))
            self.problems.extend(problems)
            return desired
        if desired.flavor is not None:
            try:
                desired = _for_flavor(desired, desired.flavor, places)
            except DesiredStateInvalid as error:
                self.problems.extend(error.problems)
        return desired

    def check_site_urls(self, loaded: list[tuple[_Site, DesiredState]]) -> None:
        first: dict[str, Source | None] = {}
        for site, desired in loaded:
            if desired.site is None:
                continue
            where = next((f.settings["site"].source for f in site.fragments if "site" in f.settings), None)
            if desired.site in first:
                self.problems.append(Problem(where, f"site: {json.dumps(desired.site)} is also the site at "
                                                    f"{first[desired.site]}; each site of a deployment is one file "
                                                    "or folder under sites/: merge the two, or fix site:."))
            else:
                first[desired.site] = where


def _value(fragment: Fragment, key: str) -> Any:
    setting = fragment.settings.get(key)
    return None if setting is None else setting.value


def _referenced(base: Fragment, sites: list[_Site]) -> list[ScheduleRef]:
    found: dict[str, ScheduleRef] = {}
    for ref in [*base.referenced, *(r for s in sites for f in s.fragments for r in f.referenced)]:
        found.setdefault(ref.name, ref)
    return sorted(found.values(), key=lambda r: r.name)


def _show(value: object) -> str:
    if value is None:
        return "not set"
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, bool) else str(value).lower()


def _differences(here: Schedule, there: Schedule) -> str:
    mine, theirs = here.to_dict(), there.to_dict()
    keys = [*mine, *(k for k in theirs if k not in mine)]
    shown = [f"{key} {_show(mine.get(key))} vs {_show(theirs.get(key))}"
             for key in keys if mine.get(key) != theirs.get(key)]
    return ", ".join(shown)


def _choose(sites: list[tuple[str, DesiredState]], wanted: tuple[str, ...],
            root: str) -> list[tuple[str, DesiredState]]:
    """The sites ``wanted`` names (by label or contentUrl), in the deployment's order; all when none."""
    if not wanted:
        return sites
    known = [label for label, _ in sites]
    for name in wanted:
        if not any(name in (label, desired.site) for label, desired in sites):
            pool = known + [d.site for _, d in sites if d.site]
            raise UsageError(f"--site {json.dumps(name)} is not a site of the deployment {root}: its sites are "
                             f"{', '.join(known)} (a label is the file or folder name under sites/; a site's "
                             f"contentUrl works too).{did_you_mean(suggest(name, pool), name, 'you typed')}")
    return [(label, desired) for label, desired in sites if label in wanted or desired.site in wanted]
