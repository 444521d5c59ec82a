"""Credentials from the environment: the unsuffixed variables, a site's own (``__FINANCE``), and which sites
may be read at the same time (one session per personal access token)."""

from __future__ import annotations

import pytest

from reconciler.errors import UsageError
from reconciler.tableau.connect import (
    Credentials,
    check_site_suffixes,
    credentials_for_site,
    credentials_from_env,
    session_groups,
    session_note,
    site_suffix,
)

SHARED = {"TABLEAU_PAT_NAME": "ci", "TABLEAU_PAT_SECRET": "s3cret"}


def test_the_unsuffixed_variables_in_order_pat_password_jwt() -> None:
    assert credentials_from_env(SHARED) == Credentials("pat", "ci", "s3cret")
    assert credentials_from_env({"TABLEAU_USERNAME": "u", "TABLEAU_PASSWORD": "p", "TABLEAU_JWT": "j"}) == \
        Credentials("password", "u", "p")
    assert credentials_from_env({"TABLEAU_JWT": "j"}) == Credentials("jwt", "", "j")


def test_half_a_pair_names_the_missing_variable() -> None:
    with pytest.raises(UsageError, match="TABLEAU_PAT_SECRET is not set, but TABLEAU_PAT_NAME is"):
        credentials_from_env({"TABLEAU_PAT_NAME": "ci"})
    with pytest.raises(UsageError, match="TABLEAU_USERNAME is not set, but TABLEAU_PASSWORD is"):
        credentials_from_env({"TABLEAU_PASSWORD": "p"})
    with pytest.raises(UsageError, match="No Tableau credentials found"):
        credentials_from_env({})


def test_site_suffix_is_the_content_url_upper_cased_with_underscores() -> None:
    assert site_suffix("finance") == "__FINANCE"
    assert site_suffix("supply-chain") == "__SUPPLY_CHAIN"
    assert site_suffix("Sales.EMEA 2") == "__SALES_EMEA_2"
    assert site_suffix("café") == "__CAF_"
    assert site_suffix("") == "__DEFAULT"


def test_a_site_uses_its_own_variables_first() -> None:
    env = {**SHARED, "TABLEAU_PAT_NAME__FINANCE": "fin", "TABLEAU_PAT_SECRET__FINANCE": "fin-secret",
           "TABLEAU_USERNAME__DEFAULT": "admin", "TABLEAU_PASSWORD__DEFAULT": "pw"}
    assert credentials_for_site("finance", env) == Credentials("pat", "fin", "fin-secret")
    assert credentials_for_site("", env) == Credentials("password", "admin", "pw")
    assert credentials_for_site("marketing", env) == Credentials("pat", "ci", "s3cret"), "falls back to unsuffixed"
    assert credentials_for_site("supply-chain", {"TABLEAU_JWT__SUPPLY_CHAIN": "jwt"}) == Credentials("jwt", "", "jwt")


def test_half_a_site_pair_is_an_error_never_completed_from_the_unsuffixed_ones() -> None:
    env = {**SHARED, "TABLEAU_PAT_NAME__FINANCE": "fin"}
    with pytest.raises(UsageError, match="TABLEAU_PAT_SECRET__FINANCE is not set, but TABLEAU_PAT_NAME__FINANCE is"):
        credentials_for_site("finance", env)


def test_no_credentials_for_a_site_names_the_site_and_the_scheme() -> None:
    with pytest.raises(UsageError, match=r'for site "finance".*TABLEAU_PAT_NAME__FINANCE'):
        credentials_for_site("finance", {})


def test_two_sites_whose_suffixes_collide_are_refused() -> None:
    with pytest.raises(UsageError, match=r'"supply-chain" and site "supply_chain".*__SUPPLY_CHAIN'):
        check_site_suffixes(["finance", "supply-chain", "supply_chain"])
    with pytest.raises(UsageError, match='site "default" and the Default site'):
        credentials_for_site("default", SHARED, sites=["", "default"])
    check_site_suffixes(["", "finance", "marketing", "finance"])  # the same site twice is one site


def test_sites_sharing_a_token_form_one_group_password_and_jwt_sites_are_alone() -> None:
    ci, other = Credentials("pat", "ci", "s1"), Credentials("pat", "fin", "s2")
    same_name_other_secret = Credentials("pat", "ci", "rotated")
    user, jwt = Credentials("password", "admin", "pw"), Credentials("jwt", "", "token")
    groups = session_groups([("", ci), ("finance", other), ("marketing", ci), ("people", user), ("sandbox", user),
                             ("hr", jwt), ("ops", same_name_other_secret), ("supply-chain", ci)])
    assert groups == [["", "marketing", "supply-chain"], ["finance"], ["people"], ["sandbox"], ["hr"], ["ops"]]
    assert session_groups([]) == []


def test_session_note_says_which_sites_share_a_token_and_what_to_do() -> None:
    ci, user = Credentials("pat", "ci", "s1"), Credentials("password", "admin", "pw")
    assert session_note([("", ci), ("finance", user), ("people", user)]) == ""
    note = session_note([("", ci), ("finance", ci), ("marketing", ci), ("people", ci), ("hr", user)])
    assert note.startswith("4 sites (the Default site, site \"finance\", site \"marketing\", …) share personal access "
                           "token 'ci': Tableau keeps one session per personal access token")
    assert "TABLEAU_PAT_NAME__<SITE>" in note
