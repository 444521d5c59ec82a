"""export writes the same bytes with libyaml's emitter as with PyYAML's pure-Python one (its output before)."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.desired import export
from reconciler.desired.export import export_document, export_yaml
from reconciler.model import Item, LiveState, LiveTask, Project, Recurrence, Schedule

WHEN, VERSION = "2026-11-30 03:00 UTC", "0.0-test"


def python_emitter(live: LiveState) -> str:
    """export_yaml as it was: the same document, dumped by the pure-Python ``SafeDumper``."""
    text = export_yaml(live, when=WHEN, version=VERSION)
    header = "\n".join(line for line in text.split("\n") if line.startswith("#"))
    body = yaml.dump(export_document(live), Dumper=export._Dumper, sort_keys=False, allow_unicode=True,
                     default_flow_style=False, width=120)
    return header + "\n" + body


def site(names: list[str], flavor: str = "server") -> LiveState:
    projects = tuple(Project(id=f"p{n}", name=name, parent_id=None, path=(name,)) for n, name in enumerate(names))
    items = tuple(Item(kind="datasource" if n % 2 else "workbook", id=f"i{n}", name=name, project=(names[-n],),
                       project_id=None, encrypt=n % 3 == 0) for n, name in enumerate(names))
    schedules = tuple(Schedule(name=name, recurrence=Recurrence("daily", f"{n % 24:02d}:00"), id=f"s{n}")
                      for n, name in enumerate(names)) if flavor == "server" else ()
    tasks = tuple(LiveTask(id=f"t{n}", item_kind=i.kind, item_id=i.id, type="full",
                           schedule=names[n] if flavor == "server" else None,
                           schedule_id=f"s{n}" if flavor == "server" else None,
                           recurrence=None if flavor == "server" else Recurrence("weekly", "06:30",
                                                                                 weekdays=("monday",)))
                  for n, i in enumerate(items))
    return LiveState(server="https://tableau.example.com", site_id="site", site="", api_version="3.24",
                     flavor=flavor, encryption_mode="enabled", projects=projects, items=items,
                     schedules=schedules, tasks=tasks)


NASTY = ["plain", "with: colon", "#hash", "yes", "no", "null", "~", "123", "1e3", "02:00", " lead", "trail ",
         "quote'single", 'quote"double', "tab\there", "new\nline", "ünïcødé", "日本語", "emoji 😀", "line\u2028sep",
         "\x85nel", "\ufeffbom", "x" * 300, ("word " * 60).strip(), "- dash", "? q", "[bracket", "{brace", "a,b",
         "@at", "`tick", "%pct", "&amp", "*star", "!bang", "|pipe", ">gt", " ", "a  b", "a\\b", "\x07bell",
         "a #b", "a: b", "-", "---", "...", "<<", "True", "On", ".inf", "0o17", "+1", "1:20", "2026-01-01",
         "\u00a0nbsp", "long " + "ü" * 200]


def test_export_is_byte_identical_on_awkward_names() -> None:
    for names in (NASTY, [n for n in NASTY if not export._C_UNSAFE.search(n)]):
        for flavor in ("server", "cloud"):
            live = site(names, flavor)
            assert export_yaml(live, when=WHEN, version=VERSION) == python_emitter(live)


def test_the_fast_emitter_is_used_unless_a_name_needs_the_python_one() -> None:
    assert export._dumper_for(export_document(site(["Sales", "ünïcødé", "日本語"]))) is export._FastDumper
    assert export._dumper_for(export_document(site(["Sales", "emoji 😀"]))) is export._Dumper


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=150), min_size=1, max_size=12, unique=True))
def test_export_is_byte_identical_on_any_names(names: list[str]) -> None:
    live = site(names)
    assert export_yaml(live, when=WHEN, version=VERSION) == python_emitter(live)
