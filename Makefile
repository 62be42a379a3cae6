# FSI intake — the commands a newcomer looks for.
PYTHON ?= python3
UV_VERSION := 0.13.8
# uv: python3's own, else one installed into .venv-uv on first use (deploy/uv.sh).
UV := PYTHON=$(PYTHON) bash deploy/uv.sh
VENV := .venv/bin

.PHONY: help install run test unit integration lint format schemas audit bench bench-routing bench-triage bench-events bench-deadlines node-modules browser promtool services image image-tools clean

help:  ## this list: each target and what it does (the default)
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-14s %s\n", $$1, $$2}'

install:  ## install the pinned dependencies into .venv (uv.lock); uv, python3 and its venv module when missing
	$(UV) sync --frozen

run: install services  ## migrate, declare the topology, serve the intake and the router locally
	bash deploy/run-local.sh

lint: install promtool node-modules  ## ruff (lint + format check), mypy (strict), import contracts, JSON Schema files and the AsyncAPI document up to date (and valid), hadolint (deploy/Containerfile), compose and Kubernetes manifests against their schemas (deploy/validate.py)
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy
	$(VENV)/hadolint deploy/Containerfile
	$(VENV)/lint-imports
	$(VENV)/python -m schemas.export --check
	$(VENV)/python -m schemas.asyncapi --check
	$(VENV)/python deploy/validate.py

test: lint services browser promtool image-tools  ## everything: lint, unit and integration tests against real services, with branch coverage
	$(VENV)/pytest --cov --cov-report=term-missing:skip-covered

unit: install promtool  ## the pure tests only, no services needed
	$(VENV)/pytest -m "not integration"

integration: install services browser promtool image-tools  ## the integration tests only, against the real PostgreSQL and RabbitMQ
	$(VENV)/pytest -m integration

format: install  ## ruff: format the code and apply its safe fixes
	$(VENV)/ruff format .
	$(VENV)/ruff check --fix .

schemas: install node-modules  ## regenerate schemas/json and schemas/asyncapi.json from the Structs
	$(VENV)/python -m schemas.export
	$(VENV)/python -m schemas.asyncapi

audit: install  ## known vulnerabilities in uv.lock (pip-audit) and package-lock.json (npm audit); a source that does not answer is said, not failed
	@$(UV) export --frozen --format requirements-txt --no-emit-project --all-groups --quiet > .venv/audit-requirements.txt
	$(VENV)/python deploy/audit.py .venv/audit-requirements.txt

bench: install services  ## the benchmarks: intake, routing, the triage workbench, then case events
	$(VENV)/python -m bench.intake
	$(VENV)/python -m bench.routing
	$(VENV)/python -m bench.triage
	$(VENV)/python -m bench.caseevents

bench-triage: install services  ## work list latency at 10,000 waiting, route disposition to the unit queue at 50/s
	$(VENV)/python -m bench.triage

bench-routing: install services  ## decisions beside zen-engine and rule-engine, replay, router beside raw aio-pika
	$(VENV)/python -m bench.routing

bench-events: install services  ## case events applied by the router over AMQP (20,000) beside a raw consume-and-ack loop
	$(VENV)/python -m bench.caseevents

# Not part of `bench`: seeding a million cases and three million events takes over two
# minutes on 2 cores, for one statement timed. ARGS passes the benchmark's options.
bench-deadlines: install services  ## the operations overview's deadline figures at 1,000,000 held cases and 3,000,000 events, with the plan (minutes, so not in `bench`; smaller: ARGS="--cases 10000")
	$(VENV)/python -m bench.deadlines $(ARGS)

promtool:  ## Debian's prometheus package, for promtool: the alert rules' own tests, the compose stack's Prometheus configuration
	@bash deploy/os-packages.sh "make promtool" promtool=prometheus

browser:  ## Debian's chromium, nodejs and npm, then node-modules (axe-core and morphdom for the browser tests)
	@bash deploy/os-packages.sh "make browser" chromium=chromium,fonts-liberation npm=nodejs,npm
	@$(MAKE) --no-print-directory node-modules

node-modules:  ## Debian's nodejs and npm, and the packages package-lock.json pins (npm ci): @asyncapi/specs, axe-core, morphdom
	@bash deploy/os-packages.sh "make node-modules" npm=nodejs,npm
	@cmp -s package-lock.json node_modules/.fsi-installed 2>/dev/null || (npm ci --ignore-scripts --no-audit --no-fund --loglevel=error && cp package-lock.json node_modules/.fsi-installed)

services:  ## make sure the local PostgreSQL, RabbitMQ and OIDC test provider (nanoidp, 127.0.0.1:8484) answer (starts them if not), PgBouncer installed
	@bash deploy/local-services.sh

image:  ## build the container image (deploy/Containerfile) with buildah, its base made from Debian's packages (FSI_IMAGE_BASE=python:3.11-slim where a registry is reachable)
	bash deploy/image.sh

image-tools:  ## Debian's buildah, mmdebstrap and podman, to build and run the image (the container tests)
	@bash deploy/image.sh --tools

clean:  ## remove .venv, .venv-uv (uv, where python3 has none) and the tools' caches
	rm -rf .venv .venv-uv .pytest_cache .mypy_cache .ruff_cache .hypothesis .import_linter_cache .coverage .coverage.*
