"""The router process's settings (`FSI_RULES_FILE`, `FSI_CONSUMER_PREFETCH`, ...)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from services.common.settings import (
    BrokerSettings,
    DatabaseSettings,
    Environment,
    LogSettings,
    RulesSettings,
)


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
    # FSI_ENVIRONMENT: `development` or `production` (the default; see Environment).
    environment: Environment = "production"

    def __post_init__(self) -> None:
        for name, value in (
            ("FSI_RULES_FILE", self.rules.file),
            ("FSI_RULES_UNITS_FILE", self.rules.units_file),
        ):
            if not value:
                raise ValueError(
                    f"{name}: required; the installed package has no default rules "
                    "(deploy/routing/ of the source holds examples)"
                )
