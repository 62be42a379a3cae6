"""The canonical contracts of FSI intake: msgspec Structs, JSON Schema and reference data."""
