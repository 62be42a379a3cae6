"""`fsi-broker-access`: write the topology and its broker users as RabbitMQ definitions."""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.parse
from pathlib import Path

from services.common import startup
from services.common.topology import Topology
from services.routing.brokeraccess import definitions, grants
from services.routing.declare import DeclareSettings, topology_of
from services.routing.definitions import topology_definitions


def rendered(topology: Topology, vhost: str, passwords: dict[str, str] | None = None) -> str:
    """The definitions as the file holds them: the virtual host, the users and their
    permissions, then the policies, exchanges, queues and bindings (one file to import)."""
    made = {**definitions(topology, vhost, passwords), **topology_definitions(topology, vhost)}
    return json.dumps(made, indent=2, ensure_ascii=False) + "\n"


def vhost_of(url: str) -> str:
    """The virtual host an AMQP URL names ('/' when it names none)."""
    return urllib.parse.unquote(urllib.parse.urlsplit(url).path[1:]) or "/"


def read_secrets(directory: Path) -> dict[str, str]:
    """User name → password, one file per user named by the user (as Kubernetes and Docker
    mount secrets); a trailing line break is not part of the password."""
    found = {}
    for path in sorted(directory.iterdir()):
        if path.is_file() and not path.name.startswith("."):
            found[path.name] = path.read_text("utf-8").removesuffix("\n").removesuffix("\r")
    return found


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fsi-broker-access",
        description=(
            "Write the RabbitMQ topology (exchanges, queues with their arguments, bindings "
            "and policies) and its users and permissions of least privilege (the intake, the "
            "router, fsi-declare, triage, dead letters and one user per unit of the "
            "catalogue) as one definitions file for `rabbitmqctl import_definitions` or the "
            "management API's POST /api/definitions."
        ),
        epilog=(
            "Settings come from the environment: FSI_BROKER_URL (its virtual host), "
            "FSI_BROKER_PREFIX, FSI_BROKER_QUEUE_TYPE, FSI_RULES_UNITS_FILE. Without "
            "--secrets the users have no password (set one with `rabbitmqctl "
            "change_password`). Exit codes: 1 --check found the file out of date, 2 bad "
            "arguments or secrets, 78 a setting or file is wrong."
        ),
    )
    parser.add_argument("--vhost", help="the virtual host (default: FSI_BROKER_URL's)")
    parser.add_argument(
        "--secrets",
        type=Path,
        metavar="DIR",
        help="a directory with one file per user, named by the user, holding its password",
    )
    parser.add_argument("--output", type=Path, metavar="FILE", help="write here, not stdout")
    parser.add_argument(
        "--check",
        type=Path,
        metavar="FILE",
        help="exit 1 when FILE differs from what would be written (without passwords)",
    )
    return parser


def _write(path: Path, text: str, secret: bool) -> None:
    # Password hashes are kept from other users of the machine.
    mode = 0o600 if secret else 0o644
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(text)


def main(argv: list[str] | None = None) -> int:
    """Write or check the definitions; the exit status says how it went."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.check is not None and args.secrets is not None:
        parser.error("--check compares definitions without passwords: leave out --secrets")
    settings = startup.settings_or_exit(DeclareSettings, "fsi-broker-access")
    try:
        topology = topology_of(settings)
    except startup.StartupError as exc:
        startup.fail("fsi-broker-access", exc)
    vhost = args.vhost if args.vhost is not None else vhost_of(settings.broker.url)
    passwords: dict[str, str] = {}
    if args.secrets is not None:
        try:
            passwords = read_secrets(args.secrets)
        except (OSError, UnicodeDecodeError) as exc:
            parser.error(f"--secrets {args.secrets}: cannot read: {_why(exc)}")
    try:
        text = rendered(topology, vhost, passwords)
    except ValueError as exc:
        parser.error(f"--secrets {args.secrets}: {exc}")
    if args.check is not None:
        return _check(args.check, text)
    if args.output is None:
        sys.stdout.write(text)
    else:
        _write(args.output, text, bool(passwords))
    print(
        f"{len(topology.queues)} {topology.queue_type} queues and {len(grants(topology))} "
        f"users for virtual host '{vhost}' under prefix '{topology.prefix}', "
        f"{len(passwords)} with a password",
        file=sys.stderr,
    )
    return 0


def _check(path: Path, text: str) -> int:
    try:
        current = path.read_text("utf-8")
    except OSError as exc:
        print(f"fsi-broker-access: cannot read {path}: {_why(exc)}", file=sys.stderr)
        return 1
    if current != text:
        print(
            f"out of date: {path} (write it again with `fsi-broker-access --output {path}`)",
            file=sys.stderr,
        )
        return 1
    return 0


def _why(exc: OSError | UnicodeDecodeError) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    return exc.strerror or "unreadable"


def entry() -> None:
    """The console script."""
    sys.exit(main())


if __name__ == "__main__":
    entry()
