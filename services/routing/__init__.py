"""The router: accepted reports decided by the rules and sent to their unit's queue."""
