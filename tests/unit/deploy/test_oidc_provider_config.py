"""The local OIDC test provider's configuration (deploy/oidc) is valid for nanoidp and holds
what the README, `make run` and the tests say: the development persons with their roles,
districts and names, the issuer and audience the intake trusts, the workbench's public client
with PKCE and its callbacks."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from services.intake.settings import OidcSettings
from tests.support import people

ROOT = Path(__file__).parents[3]
OIDC = ROOT / "deploy" / "oidc"


def _yaml(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((OIDC / name).read_text("utf-8"))
    return loaded


def test_nanoidp_finds_nothing_wrong_in_the_configuration(tmp_path: Path) -> None:
    # A copy, as deploy/oidc-provider.sh runs it: nanoidp leaves a lock file beside it.
    for name in ("settings.yaml", "users.yaml"):
        shutil.copy(OIDC / name, tmp_path / name)
    nanoidp = Path(sys.executable).with_name("nanoidp")
    done = subprocess.run(  # noqa: S603 (the project's own tool and files)
        [str(nanoidp), "validate-config", "--config", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no findings" in done.stdout


def test_the_development_persons_are_the_ones_the_tests_and_readme_name() -> None:
    users = _yaml("users.yaml")["users"]
    assert set(users) == {"anne", "per", "pia", "paal", "nina", "ola"}
    for username, entry in users.items():
        person = people.PERSONS[username]
        assert entry["password"] == people.PASSWORD
        assert set(entry["roles"]) == person.roles
        districts = set(entry["attributes"]["districts"])
        national = OidcSettings().national_district
        assert districts - {national} == person.districts
        assert (national in districts) is person.national
        assert entry["attributes"]["name"] == person.name
    # Two prosecutors of one district: a closure one proposes, the other approves.
    oslo_prosecutors = [
        p for p in people.PERSONS.values() if "prosecutor" in p.roles and "oslo" in p.districts
    ]
    assert len(oslo_prosecutors) == 2


def test_the_issuer_audience_and_workbench_client_are_the_intakes() -> None:
    settings = _yaml("settings.yaml")
    oauth = settings["oauth"]
    assert oauth["issuer"] == people.ISSUER
    assert oauth["audience"] == OidcSettings().audience
    assert oauth["require_pkce"] is True
    (client,) = oauth["clients"]
    assert client["client_id"] == OidcSettings().client_id == people.CLIENT_ID
    # A public client: the page holds no secret.
    assert client["token_endpoint_auth_method"] == "none"
    assert "client_secret" not in client
    paths = {re.sub(r"^http://127\.0\.0\.1:\d+", "", uri) for uri in client["redirect_uris"]}
    assert paths == {"/triage/callback", "/ops/callback"}
    assert settings["server"]["port"] == int(people.ISSUER.rsplit(":", 1)[1])


def test_make_run_trusts_the_provider_as_the_tests_do() -> None:
    script = (ROOT / "deploy" / "run-local.sh").read_text("utf-8")
    for name, value in people.OIDC_ENV.items():
        assert f'export {name}="${{{name}:-{value}}}"' in script, name
