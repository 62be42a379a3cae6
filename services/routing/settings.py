"""The router process's settings (`FSI_RULES_FILE`, `FSI_CONSUMER_PREFETCH`, ...)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import msgspec
from msgspec import Meta

from services.common.settings import BrokerSettings, DatabaseSettings, LogSettings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "routing"


class RulesSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Where the rules and the unit catalogue are."""

    file: str = str(DEPLOY / "rules.yaml")
    units_file: str = str(DEPLOY / "units.yaml")


class ConsumerSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How many reports one router holds unacknowledged at once."""

    prefetch: Annotated[int, Meta(ge=1, le=1000)] = 64
    # How long a stopping router waits for the batches on their way.
    drain_seconds: Annotated[float, Meta(ge=0, le=60)] = 10.0


class MetricsSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The router's own `/metrics` endpoint for Prometheus."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: Annotated[int, Meta(ge=1, le=65535)] = 9102


class RoutingSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Everything the router process is configured with."""

    db: DatabaseSettings = DatabaseSettings()
    broker: BrokerSettings = BrokerSettings()
    log: LogSettings = LogSettings()
    rules: RulesSettings = RulesSettings()
    consumer: ConsumerSettings = ConsumerSettings()
    metrics: MetricsSettings = MetricsSettings()
