"""The operations monitor's queue reader is chosen once, from the settings."""

from __future__ import annotations

from services.common.topology import Topology
from services.intake.ops import Monitor
from services.intake.ops_queues import DeclareReader, ManagementReader, queue_reader
from services.intake.settings import OpsSettings

BROKER = "amqp://guest:guest@127.0.0.1:5672/fsi"
MANAGEMENT = "http://guest:guest@127.0.0.1:15672"


def test_without_a_management_url_queues_are_read_by_passive_declares() -> None:
    assert queue_reader(OpsSettings(), BROKER) == DeclareReader(BROKER)


def test_with_a_management_url_queues_are_read_from_the_management_api() -> None:
    reader = queue_reader(OpsSettings(management_url=MANAGEMENT), BROKER)
    assert reader == ManagementReader(MANAGEMENT, BROKER)


async def test_a_monitor_reads_through_the_reader_its_settings_choose_and_closes_it() -> None:
    settings = OpsSettings(management_url=MANAGEMENT)
    monitor = Monitor(None, BROKER, Topology(), settings)
    assert monitor._reader == ManagementReader(MANAGEMENT, BROKER)
    await monitor.close()  # nothing held: a no-op, never a connection attempt
