"""The intake: reports in over HTTP, standardised, stored with an outbox, published."""
