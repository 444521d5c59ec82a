"""``reconciler demo``: the whole story against an in-process emulator, narrated.

validate → plan → apply → plan again (no changes) → an out-of-band change on the "server" → drift
catches it (and the job history's failing and slow refreshes) → apply converges → the refresh load
→ a change that crowds 02:00 refused by a load limit → a refresh followed to completion, and one
that fails. It needs no
network, no credentials and no setup beyond ``pip install .``; it takes well under a minute.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.rule import Rule

from reconciler.commands.apply import apply
from reconciler.commands.drift import drift
from reconciler.commands.load import load
from reconciler.commands.options import ConnectionOptions
from reconciler.commands.output import plain_console
from reconciler.commands.plan import plan
from reconciler.commands.refresh import refresh
from reconciler.commands.validate import validate
from reconciler.emulator import Emulator
from reconciler.errors import ReconcilerError
from reconciler.tableau.connect import ConnectionSettings, Credentials, connect
from reconciler.tableau.find import find_item
from reconciler.tableau.write import Writer

_ENV = ("TABLEAU_SERVER", "TABLEAU_SITE", "TABLEAU_PAT_NAME", "TABLEAU_PAT_SECRET", "TABLEAU_USERNAME",
        "TABLEAU_PASSWORD", "TABLEAU_JWT")


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in _ENV}
    for name in _ENV:
        os.environ.pop(name, None)
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class _Narrator:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.step = 0

    def chapter(self, title: str, text: str, command: str = "") -> None:
        self.step += 1
        self.console.print()
        self.console.print(Rule(f"[bold]{self.step}. {title}[/bold]", align="left"))
        self.console.print(text, highlight=False)
        if command:
            self.console.print(f"[bold cyan]$ {command}[/bold cyan]", highlight=False)

    def exit_code(self, code: int, meaning: str) -> None:
        self.console.print(f"[dim](exit code {code}: {meaning})[/dim]", highlight=False)


def _run(narrator: _Narrator, action: Callable[[], int], meanings: dict[int, str]) -> int:
    try:
        code = action()
    except ReconcilerError as error:
        narrator.console.print(f"[bold red]Error:[/bold red] {escape(str(error))}", markup=True, highlight=False)
        code = error.exit_code
    narrator.exit_code(code, meanings.get(code, "error"))
    return code


def _out_of_band_change(url: str) -> str:
    """What an admin might do in the web UI: delete a refresh task of a managed data source."""
    settings = ConnectionSettings(server=url, site="", credentials=Credentials("pat", "admin-pat", "admin-secret"))
    with connect(settings) as conn:
        customers = find_item(conn, "datasource", "Sales/Customers")
        writer = Writer(conn, "server")
        for task in writer.list_tasks():
            if (task.item_kind, task.item_id) == ("datasource", customers.id):
                writer.delete_task(task.id, customers.path)
                return f'deleted the refresh task of "Sales/Customers" on "{task.schedule or "its schedule"}"'
    raise ReconcilerError("the demo could not find the task it means to delete")


_CROWDED_MOVES = (
    ("- datasource: Sales/Pipeline        # moves from \"Every 4 Hours\"\n    refresh:\n      - schedule: "
     "Hourly Business Hours", "Hourly Business Hours"),
    ("- datasource: Sales/Quotas          # starts encrypting its extract\n    encrypt: true\n    refresh:\n"
     "      - schedule: Month End 23:00", "Month End 23:00"),
    ("- datasource: Sales/Forecasts/Forecast Model Output\n    refresh:\n      - schedule: Daily 06:00",
     "Daily 06:00"),
    ("- workbook: Sales/Sales Overview     # moves to the new schedule\n    refresh:\n      - schedule: "
     "Sales Pre-Open 05:30", "Sales Pre-Open 05:30"),
)


def _crowded(site_file: Path) -> Path:
    """The demo's files with four refreshes moved onto Nightly 02:00 and a load limit."""
    text = site_file.read_text(encoding="utf-8")
    for block, schedule in _CROWDED_MOVES:
        if block not in text:
            raise ReconcilerError(f"the demo file no longer has the block it edits: {block.splitlines()[0]}")
        text = text.replace(block, block.replace(f"schedule: {schedule}", "schedule: Nightly 02:00"))
    text = text.replace("policy:\n", "policy:\n  load:\n    max_starts_per_slot: 10\n", 1)
    crowded = site_file.with_name("crowded.yaml")
    crowded.write_text(text, encoding="utf-8")
    return crowded


def demo(job_seconds: float = 1.5) -> int:
    console = plain_console()
    narrator = _Narrator(console)
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="reconciler-demo-"))
    try:
        site_file = workdir / "site.yaml"
        site_file.write_text(resources.files("reconciler.demo").joinpath("site.yaml").read_text(encoding="utf-8"))
        with Emulator(flavor="server", seed="demo", job_seconds=job_seconds) as emu, _environment({
                "TABLEAU_SERVER": emu.url, "TABLEAU_SITE": "", "TABLEAU_PAT_NAME": emu.pat_name,
                "TABLEAU_PAT_SECRET": emu.pat_secret}):
            options = ConnectionOptions(server=emu.url, site="")
            narrator.chapter(
                "A Tableau Server to practise on",
                f"The built-in emulator is serving a demo site at {emu.url}: a dozen projects, about 40 data "
                "sources and 20 workbooks, 14 server schedules and 47 refresh tasks. It speaks Tableau's REST API, "
                "so reconciler talks to it through tableauserverclient exactly as it would to your server.\n"
                f"The desired state of the Sales project is in {site_file} (kept in git in real life).")
            narrator.chapter("Check the files, offline", "validate never touches the network.",
                             f"reconciler validate {site_file}")
            _run(narrator, lambda: validate([site_file]), {0: "valid"})
            narrator.chapter("What would change?", "plan reads the site and compares it with the files.",
                             f"reconciler plan {site_file}")
            _run(narrator, lambda: plan([site_file], options, detailed_exitcode=True),
                 {0: "no changes", 2: "changes to apply"})
            narrator.chapter("Make it so", "apply runs the same plan in a safe order: schedules first, new tasks "
                             "before old ones go, so no extract is ever left without its refresh.",
                             f"reconciler apply {site_file} --auto-approve")
            _run(narrator, lambda: apply([site_file], options, auto_approve=True), {0: "applied"})
            narrator.chapter("Plan again", "The site now matches the files.",
                             f"reconciler plan {site_file} --detailed-exitcode")
            _run(narrator, lambda: plan([site_file], options, detailed_exitcode=True),
                 {0: "no changes", 2: "changes to apply"})
            what = _out_of_band_change(emu.url)
            narrator.chapter("Someone clicks in the web UI", f"Out of band, an administrator {what}.")
            narrator.chapter("The nightly drift check catches it",
                             "drift is plan as a report, for CI: exit 2 means the site has drifted.",
                             f"reconciler drift {site_file}")
            _run(narrator, lambda: drift([site_file], options), {0: "in sync", 2: "drift found"})
            narrator.chapter("Put it back", "apply restores what the files say.",
                             f"reconciler apply {site_file} --auto-approve")
            _run(narrator, lambda: apply([site_file], options, auto_approve=True), {0: "applied"})
            narrator.chapter(
                "When do the refreshes run?",
                "load expands every task's schedule over a week of 15-minute slots; with the job history, the "
                "heatmap shows how many refreshes run at once. --output load.html writes it as a page.",
                "reconciler load --peaks 2")
            _run(narrator, lambda: load([], options, peaks=2), {0: "read-only"})
            crowded = _crowded(site_file)
            narrator.chapter(
                "Everyone wants 02:00",
                f"{crowded.name} moves four more Sales refreshes onto Nightly 02:00 and sets "
                "policy.load.max_starts_per_slot: 10. plan shows the slot growing; apply refuses.",
                f"reconciler apply {crowded} --auto-approve")
            _run(narrator, lambda: apply([crowded], options, auto_approve=True),
                 {0: "applied", 1: "refused: nothing was changed"})
            narrator.chapter("Refresh after the data pipeline ran",
                             "refresh starts the jobs now and follows them to the end; exit 0 only if all succeeded.",
                             "reconciler refresh --datasource Sales/Orders --datasource Sales/Customers")
            _run(narrator, lambda: refresh(options, datasources=["Sales/Orders", "Sales/Customers"],
                                           poll_interval=0.3), {0: "all refreshes succeeded"})
            narrator.chapter("And when a refresh fails", "The job's notes say why, and the exit code tells CI.",
                             'reconciler refresh --datasource "Operations/Legacy Oracle Inventory"')
            _run(narrator, lambda: refresh(options, datasources=["Operations/Legacy Oracle Inventory"],
                                           poll_interval=0.3), {0: "succeeded", 1: "a refresh failed"})
        narrator.console.print()
        narrator.console.print(Rule("[bold]Next[/bold]", align="left"))
        console.print(
            f"That was the whole loop, in {time.monotonic() - started:.0f} s. Try it on your own files:\n"
            "  reconciler emulator serve --seed demo          # a server to practise on, in another terminal\n"
            "  export TABLEAU_SERVER=http://127.0.0.1:PORT TABLEAU_PAT_NAME=admin-pat TABLEAU_PAT_SECRET=admin-secret\n"
            "  reconciler export --output site.yaml && reconciler plan site.yaml\n"
            "See README.md for Tableau Server/Cloud, CI integration and the file format.", highlight=False)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0
