"""Where a command's connection comes from: options, environment variables and the files, resolved into one
``ConnectionSettings`` (with the refusals of a server URL, site or timeout that cannot be right)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from reconciler.commands.options import ConnectionOptions
from reconciler.errors import UsageError
from reconciler.model import DesiredState
from reconciler.tableau.connect import ConnectionSettings, credentials_for_site, normalise_server_url
from reconciler.tableau.transport import RetryPolicy

__all__ = ["resolve_settings", "server_url"]

#: The site variable (an empty value is the Default site).
SITE_VAR = "TABLEAU_SITE"
#: Seconds to wait for each answer from the server (default 120).
TIMEOUT_VAR = "RECONCILER_HTTP_TIMEOUT"
#: First backoff between retries, in seconds (default 0.25, doubling per try); for tests.
RETRY_BASE_VAR = "RECONCILER_RETRY_BASE"


def _seconds(env: Mapping[str, str], name: str, default: float, most: float) -> float | None:
    """The number of seconds in ``env[name]``; None when unset (keep the default)."""
    text = env.get(name, "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= most:  # also refuses nan and inf
        raise UsageError(f"{name}={text!r} is not a number of seconds between 0 and {most:g}. "
                         f"Unset it, or give a number like {default:g}.")
    return value


_API_VERSION = re.compile(r"^[0-9]+\.[0-9]+$")
_HOST = re.compile(r"^([0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*|[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?)$")


def _site_name(site: str) -> str:
    return "the Default site (\"\")" if site == "" else repr(site)


def server_url(text: str) -> str:
    """``tableau.example.com/`` → ``https://tableau.example.com``; a UsageError for anything that is not a
    http(s) URL with a host name (TSC would fail later with a bare ValueError)."""
    url = normalise_server_url(text)
    if "://" in text and not text.split("://", 1)[1].strip().strip("/"):
        url = "https://"  # a scheme and nothing else: no host
    parts = urlsplit(url)
    try:
        port = parts.port
        host = parts.hostname or ""
    except ValueError:
        host, port = "", None
    if not _HOST.match(host) or (port is not None and not 0 < port < 65536) or parts.query:
        raise UsageError(f"{text!r} is not a Tableau server URL: give it like https://tableau.example.com "
                         "(--server or TABLEAU_SERVER, or server: in the file).")
    _refuse_pasted_path(text, parts.path, parts.fragment, f"{parts.scheme}://{parts.netloc}")
    return url


def _refuse_pasted_path(text: str, path: str, fragment: str, root: str) -> None:
    """A URL copied from the browser or an API call (``/#/site/finance``, ``/t/finance``, ``/api/3.25``): TSC
    would add ``/api/...`` after it and the server would answer 404 to a request nobody meant."""
    pasted = f"{path}#{fragment}" if fragment else path
    if not pasted.strip("/"):
        return
    site = re.search(r"(?:^|/)(?:t|site)/([^/#?]+)", pasted)
    if site:
        hint = f"and the site separately: --site {site.group(1)} (or TABLEAU_SITE, or site: in the file)"
    elif re.search(r"(?:^|/)api(?:/|$)", pasted):
        hint = "without /api/...: reconciler asks the server for its REST API version (pin one with --api-version)"
    else:
        hint = "with no path after the host name"
    raise UsageError(f"{text!r} has a path ({pasted!r}): give the server's address only, {root}, {hint}.")


def resolve_settings(options: ConnectionOptions, desired: DesiredState | None = None,
                     env: Mapping[str, str] | None = None,
                     warn: Callable[[str], None] | None = None) -> ConnectionSettings:
    """Connection settings from the flags (typer already folded in TABLEAU_SERVER/TABLEAU_SITE), else the files.

    ``TABLEAU_SITE=""`` names the Default site exactly as ``--site ""`` does (click drops an empty variable, so it
    is read here). A flag or variable that overrides the file's ``site:`` is said through ``warn``.
    """
    environment = os.environ if env is None else env
    server = options.server or (desired.server if desired else None)
    if not server:
        raise UsageError("No Tableau server given. Pass --server URL, set TABLEAU_SERVER, or put server: in the file.")
    given = options.site if options.site is not None else environment.get(SITE_VAR)
    from_file = desired.site if desired is not None else None
    site = given if given is not None else (from_file if from_file is not None else "")
    if given is not None and from_file is not None and given != from_file and warn is not None:
        warn(f"--site/{SITE_VAR} {_site_name(given)} overrides the files' site: {_site_name(from_file)}; this run "
             f"reads and writes {_site_name(given)}.")
    if options.api_version is not None and not _API_VERSION.match(options.api_version):
        raise UsageError(f"--api-version {options.api_version!r} is not a REST API version: give it like 3.21, or "
                         "leave it out to use the server's own.")
    tuning: dict[str, Any] = {}
    timeout = _seconds(environment, TIMEOUT_VAR, 120.0, 3600.0)
    if timeout is not None:
        tuning["timeout"] = timeout
    retry_base = _seconds(environment, RETRY_BASE_VAR, RetryPolicy.base, 60.0)
    if retry_base is not None:
        tuning["retry"] = RetryPolicy(base=retry_base)
    if options.ca_bundle is not None and not options.ca_bundle.is_file():
        raise UsageError(f"--ca-bundle {options.ca_bundle}: no such file. Give the PEM file of the CA that "
                         "signed the server's certificate.")
    return ConnectionSettings(
        server=server_url(server),
        site=site,
        credentials=credentials_for_site(site, env),
        api_version=options.api_version,
        ca_bundle=str(options.ca_bundle) if options.ca_bundle else None,
        insecure=options.insecure,
        debug=options.debug,
        **tuning,
    )
