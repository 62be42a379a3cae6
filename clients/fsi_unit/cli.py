"""fsi-unit: consume a unit's queue, most urgent first, and answer with case events.

Exit codes: 0 done; 1 refused (an event the intake refused, a message rejected as not a
case, no such queue or exchange); 2 wrong options; 69 the broker or the intake unreachable
or failing (try again); 77 access refused (the broker user or API key may not do this);
130 stopped by Ctrl-C (a case not yet acknowledged goes back to the queue)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import aio_pika
import aiormq.exceptions
import httpx

from clients.fsi_unit import contract
from clients.fsi_unit.consume import consume
from clients.fsi_unit.event import EventProblem, broker_user, make_event, post, publish

OK, REFUSED, USAGE, UNAVAILABLE, NO_PERMISSION, INTERRUPTED = 0, 1, 2, 69, 77, 130


class Failed(Exception):
    """A failure said in one line, with its exit code."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code


def _where(url: str) -> str:
    # Host and port only: a URL may carry a password.
    parts = urllib.parse.urlsplit(url)
    return f"{parts.hostname or '?'}:{parts.port or ''}".rstrip(":")


def _parser() -> argparse.ArgumentParser:
    # The broker's options, taken before or after the command.
    broker = argparse.ArgumentParser(add_help=False)
    broker.add_argument(
        "--broker-url",
        default=os.environ.get("FSI_BROKER_URL", contract.DEFAULT_BROKER_URL),
        help="RabbitMQ (default: FSI_BROKER_URL, else the local broker as guest)",
    )
    broker.add_argument(
        "--prefix",
        default=os.environ.get("FSI_BROKER_PREFIX", contract.DEFAULT_PREFIX),
        help="the deployment's name prefix (default: FSI_BROKER_PREFIX, else `fsi.`)",
    )
    parser = argparse.ArgumentParser(prog="fsi-unit", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    take = commands.add_parser(
        "consume",
        parents=[broker],
        help="print (or store) a unit's cases, most urgent first, acknowledging each",
        description="Consume {prefix}unit.UNIT with prefetch 1: one line per case (report id, "
        "priority, due time, offence codes; no names, ids or free text), or each message "
        "body as one JSON line in FILE; each case is acknowledged only once printed or "
        "written (and synced). Without --count or --until-empty it runs until Ctrl-C.",
    )
    take.add_argument("unit", metavar="UNIT", help="the unit's id, e.g. oslo.vold-og-seksual")
    take.add_argument("--count", type=int, metavar="N", help="stop after N cases")
    take.add_argument("--until-empty", action="store_true", help="stop when none is waiting")
    take.add_argument("--json-lines", metavar="FILE", help="append each body to FILE instead")
    answer = commands.add_parser(
        "event",
        parents=[broker],
        help="send one case event about a report your unit holds",
        description="Send one case event: over AMQP (default) to {prefix}case-events with "
        "routing key UNIT, confirmed by the broker (the router applies it, or dead-letters "
        "it with the reason); or over HTTP to the intake, which answers with its verdict.",
    )
    answer.add_argument("report_id", metavar="REPORT_ID")
    answer.add_argument(
        "kind", metavar="KIND", choices=contract.KINDS, help=", ".join(contract.KINDS)
    )
    answer.add_argument("--unit", required=True, help="your unit's id (the routing key)")
    answer.add_argument("--reason", choices=contract.RETURN_REASONS, help="for `returned`")
    answer.add_argument("--outcome", choices=contract.OUTCOMES, help="for a decision or closed")
    answer.add_argument("--at", metavar="TIME", help="when, ISO 8601 with offset (default now)")
    answer.add_argument("--event-id", metavar="UUID", help="default: a new uuid4")
    answer.add_argument("--via", choices=("amqp", "http"), default="amqp")
    answer.add_argument(
        "--url",
        default=os.environ.get("FSI_INTAKE_URL", contract.DEFAULT_INTAKE_URL),
        help="the intake, for --via http (default: FSI_INTAKE_URL, else 127.0.0.1:8000)",
    )
    answer.add_argument("--key-file", type=Path, help="a file holding the API key (--via http)")
    return parser


@contextlib.contextmanager
def _broker_errors(url: str) -> Iterator[None]:
    try:
        yield
    except aiormq.exceptions.ChannelAccessRefused as exc:
        raise Failed(NO_PERMISSION, f"the broker refused it: {exc}") from None
    except aiormq.exceptions.ChannelNotFoundEntity as exc:
        raise Failed(REFUSED, f"not on the broker: {exc} (is the topology declared?)") from None
    except aio_pika.exceptions.ProbableAuthenticationError:
        raise Failed(NO_PERMISSION, f"the broker at {_where(url)} refused the user") from None
    except aio_pika.exceptions.PublishError:
        raise Failed(REFUSED, "the broker returned the event: no queue is bound for it") from None
    except (aio_pika.exceptions.AMQPError, OSError, TimeoutError) as exc:
        what = type(exc).__name__
        raise Failed(UNAVAILABLE, f"the broker at {_where(url)} failed: {what} {exc}") from None


async def _consume(args: argparse.Namespace, out: IO[bytes] | None) -> int:
    queue = contract.unit_queue(args.prefix, args.unit)
    with _broker_errors(args.broker_url):
        connection = await aio_pika.connect(args.broker_url, timeout=10)
        try:
            channel = await connection.channel()
            tally = await consume(channel, queue, out, args.count, args.until_empty)
        finally:
            await connection.close()
    cases = "case" if tally.taken == 1 else "cases"
    print(f"fsi-unit: {tally.taken} {cases} taken from {queue}", file=sys.stderr)
    return REFUSED if tally.rejected else OK


def _run_consume(args: argparse.Namespace) -> int:
    if args.count is not None and args.count < 1:
        raise Failed(USAGE, "--count must be 1 or more")
    if not args.json_lines:
        return asyncio.run(_consume(args, None))
    try:
        out = open(args.json_lines, "ab")  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise Failed(USAGE, f"cannot open --json-lines {args.json_lines}: {exc.strerror}") from None
    with out:
        return asyncio.run(_consume(args, out))


async def _send_amqp(args: argparse.Namespace) -> int:
    event = make_event(
        args.report_id, args.kind, args.unit, args.reason, args.outcome, args.at, args.event_id
    )
    with _broker_errors(args.broker_url):
        connection = await aio_pika.connect(args.broker_url, timeout=10)
        try:
            channel = await connection.channel(publisher_confirms=True)
            await publish(channel, args.prefix, event, broker_user(args.broker_url))
        finally:
            await connection.close()
    said = {**event.body(with_report=True), "via": "amqp", "confirmed": True}
    print(json.dumps(said))
    return OK


def _send_http(args: argparse.Namespace) -> int:
    if args.key_file is None:
        raise Failed(USAGE, "--via http needs --key-file (a file holding the unit's API key)")
    try:
        key = args.key_file.read_text("utf-8").strip()
    except OSError as exc:
        raise Failed(USAGE, f"cannot read --key-file: {exc.strerror}") from None
    event = make_event(
        args.report_id, args.kind, args.unit, args.reason, args.outcome, args.at, args.event_id
    )
    try:
        answer = post(args.url, key, event)
    except httpx.TransportError as exc:
        raise Failed(UNAVAILABLE, f"the intake at {args.url} did not answer: {exc}") from None
    if answer.is_success:
        print(answer.text.strip())
        return OK
    print(f"fsi-unit: HTTP {answer.status_code}: {answer.text.strip()[:2000]}", file=sys.stderr)
    if answer.status_code in (401, 403):
        return NO_PERMISSION
    return UNAVAILABLE if answer.status_code >= 500 else REFUSED


def main(argv: list[str] | None = None) -> int:
    """The command line; the exit code (module docstring)."""
    args = _parser().parse_args(argv)
    with _quiet_broker_client():
        return _run(args)


@contextlib.contextmanager
def _quiet_broker_client() -> Iterator[None]:
    # The broker client's own log lines would repeat, less plainly, the failure said here;
    # their levels are put back after (main may run inside another program).
    loggers = [logging.getLogger(name) for name in ("aiormq", "aio_pika")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _run(args: argparse.Namespace) -> int:
    try:
        if args.command == "consume":
            return _run_consume(args)
        if args.via == "http":
            return _send_http(args)
        return asyncio.run(_send_amqp(args))
    except EventProblem as exc:
        print(f"fsi-unit event: {exc}", file=sys.stderr)
        return USAGE
    except Failed as exc:
        print(f"fsi-unit: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
