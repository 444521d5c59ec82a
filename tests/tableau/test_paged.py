"""tableau.read.Paged: the one paging helper (site lists, job history)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree as ET

import pytest

from reconciler.errors import TableauRequestError
from reconciler.tableau.read import PAGE_SIZE, Fetcher, Paged

NS = "http://tableau.com/api"


class _Pages:
    """Answers ``GET`` with page N of ``total`` numbered ``<job>`` entries (``pageSize`` per page)."""

    def __init__(self, total: int, size: int, fail_page: int | None = None) -> None:
        self.total, self.size, self.fail_page = total, size, fail_page
        self.urls: list[str] = []

    def get(self, url: str, doing: str) -> bytes:
        self.urls.append(url)
        number = int(parse_qs(urlsplit(url).query)["pageNumber"][0])
        if number == self.fail_page:
            raise TableauRequestError(f"{doing}: page {number} failed")
        first = (number - 1) * self.size
        jobs = "".join(f'<job id="{n}"/>' for n in range(first, min(first + self.size, self.total)))
        return (f'<tsResponse xmlns="{NS}"><pagination pageNumber="{number}" pageSize="{self.size}" '
                f'totalAvailable="{self.total}"/><jobs>{jobs}</jobs></tsResponse>').encode()


def _even(node: ET.Element) -> int | None:
    number = int(node.get("id", ""))
    return number if number % 2 == 0 else None


def test_every_page_is_read_in_order_and_converted_in_the_worker() -> None:
    pages = _Pages(total=7, size=3)
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = Paged(Fetcher(cast(Any, pages), pool), "https://x/jobs?filter=a", "job", "listing jobs", _even).entries()
    assert got == [0, 2, 4, 6], "None from convert drops the entry; pages keep their order"
    assert sorted(pages.urls) == [f"https://x/jobs?filter=a&pageSize={PAGE_SIZE}&pageNumber={n}" for n in (1, 2, 3)]


def test_an_error_on_a_later_page_fails_the_whole_list() -> None:
    pages = _Pages(total=7, size=3, fail_page=3)
    with ThreadPoolExecutor(max_workers=4) as pool, pytest.raises(TableauRequestError, match="page 3 failed"):
        Fetcher(cast(Any, pages), pool).paged("https://x/jobs", "job", "listing jobs").entries()
