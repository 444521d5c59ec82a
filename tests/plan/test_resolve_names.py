"""Issue 15, section 1: "Did you mean" never shows two different names the same way (offline)."""

from __future__ import annotations

import unicodedata

from reconciler.plan.resolve import did_you_mean


def test_lookalikes_are_shown_escaped() -> None:
    nfc, nfd = unicodedata.normalize("NFC", "Café"), unicodedata.normalize("NFD", "Café")
    hint = did_you_mean([nfc], nfd)
    assert '"Caf\\xe9"' in hint and '"Cafe\\u0301"' in hint and "compared exactly" in hint
    padded = did_you_mean(["Sales/Orders"], "Sales/Orders ")
    assert "with spaces at the ends" in padded
    nbsp = did_you_mean(["Sales/Big Orders"], "Sales/Big\u00a0Orders")
    assert "\\xa0" in nbsp


def test_different_names_are_shown_plainly() -> None:
    assert did_you_mean(["Sales/Orders"], "Sales/Order") == ' Did you mean "Sales/Orders"?'
    assert "escaped" not in did_you_mean(["Sales/Big Orders"], "Sales/BigOrders")
    assert "compared exactly" not in did_you_mean(["Sales/Big Orders"], "Sales/BigOrders")
