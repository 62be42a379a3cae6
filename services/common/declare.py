"""`fsi-declare`: declare the RabbitMQ topology (exchanges, queues, bindings) and exit."""

from __future__ import annotations

import asyncio
import sys

import msgspec

from services.common import settings as fsi_settings
from services.common.settings import BrokerSettings
from services.common.topology import Topology, declare_at


class DeclareSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Settings of the declare command."""

    broker: BrokerSettings = BrokerSettings()


def main() -> None:
    """Declare the topology named by FSI_BROKER_PREFIX at FSI_BROKER_URL."""
    try:
        settings = fsi_settings.load(DeclareSettings)
    except fsi_settings.SettingsError as exc:
        sys.exit(str(exc))
    topology = Topology(prefix=settings.broker.prefix, queue_type=settings.broker.queue_type)
    asyncio.run(declare_at(settings.broker.url, topology))
    print(f"topology declared: {', '.join(q.name for q in topology.queues)}")


if __name__ == "__main__":
    main()
