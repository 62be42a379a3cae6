"""`fsi-declare`: declare the whole RabbitMQ topology, unit queues included, and exit.

Everything the unit catalogue (FSI_RULES_UNITS_FILE) names is declared under
FSI_BROKER_PREFIX: the exchanges, the routing, triage and dead-letter queues and one queue
per unit, with their bindings. Declaring is idempotent, so this is also the repair after a
unit queue was deleted: the cases waiting for it are published again within a minute.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import msgspec

from schemas import reference
from services.common import broker, startup
from services.common.rules.reading import RulesError, read_file
from services.common.rules.units import load_catalogue
from services.common.settings import BrokerSettings, RulesSettings
from services.common.topology import Topology, declare


class DeclareSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Settings of the declare command: the broker and the unit catalogue."""

    broker: BrokerSettings = BrokerSettings()
    rules: RulesSettings = RulesSettings()


def topology_of(settings: DeclareSettings) -> Topology:
    """The topology with every unit of the catalogue, or a `StartupError` naming
    FSI_RULES_UNITS_FILE."""
    path = settings.rules.units_file
    try:
        catalogue = load_catalogue(read_file(Path(path)), path, reference.load())
    except OSError as exc:
        raise startup.StartupError(
            f"FSI_RULES_UNITS_FILE: cannot read {path}: {exc.strerror}", startup.EXIT_CONFIG
        ) from None
    except RulesError as exc:
        raise startup.StartupError(f"FSI_RULES_UNITS_FILE: {exc}", startup.EXIT_CONFIG) from None
    return Topology.of(settings.broker, catalogue.units)


async def declare_all(url: str, topology: Topology) -> None:
    """Connect, declare everything, disconnect; a `StartupError` when RabbitMQ cannot be
    reached or holds a queue or exchange with other arguments."""
    try:
        connection = await broker.connect(url)
    except broker.CONNECT_ERRORS as exc:
        raise broker.broker_error(exc, url) from None
    async with connection:
        try:
            await declare(await connection.channel(), topology)
        except broker.BROKER_ERRORS as exc:
            raise broker.broker_error(exc, url) from None


def _parser() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(
        prog="fsi-declare",
        description=(
            "Declare the RabbitMQ topology (exchanges, the routing, triage and dead-letter "
            "queues, and one queue per unit of the catalogue, with their bindings) and exit. "
            "Idempotent: also the repair for a deleted queue."
        ),
        epilog=(
            "Settings come from the environment: FSI_BROKER_URL, FSI_BROKER_PREFIX, "
            "FSI_BROKER_QUEUE_TYPE, FSI_RULES_UNITS_FILE. Exit codes: 69 RabbitMQ unreachable, "
            "76 RabbitMQ holds a queue or exchange with other arguments, 78 a setting or file "
            "is wrong."
        ),
    )


def main() -> None:
    """Declare the topology named by the settings, or exit with one line saying why not."""
    _parser().parse_args()
    settings = startup.settings_or_exit(DeclareSettings, "fsi-declare")
    try:
        topology = topology_of(settings)
        asyncio.run(declare_all(settings.broker.url, topology))
    except startup.StartupError as exc:
        startup.fail("fsi-declare", exc)
    # Every queue but the units' by name, from the topology itself: the message stays true
    # as queues are added.
    per_unit = {topology.unit_queue(unit).name for unit in topology.units}
    shared = [queue.name for queue in topology.queues if queue.name not in per_unit]
    print(
        f"topology declared under prefix '{topology.prefix}': "
        f"{', '.join(e.name for e in topology.exchanges)} (exchanges); "
        f"{', '.join(shared)} and {len(per_unit)} unit queues "
        f"({topology.prefix}unit.<district>.<section>)"
    )


if __name__ == "__main__":
    main()
