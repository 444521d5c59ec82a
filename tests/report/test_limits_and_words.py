"""Issue 15, section 5: markdown fits a pull-request comment; small words right (offline, no server)."""

from __future__ import annotations

import pytest

from reconciler.commands.apply import _strategy_note
from reconciler.plan import make_drift, make_plan, make_plan_result
from reconciler.plan.types import LoadChange
from reconciler.report import render_drift_markdown, render_plan_markdown
from reconciler.report._format import load_summary
from tests.plan.builders import desired, ds, extract, live, sched, task, want

COMMENT_LIMIT = 65_536  # GitHub's limit on a pull-request comment


def _big(n: int):  # type: ignore[no-untyped-def]
    items = [ds(f"Sales/Data source number {i:05d} with a long name to fill the comment") for i in range(n)]
    d = desired(schedules=[sched("Nightly")],
                extracts=[extract("datasource", i.path, refresh=[want("Nightly")]) for i in items])
    lv = live(items=items, schedules=[sched("Nightly")])
    return d, lv


def test_a_huge_plan_fits_a_github_comment_and_says_where_the_rest_is() -> None:
    d, lv = _big(3000)
    plan = make_plan(d, lv)
    assert "Truncated" not in render_plan_markdown(plan)  # --format markdown: the whole plan (the artifact)
    text = render_plan_markdown(plan, limit=COMMENT_LIMIT)
    assert len(text) < COMMENT_LIMIT
    assert text.index("3000 to create") < text.index("<details>")  # the summary comes first
    assert "**Truncated:**" in text and "reconciler plan --out" in text
    assert text.count("<details>") == text.count("</details>")


def test_a_small_plan_is_not_truncated() -> None:
    d, lv = _big(3)
    assert "Truncated" not in render_plan_markdown(make_plan(d, lv), limit=COMMENT_LIMIT)


def test_a_huge_drift_report_fits_too() -> None:
    items = [ds(f"Sales/Unmanaged source {i:05d} with a long name to fill the comment") for i in range(3000)]
    lv = live(items=items, schedules=[sched("Nightly")],
              tasks=[task(f"t{i}", it, schedule="Nightly") for i, it in enumerate(items)])
    d = desired(schedules=[sched("Nightly")])
    text = render_drift_markdown(make_drift(make_plan_result(d, lv)), limit=COMMENT_LIMIT)
    assert len(text) < COMMENT_LIMIT and "**Truncated:**" in text
    assert text.count("<details>") == text.count("</details>")


def test_one_suspended_task_is_singular() -> None:
    orders = ds("Sales/Orders")
    d = desired(schedules=[sched("Paused", state="suspended")],
                extracts=[extract("datasource", "Sales/Orders", refresh=[want("Paused")])])
    lv = live(items=[orders], schedules=[sched("Paused", state="suspended")],
              tasks=[task("t1", orders, schedule="Paused")])
    details = [e.detail for e in make_drift(make_plan_result(d, lv)).entries]
    assert "suspended: 1 managed task on it does not run" in details


def test_one_move_is_singular() -> None:
    assert "The task move (~>) creates" in _strategy_note("rest", 1)
    assert "Each of the 2 task moves (~>) creates" in _strategy_note("rest", 2)


@pytest.mark.parametrize(("unplaced", "words"), [
    (1, "1 task on schedules the files do not declare is not counted."),
    (6, "6 tasks on schedules the files do not declare are not counted."),
])
def test_load_summary_counts_unplaced_tasks_in_good_grammar(unplaced: int, words: str) -> None:
    summary = load_summary(LoadChange(slots=(), peak_before=3, peak_after=4, unplaced=unplaced))
    assert summary == f"Busiest slot: 3 → 4 refresh starts in 15 minutes. {words}"
