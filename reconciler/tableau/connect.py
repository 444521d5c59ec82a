"""Connecting to Tableau: settings from flags, environment and files; sign-in; one session per run.

Credentials come only from the environment (``TABLEAU_PAT_NAME`` + ``TABLEAU_PAT_SECRET``, or
``TABLEAU_USERNAME`` + ``TABLEAU_PASSWORD``, or ``TABLEAU_JWT``) and are never printed, logged or
written anywhere. A run over several sites may give a site its own credentials with a suffix
(``credentials_for_site``: ``TABLEAU_PAT_NAME__FINANCE``), and reads the sites that share one personal
access token one after another (``session_groups``): Tableau keeps one session per token.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlsplit

import requests
import tableauserverclient as TSC
from tableauserverclient.server.endpoint import Endpoint
from tableauserverclient.server.endpoint.exceptions import (
    FailedSignInError,
    InternalServerError,
    NonXMLResponseError,
    NotSignedInError,
    ServerResponseError,
)
from tableauserverclient.server.exceptions import EndpointUnavailableError, ServerInfoEndpointNotFoundError

from reconciler.errors import ReconcilerError, TableauConnectionError, TableauRequestError, UsageError
from reconciler.model import site_label
from reconciler.tableau.transport import RetryPolicy, TransportHooks, make_session_factory

__all__ = [
    "Connection",
    "ConnectionSettings",
    "Credentials",
    "check_site_suffixes",
    "connect",
    "credentials_for_site",
    "credentials_from_env",
    "normalise_server_url",
    "session_groups",
    "session_note",
    "site_suffix",
    "translate_error",
    "translated",
]

CREDENTIAL_HELP = (
    "Set TABLEAU_PAT_NAME and TABLEAU_PAT_SECRET (a personal access token), or TABLEAU_USERNAME and "
    "TABLEAU_PASSWORD, or TABLEAU_JWT, in the environment."
)


@dataclass(frozen=True)
class Credentials:
    """Who signs in. ``secret`` is never shown (not even in ``repr``)."""

    kind: str  # "pat" | "password" | "jwt"
    name: str
    secret: str = field(repr=False)

    def tsc_auth(self, site: str) -> Any:
        if self.kind == "pat":
            return TSC.PersonalAccessTokenAuth(self.name, self.secret, site_id=site)
        if self.kind == "password":
            return TSC.TableauAuth(self.name, self.secret, site_id=site)
        return TSC.JWTAuth(self.secret, site_id=site)

    def describe(self) -> str:
        return {"pat": f"personal access token {self.name!r}", "password": f"user {self.name!r}",
                "jwt": "a JSON Web Token"}[self.kind]


def credentials_from_env(env: Mapping[str, str] | None = None) -> Credentials:
    """Read credentials from the environment, or explain exactly what is missing."""
    env = os.environ if env is None else env
    found = _credentials(env, "")
    if found is None:
        raise UsageError(f"No Tableau credentials found. {CREDENTIAL_HELP}")
    return found


#: The variables that hold credentials, in the order they are tried (a pair, or TABLEAU_JWT alone).
_CREDENTIAL_NAMES = ("TABLEAU_PAT_NAME", "TABLEAU_PAT_SECRET", "TABLEAU_USERNAME", "TABLEAU_PASSWORD", "TABLEAU_JWT")


def _credentials(env: Mapping[str, str], suffix: str) -> Credentials | None:
    """The credentials in the variables ending in ``suffix`` ("" or ``__FINANCE``); None when none is set;
    UsageError when only half of a pair is."""
    pat_name, pat_secret, user, password, jwt = (env.get(name + suffix) for name in _CREDENTIAL_NAMES)
    if pat_name and pat_secret:
        return Credentials("pat", pat_name, pat_secret)
    if user and password:
        return Credentials("password", user, password)
    if jwt:
        return Credentials("jwt", "", jwt)
    for first, second, has_first, has_second in (
            ("TABLEAU_PAT_NAME", "TABLEAU_PAT_SECRET", pat_name, pat_secret),
            ("TABLEAU_USERNAME", "TABLEAU_PASSWORD", user, password)):
        if has_first or has_second:
            missing, present = (second, first) if has_first else (first, second)
            raise UsageError(f"{missing}{suffix} is not set, but {present}{suffix} is. {CREDENTIAL_HELP}"
                             + (f" {SITE_CREDENTIAL_HELP}" if suffix else ""))
    return None


SITE_CREDENTIAL_HELP = (
    "A site may have its own credentials: the same variables with two underscores and the site's contentUrl "
    "upper-cased, every character other than A-Z and 0-9 written as _ (TABLEAU_PAT_NAME__FINANCE and "
    "TABLEAU_PAT_SECRET__FINANCE for contentUrl \"finance\"; __DEFAULT for the Default site); a site without "
    "them uses the unsuffixed variables."
)
_NOT_NAME_CHARACTER = re.compile(r"[^A-Z0-9]")


def site_suffix(content_url: str) -> str:
    """The suffix of a site's own credential variables: ``finance`` → ``__FINANCE``, ``supply-chain`` →
    ``__SUPPLY_CHAIN``, the Default site ("") → ``__DEFAULT``. Only A-Z, 0-9 and _ appear in it, so the
    variable can be set from any shell and CI system."""
    return "__" + (_NOT_NAME_CHARACTER.sub("_", content_url.upper()) if content_url else "DEFAULT")


def check_site_suffixes(content_urls: Iterable[str]) -> None:
    """UsageError when two sites' credential variables would have the same name (``supply-chain`` and
    ``supply_chain``; ``default`` and the Default site): one variable cannot hold two sites' secrets."""
    seen: dict[str, str] = {}
    for content_url in content_urls:
        suffix = site_suffix(content_url)
        other = seen.setdefault(suffix, content_url)
        if other != content_url:
            raise UsageError(
                f"{site_label(other)} and {site_label(content_url)} would both read their own credentials from "
                f"TABLEAU_PAT_NAME{suffix} (and the other TABLEAU_*{suffix} variables): the suffix is the "
                "contentUrl upper-cased with every character other than A-Z and 0-9 written as _, so the two "
                "cannot be told apart. Give them the unsuffixed variables (one identity for both), or run them "
                "separately.")


def credentials_for_site(content_url: str, env: Mapping[str, str] | None = None,
                         sites: Iterable[str] = ()) -> Credentials:
    """The credentials to sign in to the site with this contentUrl, from the environment only.

    The site's own variables come first: ``TABLEAU_PAT_NAME`` + ``TABLEAU_PAT_SECRET``, ``TABLEAU_USERNAME`` +
    ``TABLEAU_PASSWORD`` or ``TABLEAU_JWT``, each followed by ``site_suffix(content_url)`` (``__FINANCE``).
    When none of them is set, the unsuffixed variables (``credentials_from_env``). Half a pair is an error,
    suffixed or not, and never completed from the other set. ``sites``: every site of the run, checked for
    two suffixes alike (``check_site_suffixes``).
    """
    env = os.environ if env is None else env
    check_site_suffixes([content_url, *sites])
    own = _credentials(env, site_suffix(content_url))
    if own is not None:
        return own
    found = _credentials(env, "")
    if found is None:
        raise UsageError(f"No Tableau credentials found for {site_label(content_url)}. {CREDENTIAL_HELP} "
                         f"{SITE_CREDENTIAL_HELP}")
    return found


def session_groups(sites: Sequence[tuple[str, Credentials]]) -> list[list[str]]:
    """The sites (contentUrls) that must be read one after another, as groups that may run at the same time.

    Tableau keeps one session per personal access token on the whole server: a second sign-in with it, on
    any site, ends the first (docs/tableau-behaviour.md, "A personal access token's sign-in on another site
    ends its session on the first"). So the sites signed in with the same token (name and secret) form one
    group, read in turn; a site with a password or a JSON Web Token is a group of its own. Groups come in
    the order of their first site; sites keep their order within a group.
    """
    groups: list[list[str]] = []
    by_token: dict[tuple[str, str], list[str]] = {}
    for content_url, credentials in sites:
        if credentials.kind != "pat":
            groups.append([content_url])
            continue
        key = (credentials.name, credentials.secret)
        group = by_token.get(key)
        if group is None:
            group = by_token[key] = []
            groups.append(group)
        group.append(content_url)
    return groups


def session_note(sites: Sequence[tuple[str, Credentials]]) -> str:
    """One sentence for a run over several sites when some share a personal access token and so are read one
    after another (``session_groups``); "" when every site may be read at the same time."""
    shared = [group for group in session_groups(sites) if len(group) > 1]
    if not shared:
        return ""
    credentials = dict(sites)
    parts = [f"{len(group)} sites ({', '.join(site_label(site) for site in group[:3])}"
             f"{', …' if len(group) > 3 else ''}) share {credentials[group[0]].describe()}" for group in shared]
    return (f"{'; '.join(parts)}: Tableau keeps one session per personal access token, so those sites are read one "
            "after another. Give a site its own token (TABLEAU_PAT_NAME__<SITE> and TABLEAU_PAT_SECRET__<SITE>, "
            "docs/cli.md) to read it at the same time as the others.")


def normalise_server_url(url: str) -> str:
    """``tableau.example.com/`` → ``https://tableau.example.com``; refuses what is not a URL."""
    text = url.strip().rstrip("/")
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"{url!r} is not a Tableau server URL (like https://tableau.example.com).")
    return text


@dataclass(frozen=True)
class ConnectionSettings:
    """Everything needed to reach and sign in to one site."""

    server: str
    site: str
    credentials: Credentials
    api_version: str | None = None
    ca_bundle: str | None = None
    insecure: bool = False
    timeout: float = 120.0
    debug: bool = False
    pool_size: int = 16
    retry: RetryPolicy = field(default_factory=RetryPolicy)


class Connection:
    """A signed-in TSC ``Server`` for one site, shared by every thread of a run."""

    def __init__(self, settings: ConnectionSettings, warn: Callable[[str], None]) -> None:
        self.settings = settings
        self.hooks = TransportHooks(reauthenticate=self._reauthenticate, trace=settings.debug)
        self._auth_lock = threading.RLock()  # switch_site holds it; a re-sign-in inside it takes it again
        #: The contentUrl of the site the session is on: ``settings.site``, but for the time ``switch_site``
        #: has taken it elsewhere (a re-sign-in after an expired token goes back to this site).
        self.current_site = settings.site
        self.product_version = ""
        verify: bool | str = True
        if settings.insecure:
            verify = False
            warn("--insecure: TLS certificates are NOT verified. Anyone on the network path can read "
                 "your credentials and change what this run sends. Use --ca-bundle instead.")
        elif settings.ca_bundle:
            if not os.path.isfile(settings.ca_bundle):
                raise UsageError(f"--ca-bundle {settings.ca_bundle}: no such file.")
            verify = settings.ca_bundle
        factory = make_session_factory(settings.retry, self.hooks, settings.pool_size, verify)
        self.server = TSC.Server(settings.server, use_server_version=False,
                                 http_options={"verify": verify, "timeout": settings.timeout},
                                 session_factory=factory)
        _skip_response_redaction(self.server)

    # -- lifecycle ---------------------------------------------------------------------------
    def open(self) -> Connection:
        self._negotiate_version()
        self._sign_in()
        return self

    def close(self) -> None:
        try:
            if self.server.is_signed_in():
                self.server.auth.sign_out()
        except Exception:  # signing out is a courtesy; never fail a run over it
            pass

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def switch_site(self, content_url: str) -> None:
        """Move this session to another site of the server (Tableau Server's Switch Site): the old token
        ends, and ``site_id``, ``site_url`` and every later request are the new site's.

        Only while no other request is in flight on this connection. Switching to the site the session is
        on changes nothing (Tableau answers 403070, which TSC takes as done). Raises TableauRequestError when
        Tableau refuses (Cloud has no Switch Site; a site the user has no account on): the session stays
        where it was.
        """
        doing = f"switching to {site_label(content_url)}"
        with self._auth_lock, translated(doing):
            self.server.auth.switch_site(TSC.SiteItem(name=content_url or "Default", content_url=content_url))
            self.current_site = content_url

    def return_home(self) -> None:
        """Back to ``settings.site`` after ``switch_site``: by Switch Site, or, when that fails, by signing in
        again. Raises TableauConnectionError when neither works: the caller must stop before any write."""
        home = self.settings.site
        if self.current_site == home:
            return
        try:
            self.switch_site(home)
            return
        except ReconcilerError as switch_error:
            failure: BaseException = switch_error
        try:
            with self._auth_lock:
                self.server.auth.sign_in(self.settings.credentials.tsc_auth(home))
                self.current_site = home
            return
        except Exception as error:  # any failure here is reported the same way
            failure = error
        raise TableauConnectionError(
            f"reconciler went to another site of {self.settings.server} (to count the tasks there) and could not "
            f"come back to {site_label(home)}: {_short(failure)}. Nothing was written. Run again; if it keeps "
            "failing, check that the credentials may still sign in to that site.") from failure

    # -- requests ------------------------------------------------------------------------------
    def send(self, method: Literal["GET", "POST", "PUT", "DELETE"], url: str, body: bytes = b"") -> bytes:
        """One REST request through the signed-in session (auth header, retries, re-sign-in): the answer's body.

        TSC's exceptions come out as they are, for a caller that must tell a lost answer, a 404 or a 409 apart
        before translating them; ``get`` translates. The one place TSC's endpoint objects serve as a plain
        HTTP client (any endpoint sends any URL).
        """
        endpoint = self.server.jobs
        if method == "GET":
            return bytes(endpoint.get_request(url).content)
        if method == "POST":
            return bytes(endpoint.post_request(url, body).content)
        if method == "PUT":
            return bytes(endpoint.put_request(url, body).content)
        endpoint.delete_request(url)
        return b""

    def request(self, method: Literal["GET", "POST", "PUT", "DELETE"], url: str, doing: str,
                body: bytes = b"") -> bytes:
        """``send``, with an error made ours (``translate_error``), naming ``doing``: for a caller that
        needs nothing special from the error."""
        with translated(doing):
            return self.send(method, url, body)

    def get(self, url: str, doing: str) -> bytes:
        """GET ``url``; an error becomes ours (``translate_error``), naming ``doing``."""
        return self.request("GET", url, doing)

    # -- facts ---------------------------------------------------------------------------------
    @property
    def site_id(self) -> str:
        return str(self.server.site_id)

    @property
    def api_version(self) -> str:
        return str(self.server.version)

    @property
    def base_url(self) -> str:
        return str(self.server.baseurl)

    @property
    def site_url(self) -> str:
        return f"{self.server.baseurl}/sites/{self.server.site_id}"

    # -- internals -----------------------------------------------------------------------------
    def _negotiate_version(self) -> None:
        settings = self.settings
        try:
            info = self.server.server_info.get()
        except (requests.ConnectionError, requests.Timeout) as error:
            raise TableauConnectionError(_unreachable(settings.server, error)) from error
        except (ServerResponseError, NonXMLResponseError, InternalServerError, ServerInfoEndpointNotFoundError,
                EndpointUnavailableError) as error:
            raise TableauConnectionError(
                f"{settings.server} answered, but not like Tableau: serverInfo failed ({_short(error)}). "
                "Check --server / TABLEAU_SERVER points at Tableau Server or Tableau Cloud.") from error
        if info is None or not getattr(info, "rest_api_version", None):
            raise TableauConnectionError(
                f"{settings.server} did not report a REST API version; is it a Tableau server?")
        self.product_version = str(getattr(info, "product_version", "") or "")
        self.server.version = settings.api_version or info.rest_api_version

    def _sign_in(self) -> None:
        settings = self.settings
        where = site_label(settings.site)
        try:
            self.server.auth.sign_in(settings.credentials.tsc_auth(settings.site))
        except (requests.ConnectionError, requests.Timeout) as error:
            raise TableauConnectionError(_unreachable(settings.server, error)) from error
        except (FailedSignInError, NotSignedInError) as error:
            raise TableauConnectionError(
                f"Tableau refused to sign in {settings.credentials.describe()} to {where} on "
                f"{settings.server} ({_short(error)}). Check the credentials in the environment, that they are "
                "not expired or revoked, and that the site's contentUrl (--site / TABLEAU_SITE) is right.") from error
        except ServerResponseError as error:
            raise TableauConnectionError(
                f"Sign-in to {where} on {settings.server} failed: {_short(error)}.") from error

    def _reauthenticate(self, refused_token: str) -> str | None:
        """Sign in again once per expired token; threads that raced here reuse the new one."""
        with self._auth_lock:
            current = self.server._auth_state.auth_token
            if current and current != refused_token:
                return str(current)
            try:
                self.server.auth.sign_in(self.settings.credentials.tsc_auth(self.current_site))
            except Exception:
                return None
            return str(self.server.auth_token)


def _no_loggable_response(server_response: requests.Response) -> str:
    return "[not redacted: reconciler never logs response bodies]"


def _skip_response_redaction(server: TSC.Server) -> None:
    """Stop TSC from parsing every response twice, for a log line it never writes.

    TSC 0.42's ``Endpoint._make_request`` calls ``log_response_safely`` on every response: it
    decodes the body, parses it (defusedxml), redacts it and serialises it back, then discards the
    result (the debug line that would print it is commented out). On the synthetic site (a 10 MB
    task list, 300 schedule details) that was more than half of ``plan``'s CPU time. Overriding it
    on this server's endpoints (instance attributes: nothing global changes) keeps every request,
    response and error exactly as before. Without the method (another TSC), nothing is overridden.
    """
    for endpoint in vars(server).values():
        if isinstance(endpoint, Endpoint) and callable(getattr(endpoint, "log_response_safely", None)):
            endpoint.log_response_safely = _no_loggable_response  # type: ignore[method-assign]


def connect(settings: ConnectionSettings, warn: Callable[[str], None] | None = None) -> Connection:
    """Reach the server, agree on the API version, sign in. Raises TableauConnectionError."""
    return Connection(settings, warn or _warn_stderr).open()


def _warn_stderr(message: str) -> None:
    print(f"Warning: {message}", file=sys.stderr)


def _unreachable(server: str, error: Exception) -> str:
    text = str(error)
    if "CERTIFICATE_VERIFY_FAILED" in text or "SSLError" in type(error).__name__ or "SSL" in text[:200]:
        return (f"Cannot verify the TLS certificate of {server}. If it uses a private CA, pass "
                "--ca-bundle FILE with that CA (or, only for a throwaway test server, --insecure).")
    return (f"Cannot reach {server} ({type(error).__name__}). Check --server / TABLEAU_SERVER, the "
            "network and any proxy settings.")


def _short(error: BaseException) -> str:
    code = getattr(error, "code", "")
    summary = getattr(error, "summary", "")
    detail = getattr(error, "detail", "")
    if code or summary:
        return " ".join(str(p) for p in (code, summary + (":" if detail else ""), detail) if p).strip()
    return " ".join(str(error).split())[:300]


@contextmanager
def translated(doing: str) -> Iterator[None]:
    """Any error raised inside becomes ours (``translate_error``), naming ``doing``: the one
    except-and-translate block for callers that need nothing special from the error."""
    try:
        yield
    except Exception as error:
        raise translate_error(error, doing) from error


def translate_error(error: BaseException, doing: str) -> ReconcilerError:
    """Wrap a TSC/HTTP exception as our own error, with Tableau's code when there is one."""
    if isinstance(error, ReconcilerError):
        return error
    if isinstance(error, (requests.ConnectionError, requests.Timeout)):
        return TableauConnectionError(f"{doing}: the connection failed ({type(error).__name__}).")
    if isinstance(error, InternalServerError):
        return TableauRequestError(f"{doing}: server error HTTP {error.code}.", code=str(error.code))
    if isinstance(error, (ServerResponseError, FailedSignInError)) and str(error.code) == "401002":
        return TableauRequestError(
            f"{doing}: Tableau ended this session (401002) again right after reconciler signed in anew. The usual "
            "cause is another run signing in with the same personal access token: Tableau keeps one session per "
            "token, so two runs sign each other out. Give each pipeline (and each person) its own token, and do "
            "not run two applies at once.", code="401002", summary=str(error.summary or ""),
            detail=str(error.detail or ""))
    if isinstance(error, (ServerResponseError, FailedSignInError)):
        return TableauRequestError(f"{doing}: {_short(error)}", code=str(error.code),
                                   summary=str(error.summary or ""), detail=str(error.detail or ""))
    if isinstance(error, NonXMLResponseError):
        return TableauRequestError(f"{doing}: the server answered with something that is not Tableau XML.")
    return TableauRequestError(f"{doing}: {type(error).__name__}: {error}")
