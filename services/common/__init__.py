"""What the intake and the router share: settings, start-up, PostgreSQL, RabbitMQ,
standardisation."""
