#!/usr/bin/env bash
# The local OpenID Connect test provider (nanoidp, from .venv) of `make run`, `make services`
# and the tests: start | stop | restart | status. It serves http://127.0.0.1:8484 (the issuer
# of deploy/oidc/settings.yaml) with the development persons of deploy/oidc/users.yaml,
# detached, its copy of the configuration, its signing keys and its log under var/oidc
# (FSI_OIDC_STATE_DIR). `start` is idempotent: a provider that answers as that issuer is left
# running, unless its configuration is older than deploy/oidc's (then it is restarted).
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=8484
ISSUER="http://127.0.0.1:$PORT"
SOURCE=deploy/oidc
STATE="${FSI_OIDC_STATE_DIR:-$PWD/var/oidc}"
PID_FILE="$STATE/nanoidp.pid"
LOG_FILE="$STATE/nanoidp.log"

# The issuer named by whatever answers discovery on the port; nothing when nothing does.
answering_issuer() {
    .venv/bin/python - "$ISSUER" <<'PY' 2>/dev/null || true
import json, sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1] + "/.well-known/openid-configuration", timeout=2) as r:
        print(json.load(r).get("issuer", ""))
except Exception:
    pass
PY
}

answers() { [ "$(answering_issuer)" = "$ISSUER" ]; }

our_pid() {
    local pid
    pid="$(cat "$PID_FILE" 2>/dev/null)" || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
        tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q nanoidp && echo "$pid"
}

config_current() {
    cmp -s "$SOURCE/settings.yaml" "$STATE/config/settings.yaml" &&
        cmp -s "$SOURCE/users.yaml" "$STATE/config/users.yaml"
}

stop() {
    local pid
    if pid="$(our_pid)"; then
        kill "$pid"
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
        echo "OIDC test provider stopped"
    else
        echo "OIDC test provider: none of ours is running"
    fi
    rm -f "$PID_FILE"
}

start() {
    if [ ! -x .venv/bin/nanoidp ]; then
        echo "the OIDC test provider (nanoidp) is not installed: run make install" >&2
        return 1
    fi
    mkdir -p "$STATE"
    # One start at a time: test runs and make may ask at once.
    exec 9>"$STATE/start.lock"
    flock -w 120 9
    if answers; then
        if config_current || ! our_pid >/dev/null; then
            echo "OIDC test provider answers on $ISSUER"
            return 0
        fi
        echo "deploy/oidc changed since the OIDC test provider started: restarting it"
        stop
    elif [ -n "$(answering_issuer)" ] || (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
        echo "something else listens on 127.0.0.1:$PORT (not the issuer $ISSUER):" \
            "stop it, the OIDC test provider needs that port" >&2
        return 1
    fi
    # A copy: nanoidp writes beside its configuration (a lock file, saves from its admin page).
    mkdir -p "$STATE/config"
    cp "$SOURCE/settings.yaml" "$SOURCE/users.yaml" "$STATE/config/"
    echo "starting the OIDC test provider on $ISSUER (log: $LOG_FILE)"
    FSI_OIDC_KEYS_DIR="$STATE/keys" setsid .venv/bin/nanoidp --config "$STATE/config" \
        --port "$PORT" --strict-config >>"$LOG_FILE" 2>&1 </dev/null 9>&- &
    echo $! >"$PID_FILE"
    for _ in $(seq 1 60); do
        if answers; then
            echo "OIDC test provider answers on $ISSUER"
            return 0
        fi
        if ! kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
            break
        fi
        sleep 0.5
    done
    echo "the OIDC test provider did not start; the end of $LOG_FILE:" >&2
    tail -n 20 "$LOG_FILE" >&2
    return 1
}

case "${1:-start}" in
start) start ;;
stop) stop ;;
restart)
    stop
    start
    ;;
status)
    if answers; then
        echo "OIDC test provider answers on $ISSUER (pid: $(our_pid || echo "not started here"))"
    else
        echo "OIDC test provider does not answer on $ISSUER"
        exit 1
    fi
    ;;
*)
    echo "usage: $0 start|stop|restart|status" >&2
    exit 2
    ;;
esac
