"""``load_desired`` and ``for_flavor``: files → a checked, normalised, merged DesiredState.

Stages, each collecting every problem it finds: read and parse each file (YAML with positions),
check each against the JSON Schema, build model values with the one-file rules, merge the files
with the cross-file rules, then (when the flavor is known) the platform rules. All problems of a
run are raised together as one DesiredStateInvalid.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from reconciler.desired.build import build_fragment
from reconciler.desired.interpolate import interpolator
from reconciler.desired.rules import FLAVORS, Places, inline_templates, merge, platform_problems
from reconciler.desired.schema import check_schema
from reconciler.desired.yamlpos import ParsedFile, parse_file
from reconciler.errors import DesiredStateInvalid, Problem
from reconciler.gcpause import gc_paused
from reconciler.model import DesiredState, Source

__all__ = ["collect_files", "folder_name", "for_flavor", "load_desired"]

_SUFFIXES = (".yaml", ".yml")


def load_desired(paths: Sequence[str | Path], flavor: str | None = None,
                 env: Mapping[str, str] | None = None) -> DesiredState:
    """Load, check and merge desired-state files (or directories of them, recursively, sorted).

    ``flavor`` (server or cloud) overrides the files' ``flavor:``; when either is known, the
    platform rules are checked too (see ``for_flavor``). ``env`` (default: the process
    environment) supplies ``${VAR}`` values. Raises DesiredStateInvalid with every problem found.
    """
    if flavor is not None and flavor not in FLAVORS:
        raise DesiredStateInvalid([Problem(None, f"the flavor must be server or cloud, not {flavor!r}.")])
    with gc_paused():
        return _load(paths, flavor, env)


def _load(paths: Sequence[str | Path], flavor: str | None, env: Mapping[str, str] | None) -> DesiredState:
    problems: list[Problem] = []
    notes: list[str] = []
    files = collect_files(paths, problems, notes)
    hook = interpolator(os.environ if env is None else env)
    parsed: list[ParsedFile] = []
    for path, name in files:
        result, found = parse_file(path, name, hook)
        problems.extend(found)
        if result is not None:
            parsed.append(result)
    fragments = []
    for file in parsed:
        errors = check_schema(file.data, file.locator)
        problems.extend(problem for _, problem in errors)
        fragments.append(build_fragment(file, [path for path, _ in errors]))
    desired, places = merge(fragments, problems)
    if flavor is not None:
        desired = desired.with_flavor(flavor)
    if problems:
        if desired.flavor is not None:  # the platform rules too, on what could be read, so all come at once
            problems.extend(platform_problems(desired, desired.flavor, places))
        problems.extend(_part_of_deployment(paths))
        raise DesiredStateInvalid(problems)
    if desired.flavor is not None:
        desired = _for_flavor(desired, desired.flavor, places)
    return replace(desired, notes=tuple(notes)) if notes else desired


def _part_of_deployment(paths: Sequence[str | Path]) -> list[Problem]:
    """A site's files read alone miss the deployment's schedules: say how to read them with it."""
    from reconciler.desired.deployment import enclosing_deployment

    found = enclosing_deployment(paths)
    if found is None:
        return []
    root, label = found
    shown = folder_name(root)
    return [Problem(None, f"{_display(Path(paths[0]))} is part of the deployment {shown} (its site \"{label}\"), "
                          f"whose schedules are declared in {shown}deployment.yaml: give the deployment folder "
                          f"instead, as in `reconciler validate {shown} --site {label}`.")]


def for_flavor(desired: DesiredState, flavor: str) -> DesiredState:
    """Check the platform rules of ``flavor`` (server or cloud) and return the state for it.

    On Cloud, every task naming a schedule template gets the template's recurrence (``schedule``
    stays as its label); on Server, tasks name their schedule and carry no recurrence. Raises
    DesiredStateInvalid, e.g. for an inline recurrence on Server or ``priority:`` on Cloud.
    """
    return _for_flavor(desired, flavor, None)


def _for_flavor(desired: DesiredState, flavor: str, places: Places | None) -> DesiredState:
    problems = platform_problems(desired, flavor, places)
    if problems:
        raise DesiredStateInvalid(problems)
    desired = desired.with_flavor(flavor)
    if flavor == "cloud":
        desired, problems = inline_templates(desired)
        if problems:
            raise DesiredStateInvalid(problems)
        return desired
    return _server_tasks(desired)


def _server_tasks(desired: DesiredState) -> DesiredState:
    if not any(t.schedule is not None and t.recurrence is not None for e in desired.extracts for t in e.refresh or ()):
        return desired
    extracts = tuple(
        replace(e, refresh=tuple(replace(t, recurrence=None) if t.schedule is not None else t for t in e.refresh))
        if e.refresh else e
        for e in desired.extracts)
    return replace(desired, extracts=extracts)


def collect_files(paths: Sequence[str | Path], problems: list[Problem],
                  notes: list[str] | None = None) -> list[tuple[Path, str]]:
    """The files to read, as (path, name for messages), in order; missing paths become problems.

    Directories are walked recursively and sorted, following symlinked directories (a layout whose projects
    folder is a symlink must not read as empty, which would plan to prune every task) but refusing a loop;
    hidden directories (``.git/``, ``.github/``) are skipped; a broken symlink is a note (a warning).
    """
    notes = [] if notes is None else notes
    out: list[tuple[Path, str]] = []
    seen: set[Path] = set()
    if not paths:
        problems.append(Problem(None, "no files given: name YAML files or directories of them."))
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = _walk(path, problems, notes)
            if not found:
                problems.append(Problem(Source(_display(path), 1, 1),
                                        "this directory holds no *.yaml or *.yml files."))
            candidates = found
        elif path.is_file():
            candidates = [path]
        elif path.is_symlink():
            problems.append(Problem(None, f"{_display(path)}: a broken symlink (it points at "
                                          f"{os.readlink(path)}, which does not exist)."))
            continue
        else:
            problems.append(Problem(None, f"{_display(path)}: no such file or directory."))
            continue
        for candidate in candidates:
            key = candidate.resolve()
            if key not in seen:
                seen.add(key)
                out.append((candidate, _display(candidate)))
    return out


def _walk(root: Path, problems: list[Problem], notes: list[str]) -> list[Path]:
    """Every *.yaml/*.yml under ``root``, sorted, through symlinked directories, without hidden ones."""
    found: list[Path] = []
    ancestors: list[Path] = []

    def visit(directory: Path) -> None:
        real = directory.resolve()
        if real in ancestors:
            problems.append(Problem(Source(_display(directory), 1, 1),
                                    f"a symlink loop: this directory leads back to {_display(real)}; remove the "
                                    "link or name the files to read."))
            return
        ancestors.append(real)
        try:
            entries = sorted(directory.iterdir())
        except OSError as error:
            problems.append(Problem(Source(_display(directory), 1, 1),
                                    f"cannot list this directory: {error.strerror or error}."))
            entries = []
        for entry in entries:
            if entry.is_dir():
                if entry.name.startswith("."):
                    continue  # .git/, .github/: never configuration
                visit(entry)
            elif entry.is_file():
                if entry.suffix.lower() in _SUFFIXES:
                    found.append(entry)
            elif entry.is_symlink():
                notes.append(f"{_display(entry)} is a broken symlink (it points at {os.readlink(entry)}); "
                             "it was not read.")
        ancestors.pop()

    visit(root)
    return found


def folder_name(path: Path) -> str:
    """A directory as messages show it: ``deploy/``, ``./`` for the current one."""
    shown = _display(path)
    return shown if shown.endswith("/") else shown + "/"


def _display(path: Path) -> str:
    """The path as the user gave it, or relative to the current directory when it is inside it."""
    if path.is_absolute():
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)
    return str(path)
