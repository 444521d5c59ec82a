"""The floor for bench_large.py: a bare client that fetches what `reconciler plan` fetches and parses it.

Run: `python bench/floor_client.py SERVER_URL DESIRED_FILE` with TABLEAU_PAT_NAME /
TABLEAU_PAT_SECRET in the environment (bench_large.py runs it for you against its emulator).

It makes the requests `plan` makes, with nothing else: server info, sign-in, the site, the
signed-in user, the task list, every 1,000-row page of projects, data sources, workbooks (with the
same ``fields``) and, on Tableau Server, schedules, then the detail of every schedule the file
declares, then sign-out. Up to 24 requests are in flight at once (plan's ``READ_PARALLELISM``),
and every answer is parsed with ``ElementTree.fromstring``. It builds no model and plans nothing:
any client that reads the site must spend at least this.
"""

from __future__ import annotations

import os
import re
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from xml.etree import ElementTree as ET

import requests

NS = "{http://tableau.com/api}"
PAGE = 1000
PARALLELISM = 24
FIELDS = "id,name,hasExtracts,encryptExtracts,project.id,project.name,owner.id"


def declared_schedules(path: str) -> set[str]:
    """The names under ``schedules:`` of a file written by bench_plan.desired_file (two-space keys)."""
    names: set[str] = set()
    inside = False
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if not line.startswith(" "):
                inside = line.startswith("schedules:")
            elif inside and (match := re.match(r"^  (\S.*?):\s*$", line)):
                name = match.group(1)
                names.add(name[1:-1].replace("''", "'") if name.startswith("'") else name)
    return names


def sign_in(session: requests.Session, base: str) -> ET.Element:
    """Sign in to the Default site with the PAT of the environment; the session carries the token after."""
    body = (f'<tsRequest><credentials personalAccessTokenName="{os.environ["TABLEAU_PAT_NAME"]}" '
            f'personalAccessTokenSecret="{os.environ["TABLEAU_PAT_SECRET"]}"><site contentUrl="" />'
            f'</credentials></tsRequest>')
    credentials = ET.fromstring(session.post(f"{base}/auth/signin", data=body).content).find(f"{NS}credentials")
    assert credentials is not None
    session.headers["X-Tableau-Auth"] = credentials.get("token", "")
    return credentials


def main() -> int:
    server, desired = sys.argv[1].rstrip("/"), sys.argv[2]
    wanted = declared_schedules(desired)
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=PARALLELISM))
    version = ET.fromstring(session.get(f"{server}/api/2.4/serverInfo").content) \
        .find(f"{NS}serverInfo/{NS}restApiVersion").text  # type: ignore[union-attr]
    base = f"{server}/api/{version}"
    credentials = sign_in(session, base)
    site_id = credentials.find(f"{NS}site").get("id")  # type: ignore[union-attr]
    user_id = credentials.find(f"{NS}user").get("id")  # type: ignore[union-attr]
    site = f"{base}/sites/{site_id}"

    def get(url: str) -> ET.Element:
        response = session.get(url)
        response.raise_for_status()
        return ET.fromstring(response.content)

    with ThreadPoolExecutor(PARALLELISM) as pool:
        singles = [pool.submit(get, url) for url in (site, f"{site}/users/{user_id}", f"{site}/tasks/extractRefreshes")]
        lists = {name: f"{url}{'&' if '?' in url else '?'}pageSize={PAGE}&pageNumber=" for name, url in (
            ("schedule", f"{base}/schedules"), ("project", f"{site}/projects"),
            ("datasource", f"{site}/datasources?fields={FIELDS}"), ("workbook", f"{site}/workbooks?fields={FIELDS}"))}
        firsts = {name: pool.submit(get, f"{url}1") for name, url in lists.items()}
        pages: dict[str, list[Future[ET.Element]]] = {}
        for name, future in firsts.items():
            try:
                first = future.result()
            except requests.HTTPError:  # Tableau Cloud has no server schedules (401)
                pages[name] = []
                continue
            pagination = first.find(f"{NS}pagination")
            total = int(pagination.get("totalAvailable", "0")) if pagination is not None else 0
            pages[name] = [future, *(pool.submit(get, f"{lists[name]}{n}") for n in range(2, -(-total // PAGE) + 1))]
        schedules = [node for f in pages["schedule"] for node in f.result().iter(f"{NS}schedule")]
        details = [pool.submit(get, f"{base}/schedules/{node.get('id')}") for node in schedules
                   if node.get("name") in wanted]
        counts = {name: sum(len(f.result().findall(f".//{NS}{name}")) for f in futures)
                  for name, futures in pages.items()}
        tasks = len(singles[2].result().findall(f".//{NS}extractRefresh"))
        for future in (*singles, *details):
            future.result()
    session.post(f"{base}/auth/signout")
    print(f"{counts['datasource']} datasources, {counts['workbook']} workbooks, {counts['project']} projects, "
          f"{tasks} tasks, {counts['schedule']} schedules, {len(details)} schedule details")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
