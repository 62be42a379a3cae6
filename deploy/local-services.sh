#!/usr/bin/env bash
# Makes sure the local PostgreSQL, RabbitMQ and OpenID Connect test provider (nanoidp of .venv,
# deploy/oidc-provider.sh) answer and Debian's PgBouncer is installed (the
# tests start one of their own; none is left running): what is missing is installed from
# Debian's packages (as root; otherwise the command to run is said), what does not answer is
# started without systemd. A service whose FSI_TEST_DATABASE_URL / FSI_TEST_AMQP_URL is set
# is left to that URL. A set-up this script did not install is never changed.
set -euo pipefail
# shellcheck source=deploy/os-packages.sh
source "$(dirname "$0")/os-packages.sh"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
    local port=$1 name=$2
    for _ in $(seq 1 60); do
        port_open "$port" && return 0
        sleep 1
    done
    echo "$name did not start listening on 127.0.0.1:$port" >&2
    return 1
}

# The version of the first PostgreSQL cluster named main (Debian's layout), or nothing.
pg_version() {
    local conf
    for conf in /etc/postgresql/*/main/postgresql.conf; do
        [ -e "$conf" ] || continue
        basename "$(dirname "$(dirname "$conf")")"
        return 0
    done
}

rabbitmq_installed() { command -v rabbitmq-server >/dev/null || [ -x /usr/sbin/rabbitmq-server ]; }
pgbouncer_installed() { command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ]; }

# A cluster this script has just installed trusts loopback, as make run and the tests connect
# (as postgres and the services' logins, without a password); Debian's own lines ask for one.
trust_loopback() {
    local version=$1
    local hba="/etc/postgresql/$version/main/pg_hba.conf"
    echo "PostgreSQL $version/main was installed just now: trusting 127.0.0.1 and ::1 for every" \
        "user in $hba (its first lines), as make run and the tests connect without a password"
    {
        echo "# Added by FSI intake's deploy/local-services.sh, which installed this cluster:"
        echo "# make run and the tests connect over loopback without a password."
        printf 'host\tall\tall\t127.0.0.1/32\ttrust\n'
        printf 'host\tall\tall\t::1/128\ttrust\n'
        cat "$hba"
    } >"$hba.new"
    # Written over in place: the file keeps its owner and mode.
    cat "$hba.new" >"$hba"
    rm "$hba.new"
    if port_open 5432; then
        pg_ctlcluster --skip-systemctl-redirect "$version" main reload
    fi
}

want_pg=false
want_mq=false
[[ -z "${FSI_TEST_DATABASE_URL:-}" ]] && ! port_open 5432 && want_pg=true
[[ -z "${FSI_TEST_AMQP_URL:-}" ]] && ! port_open 5672 && want_mq=true

missing=()
$want_pg && [ -z "$(pg_version)" ] && missing+=(postgresql)
$want_mq && ! rabbitmq_installed && missing+=(rabbitmq-server)
pgbouncer_installed || missing+=(pgbouncer)
# make run makes the services' logins with psql (PostgreSQL's package brings it along).
command -v psql >/dev/null || [[ " ${missing[*]} " == *" postgresql "* ]] ||
    missing+=(postgresql-client)
installed_pg=false
if [ ${#missing[@]} -gt 0 ]; then
    [[ " ${missing[*]} " == *" postgresql "* ]] && installed_pg=true
    os_install "the local services" "${missing[@]}"
fi

if $want_pg; then
    version="$(pg_version)"
    if [ -z "$version" ]; then
        echo "PostgreSQL is installed but has no cluster main in /etc/postgresql:" \
            "make one with pg_createcluster, then run make again" >&2
        exit 1
    fi
    if $installed_pg; then
        trust_loopback "$version"
    fi
    # Debian's package starts its cluster where systemd runs; elsewhere it is started here.
    if ! port_open 5432; then
        echo "starting PostgreSQL $version/main"
        pg_ctlcluster --skip-systemctl-redirect "$version" main start
    fi
    wait_port 5432 PostgreSQL
fi
if [[ -z "${FSI_TEST_DATABASE_URL:-}" ]]; then
    echo "PostgreSQL answers on 127.0.0.1:5432"
    # What the tests and make run do, tried once: a server that asks for a password is said
    # (with the way out) here rather than as a refused login later. PGPASSWORD and
    # ~/.pgpass count, as they do for the services.
    if command -v psql >/dev/null &&
        ! said="$(PGCONNECT_TIMEOUT=10 psql -h 127.0.0.1 -p 5432 -U postgres -d postgres -w \
            --no-psqlrc -Atqc 'SELECT 1' 2>&1)"; then
        echo "note: PostgreSQL on 127.0.0.1:5432 does not let postgres in without a password" \
            "(${said##*$'\n'}): make run and the tests connect so; trust 127.0.0.1 in its" \
            "pg_hba.conf, or give FSI_DB_URL and FSI_TEST_DATABASE_URL with a password" >&2
    fi
fi

if $want_mq; then
    # Debian's package starts the broker where systemd runs; elsewhere it is started here.
    if ! port_open 5672; then
        echo "starting RabbitMQ"
        rabbitmq-server -detached
        rabbitmqctl await_startup --timeout 120 >/dev/null 2>&1 || true
    fi
    wait_port 5672 RabbitMQ
fi
if [[ -z "${FSI_TEST_AMQP_URL:-}" ]]; then
    echo "RabbitMQ answers on 127.0.0.1:5672"
fi

echo "PgBouncer is installed ($(/usr/sbin/pgbouncer --version 2>/dev/null | head -1 || pgbouncer --version | head -1))"

# People sign in to the workbench with OpenID Connect: the test provider of make run and the
# tests, started detached when it does not answer (`bash deploy/oidc-provider.sh stop`).
# It runs from the project's .venv: installed here once the OS services are in place (so a
# machine that lacks those hears of them first).
if [ ! -x "$(dirname "$0")/../.venv/bin/nanoidp" ]; then
    bash "$(dirname "$0")/uv.sh" sync --frozen
fi
bash "$(dirname "$0")/oidc-provider.sh" start
