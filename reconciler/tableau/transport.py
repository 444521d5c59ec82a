"""The HTTP transport under TSC: retries with backoff, transparent re-sign-in, and a redacted trace.

TSC 0.42 builds one ``requests.Session`` per thread from a ``session_factory``; we give it one whose
adapter retries what is safe to retry:

- 429 and 503 are refusals (the server did nothing): every method is retried, honouring
  ``Retry-After``.
- 502, 504 and dropped connections may hide a request the server did process: only GET (and
  sign-in, which changes nothing) is retried here. Writes surface the error, and
  ``reconciler.tableau.write`` reads back before it retries, so a create is never duplicated. A
  connection that could not be made at all (refused, connect timeout) carried nothing: every method
  is retried.
- 401 with Tableau's code 401002 (session expired or ended): sign in again, then resend (at most
  ``_REAUTHS`` times for one request: another run signing in with the same personal access token
  ends this session each time; a 401 means the request was refused, so resending is safe).

Retries give up after ``RetryPolicy.attempts`` tries (default 6, about 30 s of backoff at most).
"""

from __future__ import annotations

import random
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError

__all__ = ["RetryPolicy", "TransportHooks", "make_session_factory"]

_REAUTHS = 3
_SIGN_IN_PATHS = ("/auth/signin", "/serverinfo")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. ``base`` doubles per attempt up to ``cap``, with full jitter."""

    attempts: int = 6
    base: float = 0.25
    cap: float = 8.0
    max_retry_after: float = 60.0

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        if retry_after:
            try:
                return min(float(retry_after), self.max_retry_after)
            except ValueError:
                pass
        return random.uniform(0, min(self.cap, self.base * (2**attempt)))


@dataclass
class TransportHooks:
    """Callbacks the adapter needs from the connection: re-sign-in and tracing."""

    #: Called with the token that was refused; returns the token to use now (signing in if needed).
    reauthenticate: Callable[[str], str | None] | None = None
    trace: bool = False
    retries: int = 0
    reauths: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, what: str) -> None:
        with self.lock:
            if what == "retry":
                self.retries += 1
            else:
                self.reauths += 1


def _never_sent(error: BaseException) -> bool:
    """The connection could not even be made (refused, connect timeout): the server got nothing, so any
    request, a write too, is safe to send again (a server restarting, a load balancer switching over)."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(reason, NewConnectionError)


def _is_sign_in(request: requests.PreparedRequest) -> bool:
    """Signing in changes nothing on the site: when its answer is lost, sign in again."""
    return request.method == "POST" and "/auth/signin" in str(request.url or "").lower()


class _ResilientAdapter(HTTPAdapter):
    def __init__(self, policy: RetryPolicy, hooks: TransportHooks, pool_size: int) -> None:
        super().__init__(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
        self.policy = policy
        self.hooks = hooks

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        reauths = 0
        attempt = 0
        while True:
            started = time.monotonic()
            try:
                response = super().send(request, *args, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as error:
                self._trace(request, f"connection error: {type(error).__name__}", started)
                if (request.method == "GET" or _never_sent(error) or _is_sign_in(request)) \
                        and attempt + 1 < self.policy.attempts:
                    self._sleep(attempt, None)
                    attempt += 1
                    continue
                raise
            self._trace(request, str(response.status_code), started)
            status = response.status_code
            retryable = status in (429, 503) or (status in (502, 504) and request.method == "GET")
            if retryable and attempt + 1 < self.policy.attempts:
                self._sleep(attempt, response.headers.get("Retry-After"))
                response.close()
                attempt += 1
                continue
            if status == 401 and reauths < _REAUTHS and self._may_reauthenticate(request, response):
                token = str(request.headers.get("x-tableau-auth", ""))
                assert self.hooks.reauthenticate is not None
                fresh = self.hooks.reauthenticate(token)
                if fresh:
                    self.hooks.count("reauth")
                    request.headers["x-tableau-auth"] = fresh
                    reauths += 1
                    response.close()
                    continue
            return response

    def _may_reauthenticate(self, request: requests.PreparedRequest, response: requests.Response) -> bool:
        if self.hooks.reauthenticate is None or "x-tableau-auth" not in request.headers:
            return False
        url = (request.url or "").lower()
        if any(path in url for path in _SIGN_IN_PATHS):
            return False
        return b"401002" in response.content

    def _sleep(self, attempt: int, retry_after: str | None) -> None:
        self.hooks.count("retry")
        time.sleep(self.policy.delay(attempt, retry_after))

    def _trace(self, request: requests.PreparedRequest, outcome: str, started: float) -> None:
        if self.hooks.trace:
            # Only method, path and status: never headers (tokens) nor bodies (credentials).
            url = str(request.url or "").split("?")[0]
            elapsed = (time.monotonic() - started) * 1000
            print(f"[http] {request.method} {url} -> {outcome} ({elapsed:.0f} ms)", file=sys.stderr)


class _Session(requests.Session):
    """A ``requests.Session`` that reads the environment's proxy settings once per host.

    With ``trust_env`` (the default, kept: proxies and ``REQUESTS_CA_BUNDLE`` still come from the
    environment), requests re-reads the proxy variables on every request, walking all of
    ``os.environ`` twice: about 1.6 ms of CPU per request, a second of a 300-request ``plan``. The
    answer depends only on the URL's scheme and host, the arguments and the session's own
    settings, so it is computed once for each of those and reused (a copy each time). The
    environment is taken as fixed for a session's life (one run).
    """

    def __init__(self) -> None:
        super().__init__()
        self._environment_settings: dict[Any, Any] = {}

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any,
                                   cert: Any) -> Any:  # requests' own TypedDict, private to its stubs
        if not self.trust_env or proxies:  # requests fills a caller's proxies in place: leave that be
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        parts = urlsplit(str(url))
        try:
            key = (parts.scheme, parts.netloc, stream, verify, cert,
                   tuple(sorted(self.proxies.items())), self.stream, self.verify, self.cert)
            settings: Any = self._environment_settings.get(key)
        except TypeError:  # something unhashable: no caching
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        if settings is None:
            settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
            self._environment_settings[key] = settings
        return {**settings, "proxies": dict(settings["proxies"])}


def make_session_factory(policy: RetryPolicy, hooks: TransportHooks, pool_size: int = 16,
                         verify: bool | str = True,
                         headers: Mapping[str, str] | None = None) -> Callable[[], requests.Session]:
    """A ``session_factory`` for ``TSC.Server``: each thread's session gets the resilient adapter."""

    def factory() -> requests.Session:
        session = _Session()
        adapter = _ResilientAdapter(policy, hooks, pool_size)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.verify = verify
        if headers:
            session.headers.update(headers)
        return session

    return factory
