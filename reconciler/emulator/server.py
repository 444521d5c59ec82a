"""HTTP wiring (werkzeug): routing, faults, request statistics, the `Emulator` and `serve()`.

Faults (`latency_ms`, `fail_rate` → 503, `throttle_rate` → 429 with `Retry-After: retry_after` (1 s), `drop_rate` →
the connection is closed without an answer, `drop_after_rate` → a write is applied, then the connection is
closed without an answer, `slow_rate` → the answer comes `slow_ms` late) apply to every request except
`/_emulator/*`, or only to writes (anything but GET, sign-in and sign-out) with `fault_scope="writes"`.
`GET /_emulator/stats` returns
`{"total": N, "by_route": {"GET /api/{v}/sites/{site_id}/datasources": N, ...}}` (route templates),
`POST /_emulator/stats/reset` zeroes it.

`Emulator.hold(match)` (Python API only) makes the requests whose route matches wait before they are handled,
until the test releases them (or drops them unanswered): a client stopped at an exact point, without racing.
"""

from __future__ import annotations

import contextlib
import errno
import json
import random
import re
import signal
import socket
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import FrameType
from typing import TYPE_CHECKING, Any, cast

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from . import urls
from .exceptions import EmulatorError
from .models import Event, Store
from .responses import ContentResponses, Reply, Req
from .schedule_responses import ScheduleResponses
from .seeds import ADMIN_PAT, ADMIN_USER, load_seed
from .state import StateFile
from .vizportal import Vizportal
from .wire import error_body

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["DropConnection", "Emulator", "EmulatorConfig", "Hold", "serve"]


@dataclass(frozen=True)
class EmulatorConfig:
    """Options of `reconciler emulator serve` (and of `Emulator(...)`)."""

    host: str = "127.0.0.1"
    port: int = 0
    flavor: str = "server"
    """`server` (Tableau Server 2025.1, API 3.25) or `cloud` (Tableau Cloud, API 3.28)."""
    seed: str = "demo"
    """`demo`, `empty`, `synthetic` or `multisite` (six sites on the demo's server schedules)."""
    sites: int = 1
    """synthetic: how many sites; every count below but `schedules` is per site, and the server
    schedules (Server) are shared by every site. Only the synthetic seed takes more than 1."""
    datasources: int = 10000
    workbooks: int = 5000
    tasks: int = 20000
    schedules: int = 300
    projects: int = 500
    random_seed: int = 0
    state: str | None = None
    """Persist to this JSON file after every change (atomic replace); reload it on start if it exists."""
    latency_ms: int = 0
    fail_rate: float = 0.0
    throttle_rate: float = 0.0
    retry_after: float = 1.0
    """Seconds a 429 asks the client to wait (`Retry-After`); Tableau's own value is not known. Tests
    lower it so that a throttled request does not cost a second."""
    token_ttl: float = 14400.0
    job_seconds: float = 1.0
    history_days: float | None = None
    """Days of past refresh jobs the seed makes (None: 14 for demo and multisite, none for synthetic and empty)."""
    drop_rate: float = 0.0
    """Probability of closing the connection before handling the request, without an answer."""
    drop_after_rate: float = 0.0
    """Probability, for a write, of handling it (the change is made) and then closing the connection
    without an answer: the client cannot know whether its change happened."""
    slow_rate: float = 0.0
    """Probability of handling the request, then waiting `slow_ms` before answering."""
    slow_ms: int = 0
    fault_scope: str = "all"
    """`all`: faults apply to every request; `writes`: only to writes (not GET, sign-in or sign-out)."""
    fail_path: str = ""
    """A fault: every write whose path contains this text is answered 500 (an action that fails for
    good, as an item locked or removed on the server would); empty: off."""
    vizportal_max_items: int = 1000
    """The most entries one page of a Vizportal list answers (`page.maxItems` is capped to it); Tableau's
    own cap is not known. Tests lower it to make a client read several pages."""


FAULT_SCOPES = ("all", "writes")


class DropConnection(ConnectionError):
    """Raised inside the app to close the client's connection without any answer (a fault)."""


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def connection_dropped(self, error: BaseException, environ: WSGIEnvironment | None = None) -> None:
        if isinstance(error, DropConnection):  # an injected fault: hang up, say nothing
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)


@dataclass
class Hold:
    """Requests whose route key (as in `stats()`, e.g. ``"POST /api/{v}/sites/{site_id}/projects"``) matches wait
    before they are handled: `reached` is set when the first arrives; `release()` lets them through,
    `release(drop=True)` closes their connections unanswered (nothing is changed). Waits end after `timeout`."""

    match: Callable[[str], bool]
    timeout: float = 60.0
    reached: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    held: int = 0
    drop: bool = False

    def release(self, *, drop: bool = False) -> None:
        self.drop = drop
        self.released.set()

    def wait(self, route: str) -> None:
        if self.released.is_set() or not self.match(route):
            return
        self.held += 1
        self.reached.set()
        self.released.wait(self.timeout)
        if self.drop:
            raise DropConnection(f"held, then dropped: {route}")


class EmulatorApp:
    """The WSGI application: faults, stats, then REST, Vizportal or `/_emulator` dispatch."""

    def __init__(self, store: Store, config: EmulatorConfig) -> None:
        self.store = store
        self.config = config
        self.content = ContentResponses(store)
        self.schedules = ScheduleResponses(store)
        self.vizportal = Vizportal(store, config.vizportal_max_items)
        self.counts: Counter[str] = Counter()
        self.counts_lock = threading.Lock()
        self.rng = random.Random(config.random_seed)
        self.holds: list[Hold] = []

    def stats(self) -> dict[str, Any]:
        with self.counts_lock:
            return {"total": sum(self.counts.values()), "by_route": dict(sorted(self.counts.items()))}

    def reset_stats(self) -> None:
        with self.counts_lock:
            self.counts.clear()

    def _count(self, key: str) -> None:
        with self.counts_lock:
            self.counts[key] += 1

    def _faulty(self, method: str, path: str) -> bool:
        """Whether faults apply to this request (`fault_scope`)."""
        if self.config.fault_scope != "writes":
            return True
        return method not in ("GET", "HEAD") and not path.endswith(("/auth/signin", "/auth/signout"))

    def _fault(self, method: str = "GET", path: str = "") -> Reply | None:
        """Latency, then maybe a refusal (429, 503) or a dropped connection, before handling."""
        if self.config.latency_ms > 0:
            time.sleep(self.config.latency_ms / 1000)
        if self.config.fail_path and method not in ("GET", "HEAD") and self.config.fail_path in path:
            err = EmulatorError(500, "500000", "Internal Server Error", "fault: this write fails (fail_path).")
            return Reply(500, error_body(err))
        if not self._faulty(method, path):
            return None
        with self.counts_lock:
            roll_throttle = self.rng.random()
            roll_fail = self.rng.random()
            # Rolled only when on, so that the other faults' sequence for a random_seed stays the same.
            roll_drop = self.rng.random() if self.config.drop_rate > 0 else 1.0
        if roll_drop < self.config.drop_rate:
            raise DropConnection("fault: connection dropped before handling")
        if roll_throttle < self.config.throttle_rate:
            err = EmulatorError(429, "429000", "Too Many Requests", "The server is throttling requests; retry later.")
            return Reply(429, error_body(err), (("Retry-After", _seconds(self.config.retry_after)),))
        if roll_fail < self.config.fail_rate:
            err = EmulatorError(503, "503000", "Service Unavailable", "The server is temporarily unavailable.")
            return Reply(503, error_body(err))
        return None

    def _after(self, method: str, path: str, reply: Reply) -> Reply:
        """After handling: maybe lose the answer to a write (the change stays made), or answer late."""
        if not self._faulty(method, path):
            return reply
        with self.counts_lock:
            roll_drop = self.rng.random() if self.config.drop_after_rate > 0 else 1.0
            roll_slow = self.rng.random() if self.config.slow_rate > 0 else 1.0
        if method not in ("GET", "HEAD") and roll_drop < self.config.drop_after_rate:
            raise DropConnection("fault: the change was made, the answer is lost")
        if roll_slow < self.config.slow_rate and self.config.slow_ms > 0:
            time.sleep(self.config.slow_ms / 1000)
        return reply

    def handle(self, request: Request) -> Reply:
        path = re.sub("/{2,}", "/", request.path)
        if len(path) > 1:
            path = path.rstrip("/")
        method = request.method.upper()
        if path.startswith("/_emulator/"):
            return self._internal(method, path)
        if path.startswith("/vizportal/api/web/v1/"):
            self._count(f"{method} /vizportal/api/web/v1/{{method}}")
            fault = self._fault(method, path)
            if fault is not None:
                return fault
            answer = self.vizportal.handle(path.rsplit("/", 1)[-1], request.get_data(), request.cookies,
                                           cast(Mapping[str, str], request.headers))
            return self._after(method, path, answer)
        route, params, known = urls.match(method, path)
        key = f"{method} {route.template}" if route else f"{method} <unmatched>"
        for hold in list(self.holds):  # before counting: a held request is counted when it goes through
            hold.wait(key)
        self._count(key)
        fault = self._fault(method, path)
        if fault is not None:
            return fault
        if route is None:
            if known:
                raise EmulatorError(405, "405000", "Invalid request method",
                                    f"Request type {method} is not supported for '{path}'.")
            raise EmulatorError.not_found("404003", "Resource Not Found",
                                          f"Unknown resource '{path}' specified in URI.")
        # werkzeug's Headers is a case-insensitive mapping: X-Tableau-Auth matches x-tableau-auth.
        req = Req(method, path, dict(request.args.items()), cast(Mapping[str, str], request.headers),
                  request.get_data(), params,
                  request.host_url.rstrip("/"))
        target = self.content if hasattr(self.content, route.handler) else self.schedules
        reply: Reply = getattr(target, route.handler)(req)
        return self._after(method, path, reply)

    def _internal(self, method: str, path: str) -> Reply:
        if method == "GET" and path == "/_emulator/stats":
            return Reply(200, json.dumps(self.stats()).encode(), content_type="application/json")
        if method == "POST" and path == "/_emulator/stats/reset":
            self.reset_stats()
            return Reply(200, json.dumps(self.stats()).encode(), content_type="application/json")
        return Reply(404, b'{"error": "unknown emulator endpoint"}', content_type="application/json")

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        try:
            reply = self.handle(request)
        except DropConnection:
            raise  # werkzeug hands it to `_QuietHandler.connection_dropped`: no answer at all
        except EmulatorError as err:
            reply = Reply(err.status, error_body(err))
        except Exception as exc:  # a bug in the emulator: answer like Tableau's 500, keep serving
            traceback.print_exc(file=sys.stderr)
            internal = EmulatorError(500, "500000", "Internal Server Error", f"{type(exc).__name__}: {exc}")
            reply = Reply(500, error_body(internal))
        response = Response(reply.body, status=reply.status, content_type=reply.content_type)
        for name, value in reply.headers:
            if name == "Set-Cookie":
                response.headers.add(name, value)
            else:
                response.headers[name] = value
        return response(environ, start_response)


class Emulator:
    """A running emulator: `with Emulator(flavor="server", seed="demo", job_seconds=0) as emu: emu.url`.

    Keyword arguments are `EmulatorConfig` fields; the Python API binds 127.0.0.1, port 0 unless told.
    """

    pat_name = ADMIN_PAT[0]
    pat_secret = ADMIN_PAT[1]
    username = ADMIN_USER[0]
    password = ADMIN_USER[1]

    def __init__(self, config: EmulatorConfig | None = None, **overrides: Any) -> None:
        self.config = replace(config or EmulatorConfig(), **overrides)
        if self.config.flavor not in ("server", "cloud"):
            raise ValueError(f"flavor must be 'server' or 'cloud', not {self.config.flavor!r}")
        _check_faults(self.config)
        self.store = Store(flavor=self.config.flavor, job_seconds=self.config.job_seconds,
                           token_ttl=self.config.token_ttl)
        self._state = StateFile(self.config.state) if self.config.state else None
        if self._state is not None and self._state.exists():
            self._state.load(self.store)
        else:
            load_seed(self.store, self.config)
            if self._state is not None:
                self._state.save(self.store)
        if self._state is not None:
            state = self._state
            self.store.on_change = lambda: state.save(self.store)
        self.app = EmulatorApp(self.store, self.config)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """`http://HOST:PORT` of the running server."""
        if self._server is None:
            raise RuntimeError("the emulator is not running")
        return f"http://{self.config.host}:{self._server.server_port}"

    @property
    def events(self) -> list[Event]:
        """A snapshot of the ordered state-change events (`(kind, site_luid, object_id, *details)`)."""
        with self.store.lock:
            self.store._settle()
            return list(self.store.events)

    def stats(self) -> dict[str, Any]:
        """Request counts: `{"total": N, "by_route": {"GET /api/{v}/…": N}}`."""
        return self.app.stats()

    def reset_stats(self) -> None:
        self.app.reset_stats()

    def hold(self, match: Callable[[str], bool], timeout: float = 60.0) -> Hold:
        """From now on, requests whose route key matches wait until the returned `Hold` is released."""
        hold = Hold(match, timeout)
        self.app.holds.append(hold)
        return hold

    def configure_faults(self, *, latency_ms: int | None = None, fail_rate: float | None = None,
                         throttle_rate: float | None = None, retry_after: float | None = None,
                         token_ttl: float | None = None,
                         drop_rate: float | None = None, drop_after_rate: float | None = None,
                         slow_rate: float | None = None, slow_ms: int | None = None,
                         fault_scope: str | None = None, fail_path: str | None = None) -> None:
        """Change fault injection while running (tests set up cleanly, then turn faults on)."""
        changes: dict[str, Any] = {name: value for name, value in (
            ("latency_ms", latency_ms), ("fail_rate", fail_rate), ("throttle_rate", throttle_rate),
            ("retry_after", retry_after),
            ("token_ttl", token_ttl), ("drop_rate", drop_rate), ("drop_after_rate", drop_after_rate),
            ("slow_rate", slow_rate), ("slow_ms", slow_ms), ("fault_scope", fault_scope),
            ("fail_path", fail_path)) if value is not None}
        config = replace(self.config, **changes)
        _check_faults(config)
        self.config = config
        self.app.config = self.config
        if token_ttl is not None:
            with self.store.lock:
                self.store.token_ttl = token_ttl

    def start(self) -> Emulator:
        """Bind and serve in a background thread; OSError when the address cannot be bound (port in use)."""
        _probe(self.config.host, self.config.port)
        try:
            self._server = make_server(self.config.host, self.config.port, self.app, threaded=True,
                                       request_handler=_QuietHandler)
        except SystemExit as error:  # werkzeug prints and exits on a bind error the probe did not foresee
            raise OSError(errno.EADDRINUSE, f"cannot bind {self.config.host}:{self.config.port}") from error
        server = self._server
        self._thread = threading.Thread(target=lambda: server.serve_forever(poll_interval=0.005),
                                        name="tableau-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (requests still held are dropped)."""
        for hold in self.app.holds:
            hold.release(drop=True)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _check_faults(config: EmulatorConfig) -> None:
    for name in ("fail_rate", "throttle_rate", "drop_rate", "drop_after_rate", "slow_rate"):
        value = getattr(config, name)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be a probability between 0 and 1, not {value!r}")
    if config.slow_ms < 0 or config.latency_ms < 0 or config.retry_after < 0:
        raise ValueError("latency_ms, slow_ms and retry_after must not be negative")
    if config.fault_scope not in FAULT_SCOPES:
        raise ValueError(f"fault_scope must be 'all' or 'writes', not {config.fault_scope!r}")


def _seconds(value: float) -> str:
    """A Retry-After value: whole seconds as an integer (``1``), a fraction as it is (``0.05``)."""
    return str(int(value)) if value == int(value) else repr(value)


def _probe(host: str, port: int) -> None:
    """Bind the address once, as werkzeug will (SO_REUSEADDR), so that a port in use is an OSError here rather
    than werkzeug's own message and sys.exit."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


def serve(config: EmulatorConfig) -> int:
    """Run until SIGINT/SIGTERM; the first line printed is `listening on http://HOST:PORT`. Returns 0."""
    emulator = Emulator(config).start()
    print(f"listening on {emulator.url}", flush=True)
    sites = f" sites={config.sites}" if config.sites > 1 else ""
    print(f"flavor={config.flavor} seed={config.seed}{sites}; PAT {emulator.pat_name}/{emulator.pat_secret}, "
          f"user {emulator.username}/{emulator.password}, viewer viewer/viewer", flush=True)
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGTERM, _stop)
    try:
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0
