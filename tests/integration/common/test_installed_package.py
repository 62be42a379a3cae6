"""A non-editable install (a wheel, as a container image gets it) runs without the source tree.

The wheel is built and installed into a fresh virtual environment; its dependencies come from
the development environment as a plain path (so that environment's editable install of this
source tree is not read), and every command runs isolated (`python -I`) from a directory of
its own. Whatever the code finds beside its modules must be in the wheel: migrations, source
format mappings, templates, reference tables. The router's example rules are not package
data: installed, it asks for FSI_RULES_FILE in one line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from services.common import migrate

ROOT = Path(__file__).parents[3]
PACKAGES = ("schemas", "services")


def _uv() -> list[str]:
    # The project's own way to uv, as `make install` runs it: python3's uv, else the one it
    # keeps in .venv-uv (made on first use).
    return ["bash", str(ROOT / "deploy" / "uv.sh")]


@dataclass(frozen=True, slots=True)
class Installed:
    wheel: Path
    python: Path
    bin: Path
    workdir: Path

    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """A command of the installed package, with no FSI_ setting but those given."""
        environment = {k: v for k, v in os.environ.items() if not k.startswith("FSI_")}
        environment.update(env or {})
        return subprocess.run(  # noqa: S603 - our own interpreter and commands
            args, cwd=self.workdir, env=environment, capture_output=True, text=True, timeout=120
        )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    here = tmp_path_factory.mktemp("installed")
    subprocess.run(  # noqa: S603
        [*_uv(), "build", "--wheel", "--out-dir", str(here / "dist"), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next((here / "dist").glob("*.whl"))
    venv = here / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)  # noqa: S603
    python = venv / "bin" / "python"
    subprocess.run(  # noqa: S603
        [*_uv(), "pip", "install", "--no-deps", "--python", str(python), str(wheel)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    site = next((venv / "lib").glob("python3*/site-packages"))
    # A path line: the development site-packages is searched, its .pth files are not run.
    (site / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", "utf-8")
    workdir = here / "elsewhere"
    workdir.mkdir()
    return Installed(wheel, python, venv / "bin", workdir)


def _data_files() -> set[str]:
    """Every file of the packages in the source tree that is not Python code."""
    found = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".py":
                found.add(path.relative_to(ROOT).as_posix())
    return found


def test_the_wheel_ships_every_data_file_of_the_packages(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        shipped = set(wheel.namelist())
    expected = _data_files()
    assert {f for f in expected if f.startswith("services/common/migrations/")} == {
        f"services/common/migrations/{p.name}" for p in migrate.MIGRATIONS_DIR.glob("*.sql")
    }
    assert expected - shipped == set()


# Everything read from beside a module at run time, read by the installed package.
PROBE = """
import json, pathlib
import msgspec
import schemas
from schemas import reference
from services.common import migrate
from services.intake import adapters, app
from services.intake.service import from_source

ref = reference.load()
examples = pathlib.Path(schemas.__file__).parent / "examples" / "sources"
for name, adapter in adapters.ADAPTERS.items():
    parsed = msgspec.json.decode((examples / f"{name}.json").read_bytes(), type=adapter.struct)
    from_source(adapter, parsed, ref)
print(json.dumps({
    "modules": [migrate.__file__, adapters.__file__, reference.__file__],
    "migrations": [m.version for m in migrate.discover()],
    "templates": sorted(p.name for p in app.TEMPLATES.glob("*.html")),
    "adapted": sorted(adapters.ADAPTERS),
}))
"""


def test_the_installed_package_reads_its_data_from_itself(installed: Installed) -> None:
    answer = installed.run(str(installed.python), "-I", "-c", PROBE)
    assert answer.returncode == 0, answer.stderr
    found = json.loads(answer.stdout)
    venv = str(installed.python.parents[1])
    assert all(module.startswith(venv) for module in found["modules"]), found["modules"]
    assert found["migrations"] == [m.version for m in migrate.discover()]
    assert {"base.html", "signin.html", "ops.html", "triage_report.html"} <= set(found["templates"])
    assert found["adapted"] == ["agency", "citizen", "patrol"]


async def test_the_installed_fsi_migrate_applies_every_migration(
    installed: Installed, empty_database: str
) -> None:
    answer = installed.run(str(installed.bin / "fsi-migrate"), env={"FSI_DB_URL": empty_database})
    assert answer.returncode == 0, answer.stderr
    conn = await asyncpg.connect(empty_database)
    try:
        versions = [r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")]
    finally:
        await conn.close()
    assert sorted(versions) == [m.version for m in migrate.discover()]
    assert f"migrations applied: {sorted(versions)}" in answer.stdout


def test_the_installed_router_asks_for_its_rules_in_one_line(installed: Installed) -> None:
    answer = installed.run(str(installed.bin / "fsi-router"))
    assert answer.returncode != 0
    lines = answer.stderr.splitlines()
    assert len(lines) == 1, lines
    assert (
        "invalid setting FSI_RULES_FILE: required; the installed package has no default" in lines[0]
    )
