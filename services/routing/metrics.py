"""The router's Prometheus metrics and the small HTTP endpoint that serves them."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import (
    PLATFORM_COLLECTOR,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    Info,
    disable_created_metrics,
    make_wsgi_app,
)
from prometheus_client.exposition import ThreadingWSGIServer

from services.common import startup
from services.common.caseevents.metrics import case_events as case_events
from services.common.caseevents.metrics import export_at_zero

disable_created_metrics()  # type: ignore[no-untyped-call]  # no dashboard reads `_created`
# `python_info` names the interpreter's exact version for anyone who can scrape; the intake
# drops it too (whichever module comes first).
with contextlib.suppress(KeyError):
    REGISTRY.unregister(PLATFORM_COLLECTOR)

# Label values known in code. Each is exported at 0 from the start: a counter series that
# first appears at 1 reads as no increase to `increase()` and `rate()`, so the alert on the
# first dead letter (or refused reload) after a start would never fire.
DEAD_LETTER_REASONS = (
    "undecodable",
    "contract",
    "message_id_mismatch",
    "unknown_report",
    "report_differs",
    "decision_failed",
    "unknown_decision",  # a `case.decided` message naming no stored decision of a person
)
TRIAGE_REASONS = ("no_district", "quality_issues", "rule")
# The acts of a person that send a case to a unit (schemas.decision.DecidedBy.act).
PERSON_ACTS = ("routed", "transferred", "linked", "corrected")
RELOAD_RESULTS = ("loaded", "refused")

decisions = Counter(
    "fsi_routing_decisions",
    "Reports routed, by district, unit and priority (a redelivery is not counted again).",
    ["district", "unit", "priority"],
)
rule_matches = Counter("fsi_routing_rule_matches", "Rules matched by new decisions.", ["rule"])
triage = Counter("fsi_routing_triage", "Reports sent to triage, by reason.", ["reason"])
dead_letters = Counter(
    "fsi_routing_dead_letters", "Messages sent to the dead-letter queue, by reason.", ["reason"]
)
decision_seconds = Histogram(
    "fsi_routing_decision_duration_seconds",
    "Time to decide one report (the pure decision).",
    buckets=(5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2),
)
handle_seconds = Histogram(
    "fsi_routing_handle_duration_seconds",
    "Time from delivery to acknowledgement of a routed report: decide, store, publish with "
    "confirm (dead-lettered and retried deliveries are not observed).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0),
)
redeliveries = Counter(
    "fsi_routing_redeliveries", "Redelivered reports (their stored decision republished)."
)
ruleset = Info("fsi_routing_ruleset", "The rule set in use.")
ruleset_loaded = Gauge(
    "fsi_routing_ruleset_loaded_timestamp_seconds", "When the rule set in use was loaded."
)
reloads = Counter("fsi_routing_rule_reloads", "Rule reloads, by result.", ["result"])
rules_refused = Gauge(
    "fsi_routing_rules_refused",
    "1 while the rules file on disk is refused and the router routes with older rules.",
)
unroutable = Counter(
    "fsi_routing_unroutable",
    "Cases the broker returned because no queue is bound for their unit (each return: a "
    "waiting case published again and returned again counts again), by unit.",
    ["unit"],
)


person_cases = Counter(
    "fsi_routing_person_cases",
    "Cases a person decided whose unit's queue confirmed them (once each, however often "
    "published), by unit and the act that sent them (routed, transferred, linked, corrected).",
    ["unit", "act"],
)


# `case_events` (fsi_case_events_total{via, kind, verdict}) is registered once in
# services.common.caseevents.metrics: the intake counts via="http" in it, the router "amqp"
# (a process with both, as the tests' whole stack, would register the name twice).


def known_units(units: tuple[str, ...]) -> None:
    """Export the unroutable count of every unit of the catalogue (and triage), and the count
    of people's cases of every unit and act, at 0 from the start, as the labels known in
    code are: the alert sees the first return, `rate()` the first case."""
    for unit in (*units, "triage"):
        unroutable.labels(unit)
    for unit in units:
        for act in PERSON_ACTS:
            person_cases.labels(unit, act)


def _zeroed(counter: Counter, values: tuple[str, ...]) -> None:
    for value in values:
        counter.labels(value)


_zeroed(dead_letters, DEAD_LETTER_REASONS)
_zeroed(triage, TRIAGE_REASONS)
_zeroed(reloads, RELOAD_RESULTS)
export_at_zero("amqp")


_ALLOW = "GET, HEAD, OPTIONS"
_Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _head_like_get(app: _Wsgi) -> _Wsgi:
    """HEAD answers as GET does without the body (RFC 9110 section 9.3.2), with the length
    GET would send; prometheus_client's app answers only GET and OPTIONS."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        answer: list[Any] = []

        def keep(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            allow = [(k, _ALLOW if k.lower() == "allow" else v) for k, v in headers]
            answer[:] = [status, allow]
            return lambda data: None

        head = environ["REQUEST_METHOD"] == "HEAD"
        body = b"".join(app({**environ, "REQUEST_METHOD": "GET"} if head else environ, keep))
        status, headers = answer
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        start_response(status, [*headers, ("Content-Length", str(len(body)))])
        return [] if head else [body]

    return wrapped


class _Anonymous(ServerHandler):
    server_software = ""  # no `Server: WSGIServer/0.2 CPython/3.x.y` on an answer


class _Quiet(WSGIRequestHandler):
    """Serves without naming the server or Python's version, and logs no scrape."""

    # Seconds a read or write of one connection may wait (socket timeout): a connection
    # that sends half a request, or nothing, is closed after it instead of holding a thread.
    timeout = 10.0

    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not logged (one every few seconds says nothing)."""

    def send_header(self, keyword: str, value: str) -> None:
        # The standard library's own answers (400, 414, 501) name the server here.
        if keyword.lower() != "server":
            super().send_header(keyword, value)

    def handle(self) -> None:
        """WSGIRequestHandler.handle, with a handler that names no server software."""
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.requestline = self.request_version = self.command = ""
            self.send_error(414)
            return
        if not self.parse_request():
            return
        out: Any = self.wfile  # a socket file, as the standard library passes it
        handler = _Anonymous(
            self.rfile, out, self.get_stderr(), self.get_environ(), multithread=False
        )
        handler.request_handler = self  # type: ignore[attr-defined]  # as the library does
        handler.run(self.server.get_app())  # type: ignore[attr-defined]


def serve(
    host: str, port: int, *, max_connections: int = 16, timeout_seconds: float = 10.0
) -> tuple[WSGIServer, threading.Thread]:
    """Serve `/metrics` (GET and HEAD) on a thread of its own; the server and its thread.

    At most `max_connections` connections are served at once (a thread each); one more is
    closed at once, and each must send its request within `timeout_seconds`, so a stranger
    who reaches the port cannot make the router run thousands of threads (Prometheus
    scrapes with one connection at a time).

    Raises a `StartupError` naming FSI_METRICS_PORT (in use: 69) or FSI_METRICS_HOST (not an
    address of this machine: 78): a router whose metrics are not served would only look down
    to Prometheus, with nothing said."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)

        slots = threading.BoundedSemaphore(max_connections)

        class MetricsServer(ThreadingWSGIServer):
            address_family = found[0][0]  # IPv6 when the host is one

            def process_request(self, request: Any, client_address: Any) -> None:
                if not slots.acquire(blocking=False):
                    self.shutdown_request(request)  # over the limit: closed unread
                    return
                super().process_request(request, client_address)

            def process_request_thread(self, request: Any, client_address: Any) -> None:
                try:
                    super().process_request_thread(request, client_address)
                finally:
                    slots.release()

        class Handler(_Quiet):
            timeout = timeout_seconds

        server = make_server(
            host, port, _head_like_get(make_wsgi_app()), MetricsServer, handler_class=Handler
        )
    except OSError as exc:
        raise startup.listen_error(
            exc, host, port, "FSI_METRICS_HOST", "FSI_METRICS_PORT"
        ) from None
    thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
    thread.start()
    return server, thread
