"""The API clients the tests use, with keys of their own: the clients file the intake reads
(`CLIENTS_YAML`), their keys, and a bearer header for each."""

from __future__ import annotations

from services.intake.access import hash_key

KEYS = {
    "alpha": "alpha-key-" + "a" * 32,
    "beta": "beta-key-" + "b" * 32,
    "ops": "ops-key-" + "o" * 32,
    "slow": "slow-key-" + "s" * 32,
    "citizen-only": "citizen-key-" + "c" * 32,
    "unit": "unit-key-" + "n" * 32,
}
# The unit the `unit` client speaks for (role `unit`: case events of its own units only).
UNIT = "oslo.vold-og-seksual"
# The `slow` client's rate: a test can use up its burst and wait out its refill.
SLOW_RATE, SLOW_BURST = 0.5, 3
CLIENTS_YAML = f"""
clients:
  - id: alpha
    key_sha256: {hash_key(KEYS["alpha"])}
    sources: [alpha-src, nettanmeldelse, patrulje, etat-974760673]
    formats: [canonical, citizen, patrol, agency]
  - id: beta
    key_sha256: {hash_key(KEYS["beta"])}
    sources: [beta-src]
    formats: [canonical]
  - id: ops
    key_sha256: {hash_key(KEYS["ops"])}
    roles: [operator]
  - id: slow
    key_sha256: {hash_key(KEYS["slow"])}
    sources: [slow-src]
    rate: {{per_second: {SLOW_RATE}, burst: {SLOW_BURST}}}
  - id: citizen-only
    key_sha256: {hash_key(KEYS["citizen-only"])}
    sources: [nettanmeldelse, alpha-src]
    formats: [citizen]
  - id: unit
    key_sha256: {hash_key(KEYS["unit"])}
    roles: [unit]
    units: [{UNIT}]
"""


def auth(client: str) -> dict[str, str]:
    """The client's key as a bearer token."""
    return {"Authorization": f"Bearer {KEYS[client]}"}
