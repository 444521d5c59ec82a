"""The ``reconciler`` command line: parse options, call one function per command, map errors to exit codes.

No logic lives here. Each command body calls ``reconciler.commands.<name>`` which returns the exit
code. Exit codes follow terraform: 0 success and nothing to do, 1 error (usage errors included), 2
success with changes.
"""

from __future__ import annotations

import functools
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from reconciler.commands.options import ConnectionOptions
from reconciler.errors import ReconcilerError, UsageError

app = typer.Typer(
    name="reconciler",
    help=(
        "Schedule-as-code for Tableau: describe extract refresh tasks, schedules and extract "
        "encryption in YAML, then plan, apply and check drift against Tableau Server or Tableau Cloud.\n\n"
        "Start with `reconciler demo` to see the whole workflow against a built-in emulator. Shell completion "
        "for bash, zsh or fish: run `reconciler --install-completion` in that shell."
    ),
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
emulator_app = typer.Typer(help="The built-in Tableau emulator (a fake Tableau Server / Cloud for tests and demos).",
                           no_args_is_help=True)
app.add_typer(emulator_app, name="emulator")

_state: dict[str, bool] = {"debug": False}


def _print_version(value: bool) -> None:
    if value:
        from reconciler.commands.about import version_text

        print(version_text())
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_print_version,
                                          help="Print the versions of reconciler, tableauserverclient and Python, "
                                               "for a bug report.")] = False,
) -> None:
    # The app's help (typer.Typer(help=...)) describes the tool; this callback only adds --version.
    return None

Paths = Annotated[list[Path], typer.Argument(help="YAML files or directories (all *.yaml/*.yml inside, recursively).",
                                             show_default=False)]
Server = Annotated[str | None, typer.Option("--server", envvar="TABLEAU_SERVER",
                                               help="Tableau URL [env TABLEAU_SERVER; else the file's server:].")]
Site = Annotated[str | None, typer.Option("--site", envvar="TABLEAU_SITE",
                                             help="Site contentUrl; \"\" is the Default site [env TABLEAU_SITE; "
                                                  "else the file's site:]. With a deployment folder: the sites to "
                                                  "work on, by label or contentUrl, comma-separated.")]
ApiVersion = Annotated[str | None, typer.Option("--api-version",
                                                   help="Pin the REST API version (default: ask the server).")]
CaBundle = Annotated[Path | None, typer.Option("--ca-bundle",
                                                  help="PEM file of CAs to trust for a private TLS certificate.")]
Insecure = Annotated[bool, typer.Option("--insecure", help="Do not verify TLS certificates (dangerous; warns).")]
Debug = Annotated[bool, typer.Option("--debug", help="Show tracebacks and an HTTP trace (secrets redacted).")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors and the essential result.")]
MoveStrategy = Annotated[str, typer.Option(
    "--server-move-strategy",
    help="How a Tableau Server task changes schedule: rest (add to the new schedule, then delete the old task; "
         "makes a full refresh, so incremental tasks are refused) or vizportal (in place with Tableau's "
         "undocumented web API, keeping the task's type and history; username and password only).")]


def _connection(server: str | None, site: str | None, api_version: str | None, ca_bundle: Path | None,
                insecure: bool, debug: bool, quiet: bool) -> ConnectionOptions:
    _state["debug"] = debug
    return ConnectionOptions(server=server, site=site, api_version=api_version, ca_bundle=ca_bundle,
                             insecure=insecure, debug=debug, quiet=quiet)


@app.command()
def validate(
    paths: Paths,
    flavor: Annotated[str | None, typer.Option("--flavor", help="server or cloud: overrides the files' flavor:.")] = None,  # noqa: E501
    each: Annotated[bool, typer.Option("--each", help="Validate every PATH as a configuration of its own "
                                       "(several sites side by side), instead of merging them all.")] = False,
    config: Annotated[list[Path] | None, typer.Option(
        "--config", help="A directory (or file) plan reads as one configuration (repeatable). Each one that holds "
                         "a PATH is validated whole; for pre-commit, which passes only the changed files.")] = None,
    site: Annotated[list[str] | None, typer.Option(
        "--site", help="With a deployment folder: check every site, but report only this one (its label under "
                       "sites/, or its contentUrl; repeatable).")] = None,
    debug: Debug = False,
    quiet: Quiet = False,
) -> None:
    """Check files offline: YAML syntax, the JSON Schema, and Tableau's rules. Never touches the network.

    All PATHs form one configuration (one site) unless --each: `reconciler validate --each sites/*`.
    A deployment folder (deployment.yaml and a sites/ folder) is checked whole, with a line per site:
    `reconciler validate deploy/`.
    With --config, each configuration holding a changed PATH is validated whole:
    `reconciler validate --config tableau/ tableau/sales.yaml`.
    """
    _state["debug"] = debug
    from reconciler.commands.validate import validate as run

    raise typer.Exit(run(paths, flavor=flavor, quiet=quiet, each=each, configs=config or (), sites=site or ()))


@app.command()
def plan(
    paths: Paths,
    out: Annotated[Path | None, typer.Option("--out", help="Save the plan as JSON, to apply later.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="text, json or markdown.")] = "text",
    detailed_exitcode: Annotated[bool, typer.Option("--detailed-exitcode",
                                                    help="Exit 2 when there are changes, 0 when none.")] = False,
    target: Annotated[list[str] | None, typer.Option("--target", help="Limit to a schedule, item or project: "
                                                        "schedule:NAME, datasource:PATH, workbook:PATH, project:PATH.")] = None,  # noqa: E501
    server_move_strategy: MoveStrategy = "rest",
    server: Server = None, site: Site = None, api_version: ApiVersion = None, ca_bundle: CaBundle = None,
    insecure: Insecure = False, debug: Debug = False, quiet: Quiet = False,
) -> None:
    """Read the site and show what apply would change.

    Given a deployment folder (one holding deployment.yaml), every site of it in one run: the server
    schedules' changes once, then a section per site; --out saves one plan for every site. Exit 1 when
    a site could not be read or planned (its section says why; the others are still shown).

    On Tableau Server a plan that would create an incremental task, change a task's type, or move an
    incremental task through REST is refused: Tableau's REST API would silently make a full refresh.

    A server schedule is shared by every site. When the plan changes or prunes one, a server
    administrator's plan counts the tasks each other site has on it (one site at a time, with Switch
    Site) and names them: "for 37 tasks on 5 sites (finance 12, ...)". Prune deletes a schedule only
    when no site uses it; when the other sites cannot be counted, the plan says why and keeps it.

    Credentials come from the environment only: TABLEAU_PAT_NAME + TABLEAU_PAT_SECRET, or
    TABLEAU_USERNAME + TABLEAU_PASSWORD, or TABLEAU_JWT. A site may have its own: the same names
    followed by __ and its contentUrl upper-cased, other characters than A-Z and 0-9 as _
    (TABLEAU_PAT_NAME__FINANCE, TABLEAU_PAT_SECRET__SUPPLY_CHAIN; __DEFAULT for the Default site);
    without them the unsuffixed ones. Tableau keeps one session per personal access token, so
    sites that share a token are read one after another.

    Exit codes: 0 success (with --detailed-exitcode: no changes), 1 error, 2 changes (--detailed-exitcode).
    """
    options = _connection(server, site, api_version, ca_bundle, insecure, debug, quiet)
    from reconciler.commands.plan import plan as run

    raise typer.Exit(run(paths, options, out=out, fmt=fmt, detailed_exitcode=detailed_exitcode,
                         targets=target or (), move_strategy=server_move_strategy))


@app.command()
def apply(
    paths: Paths,
    auto_approve: Annotated[bool, typer.Option("--auto-approve", help="Do not ask for confirmation.")] = False,
    parallelism: Annotated[int, typer.Option("--parallelism", min=1, max=32,
                                             help="Independent actions run at once.")] = 4,
    journal: Annotated[Path | None, typer.Option("--journal", help="Record every action's outcome as JSON lines.")] = None,  # noqa: E501
    allow_mass_delete: Annotated[bool, typer.Option("--allow-mass-delete",
                                                    help="Allow more deletes than policy.max_deletes.")] = False,
    allow_overload: Annotated[bool, typer.Option("--allow-overload",
                                                 help="Allow more refresh starts in a 15-minute slot than "
                                                      "policy.load.max_starts_per_slot.")] = False,
    server_move_strategy: MoveStrategy = "rest",
    target: Annotated[list[str] | None, typer.Option(
        "--target", help="Apply only the changes to a schedule, item or project (as plan --target); not with a "
                         "saved plan.")] = None,
    expect_digest: Annotated[str | None, typer.Option(
        "--expect-digest", metavar="SHA256",
        help="Apply only if the plan's digest is this one: the \"Plan digest\" that `plan` printed for the "
             "plan that was reviewed. With files, the plan made now must be identical to it (refused if the files "
             "or the site changed since); with a saved plan, it must be that plan.")] = None,
    break_lock: Annotated[bool, typer.Option(
        "--break-lock", help="Remove the site's apply lock left by a run that was killed, then apply. Use only "
                             "when no other apply is running.")] = False,
    server: Server = None, site: Site = None, api_version: ApiVersion = None, ca_bundle: CaBundle = None,
    insecure: Insecure = False, debug: Debug = False, quiet: Quiet = False,
) -> None:
    """Make the site match the files, or execute a saved plan (a .json file from `plan --out`).

    Given a deployment folder (or its saved plan), every site's plan is shown and confirmed once; a saved
    plan is checked against every site before the first write; then the server schedules' creates and
    updates, each site, and the schedule deletes last (skipped when a site's changes failed).

    Shows the plan and asks `Apply N changes? [y/N]` unless --auto-approve. A saved plan is refused if
    the site changed since it was made, or edited (its digest no longer matches).

    In CI, apply what was reviewed: `reconciler apply tableau/ --auto-approve --expect-digest SHA256`, with the
    digest from the reviewed plan. Exit 0 when every change succeeded, 1 otherwise.

    Before the first change, apply takes the site's apply lock (it creates the top-level project
    "reconciler apply lock (do not use)" and deletes it at the end), then checks that no task
    changed since the plan. A second apply meanwhile stops: "Another apply is running on this site".
    Ctrl-C or SIGTERM lets the actions in flight finish, then prints "N of M applied" (exit 130 / 143).
    """
    options = _connection(server, site, api_version, ca_bundle, insecure, debug, quiet)
    from reconciler.commands.apply import apply as run

    raise typer.Exit(run(paths, options, auto_approve=auto_approve, parallelism=parallelism, journal=journal,
                         allow_mass_delete=allow_mass_delete, move_strategy=server_move_strategy,
                         targets=target or (), expect_digest=expect_digest, break_lock=break_lock,
                         allow_overload=allow_overload))


@app.command()
def drift(
    paths: Paths,
    fmt: Annotated[str, typer.Option("--format", help="text, json, markdown or junit.")] = "text",
    output: Annotated[Path | None, typer.Option(
        "--output", help="Write the report to a file (a missing directory is created, and said).")] = None,
    fail_on_unhealthy: Annotated[bool, typer.Option(
        "--fail-on-unhealthy", help="Count unhealthy findings (failing refreshes, suspended schedules, extracts "
                                    "without a task) as drift: exit 2 and junit failures.")] = False,
    history_days: Annotated[int, typer.Option("--history-days", help="Days of refresh jobs to read for health "
                                              "(failures, durations, stale extracts); 0 skips them.")] = 14,
    server: Server = None, site: Site = None, api_version: ApiVersion = None, ca_bundle: CaBundle = None,
    insecure: Insecure = False, debug: Debug = False, quiet: Quiet = False,
) -> None:
    """Report, read-only, where the site has wandered from the files. Exit 0 in sync, 2 drift, 1 error.

    Given a deployment folder, a section per site (JUnit: a test suite per site); exit 1 when a site
    could not be read, else 2 when any site drifted.

    Buckets: changed, missing, unmanaged, unhealthy; plus coverage (managed tasks / tasks in scope).
    Unhealthy uses the job history (Query Jobs, administrators only): failures in a row and over the
    window, last success, median and worst duration, stale extracts, refreshes near Cloud's 2-hour limit.
    --format markdown fits a pull-request comment; junit makes CI dashboards show drift as failed tests.
    The exit code is the same in every format: 2 when anything is changed, missing or unmanaged;
    unhealthy findings are reported (junit: skipped cases) and exit 0, unless --fail-on-unhealthy.
    """
    options = _connection(server, site, api_version, ca_bundle, insecure, debug, quiet)
    from reconciler.commands.drift import drift as run

    raise typer.Exit(run(paths, options, fmt=fmt, output_file=output, fail_on_unhealthy=fail_on_unhealthy,
                         history_days=history_days))


@app.command()
def load(
    paths: Annotated[list[Path] | None, typer.Argument(
        help="Desired-state files (optional: for the server, the site, policy.load and --suggest).",
        show_default=False)] = None,
    fmt: Annotated[str, typer.Option("--format", help="text (a heatmap) or json.")] = "text",
    output: Annotated[Path | None, typer.Option("--output", help="Also write a self-contained picture: "
                                                "FILE.html (a page) or FILE.svg.")] = None,
    suggest: Annotated[bool, typer.Option("--suggest", help="Print a patch to the files that staggers the "
                                          "busiest slots (moves refreshes to copies of their schedules 15-45 "
                                          "minutes later); nothing is changed.")] = False,
    history_days: Annotated[int, typer.Option("--history-days", help="Days of refresh jobs whose durations turn "
                                              "starts into busy time; 0 shows starts only.")] = 14,
    peaks: Annotated[int, typer.Option("--peaks", help="How many of the busiest slots to list.")] = 5,
    server: Server = None, site: Site = None, api_version: ApiVersion = None, ca_bundle: CaBundle = None,
    insecure: Insecure = False, debug: Debug = False, quiet: Quiet = False,
) -> None:
    """Show, read-only, when the site's extract refreshes start: a weekday x hour heatmap and the peak slots.

    Every task's schedule is expanded over a week of 15-minute slots. With the job history (Query
    Jobs, administrators only) the heatmap shows refreshes running at once (busy time), from each
    task's median duration. Examples: `reconciler load --output load.html`, `reconciler load
    site.yaml --suggest > stagger.patch`.
    """
    options = _connection(server, site, api_version, ca_bundle, insecure, debug, quiet)
    from reconciler.commands.load import load as run

    raise typer.Exit(run(paths or [], options, fmt=fmt, output_file=output, suggest=suggest,
                         history_days=history_days, peaks=peaks))


@app.command()
def export(
    project: Annotated[list[str] | None, typer.Option("--project", help="Only these projects (repeatable).")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", help="Write to a file instead of stdout (a missing directory is created, and said); with "
                         "--all-sites, the deployment folder to create.")] = None,
    all_sites: Annotated[bool, typer.Option(
        "--all-sites", help="Every site the signed-in server administrator sees, as a deployment folder "
                            "(deployment.yaml + sites/NAME.yaml) written to --output DIR; --site a,b picks some.")]
    = False,
    server: Server = None, site: Site = None, api_version: ApiVersion = None, ca_bundle: CaBundle = None,
    insecure: Insecure = False, debug: Debug = False, quiet: Quiet = False,
) -> None:
    """Write YAML describing the live site, to adopt an existing site into code.

    The output passes `validate`, and `plan` with it against the same site reports no changes.

    `--all-sites --output DIR` adopts a whole server: the server schedules once in DIR/deployment.yaml, each
    site in DIR/sites/. Each site signs in with its own credentials when the environment has them
    (TABLEAU_PAT_NAME__FINANCE ..., see docs/cli.md), else the shared ones.
    """
    options = _connection(server, site, api_version, ca_bundle, insecure, debug, quiet)
    if all_sites:
        from reconciler.commands.export import export_all_sites

        raise typer.Exit(export_all_sites(options, projects=project or (), output_dir=output))
    from reconciler.commands.export import export as run

    raise typer.Exit(run(options, projects=project or (), output_file=output))


@app.command()
def refresh(
    datasource: Annotated[list[str] | None, typer.Option("--datasource", help="project/name or LUID (repeatable).")] = None,  # noqa: E501
    workbook: Annotated[list[str] | None, typer.Option("--workbook", help="project/name or LUID (repeatable).")] = None,
    task: Annotated[list[str] | None, typer.Option("--task", help="Extract refresh task id (repeatable).")] = None,
    incremental: Annotated[bool, typer.Option("--incremental", help="Incremental instead of full refresh (REST API 3.25+: refused on older servers, where Tableau would run a full one).")] = False,  # noqa: E501
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Follow the jobs until they end.")] = True,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for the jobs.")] = 3600.0,
    fmt: Annotated[str, typer.Option("--format", help="text, or json for scripts.")] = "text",
    via: Annotated[str, typer.Option("--via", help="rest, or vizportal (Tableau Server, data sources, "
                                                   "username/password; unsupported by Tableau).")] = "rest",
    server: Server = None, site: Site = None, api_version: ApiVersion = None, ca_bundle: CaBundle = None,
    insecure: Insecure = False, debug: Debug = False, quiet: Quiet = False,
) -> None:
    """Refresh extracts now and follow the jobs; exit 0 only if every job succeeded.

    For a data pipeline's last step: `reconciler refresh --datasource Sales/Orders --timeout 1800`.
    An item whose refresh is already queued or running (Tableau's 409093) cannot be followed: Tableau does
    not say which job it is. Waiting, that item is reported "not checked" and the run exits 1; with
    --no-wait it is reported and the run exits 0 (nothing is followed then anyway).
    A job counts as done only when Tableau sets its completedAt: a Tableau Bridge refresh is followed
    while a Bridge client is merely assigned to it, and its real outcome decides the exit code.
    """
    options = _connection(server, site, api_version, ca_bundle, insecure, debug, quiet)
    from reconciler.commands.refresh import refresh as run

    raise typer.Exit(run(options, datasources=datasource or (), workbooks=workbook or (), tasks=task or (),
                         incremental=incremental, wait=wait, timeout=timeout, fmt=fmt, via=via))


@app.command()
def reencrypt(
    auto_approve: Annotated[bool, typer.Option("--auto-approve", help="Do not ask for confirmation.")] = False,
    server: Server = None, site: Site = None, api_version: ApiVersion = None, ca_bundle: CaBundle = None,
    insecure: Insecure = False, debug: Debug = False, quiet: Quiet = False,
) -> None:
    """Rotate the site's extract encryption keys (re-encrypts every encrypted extract).

    Says how many encrypted extracts it will touch and asks first (--auto-approve for CI).
    Tableau Server only, and for a server administrator (Tableau refuses anyone else): it says so
    before calling Tableau.
    """
    options = _connection(server, site, api_version, ca_bundle, insecure, debug, quiet)
    from reconciler.commands.reencrypt import reencrypt as run

    raise typer.Exit(run(options, auto_approve=auto_approve))


@app.command()
def demo(debug: Debug = False) -> None:
    """Run the whole workflow against an in-process emulator: plan, apply, re-plan, drift, refresh.

    Needs no server, no credentials and no network; takes well under a minute.
    """
    _state["debug"] = debug
    from reconciler.commands.demo import demo as run

    raise typer.Exit(run())


@app.command()
def schema(
    name: Annotated[str, typer.Argument(help="desired-state (the YAML files of a site), deployment (a deployment "
                                             "folder's deployment.yaml) or plan (plan --out, plan --format "
                                             "json).")] = "desired-state",
) -> None:
    """Print a JSON Schema shipped with this version: for editors, CI and policy checks.

    `reconciler schema > reconciler.schema.json` gives the schema matching the installed version; point
    yaml-language-server at it with `# yaml-language-server: $schema=reconciler.schema.json`.
    """
    from reconciler.commands.about import schema as run

    raise typer.Exit(run(name))


@emulator_app.command("serve")
def emulator_serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port; 0 picks a free one.")] = 8000,
    flavor: Annotated[str, typer.Option(help="server or cloud.")] = "server",
    seed: Annotated[str, typer.Option(help="demo, empty, synthetic, or multisite (six sites sharing the demo's "
                                      "server schedules).")] = "demo",
    sites: Annotated[int, typer.Option(min=1, help="synthetic: number of sites; the counts below are per site, "
                                       "the server schedules are shared.")] = 1,
    datasources: Annotated[int, typer.Option(min=0, help="synthetic: number of data sources.")] = 10000,
    workbooks: Annotated[int, typer.Option(min=0, help="synthetic: number of workbooks.")] = 5000,
    tasks: Annotated[int, typer.Option(min=0, help="synthetic: number of refresh tasks.")] = 20000,
    schedules: Annotated[int, typer.Option(min=0, help="synthetic: number of schedules.")] = 300,
    projects: Annotated[int, typer.Option(min=0, help="synthetic: number of projects.")] = 500,
    random_seed: Annotated[int, typer.Option(help="synthetic: seed of the generator.")] = 0,
    state: Annotated[Path | None, typer.Option(help="Persist to this file after every change; reload on start.")] = None,  # noqa: E501
    latency_ms: Annotated[int, typer.Option(min=0, help="Added latency per request, in milliseconds.")] = 0,
    fail_rate: Annotated[float, typer.Option(min=0.0, max=1.0, help="Probability of answering 503.")] = 0.0,
    throttle_rate: Annotated[float, typer.Option(min=0.0, max=1.0,
                                                 help="Probability of answering 429 with Retry-After.")] = 0.0,
    retry_after: Annotated[float, typer.Option(min=0.0, help="The seconds a 429 asks to wait (its Retry-After "
                                               "header).")] = 1.0,
    drop_rate: Annotated[float, typer.Option(min=0.0, max=1.0, help="Probability of closing the connection "
                                             "without an answer, before handling the request.")] = 0.0,
    drop_after_rate: Annotated[float, typer.Option(min=0.0, max=1.0, help="Probability, for a write, of making "
                                                   "the change and then closing the connection without an "
                                                   "answer.")] = 0.0,
    slow_rate: Annotated[float, typer.Option(min=0.0, max=1.0, help="Probability of answering --slow-ms "
                                             "late (after handling the request).")] = 0.0,
    slow_ms: Annotated[int, typer.Option(min=0, help="How late a slow answer is, in milliseconds.")] = 5000,
    fault_scope: Annotated[str, typer.Option(help="all, or writes: faults only on writes (not GET, "
                                             "sign-in, sign-out).")] = "all",
    token_ttl: Annotated[float, typer.Option(min=1.0, help="Seconds before a session expires.")] = 14400.0,
    job_seconds: Annotated[float, typer.Option(min=0.0, help="How long a refresh job runs.")] = 1.0,
    vizportal_max_items: Annotated[int, typer.Option(min=1, help="The most entries one page of a Vizportal list "
                                                     "(getExtractTasks, getSchedules) answers.")] = 1000,
    history_days: Annotated[float | None, typer.Option(min=0.0, max=90.0, help="Days of past refresh jobs the "
                                                       "seed makes (default: 14 for demo and multisite, 0 for "
                                                       "synthetic).")] = None,
) -> None:
    """Serve a fake Tableau Server or Tableau Cloud over HTTP. Prints `listening on http://HOST:PORT` first."""
    from reconciler.emulator import EmulatorConfig, serve

    config = EmulatorConfig(host=host, port=port, flavor=flavor, seed=seed, sites=sites, datasources=datasources,
                            history_days=history_days,
                            workbooks=workbooks, tasks=tasks, schedules=schedules, projects=projects,
                            random_seed=random_seed, state=str(state) if state else None, latency_ms=latency_ms,
                            fail_rate=fail_rate, throttle_rate=throttle_rate, retry_after=retry_after,
                            token_ttl=token_ttl,
                            job_seconds=job_seconds, drop_rate=drop_rate, drop_after_rate=drop_after_rate,
                            slow_rate=slow_rate, slow_ms=slow_ms, fault_scope=fault_scope,
                            vizportal_max_items=vizportal_max_items)
    if fault_scope not in ("all", "writes"):
        raise UsageError(f"--fault-scope must be all or writes, not {fault_scope!r}.")
    if flavor not in ("server", "cloud"):
        raise UsageError(f"--flavor must be server or cloud, not {flavor!r}.")
    if seed not in ("demo", "empty", "synthetic", "multisite"):
        raise UsageError(f"--seed must be demo, empty, synthetic or multisite, not {seed!r}.")
    if sites > 1 and seed != "synthetic":
        raise UsageError(f"--sites is for --seed synthetic; the {seed} seed has its own sites.")
    try:
        code = serve(config)
    except OSError as error:  # the port is taken, the address is not this machine's, the state file is unreadable
        raise UsageError(f"The emulator cannot start on {host}:{port}: {error.strerror or error}.") from error
    except ValueError as error:  # a --state file that is not the emulator's JSON
        raise UsageError(f"The emulator cannot start: {error}.") from error
    raise typer.Exit(code)


@functools.cache
def _command() -> typer.core.TyperGroup:
    """The click command behind ``app``, built once: ``app(...)`` would rebuild it from the signatures on every call
    (a third of an in-process ``plan``), which the tests, calling ``main`` hundreds of times, pay for."""
    command = typer.main.get_command(app)
    assert isinstance(command, typer.core.TyperGroup)
    return command


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 error, 2 changes, 3 unexpected, 130 interrupted)."""
    args = list(sys.argv[1:] if argv is None else argv)
    _state["debug"] = "--debug" in args
    try:
        # Without standalone mode, typer hands back the code of a `typer.Exit` instead of raising it.
        code = _command().main(args=args, prog_name="reconciler", standalone_mode=False)
        return int(code) if isinstance(code, int) else 0
    except typer.Exit as done:
        return int(done.exit_code)
    except typer.Abort:
        _error("aborted.")
        return 130
    except typer.TyperException as error:  # usage errors: exit 1, never 2 (2 means "changes")
        if not error.format_message():  # bare `reconciler`: the help was printed
            return 0
        ctx = getattr(error, "ctx", None)
        hint = f"\nRun `{ctx.command_path} --help` to see the usage." if ctx is not None else ""
        _error(f"{error.format_message()}{hint}")
        return 1
    except ReconcilerError as error:
        _error(str(error))
        return error.exit_code
    except KeyboardInterrupt:
        _error("interrupted.")
        return 130
    except Exception as error:  # the one place where anything unexpected is caught
        if _state["debug"]:
            traceback.print_exc()
        _error(f"unexpected error: {type(error).__name__}: {error}\n"
               "This is a bug in reconciler. Run again with --debug for the traceback.")
        return 3
    return 0


def _error(message: str) -> None:
    from rich.markup import escape

    from reconciler.commands.output import plain_console

    plain_console(stderr=True).print(f"[bold red]Error:[/bold red] {escape(message)}", soft_wrap=True)


__all__ = ["UsageError", "app", "main"]
