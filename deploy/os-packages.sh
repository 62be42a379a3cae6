# shellcheck shell=bash
# Installs Debian's packages for the local scripts (sourced by deploy/uv.sh,
# deploy/local-services.sh and deploy/image.sh; run by the Makefile's tool targets): as root
# with apt-get; otherwise says the command to run and stops.

# os_install WHY PACKAGE...: install the packages (Debian or Ubuntu), or exit 1 saying how.
os_install() {
    local why=$1
    shift
    if ! command -v apt-get >/dev/null; then
        echo "$why needs $*, and this is no Debian or Ubuntu machine (no apt-get):" \
            "install them with the system's own package manager, then run make again" >&2
        exit 1
    fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "$why needs Debian's packages $*; install them as root, then run make again:" >&2
        echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends $*" >&2
        exit 1
    fi
    # Said on standard error: standard output may be a command's own (`uv export > file`).
    echo "installing $* (Debian's packages, for $why)" >&2
    # A name server or mirror that fails for a moment makes apt-get update warn and go on
    # with no package lists, and the install then fails as if the packages did not exist:
    # a failed fetch is an error here (--error-on=any, apt 2.3), tried three times.
    local try
    for try in 1 2 3; do
        apt-get update -qq -o Acquire::Retries=3 --error-on=any >&2 && break
        [ "$try" -eq 3 ] || { echo "apt-get update failed; trying again in $((try * 5)) s" >&2; sleep $((try * 5)); }
    done
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        -o Acquire::Retries=3 "$@" >/dev/null
}

# os_need WHY COMMAND=PACKAGE[,PACKAGE...]...: os_install, in one go, the packages of each
# command that is not on PATH (`npm=nodejs,npm`); nothing when all are there.
os_need() {
    local why=$1 need these packages=()
    shift
    for need in "$@"; do
        command -v "${need%%=*}" >/dev/null && continue
        IFS=, read -r -a these <<<"${need#*=}"
        packages+=("${these[@]}")
    done
    [ ${#packages[@]} -eq 0 ] || os_install "$why" "${packages[@]}"
}

# Run as a script (the Makefile's tool targets): deploy/os-packages.sh WHY COMMAND=PACKAGES...
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    if [ $# -lt 2 ]; then
        echo "usage: deploy/os-packages.sh WHY COMMAND=PACKAGE[,PACKAGE...]..." >&2
        exit 2
    fi
    os_need "$@"
fi
