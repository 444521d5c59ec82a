"""``reconciler drift``: a read-only report of where the site has wandered from the files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from reconciler.commands.deployment import drift_deployment
from reconciler.commands.files import atomic_write, check_output_path, created_note
from reconciler.commands.history import DEFAULT_HISTORY_DAYS, read_health
from reconciler.commands.options import ConnectionOptions
from reconciler.commands.output import Output
from reconciler.commands.plan import read_and_plan
from reconciler.commands.settings import resolve_settings
from reconciler.desired import find_deployment, load_desired
from reconciler.errors import UsageError
from reconciler.gcpause import gc_paused
from reconciler.plan import make_drift
from reconciler.report import render_drift_json, render_drift_junit, render_drift_markdown, render_drift_text
from reconciler.tableau.connect import connect

FORMATS = ("text", "json", "markdown", "junit")


def drift(paths: Sequence[Path], options: ConnectionOptions, *, fmt: str = "text",
          output_file: Path | None = None, fail_on_unhealthy: bool = False,
          history_days: int = DEFAULT_HISTORY_DAYS) -> int:
    """Exit 0 in sync, 2 drift, 1 error: the same in every format (``DriftReport.drifted``)."""
    # A 100,000-task site is millions of objects and almost no reference cycles: the collector's passes
    # over them cost seconds and free next to nothing (docs/benchmarks.md).
    with gc_paused():
        return _drift(paths, options, fmt=fmt, output_file=output_file, fail_on_unhealthy=fail_on_unhealthy,
                      history_days=history_days)


def _drift(paths: Sequence[Path], options: ConnectionOptions, *, fmt: str = "text",
           output_file: Path | None = None, fail_on_unhealthy: bool = False,
           history_days: int = DEFAULT_HISTORY_DAYS) -> int:
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}.")
    if output_file is not None:
        check_output_path(output_file, "--output", create=True)
    root = find_deployment(paths)
    if root is not None:
        return drift_deployment(root, options, fmt=fmt, output_file=output_file, fail_on_unhealthy=fail_on_unhealthy,
                                history_days=history_days)
    output = Output(options.quiet)
    desired = load_desired(paths)
    with connect(resolve_settings(options, desired, warn=output.warn), warn=output.warn) as conn:
        # Not strict: a difference Tableau's REST API cannot reconcile is still drift, reported with why.
        # Details only of the declared schedules: the others are described from the list (so a task on
        # an undeclared schedule gets no staleness verdict: its recurrence is not known).
        made = read_and_plan(conn, desired, output, strict=False)
        health = read_health(conn, made.live, history_days, output)
    report = make_drift(made, health, unhealthy_fails=fail_on_unhealthy)
    if fmt == "json":
        text = render_drift_json(report)
    elif fmt == "markdown":
        text = render_drift_markdown(report)
    elif fmt == "junit":
        text = render_drift_junit(report)
    else:
        text = render_drift_text(report, color=output.color and output_file is None)
    if output_file is not None:
        created = atomic_write(output_file, text if text.endswith("\n") else text + "\n")
        output.note(f"Wrote the drift report to {output_file}{created_note(created)}.")
        if fmt != "text":
            output.result(render_drift_text(report, color=output.color))
    else:
        output.result(text)
    return 2 if report.drifted else 0
