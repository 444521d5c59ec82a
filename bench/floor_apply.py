"""The floor for bench_apply.py: a bare client that makes the writes `reconciler apply` makes, and nothing else.

Run: `python bench/floor_apply.py SERVER_URL PLAN_JSON PARALLELISM` with TABLEAU_PAT_NAME /
TABLEAU_PAT_SECRET in the environment (bench_apply.py runs it for you against its emulator, with the
plan that `reconciler plan --out` saved for the same site).

It signs in, then sends every task create of the saved plan as Tableau Server's add-to-schedule
(``PUT /sites/{site}/schedules/{schedule}/{datasources|workbooks}`` with the body reconciler sends),
``PARALLELISM`` at once with requests, checks each answer's status, and signs out. No read, no plan,
no TSC, no lock, no journal: any client that makes these writes must spend at least this.
"""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from xml.etree import ElementTree as ET
from xml.sax.saxutils import quoteattr

import requests
from floor_client import NS, sign_in


def main() -> int:
    server, plan_path, parallelism = sys.argv[1].rstrip("/"), sys.argv[2], int(sys.argv[3])
    with open(plan_path, encoding="utf-8") as handle:
        plan = json.load(handle)
    creates = [c for c in plan["resource_changes"] if c["kind"] == "task" and c["actions"] == ["create"]]
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=max(parallelism, 1)))
    base = f"{server}/api/{plan['api_version']}"
    credentials = sign_in(session, base)
    site = f"{base}/sites/{credentials.find(f'{NS}site').get('id')}"  # type: ignore[union-attr]
    schedules = _schedules(session, base) if creates else {}

    def create(change: dict[str, object]) -> int:
        target = change["target"]
        assert isinstance(target, dict)
        kind = target["item_kind"]
        url = f"{site}/schedules/{schedules[target['schedule_name']]}/{kind}s"
        data = f'<tsRequest><task><extractRefresh><{kind} id={quoteattr(target["item_id"])} /></extractRefresh>' \
               "</task></tsRequest>"
        answer = session.put(url, data=data, headers={"Content-Type": "application/xml"})
        answer.raise_for_status()
        return answer.status_code

    with ThreadPoolExecutor(max(parallelism, 1)) as pool:
        done = list(pool.map(create, creates))
    session.post(f"{base}/auth/signout")
    print(f"{len(done)} creates at parallelism {parallelism}")
    return 0


def _schedules(session: requests.Session, base: str) -> dict[str, str]:
    """Schedule name -> id, every 1,000-row page (the plan names schedules; the PUT needs their ids)."""
    out: dict[str, str] = {}
    for page in range(1, 1000):
        root = ET.fromstring(session.get(f"{base}/schedules?pageSize=1000&pageNumber={page}").content)
        out.update({s.get("name", ""): s.get("id", "") for s in root.iter(f"{NS}schedule")})
        pagination = root.find(f"{NS}pagination")
        if pagination is None or page * 1000 >= int(pagination.get("totalAvailable", "0")):
            break
    return out


if __name__ == "__main__":
    raise SystemExit(main())
