"""deploy/compose.yaml and deploy/k8s: every FSI_ setting they name is one the services know
(each process given only its own), the security and reload choices hold, and the validator
of `make lint` (deploy/validate.py) refuses what is wrong."""

from __future__ import annotations

import copy
import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec
import pytest
import yaml

from services.common.settings import MigrateSettings
from services.intake.access import Clients
from services.intake.retention import RetentionSettings
from services.intake.settings import IntakeSettings
from services.routing.declare import DeclareSettings
from services.routing.settings import RoutingSettings

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
K8S = DEPLOY / "k8s"
BASE = K8S / "base"
OVERLAY = K8S / "overlays" / "example"

# The settings each command reads (its entry point's settings class).
COMMANDS: dict[str, type[msgspec.Struct]] = {
    "fsi-intake": IntakeSettings,
    "fsi-router": RoutingSettings,
    "fsi-migrate": MigrateSettings,
    "fsi-declare": DeclareSettings,
    "fsi-broker-access": DeclareSettings,
    "fsi-retention": RetentionSettings,
}
FSI_NAME = re.compile(r"\bFSI_[A-Z0-9_]+\b")


def env_names(cls: type[msgspec.Struct], path: tuple[str, ...] = ()) -> set[str]:
    """Every environment variable a settings class reads (`FSI_DB_URL` for db.url)."""
    names: set[str] = set()
    for field in msgspec.structs.fields(cls):
        key = (*path, field.name)
        if isinstance(field.type, type) and issubclass(field.type, msgspec.Struct):
            names |= env_names(field.type, key)
        else:
            names.add("FSI_" + "_".join(part.upper() for part in key))
    return names


KNOWN = set().union(*(env_names(cls) for cls in COMMANDS.values()))


def _validate_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fsi_validate", DEPLOY / "validate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _k8s_objects() -> Iterator[dict[str, Any]]:
    for path in sorted(BASE.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            yield from (doc for doc in yaml.safe_load_all(path.read_text("utf-8")) if doc)


def _pod_specs() -> Iterator[tuple[str, dict[str, Any]]]:
    for obj in _k8s_objects():
        if obj["kind"] in {"Deployment", "Job"}:
            yield obj["metadata"]["name"], obj["spec"]["template"]["spec"]
        elif obj["kind"] == "CronJob":
            yield obj["metadata"]["name"], obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def _containers() -> Iterator[tuple[str, dict[str, Any]]]:
    for name, pod in _pod_specs():
        for container in pod.get("initContainers", []) + pod["containers"]:
            yield f"{name}/{container['name']}", container


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text("utf-8"))
    return loaded


def test_the_settings_classes_read_what_the_readme_names() -> None:
    assert {"FSI_DB_URL", "FSI_DB_POOLER", "FSI_RULES_FILE", "FSI_CONSUMER_PREFETCH"} <= KNOWN
    assert "FSI_HTTP_PORT" not in env_names(RoutingSettings)


def test_every_fsi_name_in_the_deploy_files_is_a_setting() -> None:
    files = [COMPOSE, *sorted((DEPLOY / "compose").iterdir()), *sorted(K8S.rglob("*.yaml"))]
    unknown = {
        (path.relative_to(ROOT).as_posix(), name)
        for path in files
        for name in FSI_NAME.findall(path.read_text("utf-8"))
        if name not in KNOWN
    }
    assert not unknown


def test_each_compose_service_is_given_only_settings_its_process_reads() -> None:
    for name, service in _compose()["services"].items():
        given = {key for key in service.get("environment") or {} if key.startswith("FSI_")}
        command = (service.get("command") or [""])[0]
        if command in COMMANDS:
            assert given <= env_names(COMMANDS[command]), (name, given - KNOWN)
        else:
            assert not given, name


def test_each_container_is_given_only_settings_its_process_reads() -> None:
    for name, container in _containers():
        given = {env["name"] for env in container.get("env", []) if env["name"].startswith("FSI_")}
        command = container.get("command", [""])[0]
        if command in COMMANDS:
            assert given <= env_names(COMMANDS[command]), (name, given)
        else:
            assert not given, name


def test_the_shared_settings_map_names_only_settings() -> None:
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text("utf-8"))
    (settings,) = kustomization["configMapGenerator"]
    names = {literal.split("=", 1)[0] for literal in settings["literals"]}
    assert names <= KNOWN
    assert "FSI_BROKER_QUEUE_TYPE=quorum" in settings["literals"]


def test_compose_starts_the_services_after_the_migrations_and_the_topology() -> None:
    services = _compose()["services"]
    for name in ("intake", "router"):
        needs = services[name]["depends_on"]
        assert needs["migrate"]["condition"] == "service_completed_successfully"
        assert needs["declare"]["condition"] == "service_completed_successfully"
    for name, service in services.items():
        assert set(service.get("depends_on", {})) <= set(services), name
    assert services["router"]["deploy"]["replicas"] == 2


def test_compose_prometheus_keeps_the_jobs_the_alerts_name() -> None:
    def jobs(path: Path) -> set[str]:
        config = yaml.safe_load(path.read_text("utf-8"))
        return {job["job_name"] for job in config["scrape_configs"]}

    monitoring = jobs(DEPLOY / "monitoring" / "prometheus.yml")
    assert monitoring <= jobs(DEPLOY / "compose" / "prometheus.yml")


def test_compose_mounts_files_that_exist() -> None:
    for name, service in _compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), (name, source)


def test_compose_runs_each_service_as_a_database_login_of_its_own() -> None:
    services = _compose()["services"]
    logins = {
        name: re.match(r"postgresql://([^:]+):", services[name]["environment"]["FSI_DB_URL"])
        for name in ("migrate", "intake", "router")
    }
    assert {name: m and m.group(1) for name, m in logins.items()} == {
        "migrate": "fsi_migrate",
        "intake": "fsi_intake_app",
        "router": "fsi_router_app",
    }
    sql = (DEPLOY / "compose" / "postgres-logins.sql").read_text("utf-8")
    assert "fsi_intake_app LOGIN PASSWORD 'fsi-intake-dev-only' IN ROLE fsi_intake" in sql


def test_containers_run_unprivileged_on_a_read_only_root() -> None:
    for name, pod in _pod_specs():
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
    for name, container in _containers():
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False, name
        assert context["readOnlyRootFilesystem"] is True, name
        assert context["capabilities"]["drop"] == ["ALL"], name
        assert "resources" in container, name


def test_the_rules_are_mounted_so_a_configmap_update_reaches_the_router() -> None:
    (router,) = (c for name, c in _containers() if name == "fsi-router/router")
    mounts = {mount["name"]: mount for mount in router["volumeMounts"]}
    assert "subPath" not in mounts["rules"]
    env = {entry["name"]: entry.get("value") for entry in router["env"]}
    assert env["FSI_RULES_FILE"] == mounts["rules"]["mountPath"] + "/rules.yaml"
    overlay = yaml.safe_load((OVERLAY / "kustomization.yaml").read_text("utf-8"))
    generators = {gen["name"]: gen for gen in overlay["configMapGenerator"]}
    assert generators["fsi-rules"]["options"]["disableNameSuffixHash"] is True
    assert "options" not in generators["fsi-units"]  # a new catalogue rolls the routers


def test_the_intake_goes_through_the_pooler_in_transaction_mode() -> None:
    (intake,) = (c for name, c in _containers() if name == "fsi-intake/intake")
    env = {entry["name"]: entry.get("value") for entry in intake["env"]}
    assert env["FSI_DB_POOLER"] == "transaction"
    assert "@fsi-db-pooler-rw:" in env["FSI_DB_URL"]
    assert "@fsi-db-rw:" in env["FSI_DB_DIRECT_URL"]
    (pooler,) = (obj for obj in _k8s_objects() if obj["kind"] == "Pooler")
    assert pooler["spec"]["pgbouncer"]["poolMode"] == "transaction"


def test_the_example_clients_file_holds_no_development_key() -> None:
    clients = Clients.from_file(OVERLAY / "clients.example.yaml")
    assert clients.development_clients() == []


def test_the_base_objects_are_valid() -> None:
    validate = _validate_module()
    assert [p for obj in _k8s_objects() for p in validate.object_errors(obj)] == []


def _scaled_object() -> dict[str, Any]:
    (scaled,) = (obj for obj in _k8s_objects() if obj["kind"] == "ScaledObject")
    return copy.deepcopy(scaled)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda o: o["spec"].update(minReplicas=2), "'minReplicas' was unexpected"),
        (lambda o: o["spec"]["triggers"][0].update(authRef={}), "'authRef' was unexpected"),
        (lambda o: o["spec"].pop("scaleTargetRef"), "'scaleTargetRef' is a required property"),
        (lambda o: o["spec"].update(maxReplicaCount=0), "less than the minimum of 1"),
    ],
)
def test_the_validator_refuses_a_broken_scaled_object(change: Any, problem: str) -> None:
    scaled = _scaled_object()
    change(scaled)
    (error,) = _validate_module().object_errors(scaled)
    assert error.startswith("ScaledObject/fsi-router")
    assert problem in error


def test_the_validator_refuses_an_unknown_field_and_an_unknown_kind() -> None:
    validate = _validate_module()
    deployment = next(obj for obj in _k8s_objects() if obj["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["terminationGracePeriod"] = 40
    (error,) = validate.object_errors(deployment)
    assert "'terminationGracePeriod' was unexpected" in error
    (error,) = validate.object_errors({"apiVersion": "example.org/v1", "kind": "Thing"})
    assert "no schema for example.org/v1 Thing" in error


def test_the_compose_file_is_valid_and_a_wrong_one_is_refused(tmp_path: Path) -> None:
    validate = _validate_module()
    assert validate.compose_errors(COMPOSE) == []
    wrong = tmp_path / "compose.yaml"
    wrong.write_text(
        COMPOSE.read_text("utf-8").replace("service_completed_successfully", "service_done"),
        "utf-8",
    )
    assert any("service_done" in line for line in validate.compose_errors(wrong))


def test_the_example_overlay_builds_and_is_valid() -> None:
    validate = _validate_module()
    if validate.kustomize_command() is None:
        pytest.skip("no kustomize: `make install` puts kubectl into .venv (Linux only)")
    count, problems = validate.manifest_errors(validate.build())
    assert problems == []
    assert count > 30
