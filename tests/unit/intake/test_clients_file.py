"""The clients file: one entry per client id and per key, and the published development keys
accepted only in development."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.common.settings import SettingsError
from services.intake.access import DEVELOPMENT_KEYS, Clients, ClientsFileError, hash_key
from services.intake.app import load_clients
from services.intake.settings import AccessSettings, IntakeSettings

DEV_FILE = Path(__file__).parents[3] / "deploy" / "clients.dev.yaml"


def test_two_entries_of_one_id_are_refused_naming_the_id_and_the_entries() -> None:
    text = f"""
clients:
  - id: alpha
    key_sha256: {hash_key("key-1")}
  - id: beta
    key_sha256: {hash_key("key-2")}
  - id: alpha
    key_sha256: {hash_key("key-3")}
"""
    with pytest.raises(ClientsFileError) as refused:
        Clients.from_yaml(text, "clients.yaml")
    message = str(refused.value)
    assert "'alpha'" in message
    assert "entries 1 and 3" in message
    assert message.startswith("clients.yaml: ")


def test_two_clients_of_one_key_are_refused_naming_both() -> None:
    text = f"""
clients:
  - id: alpha
    key_sha256: {hash_key("key-1")}
  - id: beta
    key_sha256: {hash_key("key-1")}
"""
    with pytest.raises(ClientsFileError, match=r"client beta reuses the key of client alpha"):
        Clients.from_yaml(text)


def test_the_development_keys_are_those_the_development_file_names() -> None:
    keys = [
        "fsi-dev-key-change-me",
        "fsi-citizen-key-change-me",
        "fsi-unit-oslo-key-change-me",
    ]
    assert {hash_key(key) for key in keys} == DEVELOPMENT_KEYS
    clients = Clients.from_file(DEV_FILE)
    assert clients.development_clients() == ["dev", "dev-nettanmeldelse", "dev-unit-oslo"]


def _settings(path: Path, environment: str) -> IntakeSettings:
    return IntakeSettings(
        access=AccessSettings(clients_file=str(path)),
        environment=environment,  # type: ignore[arg-type]
    )


def test_development_keys_are_refused_outside_development_naming_the_clients() -> None:
    with pytest.raises(SettingsError) as refused:
        load_clients(_settings(DEV_FILE, "production"))
    message = str(refused.value)
    assert message.startswith("invalid setting FSI_ACCESS_CLIENTS_FILE: ")
    assert "dev, dev-nettanmeldelse, dev-unit-oslo" in message
    assert "FSI_ENVIRONMENT=development" in message
    assert "\n" not in message


def test_one_development_key_among_others_is_refused_too(tmp_path: Path) -> None:
    path = tmp_path / "clients.yaml"
    path.write_text(
        f"""
clients:
  - id: upstream
    key_sha256: {hash_key("a-real-key")}
  - id: copied
    key_sha256: {hash_key("fsi-dev-key-change-me")}
""",
        "utf-8",
    )
    with pytest.raises(SettingsError, match=r"client\(s\) copied hold"):
        load_clients(_settings(path, "production"))


def test_development_keys_load_in_development() -> None:
    clients = load_clients(_settings(DEV_FILE, "development"))
    assert {c.id for c in clients.by_hash.values()} == {
        "dev",
        "dev-nettanmeldelse",
        "dev-unit-oslo",
    }


@pytest.mark.parametrize(
    "written",
    [
        hash_key("key-1").upper(),  # a hash spelt otherwise than hash_key writes it
        hash_key("key-1")[:63],
        "sha256:" + hash_key("key-1"),
    ],
)
def test_a_key_hash_not_in_lower_case_hex_of_64_digits_is_refused(written: str) -> None:
    text = f"""
clients:
  - id: alpha
    key_sha256: {written}
"""
    with pytest.raises(ClientsFileError) as refused:
        Clients.from_yaml(text, "clients.yaml")
    assert "key_sha256" in str(refused.value)
