"""Tableau REST XML on the wire: parsing requests leniently, writing responses by string building.

Responses are in the default namespace `http://tableau.com/api`, timestamps are exactly
`YYYY-MM-DDTHH:MM:SSZ`, and child elements follow the order of ts-api_3_29.xsd. Big lists are
built by joining strings (no DOM per element) with proper escaping.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable

from .exceptions import EmulatorError
from .recurrence import Recurrence

__all__ = [
    "INCREMENTAL_REFRESH_API", "api_at_least", "attrs", "boolean", "child", "children", "envelope", "error_body",
    "esc", "iso", "local", "parse_body", "recurrence_xml",
]

INCREMENTAL_REFRESH_API = (3, 25)
"""From this API version, Update Data Source/Workbook Now and Run Extract Refresh Task read
`<extractRefresh incremental="true"/>`; below it Tableau ignores the body and runs a full refresh
(docs/tableau-behaviour.md, "refresh --incremental needs REST API 3.25")."""


def api_at_least(version: str | None, minimum: tuple[int, int]) -> bool:
    """Whether the `{v}` of a request URL (e.g. "3.22") is at least `minimum`; unreadable counts as new."""
    try:
        parts = tuple(int(p) for p in (version or "").split("."))
    except ValueError:
        return True
    return not parts or parts >= minimum

NS = "http://tableau.com/api"
_HEAD = (
    "<?xml version='1.0' encoding='UTF-8'?>"
    f'<tsResponse xmlns="{NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    f'xsi:schemaLocation="{NS} https://help.tableau.com/samples/en-us/rest_api/ts-api_3_29.xsd">'
)


def esc(value: str) -> str:
    """Escape text for an XML attribute value or element content."""
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    if '"' in value:
        value = value.replace('"', "&quot;")
    if "\n" in value or "\r" in value or "\t" in value:
        value = value.replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
    return value


def attrs(pairs: Iterable[tuple[str, str | None]]) -> str:
    """` name="value"` for each pair whose value is not None."""
    return "".join(f' {k}="{esc(v)}"' for k, v in pairs if v is not None)


def iso(ts: float | None) -> str | None:
    """Epoch seconds → `YYYY-MM-DDTHH:MM:SSZ` (the only format TSC parses)."""
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def envelope(body: str) -> bytes:
    """Wrap response content in `<tsResponse xmlns="http://tableau.com/api">`."""
    return (_HEAD + body + "</tsResponse>").encode("utf-8")


def error_body(err: EmulatorError) -> bytes:
    """The one serialisation of an error: `<error code><summary/><detail/></error>`."""
    return envelope(f'<error code="{esc(err.code)}"><summary>{esc(err.summary)}</summary>'
                    f"<detail>{esc(err.detail)}</detail></error>")


def local(tag: str) -> str:
    """An element's tag without its namespace."""
    return tag.rsplit("}", 1)[-1]


def parse_body(body: bytes, *, required: bool = True) -> ET.Element:
    """Parse a `<tsRequest>` (with or without a namespace); 400000 when missing or malformed."""
    if not body.strip():
        if required:
            raise EmulatorError.bad_request("The request body is missing.")
        return ET.Element("tsRequest")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as e:
        raise EmulatorError.bad_request(f"The request body contains malformed XML: {e}.") from None
    for el in root.iter():
        el.tag = local(el.tag)
    if root.tag != "tsRequest":
        raise EmulatorError.bad_request(f"Expected a <tsRequest> root element, not <{root.tag}>.")
    return root


def child(el: ET.Element, name: str) -> ET.Element | None:
    """The first direct child called `name`."""
    return el.find(name)


def children(el: ET.Element, name: str) -> list[ET.Element]:
    """Every descendant called `name`."""
    return list(el.iter(name))


def boolean(value: str | None, what: str) -> bool | None:
    """`true`/`True`/`false`/`False` → bool; None stays None; anything else → 400000."""
    if value is None:
        return None
    low = value.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    raise EmulatorError.bad_request(f"Invalid boolean '{value}' for {what}.")


def recurrence_xml(rec: Recurrence) -> str:
    """`<frequencyDetails start end><intervals><interval …/></intervals></frequencyDetails>`."""
    intervals = "".join(f"<interval{attrs(i)}/>" for i in rec.intervals)
    return (f'<frequencyDetails{attrs((("start", rec.start), ("end", rec.end)))}>'
            f"<intervals>{intervals}</intervals></frequencyDetails>")
