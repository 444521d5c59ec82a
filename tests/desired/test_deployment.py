"""Deployment folders: deployment.yaml and one file or folder per site under sites/ (find, load, check, filter)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest

from reconciler.desired import find_deployment, load_deployment, load_desired
from reconciler.desired.schema import DEPLOYMENT_SCHEMA_FILE, load_schema
from reconciler.desired.yamlpos import parse_text
from reconciler.errors import DesiredStateInvalid, UsageError
from reconciler.model import Recurrence

SERVER = """version: 1
server: https://tableau.example.com
flavor: server
schedules:
  Nightly 02:00:
    frequency: daily
    start: "02:00"
  Weekly Monday 05:00:
    frequency: weekly
    start: "05:00"
    weekdays: [monday]
policy:
  prune: true
  max_deletes: 5
"""
DEFAULT_SITE = 'version: 1\nsite: ""\n'
SALES = """version: 1
extracts:
  - datasource: Sales/Orders
    refresh:
      - schedule: Nightly 02:00
"""
FINANCE = """version: 1
site: finance
extracts:
  - datasource: Finance/General Ledger
    refresh:
      - schedule: Weekly Monday 05:00
      - schedule: Nightly 02:00
"""


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def deploy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A deployment in ``deploy/`` under the current directory: the Default site as a folder, finance as a file."""
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "deploy"
    write(root, "deployment.yaml", SERVER)
    write(root, "sites/default/site.yaml", DEFAULT_SITE)
    write(root, "sites/default/projects/sales.yaml", SALES)
    write(root, "sites/finance.yaml", FINANCE)
    return Path("deploy")


def problems(root: Path, **kwargs: object) -> list[str]:
    with pytest.raises(DesiredStateInvalid) as error:
        load_deployment(root, **kwargs)  # type: ignore[arg-type]
    return [str(p) for p in error.value.problems]


# --- finding a deployment --------------------------------------------------------------------------------------
def test_a_folder_holding_deployment_yaml_or_that_file_is_a_deployment(deploy: Path) -> None:
    assert find_deployment([deploy]) == deploy
    assert find_deployment([str(deploy)]) == deploy
    assert find_deployment([deploy / "deployment.yaml"]) == deploy
    assert find_deployment([deploy / "sites" / "finance.yaml"]) is None  # one site's file: single-site, as today
    assert find_deployment([deploy / "sites"]) is None
    assert find_deployment([]) is None


def test_deployment_yml_is_recognised_too(tmp_path: Path) -> None:
    write(tmp_path, "deployment.yml", SERVER)
    assert find_deployment([tmp_path]) == tmp_path


def test_a_deployment_is_given_alone(deploy: Path) -> None:
    with pytest.raises(UsageError) as error:
        find_deployment([deploy, deploy / "sites" / "finance.yaml"])
    assert str(error.value) == (
        "deploy/ is a deployment folder (it holds deployment.yaml), given with other paths; a deployment is given "
        "alone: name only its folder (deploy/), which reads every site under its sites/ folder (--site picks some), "
        "or name one site's files without the deployment.")
    with pytest.raises(UsageError, match=r"deploy/deployment\.yaml is the server file of the deployment deploy/"):
        find_deployment([deploy / "sites" / "finance.yaml", deploy / "deployment.yaml"])


# --- loading -----------------------------------------------------------------------------------------------------
def test_every_site_is_loaded_with_the_deployments_schedules(deploy: Path) -> None:
    deployment = load_deployment(deploy)
    assert deployment.root == "deploy/"
    assert (deployment.server, deployment.flavor) == ("https://tableau.example.com", "server")
    assert [s.name for s in deployment.schedules] == ["Nightly 02:00", "Weekly Monday 05:00"]
    assert (deployment.policy.prune, deployment.policy.max_deletes) == (True, 5)
    assert [site.label for site in deployment.sites] == ["default", "finance"]
    default, finance = (site.desired for site in deployment.sites)
    assert (default.site, finance.site) == ("", "finance")
    for desired in (default, finance):
        assert desired.schedules == deployment.schedules
        assert (desired.server, desired.flavor) == ("https://tableau.example.com", "server")
        assert desired.policy.prune is False  # the server file's policy is the deployment's, not a site's
    assert default.files == ("deploy/sites/default/projects/sales.yaml", "deploy/sites/default/site.yaml")
    assert finance.files == ("deploy/sites/finance.yaml",)
    assert [str(e.ref) for e in default.extracts] == ["Sales/Orders"]
    refresh = finance.extracts[0].refresh
    assert refresh is not None and [t.schedule for t in refresh] == ["Weekly Monday 05:00", "Nightly 02:00"]
    assert refresh[0].recurrence is None  # Server: tasks name their schedule
    assert deployment.files[0] == "deploy/deployment.yaml" and len(deployment.files) == 4


def test_each_site_is_what_load_desired_gives_with_the_schedules_restated(deploy: Path, tmp_path: Path) -> None:
    """The single-site machinery: a site of a deployment equals its files with the schedules in them."""
    schedules = SERVER.split("flavor: server\n")[1].split("policy:")[0]
    alone = write(tmp_path, "alone/finance.yaml",
                  FINANCE + schedules + "server: https://tableau.example.com\nflavor: server\n")
    finance = load_deployment(deploy).sites[1].desired
    assert finance == replace(load_desired([alone]), files=finance.files)


def test_sites_are_picked_by_label_or_content_url(deploy: Path) -> None:
    assert [s.label for s in load_deployment(deploy, sites=["finance"]).sites] == ["finance"]
    assert [s.label for s in load_deployment(deploy, sites=[""]).sites] == ["default"]
    assert [s.label for s in load_deployment(deploy, sites=["default", "finance"]).sites] == ["default", "finance"]
    # the schedules stay the whole deployment's
    assert len(load_deployment(deploy, sites=["default"]).schedules) == 2


def test_an_unknown_site_lists_the_sites_with_a_close_match(deploy: Path) -> None:
    with pytest.raises(UsageError) as error:
        load_deployment(deploy, sites=["financ"])
    assert str(error.value) == (
        '--site "financ" is not a site of the deployment deploy/: its sites are default, finance (a label is the '
        "file or folder name under sites/; a site's contentUrl works too). Did you mean \"finance\"?")


def test_flavor_override_and_cloud_templates_are_inlined_per_site(deploy: Path) -> None:
    write(deploy, "deployment.yaml", SERVER.replace("flavor: server\n", "").replace("policy:\n  prune: true\n"
                                                                                  "  max_deletes: 5\n", ""))
    deployment = load_deployment(deploy, flavor="cloud")
    assert deployment.flavor == "cloud"
    finance = deployment.sites[1].desired
    refresh = finance.extracts[0].refresh
    assert refresh is not None
    assert refresh[0].recurrence == Recurrence("weekly", "05:00", weekdays=("monday",))
    assert refresh[1].recurrence == Recurrence("daily", "02:00", every=1440)
    assert refresh[0].schedule == "Weekly Monday 05:00"  # kept as the template's label


def test_no_flavor_leaves_the_platform_rules_for_later(deploy: Path) -> None:
    write(deploy, "deployment.yaml", SERVER.replace("flavor: server\n", ""))
    deployment = load_deployment(deploy)
    assert deployment.flavor is None and deployment.sites[1].desired.flavor is None


def test_a_template_declared_in_one_site_is_usable_by_every_site(deploy: Path) -> None:
    write(deploy, "sites/finance.yaml", FINANCE + 'schedules:\n  Month End:\n    frequency: monthly\n'
                                                  '    start: "23:00"\n    month_days: [last]\n')
    write(deploy, "sites/default/projects/sales.yaml", SALES + "      - schedule: Month End\n")
    deployment = load_deployment(deploy)
    assert [s.name for s in deployment.schedules] == ["Month End", "Nightly 02:00", "Weekly Monday 05:00"]
    assert deployment.sites[0].desired.schedules == deployment.schedules


def test_an_identical_restatement_is_allowed(deploy: Path) -> None:
    restated = ('schedules:\n  Nightly 02:00:\n    frequency: daily\n    start: "2:00"\n    priority: 50\n')
    write(deploy, "sites/finance.yaml", FINANCE + restated)
    write(deploy, "sites/default/site.yaml", DEFAULT_SITE + restated)
    deployment = load_deployment(deploy)
    assert [s.name for s in deployment.schedules] == ["Nightly 02:00", "Weekly Monday 05:00"]
    assert deployment.schedules[0].source is not None and deployment.schedules[0].source.file == \
        "deploy/deployment.yaml"


def test_referenced_schedules_are_shared_too(deploy: Path) -> None:
    write(deploy, "deployment.yaml", SERVER + "referenced_schedules: [Payroll 1st and 15th]\n")
    write(deploy, "sites/finance.yaml", FINANCE + "      - schedule: Payroll 1st and 15th\n")
    deployment = load_deployment(deploy)
    assert [r.name for r in deployment.referenced_schedules] == ["Payroll 1st and 15th"]
    assert [r.name for r in deployment.sites[0].desired.referenced_schedules] == ["Payroll 1st and 15th"]


def test_hidden_entries_and_other_files_beside_the_sites_are_skipped(deploy: Path) -> None:
    write(deploy, "sites/.draft.yaml", "not: [valid")
    write(deploy, "sites/.git/x.yaml", "not: [valid")
    write(deploy, "sites/README.md", "# the sites")
    write(deploy, "stray.yaml", FINANCE)
    deployment = load_deployment(deploy)
    assert [site.label for site in deployment.sites] == ["default", "finance"]
    assert deployment.notes == ("deploy/stray.yaml was not read: a deployment reads deployment.yaml and the sites "
                                "under sites/; move it into a site's folder if it is one.",)


# --- every error, with both places -------------------------------------------------------------------------------
def test_a_site_restating_a_schedule_differently_names_both_places(deploy: Path) -> None:
    write(deploy, "sites/finance.yaml", FINANCE + 'schedules:\n  Nightly 02:00:\n    frequency: daily\n'
                                                  '    start: "03:00"\n    priority: 10\n')
    assert problems(deploy) == [
        'deploy/sites/finance.yaml:9:3: schedule "Nightly 02:00" differs from deploy/deployment.yaml:5:3 (start '
        '"03:00" vs "02:00", priority 10 vs 50); a server schedule is defined once: remove it here to use that one '
        "(site files name the deployment's schedules without restating them), or make the two the same."]


def test_two_sites_disagreeing_about_a_schedule_name_both_places(deploy: Path) -> None:
    declared = 'schedules:\n  Month End:\n    frequency: monthly\n    start: "{}"\n    month_days: [last]\n'
    write(deploy, "sites/default/site.yaml", DEFAULT_SITE + declared.format("23:00"))
    write(deploy, "sites/finance.yaml", FINANCE + declared.format("22:00"))
    assert problems(deploy) == [
        'deploy/sites/finance.yaml:9:3: schedule "Month End" differs from deploy/sites/default/site.yaml:4:3 (start '
        '"22:00" vs "23:00"); a server schedule is defined once: remove it here to use that one (site files name '
        "the deployment's schedules without restating them), or make the two the same."]


def test_on_cloud_the_message_speaks_of_templates(deploy: Path) -> None:
    write(deploy, "deployment.yaml", SERVER.replace("flavor: server", "flavor: cloud"))
    write(deploy, "sites/finance.yaml", FINANCE + 'schedules:\n  Nightly 02:00:\n    frequency: daily\n'
                                                  '    start: "03:00"\n')
    assert "a schedule template of the deployment is defined once" in problems(deploy)[0]


def test_a_schedule_declared_nowhere_says_did_you_mean(deploy: Path) -> None:
    write(deploy, "sites/finance.yaml", FINANCE.replace("schedule: Nightly 02:00", "schedule: Nightly 2:00"))
    assert problems(deploy) == [
        'deploy/sites/finance.yaml:7:19: the schedule "Nightly 2:00" is not declared under schedules: in '
        "deploy/deployment.yaml or in any site's files. Did you mean \"Nightly 02:00\"? Declare it in "
        "deploy/deployment.yaml (once, for every site), or name a declared schedule."]


@pytest.mark.parametrize(("key", "text", "expected"), [
    ("site", "site: finance\n",
     "deploy/deployment.yaml:15:7: site: does not belong in deployment.yaml: each site says its contentUrl in its "
     "own files under sites/ (site: finance, or site: \"\" for the Default site)."),
    ("extracts", "extracts:\n  - datasource: A/B\n",
     "deploy/deployment.yaml:15:1: extracts: does not belong in deployment.yaml: a site's data sources, workbooks "
     "and their refresh tasks go in that site's files under sites/."),
    ("encryption", "encryption:\n  mode: enabled\n",
     "deploy/deployment.yaml:15:1: encryption: does not belong in deployment.yaml: extract encryption is a setting "
     "of each site: set encryption: in the site's files under sites/."),
])
def test_site_keys_in_deployment_yaml_are_refused_with_the_place(deploy: Path, key: str, text: str,
                                                                  expected: str) -> None:
    write(deploy, "deployment.yaml", SERVER + text)
    found = problems(deploy)
    assert len(found) == 1 and found[0].replace(":15:7:", ":15:1:") == expected.replace(":15:7:", ":15:1:")
    assert found[0].startswith("deploy/deployment.yaml:15:")


def test_only_prune_and_max_deletes_in_the_server_policy(deploy: Path) -> None:
    write(deploy, "deployment.yaml", SERVER + "  scope:\n    projects: [Sales]\n")
    assert problems(deploy) == ['deploy/deployment.yaml:15:3: unknown key "scope" in policy. Allowed keys: prune, '
                                "max_deletes."]


def test_two_sites_with_the_same_content_url_name_both_places(deploy: Path) -> None:
    write(deploy, "sites/finance-copy.yaml", "version: 1\nsite: finance\n")
    assert problems(deploy) == [
        'deploy/sites/finance.yaml:2:7: site: "finance" is also the site at deploy/sites/finance-copy.yaml:2:7; '
        "each site of a deployment is one file or folder under sites/: merge the two, or fix site:."]


def test_a_site_without_site_is_refused(deploy: Path) -> None:
    write(deploy, "sites/default/site.yaml", "version: 1\n")
    assert problems(deploy) == [
        'deploy/sites/default/projects/sales.yaml:1:1: the site "default" does not say which site it is: add site: '
        'with its contentUrl (site: "default", or site: "" for the Default site) to one of its files.']


@pytest.mark.parametrize(("key", "value", "deployment_value", "column"), [
    ("server", "https://other.example.com", '"https://tableau.example.com" in deploy/deployment.yaml:2:9', 9),
    ("flavor", "cloud", '"server" in deploy/deployment.yaml:3:9', 9),
])
def test_a_site_on_another_server_or_flavor_names_both_places(deploy: Path, key: str, value: str,
                                                              deployment_value: str, column: int) -> None:
    write(deploy, "sites/finance.yaml", FINANCE + f"{key}: {value}\n")
    assert problems(deploy) == [
        f'deploy/sites/finance.yaml:8:{column}: {key}: is "{value}" here but {deployment_value}; a site of a '
        f"deployment has the deployment's {key}: leave {key}: out of the site's files, or make it the same as "
        "deploy/deployment.yaml's."]


def test_a_site_repeating_the_deployments_server_and_flavor_is_fine(deploy: Path) -> None:
    write(deploy, "sites/finance.yaml", FINANCE + "server: https://tableau.example.com\nflavor: server\n")
    assert load_deployment(deploy).sites[1].desired.server == "https://tableau.example.com"


def test_the_same_label_twice_is_refused(deploy: Path) -> None:
    write(deploy, "sites/finance/site.yaml", "version: 1\nsite: finance2\n")
    assert problems(deploy) == ['deploy/sites/finance.yaml:1:1: this and deploy/sites/finance are both the site '
                                '"finance"; keep one of them (a site is one file or one folder).']


def test_a_deployment_without_sites_says_how_to_add_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "d/deployment.yaml", SERVER)
    assert problems(Path("d")) == [
        "d/deployment.yaml:1:1: this deployment has no sites/ folder: add one file (sites/LABEL.yaml) or folder "
        "(sites/LABEL/) per site, each saying site: (the site's contentUrl)."]
    (tmp_path / "d" / "sites").mkdir()
    assert problems(Path("d")) == [
        "d/deployment.yaml:1:1: this deployment has no sites: d/sites holds no site; add one file (sites/LABEL.yaml) "
        "or folder (sites/LABEL/) per site."]


def test_problems_of_every_site_come_together_once(deploy: Path) -> None:
    """A rule broken by the shared schedules is reported once, not once per site; each site's own problems too."""
    write(deploy, "deployment.yaml", SERVER.replace("  Weekly Monday 05:00:", '  nightly 02:00:\n    frequency: daily'
                                                                              '\n    start: "04:00"\n'
                                                                              "  Weekly Monday 05:00:"))
    write(deploy, "sites/default/projects/sales.yaml", SALES.replace("Nightly 02:00", "Nightly 03:00"))
    found = problems(deploy)
    assert len([p for p in found if "differ only in case" in p]) == 1
    assert any(p.startswith("deploy/sites/default/projects/sales.yaml:5:19:") for p in found)
    assert len(found) == 2


def test_a_site_read_alone_points_at_its_deployment(deploy: Path) -> None:
    with pytest.raises(DesiredStateInvalid) as error:
        load_desired([deploy / "sites" / "finance.yaml"])
    assert str(error.value.problems[0]) == (
        'deploy/sites/finance.yaml is part of the deployment deploy/ (its site "finance"), whose schedules are '
        "declared in deploy/deployment.yaml: give the deployment folder instead, as in `reconciler validate "
        "deploy/ --site finance`.")


def test_every_problem_has_a_place(deploy: Path) -> None:
    write(deploy, "deployment.yaml", SERVER + "extracts: []\n")
    write(deploy, "sites/finance.yaml", FINANCE.replace("Nightly 02:00", "Nightly") + "flavor: cloud\n")
    found = problems(deploy)
    assert len(found) == 3 and all(p.startswith("deploy/") for p in found)


# --- the schema ----------------------------------------------------------------------------------------------------
def test_the_deployment_schema_shares_the_schedule_definition() -> None:
    schema, site = load_schema(DEPLOYMENT_SCHEMA_FILE), load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$defs"]["schedule"] == site["$defs"]["schedule"]
    for key in ("version", "schedules", "referenced_schedules"):
        assert {k: v for k, v in schema["properties"][key].items() if k != "description"} == \
            {k: v for k, v in site["properties"][key].items() if k != "description"}
    assert set(schema["properties"]) == {"version", "server", "flavor", "schedules", "referenced_schedules", "policy"}
    assert set(schema["properties"]["policy"]["properties"]) == {"prune", "max_deletes"}
    assert schema["$id"].endswith("/" + DEPLOYMENT_SCHEMA_FILE)
    link = Path(__file__).resolve().parents[2] / "schemas" / DEPLOYMENT_SCHEMA_FILE
    assert json.loads(link.read_text(encoding="utf-8")) == schema


def test_the_schema_accepts_the_server_file_and_refuses_site_keys() -> None:
    validator = jsonschema.Draft202012Validator(load_schema(DEPLOYMENT_SCHEMA_FILE))
    parsed, found = parse_text(SERVER, "deployment.yaml", lambda text: text)
    assert parsed is not None and not found
    assert list(validator.iter_errors(parsed.data)) == []
    for extra in ({"site": "x"}, {"extracts": []}, {"encryption": {"mode": "enabled"}},
                  {"policy": {"protect": []}}):
        assert list(validator.iter_errors({**parsed.data, **extra}))


# --- validate ------------------------------------------------------------------------------------------------------
def test_validate_prints_a_line_per_site(deploy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from reconciler.cli import main

    assert main(["validate", str(deploy)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "deploy/: a deployment of 2 sites on https://tableau.example.com, 4 files: 2 schedules (flavor: server)",
        "  default  the Default site: 2 files, 1 item, 1 refresh task using 1 schedule",
        '  finance  site "finance": 1 file, 1 item, 2 refresh tasks using 2 schedules']
    assert main(["validate", str(deploy), "--site", "finance", "--flavor", "server"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        '  finance  site "finance": 1 file, 1 item, 2 refresh tasks using 2 schedules']


def test_validate_reports_a_deployments_errors_and_refuses_site_for_one_site(deploy: Path,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    from reconciler.cli import main

    write(deploy, "sites/finance.yaml", FINANCE + 'schedules:\n  Nightly 02:00:\n    frequency: daily\n'
                                                  '    start: "03:00"\n')
    assert main(["validate", str(deploy)]) == 1
    err = capsys.readouterr().err
    assert 'deploy/sites/finance.yaml:9:3: schedule "Nightly 02:00" differs from deploy/deployment.yaml:5:3' in err
    assert main(["validate", str(deploy / "sites" / "default"), "--site", "x"]) == 1
    assert "--site picks sites of a deployment" in capsys.readouterr().err


def test_validate_each_is_unchanged(deploy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--each reads every path as one site's configuration, as before (a deployment folder is one of those)."""
    from reconciler.cli import main

    assert main(["validate", "--each", str(deploy / "sites" / "default" / "site.yaml")]) == 0
    assert "1 file: 0 schedules" in capsys.readouterr().out
