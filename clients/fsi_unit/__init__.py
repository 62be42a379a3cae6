"""fsi-unit: what a unit's system does, on the documented contract: consume, then answer."""
