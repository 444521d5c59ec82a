"""The one "Did you mean": close matches first by case, then by spelling; look-alikes shown escaped."""

from __future__ import annotations

from reconciler.hints import did_you_mean, suggest


def test_a_case_slip_comes_first_and_at_most_three_are_offered() -> None:
    assert suggest("sales/orders", ["Sales/Orders", "Sales/Order", "Sales/Orderz", "Sales/Ordery"])[0] == "Sales/Orders"
    assert len(suggest("Sales/Orders", ["Sales/Order", "Sales/Orderz", "Sales/Ordery", "Sales/Orderx"])) == 3


def test_a_look_alike_says_who_gave_the_name() -> None:
    hint = did_you_mean(["Caf\u00e9"], "Cafe\u0301", said="you gave")
    assert hint.startswith(' Did you mean "Caf\\xe9"? Names are compared exactly: you gave "Cafe\\u0301"')
    assert did_you_mean([], "x") == ""
