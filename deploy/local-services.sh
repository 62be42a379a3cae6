#!/usr/bin/env bash
# Makes sure the local PostgreSQL and RabbitMQ answer, starting them when they do not, and
# that Debian's PgBouncer is installed (the tests start one of their own; none is left running).
# Skipped when FSI_TEST_DATABASE_URL / FSI_TEST_AMQP_URL point elsewhere.
set -euo pipefail

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

if [[ -z "${FSI_TEST_DATABASE_URL:-}" ]]; then
    if ! port_open 5432; then
        echo "starting PostgreSQL"
        if command -v pg_ctlcluster >/dev/null; then
            pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
        else
            echo "PostgreSQL is not running and pg_ctlcluster is not installed" >&2
            exit 1
        fi
        wait_port 5432 PostgreSQL
    fi
    echo "PostgreSQL answers on 127.0.0.1:5432"
fi

if [[ -z "${FSI_TEST_AMQP_URL:-}" ]]; then
    if ! port_open 5672; then
        echo "starting RabbitMQ"
        if command -v rabbitmq-server >/dev/null; then
            rabbitmq-server -detached
            rabbitmqctl await_startup --timeout 120 >/dev/null 2>&1 || true
        else
            echo "RabbitMQ is not running and rabbitmq-server is not installed" >&2
            exit 1
        fi
        wait_port 5672 RabbitMQ
    fi
    echo "RabbitMQ answers on 127.0.0.1:5672"
fi

if ! command -v pgbouncer >/dev/null && [[ ! -x /usr/sbin/pgbouncer ]]; then
    echo "installing PgBouncer (Debian's package)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null
fi
echo "PgBouncer is installed ($(/usr/sbin/pgbouncer --version 2>/dev/null | head -1 || pgbouncer --version | head -1))"
