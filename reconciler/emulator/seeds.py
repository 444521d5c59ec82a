"""Seeds: `empty`, `demo`, `multisite` and `synthetic` starting states.

Credentials (every seed, every site): user `admin`/`admin` (ServerAdministrator; on Cloud
SiteAdministratorCreator), `viewer`/`viewer` (Viewer, non-admin), `etl`/`etl` (Creator, owns some
items), `siteadmin`/`siteadmin` (SiteAdministratorCreator: a site administrator who is not a server
administrator). PATs: `admin-pat`/`admin-secret` (admin), `viewer-pat`/`viewer-secret` (viewer).

empty: one site "Default" (contentUrl ""), extractEncryptionMode enabled, a "Default" project, no
items, no schedules, no tasks.

demo: two sites, both extractEncryptionMode `enabled`. Items marked [live] have no extract (no
tasks possible); [enc] have encryptExtracts=true; [FAILS] always fails to refresh (finishCode 1,
its tasks start with consecutiveFailedCount 4). Refreshes are listed as "schedule (type)".

Site "Default" (contentUrl ""), projects: Default, Sales, Sales/Forecasts, Sales/Regional,
Sales/Regional/EMEA, Marketing, Operations, Operations/Supply Chain, Executive, Data Engineering.

  Data sources:
    Sales/Orders [enc] ................... Nightly 02:00 (full), Hourly Business Hours (incremental)
    Sales/Customers [enc] ................ Nightly 02:00 (full)
    Sales/Pipeline ....................... Every 4 Hours (full)
    Sales/Quotas ......................... Month End 23:00 (full)
    Sales/Forecasts/Forecast Model Output  Daily 06:00 (full)
    Sales/Forecasts/Demand Forecast ...... Weekly Monday 05:00 (full)
    Sales/Regional/Regional Sales ........ Nightly 02:00 (full), Every 4 Hours (incremental)
    Sales/Regional/EMEA/EMEA Orders ...... Nightly 02:00 (full)
    Sales/Regional/EMEA/EMEA Returns ..... Weekends 03:00 (full)
    Marketing/Web Traffic ................ Every 15 Minutes (incremental), Nightly 02:00 (full)
    Marketing/Campaign Performance ....... Daily 06:00 (full)
    Marketing/Email Engagement ........... Twice Daily (full)
    Marketing/Social Mentions ............ Hourly Business Hours (full)
    Marketing/Live Snowflake - Web Events  [live]
    Operations/Inventory ................. Every 4 Hours (full)
    Operations/Shipments ................. Hourly Business Hours (incremental), Nightly 02:00 (full)
    Operations/Warehouse Capacity ........ Weekly Monday 05:00 (full)
    Operations/Legacy Oracle Inventory [FAILS]  Nightly 02:00 (full), Legacy Nightly 01:00 (full)
    Operations/Returns ................... Daily 06:00 (full)
    Operations/Supply Chain/Supplier Scorecard  Weekly Monday 05:00 (full)
    Operations/Supply Chain/Purchase Orders     Twice Daily (incremental)
    Operations/Supply Chain/Lead Times ......   First Monday 06:00 (full)
    Executive/KPI Summary ................ Daily 06:00 (full)
    Executive/Board Metrics [enc] ........ Month End 23:00 (full), First Monday 06:00 (full)
    Data Engineering/dbt Run Results ..... Every 15 Minutes (full)
    Data Engineering/Airflow DAG Runs .... Hourly Business Hours (full)
    Data Engineering/Data Quality Checks . Nightly 02:00 (full)
    Data Engineering/Live Postgres - App DB  [live]
    Default/Superstore Sample ............ Mid-Month 04:00 (full)
    Operations/Payroll Export ............ Payroll 1st and 15th (full; seeded last)
  Workbooks:
    Sales/Sales Overview ................. Nightly 02:00 (full)
    Sales/Pipeline Review ................ Every 4 Hours (full)
    Sales/Quota Attainment ............... Month End 23:00 (full)
    Sales/Forecasts/Forecast Accuracy .... Weekly Monday 05:00 (full)
    Sales/Regional/EMEA/EMEA Dashboard ... Nightly 02:00 (full)
    Marketing/Campaign Dashboard ......... Daily 06:00 (full)
    Marketing/Web Analytics .............. Twice Daily (full)
    Operations/Inventory Health .......... Every 4 Hours (full)
    Operations/Shipping Performance ...... Hourly Business Hours (full)
    Operations/Supply Chain/Supplier Review  Weekly Monday 05:00 (full)
    Executive/Executive Summary [enc] .... Daily 06:00 (full)
    Executive/Board Pack [enc] ........... Month End 23:00 (full)
    Data Engineering/Pipeline Monitoring . Every 15 Minutes (full)
    Data Engineering/Data Quality [live]
  Cloud flavor only, data sources whose connection goes through Tableau Bridge (no tasks; a
  refresh job reports finishCode 0 while a Bridge client is assigned, then completes):
    Operations/Plant Floor Metrics (Bridge) [bridge]
    Operations/On-Prem Orders (Bridge) [bridge, FAILS]

Site "Finance" (contentUrl "finance"), projects: Default, Finance, Finance/Month End,
Finance/Planning.

  Data sources:
    Finance/General Ledger [enc] ......... Nightly 02:00 (full), Hourly Business Hours (incremental)
    Finance/Accounts Payable ............. Nightly 02:00 (full)
    Finance/Accounts Receivable .......... Nightly 02:00 (full)
    Finance/Cash Flow .................... Daily 06:00 (full)
    Finance/Month End/Close Checklist .... Month End 23:00 (full)
    Finance/Month End/Trial Balance [enc]  Month End 23:00 (full), Daily 06:00 (incremental)
    Finance/Month End/Accruals ........... Month End 23:00 (full)
    Finance/Planning/Budget vs Actual .... Weekly Monday 05:00 (full)
    Finance/Planning/Headcount Plan ...... First Monday 06:00 (full)
    Finance/Planning/Opex Forecast ....... Mid-Month 04:00 (full)
    Default/Finance Sample [live]
  Workbooks:
    Finance/Board Pack [enc] ............. Weekly Monday 05:00 (full)
    Finance/Cash Position ................ Daily 06:00 (full)
    Finance/P&L Explorer ................. Nightly 02:00 (full)
    Finance/Month End/Month End Close .... Month End 23:00 (full)
    Finance/Planning/Budget Review ....... Weekly Monday 05:00 (full)
    Finance/Planning/Headcount Planning .. First Monday 06:00 (full)

Server schedules (Server flavor; server-wide, all type Extract unless noted):
    Every 15 Minutes ........ Hourly, every 15 min 06:00-22:00, priority 10, Parallel
    Payroll 1st and 15th .... Monthly days 1 and 15 05:00, made in the web UI: answered as
                              `monthDay="Customized Monthly"` without the days (TSC issue 1365)
    Hourly Business Hours ... Hourly, every 1 h 08:00-18:00, Mon-Fri, priority 30, Parallel
    Every 4 Hours ........... Hourly, every 4 h 00:00-20:00, priority 50, Parallel
    Nightly 02:00 ........... Daily 02:00, priority 50, Parallel
    Daily 06:00 ............. Daily 06:00, priority 40, Parallel
    Twice Daily ............. Daily, every 12 h 06:00-18:00, priority 50, Parallel
    Weekly Monday 05:00 ..... Weekly Monday 05:00, priority 60, Parallel
    Weekends 03:00 .......... Weekly Saturday+Sunday 03:00, priority 70, Serial
    Month End 23:00 ......... Monthly LastDay 23:00, priority 20, Serial
    First Monday 06:00 ...... Monthly First Monday 06:00, priority 50, Parallel
    Mid-Month 04:00 ......... Monthly day 15 04:00, priority 50, Parallel, SUSPENDED
    Legacy Nightly 01:00 .... Daily 01:00, priority 80, Parallel, SUSPENDED
    Weekday Morning Subscriptions  type Subscription, Weekly Mon-Fri 07:00 (no extract tasks)

65 tasks in all (47 on Default, 18 on Finance). On Cloud flavor there are no server schedules:
each task carries the schedule's recurrence inline, made Cloud-valid: every Hourly/Daily gets all
seven weekDays unless it has some, once-daily is `hours="24"`, "Every 4 Hours" becomes Daily
every 4 h 00:00-20:00, "Every 15 Minutes" becomes Hourly every 1 h (Cloud runs hourly tasks every
60 minutes only), "Weekends 03:00" becomes Weekly Saturday only.

multisite: six sites on the demo's server schedules: "Default" and "Finance" with the demo's projects,
items and tasks (other LUIDs), then "Marketing" (marketing), "Supply Chain" (supply-chain), "People"
(people) and "Sandbox" (sandbox), listed in `_MORE_SITES`; 95 tasks (47, 18, 11, 10, 7, 2), every
Extract schedule used by two sites or more. User `analyst`/`analyst` (Explorer) has an account on
Marketing and People only. Cloud: inline recurrences as in demo.

synthetic: one "Default" site (plus the users above); `projects` projects (a fifth top-level,
the rest nested), `datasources` and `workbooks` (about 90% with extracts, a few encrypted),
`schedules` server schedules (Server) or as many distinct recurrences (Cloud), and `tasks` tasks
on random extract items; deterministic for a given `random_seed`. With `sites` N > 1, sites
"Site 002" (contentUrl "site-002") to N follow, each with the same counts from its own generator,
their tasks on the same server schedules (Cloud: the same recurrences).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from typing import TYPE_CHECKING

from .history import DEMO_STORIES, add_history
from .models import ContentItem, Pat, Project, Schedule, Site, Store, Task, User
from .recurrence import WEEKDAYS, Recurrence, normalize_recurrence

if TYPE_CHECKING:
    from .server import EmulatorConfig

__all__ = ["ADMIN_PAT", "ADMIN_USER", "ANALYST_USER", "SEEDS", "VIEWER_PAT", "VIEWER_USER", "load_seed"]

SEEDS = ("demo", "empty", "synthetic", "multisite")

ADMIN_USER = ("admin", "admin")
VIEWER_USER = ("viewer", "viewer")
ETL_USER = ("etl", "etl")
SITE_ADMIN_USER = ("siteadmin", "siteadmin")
ADMIN_PAT = ("admin-pat", "admin-secret")
VIEWER_PAT = ("viewer-pat", "viewer-secret")
BASE_TIME = 1709251200.0  # 2024-03-01T00:00:00Z

_MON_FRI = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
# name, frequency, start, end, intervals, priority, executionOrder, state, type
_SCHEDULES: list[tuple[str, str, str, str | None, list[dict[str, str]], int, str, str, str]] = [
    ("Every 15 Minutes", "Hourly", "06:00:00", "22:00:00", [{"minutes": "15"}], 10, "Parallel", "Active", "Extract"),
    ("Hourly Business Hours", "Hourly", "08:00:00", "18:00:00",
     [{"hours": "1"}] + [{"weekDay": d} for d in _MON_FRI], 30, "Parallel", "Active", "Extract"),
    ("Every 4 Hours", "Hourly", "00:00:00", "20:00:00", [{"hours": "4"}], 50, "Parallel", "Active", "Extract"),
    ("Nightly 02:00", "Daily", "02:00:00", None, [], 50, "Parallel", "Active", "Extract"),
    ("Daily 06:00", "Daily", "06:00:00", None, [], 40, "Parallel", "Active", "Extract"),
    ("Twice Daily", "Daily", "06:00:00", "18:00:00", [{"hours": "12"}], 50, "Parallel", "Active", "Extract"),
    ("Weekly Monday 05:00", "Weekly", "05:00:00", None, [{"weekDay": "Monday"}], 60, "Parallel", "Active",
     "Extract"),
    ("Weekends 03:00", "Weekly", "03:00:00", None, [{"weekDay": "Saturday"}, {"weekDay": "Sunday"}], 70,
     "Serial", "Active", "Extract"),
    ("Month End 23:00", "Monthly", "23:00:00", None, [{"monthDay": "LastDay"}], 20, "Serial", "Active", "Extract"),
    ("First Monday 06:00", "Monthly", "06:00:00", None, [{"monthDay": "First", "weekDay": "Monday"}], 50,
     "Parallel", "Active", "Extract"),
    ("Mid-Month 04:00", "Monthly", "04:00:00", None, [{"monthDay": "15"}], 50, "Parallel", "Suspended", "Extract"),
    ("Payroll 1st and 15th", "Monthly", "05:00:00", None, [{"monthDay": "1"}, {"monthDay": "15"}], 50, "Parallel",
     "Active", "Extract"),
    ("Legacy Nightly 01:00", "Daily", "01:00:00", None, [], 80, "Parallel", "Suspended", "Extract"),
    ("Weekday Morning Subscriptions", "Weekly", "07:00:00", None, [{"weekDay": d} for d in _MON_FRI], 50,
     "Parallel", "Active", "Subscription"),
]

_N, _H, _F4, _D6, _TW = "Nightly 02:00", "Hourly Business Hours", "Every 4 Hours", "Daily 06:00", "Twice Daily"
_WM, _WE, _ME, _FM, _MM = "Weekly Monday 05:00", "Weekends 03:00", "Month End 23:00", "First Monday 06:00", \
    "Mid-Month 04:00"
_Q, _LN, _PR = "Every 15 Minutes", "Legacy Nightly 01:00", "Payroll 1st and 15th"
#: Schedules made in the web UI on several days of the month (answered as "Customized Monthly").
_UI_MONTHLY = {_PR}
Refresh = tuple[str, bool]
"""(schedule name, incremental)"""
# kind, project path, name, flags ("live", "enc", "fails"), refreshes
_Item = tuple[str, str, str, str, list[Refresh]]
_DEFAULT_ITEMS: list[_Item] = [
    ("datasource", "Sales", "Orders", "enc", [(_N, False), (_H, True)]),
    ("datasource", "Sales", "Customers", "enc", [(_N, False)]),
    ("datasource", "Sales", "Pipeline", "", [(_F4, False)]),
    ("datasource", "Sales", "Quotas", "", [(_ME, False)]),
    ("datasource", "Sales/Forecasts", "Forecast Model Output", "", [(_D6, False)]),
    ("datasource", "Sales/Forecasts", "Demand Forecast", "", [(_WM, False)]),
    ("datasource", "Sales/Regional", "Regional Sales", "", [(_N, False), (_F4, True)]),
    ("datasource", "Sales/Regional/EMEA", "EMEA Orders", "", [(_N, False)]),
    ("datasource", "Sales/Regional/EMEA", "EMEA Returns", "", [(_WE, False)]),
    ("datasource", "Marketing", "Web Traffic", "", [(_Q, True), (_N, False)]),
    ("datasource", "Marketing", "Campaign Performance", "", [(_D6, False)]),
    ("datasource", "Marketing", "Email Engagement", "", [(_TW, False)]),
    ("datasource", "Marketing", "Social Mentions", "", [(_H, False)]),
    ("datasource", "Marketing", "Live Snowflake - Web Events", "live", []),
    ("datasource", "Operations", "Inventory", "", [(_F4, False)]),
    ("datasource", "Operations", "Shipments", "", [(_H, True), (_N, False)]),
    ("datasource", "Operations", "Warehouse Capacity", "", [(_WM, False)]),
    ("datasource", "Operations", "Legacy Oracle Inventory", "fails", [(_N, False), (_LN, False)]),
    ("datasource", "Operations", "Returns", "", [(_D6, False)]),
    ("datasource", "Operations/Supply Chain", "Supplier Scorecard", "", [(_WM, False)]),
    ("datasource", "Operations/Supply Chain", "Purchase Orders", "", [(_TW, True)]),
    ("datasource", "Operations/Supply Chain", "Lead Times", "", [(_FM, False)]),
    ("datasource", "Executive", "KPI Summary", "", [(_D6, False)]),
    ("datasource", "Executive", "Board Metrics", "enc", [(_ME, False), (_FM, False)]),
    ("datasource", "Data Engineering", "dbt Run Results", "", [(_Q, False)]),
    ("datasource", "Data Engineering", "Airflow DAG Runs", "", [(_H, False)]),
    ("datasource", "Data Engineering", "Data Quality Checks", "", [(_N, False)]),
    ("datasource", "Data Engineering", "Live Postgres - App DB", "live", []),
    ("datasource", "Default", "Superstore Sample", "", [(_MM, False)]),
    ("workbook", "Sales", "Sales Overview", "", [(_N, False)]),
    ("workbook", "Sales", "Pipeline Review", "", [(_F4, False)]),
    ("workbook", "Sales", "Quota Attainment", "", [(_ME, False)]),
    ("workbook", "Sales/Forecasts", "Forecast Accuracy", "", [(_WM, False)]),
    ("workbook", "Sales/Regional/EMEA", "EMEA Dashboard", "", [(_N, False)]),
    ("workbook", "Marketing", "Campaign Dashboard", "", [(_D6, False)]),
    ("workbook", "Marketing", "Web Analytics", "", [(_TW, False)]),
    ("workbook", "Operations", "Inventory Health", "", [(_F4, False)]),
    ("workbook", "Operations", "Shipping Performance", "", [(_H, False)]),
    ("workbook", "Operations/Supply Chain", "Supplier Review", "", [(_WM, False)]),
    ("workbook", "Executive", "Executive Summary", "enc", [(_D6, False)]),
    ("workbook", "Executive", "Board Pack", "enc", [(_ME, False)]),
    ("workbook", "Data Engineering", "Pipeline Monitoring", "", [(_Q, False)]),
    ("workbook", "Data Engineering", "Data Quality", "live", []),
    ("datasource", "Operations", "Payroll Export", "", [(_PR, False)]),
]
# Tableau Bridge exists for Tableau Cloud only: these are seeded on the Cloud flavor.
_BRIDGE_ITEMS: list[_Item] = [
    ("datasource", "Operations", "Plant Floor Metrics (Bridge)", "bridge", []),
    ("datasource", "Operations", "On-Prem Orders (Bridge)", "bridge fails", []),
]
_FINANCE_ITEMS: list[_Item] = [
    ("datasource", "Finance", "General Ledger", "enc", [(_N, False), (_H, True)]),
    ("datasource", "Finance", "Accounts Payable", "", [(_N, False)]),
    ("datasource", "Finance", "Accounts Receivable", "", [(_N, False)]),
    ("datasource", "Finance", "Cash Flow", "", [(_D6, False)]),
    ("datasource", "Finance/Month End", "Close Checklist", "", [(_ME, False)]),
    ("datasource", "Finance/Month End", "Trial Balance", "enc", [(_ME, False), (_D6, True)]),
    ("datasource", "Finance/Month End", "Accruals", "", [(_ME, False)]),
    ("datasource", "Finance/Planning", "Budget vs Actual", "", [(_WM, False)]),
    ("datasource", "Finance/Planning", "Headcount Plan", "", [(_FM, False)]),
    ("datasource", "Finance/Planning", "Opex Forecast", "", [(_MM, False)]),
    ("datasource", "Default", "Finance Sample", "live", []),
    ("workbook", "Finance", "Board Pack", "enc", [(_WM, False)]),
    ("workbook", "Finance", "Cash Position", "", [(_D6, False)]),
    ("workbook", "Finance", "P&L Explorer", "", [(_N, False)]),
    ("workbook", "Finance/Month End", "Month End Close", "", [(_ME, False)]),
    ("workbook", "Finance/Planning", "Budget Review", "", [(_WM, False)]),
    ("workbook", "Finance/Planning", "Headcount Planning", "", [(_FM, False)]),
]
_DEFAULT_PROJECTS = ["Default", "Sales", "Sales/Forecasts", "Sales/Regional", "Sales/Regional/EMEA", "Marketing",
                     "Operations", "Operations/Supply Chain", "Executive", "Data Engineering"]
_FINANCE_PROJECTS = ["Default", "Finance", "Finance/Month End", "Finance/Planning"]


# The multisite seed: the demo's two sites plus four more, all on the demo's server schedules.
_MARKETING_PROJECTS = ["Default", "Campaigns", "Campaigns/Paid", "Web", "Brand"]
_MARKETING_ITEMS: list[_Item] = [
    ("datasource", "Campaigns", "Campaign Spend", "", [(_N, False), (_H, True)]),
    ("datasource", "Campaigns/Paid", "Ad Impressions", "", [(_Q, True)]),
    ("datasource", "Campaigns/Paid", "Ad Clicks", "", [(_F4, False)]),
    ("datasource", "Web", "Sessions", "", [(_H, False)]),
    ("datasource", "Web", "Conversions", "", [(_D6, False), (_N, False)]),
    ("datasource", "Brand", "Survey Results", "", [(_WM, False)]),
    ("datasource", "Brand", "Live Social Feed", "live", []),
    ("workbook", "Campaigns", "Campaign Scorecard", "", [(_D6, False)]),
    ("workbook", "Web", "Traffic Dashboard", "", [(_TW, False)]),
    ("workbook", "Brand", "Brand Health", "enc", [(_ME, False)]),
]
_SUPPLY_PROJECTS = ["Default", "Logistics", "Logistics/Carriers", "Procurement"]
_SUPPLY_ITEMS: list[_Item] = [
    ("datasource", "Logistics", "Shipments", "", [(_F4, False), (_N, False)]),
    ("datasource", "Logistics/Carriers", "Carrier Rates", "", [(_WM, False)]),
    ("datasource", "Logistics/Carriers", "Carrier On-Time", "fails", [(_N, False)]),
    ("datasource", "Procurement", "Purchase Orders", "", [(_TW, True)]),
    ("datasource", "Procurement", "Supplier Master", "enc", [(_WE, False)]),
    ("datasource", "Procurement", "Spend Cube", "", [(_ME, False), (_FM, False)]),
    ("workbook", "Logistics", "Fleet Overview", "", [(_F4, False)]),
    ("workbook", "Procurement", "Supplier Review", "", [(_WM, False)]),
]
_PEOPLE_PROJECTS = ["Default", "HR", "HR/Recruiting", "HR/Payroll"]
_PEOPLE_ITEMS: list[_Item] = [
    ("datasource", "HR", "Headcount", "enc", [(_N, False)]),
    ("datasource", "HR/Recruiting", "Candidates", "", [(_D6, False)]),
    ("datasource", "HR/Recruiting", "Offers", "", [(_H, False)]),
    ("datasource", "HR/Payroll", "Payroll Register", "enc", [(_PR, False)]),
    ("datasource", "HR/Payroll", "Benefits", "", [(_MM, False)]),
    ("workbook", "HR", "People Dashboard", "", [(_WM, False)]),
    ("workbook", "HR/Payroll", "Payroll Summary", "enc", [(_PR, False)]),
]
_SANDBOX_PROJECTS = ["Default", "Experiments"]
_SANDBOX_ITEMS: list[_Item] = [
    ("datasource", "Experiments", "Scratch Extract", "", [(_LN, False)]),
    ("datasource", "Experiments", "Live Scratch", "live", []),
    ("workbook", "Experiments", "Prototype", "", [(_D6, False)]),
]
#: (name, contentUrl, project paths, items) of the multisite seed's sites after Default and Finance.
_MORE_SITES: list[tuple[str, str, list[str], list[_Item]]] = [
    ("Marketing", "marketing", _MARKETING_PROJECTS, _MARKETING_ITEMS),
    ("Supply Chain", "supply-chain", _SUPPLY_PROJECTS, _SUPPLY_ITEMS),
    ("People", "people", _PEOPLE_PROJECTS, _PEOPLE_ITEMS),
    ("Sandbox", "sandbox", _SANDBOX_PROJECTS, _SANDBOX_ITEMS),
]
#: A user with an account on only some sites (Query Sites lists those for a non-administrator).
ANALYST_USER = ("analyst", "analyst")
_ANALYST_SITES = ("marketing", "people")


_URL_DROP = str.maketrans("", "", " &()")


class _Ids:
    """Deterministic LUIDs and timestamps."""

    def __init__(self, seed: int | str) -> None:
        self.rng = random.Random(seed)
        self.tick = 0

    def luid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def time(self) -> float:
        self.tick += 1
        return BASE_TIME + self.tick * 3600.0


def _add_site(store: Store, ids: _Ids, name: str, content_url: str) -> tuple[Site, dict[str, User]]:
    site = Site(ids.luid(), name, content_url, "enabled")
    store.sites[site.id] = site
    admin_role = "SiteAdministratorCreator" if store.cloud else "ServerAdministrator"
    users: dict[str, User] = {}
    for (uname, pw), role in ((ADMIN_USER, admin_role), (VIEWER_USER, "Viewer"), (ETL_USER, "Creator"),
                              (SITE_ADMIN_USER, "SiteAdministratorCreator")):
        user = User(ids.luid(), site.id, uname, role, pw, store.next_vizportal_id())
        store.users[user.id] = user
        users[uname] = user
    return site, users


def _base(store: Store, ids: _Ids) -> None:
    store.pats[ADMIN_PAT[0]] = Pat(ADMIN_PAT[0], ADMIN_PAT[1], ADMIN_USER[0])
    store.pats[VIEWER_PAT[0]] = Pat(VIEWER_PAT[0], VIEWER_PAT[1], VIEWER_USER[0])


def _add_projects(store: Store, ids: _Ids, site: Site, owner: User, paths: list[str]) -> dict[str, Project]:
    by_path: dict[str, Project] = {}
    for path in paths:
        parent, _, name = path.rpartition("/")
        t = ids.time()
        description = "The default project that was automatically created by Tableau." if path == "Default" else ""
        project = Project(ids.luid(), site.id, name, by_path[parent].id if parent else None, owner.id, description,
                          "ManagedByOwner", t, t)
        store.projects[project.id] = project
        by_path[path] = project
    return by_path


def _to_cloud(rec: Recurrence) -> Recurrence:
    """The Cloud-valid form of a server recurrence (see the module docstring)."""
    raw = [dict(i) for i in rec.intervals]
    weekdays = [d for i in raw for k, d in i.items() if k == "weekDay"]
    all_days = [{"weekDay": d} for d in WEEKDAYS]
    if rec.frequency == "Hourly":
        raw = [i for i in raw if "minutes" not in i]  # Cloud: every 60 minutes only
        hours = next((int(i["hours"]) for i in raw if "hours" in i), 1)
        if not any("hours" in i for i in raw):
            raw.append({"hours": "1"})
        if hours > 1:
            rest = [i for i in raw if "hours" not in i]
            return normalize_recurrence("Daily", rec.start, rec.end, [{"hours": str(hours)}] + (rest or all_days),
                                        True)
        return normalize_recurrence("Hourly", rec.start, rec.end, raw if weekdays else raw + all_days, True)
    if rec.frequency == "Daily":
        if not any("hours" in i for i in raw):
            raw.append({"hours": "24"})
        return normalize_recurrence("Daily", rec.start, rec.end, raw if weekdays else raw + all_days, True)
    if rec.frequency == "Weekly":
        return normalize_recurrence("Weekly", rec.start, None, [{"weekDay": weekdays[0]}], True)
    return normalize_recurrence(rec.frequency, rec.start, rec.end, raw, True)


def _demo_schedules(store: Store, ids: _Ids) -> dict[str, Schedule]:
    schedules: dict[str, Schedule] = {}
    for name, freq, start, end, intervals, priority, order, state, stype in _SCHEDULES:
        rec = normalize_recurrence(freq, start, end, intervals, False)
        t = ids.time()
        schedules[name] = Schedule(ids.luid(), name, stype, priority, order, state, rec, t, t,
                                   store.next_vizportal_id(), customized_monthly=name in _UI_MONTHLY)
    if not store.cloud:
        for schedule in schedules.values():
            store.schedules[schedule.id] = schedule
    return schedules


def _demo_site(store: Store, ids: _Ids, name: str, content_url: str, paths: list[str], items: list[_Item],
               schedules: dict[str, Schedule]) -> Site:
    site, users = _add_site(store, ids, name, content_url)
    projects = _add_projects(store, ids, site, users["admin"], paths)
    for n, (kind, path, item_name, flags, refreshes) in enumerate(items):
        t = ids.time()
        owner = users["etl"] if n % 3 == 2 else users["admin"]
        live = "live" in flags
        bridge = "bridge" in flags
        item = ContentItem(kind, ids.luid(), site.id, item_name, projects[path].id, owner.id,
                           item_name.translate(_URL_DROP), t, t + 600, has_extracts=not live,
                           encrypt_extracts="enc" in flags, description=f"{item_name} ({path})",
                           size=(n * 7919) % 50000 + 1024, fails_refresh="fails" in flags,
                           vizportal_id=store.next_vizportal_id(),
                           ds_type="snowflake" if live else "sqlserver" if bridge else "hyper", bridge=bridge)
        store.items[item.id] = item
        for schedule_name, incremental in refreshes:
            schedule = schedules[schedule_name]
            cloud_rec = _to_cloud(schedule.recurrence) if store.cloud else None
            task = Task(ids.luid(), site.id, kind, item.id, incremental, 50 if store.cloud else schedule.priority,
                        4 if item.fails_refresh else 0, None if store.cloud else schedule.id, cloud_rec,
                        ids.time(), store.next_vizportal_id())
            store.tasks[task.id] = task
    return site


def _demo(store: Store) -> None:
    ids = _Ids(20240301)
    _base(store, ids)
    schedules = _demo_schedules(store, ids)
    default_items = _DEFAULT_ITEMS + (_BRIDGE_ITEMS if store.cloud else [])
    _demo_site(store, ids, "Default", "", _DEFAULT_PROJECTS, default_items, schedules)
    _demo_site(store, ids, "Finance", "finance", _FINANCE_PROJECTS, _FINANCE_ITEMS, schedules)


def _multisite(store: Store) -> None:
    ids = _Ids("multisite-20240301")
    _base(store, ids)
    schedules = _demo_schedules(store, ids)
    default_items = _DEFAULT_ITEMS + (_BRIDGE_ITEMS if store.cloud else [])
    _demo_site(store, ids, "Default", "", _DEFAULT_PROJECTS, default_items, schedules)
    _demo_site(store, ids, "Finance", "finance", _FINANCE_PROJECTS, _FINANCE_ITEMS, schedules)
    for name, content_url, paths, items in _MORE_SITES:
        site = _demo_site(store, ids, name, content_url, paths, items, schedules)
        if content_url in _ANALYST_SITES:
            user = User(ids.luid(), site.id, ANALYST_USER[0], "Explorer", ANALYST_USER[1], store.next_vizportal_id())
            store.users[user.id] = user


def _empty(store: Store) -> None:
    ids = _Ids(0)
    _base(store, ids)
    site, users = _add_site(store, ids, "Default", "")
    _add_projects(store, ids, site, users["admin"], ["Default"])


_DEPARTMENTS = ["Sales", "Marketing", "Finance", "Operations", "HR", "Engineering", "Support", "Legal", "Product",
                "Risk", "Procurement", "Logistics"]
_SUBJECTS = ["Orders", "Customers", "Revenue", "Inventory", "Tickets", "Headcount", "Pipeline", "Shipments",
             "Invoices", "Events", "Sessions", "Returns", "Forecast", "Budget", "Claims", "Leads"]


def _synthetic_recurrences(rng: random.Random, count: int, cloud: bool) -> list[Recurrence]:
    found: dict[Recurrence, None] = {}
    attempts = 0
    while len(found) < count and attempts < count * 50:
        attempts += 1
        hh, mm = rng.randrange(24), rng.randrange(12) * 5
        start = f"{hh:02d}:{mm:02d}:00"
        kind = rng.choice(["Hourly", "Daily", "Daily", "Weekly", "Monthly"])
        days = sorted(rng.sample(WEEKDAYS, rng.randint(1, 7)), key=WEEKDAYS.index)
        try:
            if kind == "Hourly":
                end = f"{min(hh + rng.randint(1, 12), 23):02d}:{mm:02d}:00"
                every = rng.choice(["15m", "30m", "1"] if cloud else ["15m", "30m", "1", "2", "4"])
                inter = [{"minutes": every[:-1]} if every.endswith("m") else {"hours": every}]
                rec = normalize_recurrence("Hourly", start, end, inter + [{"weekDay": d} for d in days], cloud)
            elif kind == "Daily":
                rec = normalize_recurrence("Daily", start, None, ([{"hours": "24"}] if cloud else [])
                                           + ([{"weekDay": d} for d in days] if cloud else []), cloud)
            elif kind == "Weekly":
                chosen = days[:1] if cloud else days
                rec = normalize_recurrence("Weekly", start, None, [{"weekDay": d} for d in chosen], cloud)
            else:
                rec = normalize_recurrence("Monthly", start, None, [{"monthDay": str(rng.randint(1, 28))}], cloud)
        except Exception:  # an invalid random draw: try again
            continue
        found[rec] = None
    return list(found)


def _synthetic_content(store: Store, ids: _Ids, site: Site, users: dict[str, User],
                       config: EmulatorConfig) -> list[ContentItem]:
    """One synthetic site's projects and items; returns the items that have an extract."""
    rng = ids.rng
    owners = [users["admin"], users["etl"]]
    projects: list[Project] = []
    top = max(1, config.projects // 5)
    for n in range(config.projects):
        parent = None if n < top else projects[rng.randrange(len(projects))]
        name = f"{_DEPARTMENTS[n % len(_DEPARTMENTS)]} {n:04d}" if parent is None else f"Team {n:04d}"
        t = ids.time()
        project = Project(ids.luid(), site.id, name, parent.id if parent else None, owners[0].id, "", "ManagedByOwner",
                          t, t)
        store.projects[project.id] = project
        projects.append(project)
    extract_items: list[ContentItem] = []
    for kind, count in (("datasource", config.datasources), ("workbook", config.workbooks)):
        for n in range(count):
            name = f"{_SUBJECTS[n % len(_SUBJECTS)]} {kind[0].upper()}{n:05d}"
            has_extracts = rng.random() < 0.9
            t = BASE_TIME + n * 60.0
            item = ContentItem(kind, ids.luid(), site.id, name, projects[rng.randrange(len(projects))].id,
                               owners[n % 2].id, name.replace(" ", ""), t, t + 60.0, has_extracts=has_extracts,
                               encrypt_extracts=has_extracts and rng.random() < 0.1, size=rng.randint(1024, 10**7),
                               vizportal_id=store.next_vizportal_id(), ds_type="hyper")
            store.items[item.id] = item
            if has_extracts:
                extract_items.append(item)
    return extract_items


def _synthetic_tasks(store: Store, ids: _Ids, site: Site, extract_items: list[ContentItem], tasks: int,
                     schedules: list[Schedule], recurrences: list[Recurrence]) -> None:
    """`tasks` tasks on random extract items of one site, on the shared schedules (Cloud: recurrences)."""
    if not extract_items:
        return
    rng = ids.rng
    seen: set[tuple[str, int, bool]] = set()
    made = 0
    attempts = 0
    while made < tasks and attempts < tasks * 5:
        attempts += 1
        item = extract_items[rng.randrange(len(extract_items))]
        slot = rng.randrange(len(schedules) if schedules else len(recurrences))
        incremental = rng.random() < 0.2
        key = (item.id, slot, incremental)
        if key in seen:
            continue
        seen.add(key)
        on = schedules[slot] if schedules else None
        task = Task(ids.luid(), site.id, item.kind, item.id, incremental, on.priority if on else 50,
                    0, on.id if on else None, None if on else recurrences[slot],
                    BASE_TIME + made, store.next_vizportal_id())
        store.tasks[task.id] = task
        made += 1


def _synthetic(store: Store, config: EmulatorConfig) -> None:
    """The first site ("Default") exactly as with one site; sites 2..N after it, each from its own generator."""
    ids = _Ids(f"synthetic-{config.random_seed}")
    rng = ids.rng
    _base(store, ids)
    site, users = _add_site(store, ids, "Default", "")
    extract_items = _synthetic_content(store, ids, site, users, config)
    recurrences = _synthetic_recurrences(rng, max(1, config.schedules), store.cloud)
    schedules: list[Schedule] = []
    if not store.cloud:
        for n, rec in enumerate(recurrences):
            t = ids.time()
            schedule = Schedule(ids.luid(), f"Synthetic {rec.frequency} {n:04d} {rec.start[:5]}", "Extract",
                                rng.randint(1, 100), rng.choice(["Parallel", "Serial"]),
                                "Suspended" if rng.random() < 0.05 else "Active", rec, t, t,
                                store.next_vizportal_id())
            store.schedules[schedule.id] = schedule
            schedules.append(schedule)
    _synthetic_tasks(store, ids, site, extract_items, config.tasks, schedules, recurrences)
    for number in range(2, config.sites + 1):
        site_ids = _Ids(f"synthetic-{config.random_seed}-site-{number}")
        other, other_users = _add_site(store, site_ids, f"Site {number:03d}", f"site-{number:03d}")
        items = _synthetic_content(store, site_ids, other, other_users, config)
        _synthetic_tasks(store, site_ids, other, items, config.tasks, schedules, recurrences)


def load_seed(store: Store, config: EmulatorConfig) -> None:
    """Fill an empty store with the configured seed."""
    if config.sites < 1:
        raise ValueError(f"sites must be at least 1, not {config.sites!r}")
    if config.sites > 1 and config.seed != "synthetic":
        raise ValueError(f"sites={config.sites} is for the synthetic seed; the {config.seed!r} seed has its own sites")
    if config.seed == "demo":
        _demo(store)
        days = 14.0 if config.history_days is None else config.history_days
        add_history(store, days, "demo", DEMO_STORIES)
        _match_history(store)
    elif config.seed == "multisite":
        _multisite(store)
        days = 14.0 if config.history_days is None else config.history_days
        add_history(store, days, "multisite", DEMO_STORIES)
        _match_history(store)
    elif config.seed == "empty":
        _empty(store)
    elif config.seed == "synthetic":
        _synthetic(store, config)
        add_history(store, config.history_days or 0.0, f"synthetic-{config.random_seed}")
    else:
        raise ValueError(f"unknown seed {config.seed!r}: use {', '.join(SEEDS)}")


def _match_history(store: Store) -> None:
    """A task's consecutiveFailedCount tells the same story as its history (failures since its last success)."""
    streak: dict[str, int] = {}
    for job in store.history.values():  # oldest first
        if job.task_id is not None:
            streak[job.task_id] = streak.get(job.task_id, 0) + 1 if job.fails else 0
    for task_id, count in streak.items():
        task = store.tasks.get(task_id)
        if task is not None and task.consecutive_failed_count == 0 and count > 0:  # seeded counts stay
            store.tasks[task_id] = replace(task, consecutive_failed_count=count)
