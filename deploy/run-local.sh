#!/usr/bin/env bash
# Runs FSI intake and the router against the local PostgreSQL and RabbitMQ: migrate (as the
# tables' owner), declare, then serve the intake and the router, each as a login of its own.
set -euo pipefail
cd "$(dirname "$0")/.."

export FSI_ENVIRONMENT="${FSI_ENVIRONMENT:-development}"
# Migrations run as the superuser, a member of the owner role fsi_owner; the services as
# fsi_intake_app and fsi_router_app, members of fsi_intake and fsi_router (trusted locally,
# as the superuser is; a deployment gives its logins passwords or certificates).
export FSI_DB_URL="${FSI_DB_URL:-postgresql://postgres@127.0.0.1:5432/fsi}"
INTAKE_DB_URL="${INTAKE_DB_URL:-postgresql://fsi_intake_app@127.0.0.1:5432/fsi}"
ROUTER_DB_URL="${ROUTER_DB_URL:-postgresql://fsi_router_app@127.0.0.1:5432/fsi}"
export FSI_BROKER_URL="${FSI_BROKER_URL:-amqp://guest:guest@127.0.0.1:5672/}"
export FSI_LOG_FORMAT="${FSI_LOG_FORMAT:-console}"
export FSI_ACCESS_CLIENTS_FILE="${FSI_ACCESS_CLIENTS_FILE:-deploy/clients.dev.yaml}"
# People sign in with the local OIDC test provider (make services starts it, deploy/oidc):
# nanoidp puts a person's own attributes, districts and name, under `attributes`.
export FSI_OIDC_ISSUER="${FSI_OIDC_ISSUER:-http://127.0.0.1:8484}"
export FSI_OIDC_DISTRICTS_CLAIM="${FSI_OIDC_DISTRICTS_CLAIM:-attributes.districts}"
export FSI_OIDC_NAME_CLAIM="${FSI_OIDC_NAME_CLAIM:-attributes.name}"
# The examples use Test-Norge synthetic identity numbers; accept them locally.
export FSI_STANDARDISE_ACCEPT_SYNTHETIC_IDS="${FSI_STANDARDISE_ACCEPT_SYNTHETIC_IDS:-true}"
HOST="${FSI_HTTP_HOST:-127.0.0.1}"
PORT="${FSI_HTTP_PORT:-8000}"
# The queue names below are the ones fsi-declare made: under the prefix in use.
PREFIX="${FSI_BROKER_PREFIX:-fsi.}"

.venv/bin/fsi-migrate --create
# The services' logins, made when missing (the roles they join are the migrations').
psql "$FSI_DB_URL" --quiet --no-psqlrc -v ON_ERROR_STOP=1 <<'SQL'
DO $$
DECLARE
    login text;
BEGIN
    FOREACH login IN ARRAY ARRAY['fsi_intake', 'fsi_router'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = login || '_app') THEN
            EXECUTE format('CREATE ROLE %I LOGIN IN ROLE %I', login || '_app', login);
        END IF;
    END LOOP;
END
$$;
SQL
.venv/bin/fsi-declare

cat <<MSG

FSI intake will listen on http://$HOST:$PORT  (OpenAPI: http://$HOST:$PORT/schema)
Post the example report with the development key:

  curl -i -X POST http://$HOST:$PORT/v1/reports \\
       -H 'Authorization: Bearer fsi-dev-key-change-me' \\
       -H 'Content-Type: application/json' \\
       --data-binary @schemas/examples/report.domestic-violence.json

then read it back, with its routing decision, at the Location it answers:

  curl -H 'Authorization: Bearer fsi-dev-key-change-me' http://$HOST:$PORT/v1/reports/<id>

The router sends it to the unit queue ${PREFIX}unit.trondelag.vold-naere-relasjoner.

People (README, "Development persons"; password fsi-dev-only) sign in with the OIDC test
provider on $FSI_OIDC_ISSUER. Anne's access token and the reports waiting for her:

  TOKEN=\$(curl -s -d grant_type=password -d client_id=fsi-workbench -d username=anne \\
       -d password=fsi-dev-only $FSI_OIDC_ISSUER/token | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -H "Authorization: Bearer \$TOKEN" http://$HOST:$PORT/v1/triage
Rules: deploy/routing/rules.yaml (reloaded when changed).

MSG
# Both in the background, and the script waits for them: a signal that arrives while one is
# still starting is then handled at once (bash defers a trap until a foreground command
# ends, so an intake started just after Ctrl-C or a TERM would keep the script alive).
# When either ends, or the script is stopped, the other is stopped too.
trap 'trap - EXIT; kill $(jobs -p) 2>/dev/null; wait' EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
# Migrated above: the services only check that nothing is missing.
FSI_DB_URL="$ROUTER_DB_URL" FSI_DB_MIGRATE_ON_START=false .venv/bin/fsi-router &
FSI_DB_URL="$INTAKE_DB_URL" FSI_DB_MIGRATE_ON_START=false .venv/bin/fsi-intake &
wait -n
