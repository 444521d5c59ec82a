"""Addresses: the stable, human-readable names of planned objects (``schedule["Nightly 02:00"]``)."""

from __future__ import annotations

from json.encoder import encode_basestring

__all__ = [
    "SITE_MODE",
    "encrypt_address",
    "item_address",
    "quote",
    "schedule_address",
    "task_address",
]

#: The address of the site's extract encryption mode.
SITE_MODE = "site.encryption_mode"


def quote(text: str) -> str:
    """A name in double quotes, JSON-escaped (a name may contain quotes).

    Exactly ``json.dumps(text, ensure_ascii=False)``, which for a string is this very function,
    without building an encoder each time (a large site quotes tens of thousands of names).
    """
    return encode_basestring(text)


def schedule_address(name: str) -> str:
    return f"schedule[{quote(name)}]"


def item_address(kind: str, path: str) -> str:
    return f"{kind}[{quote(path)}]"


def encrypt_address(kind: str, path: str) -> str:
    return f"{item_address(kind, path)}.encrypt"


def task_address(kind: str, path: str, task_type: str, when: str) -> str:
    return f"task[{kind} {quote(path)}][{task_type} @ {when}]"
