#!/usr/bin/env bash
# Runs uv (the Makefile's $(UV)) with the arguments given: the uv that python3 has, else the
# project's own in .venv-uv, made on first use with Python's venv and pip (Debian's python3
# has no pip and refuses installs into itself). Installs python3 and python3-venv from
# Debian's packages when they are missing (as root; otherwise says the command and stops).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
BOOT="$here/.venv-uv"
# The pinned version, kept in the Makefile (deploy/image.sh reads it there too).
VERSION="$(sed -n 's/^UV_VERSION := //p' "$here/Makefile")"

if "$PYTHON" -m uv --version >/dev/null 2>&1; then
    exec "$PYTHON" -m uv "$@"
fi
if [ ! -x "$BOOT/bin/uv" ]; then
    # shellcheck source=deploy/os-packages.sh
    source "$here/deploy/os-packages.sh"
    if ! command -v "$PYTHON" >/dev/null; then
        os_install "make install (uv)" python3 python3-venv
    elif ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
        # Debian keeps ensurepip, which a venv needs for its pip, in python3-venv.
        os_install "make install (uv)" python3-venv
    fi
    echo "installing uv $VERSION into .venv-uv (from PyPI)" >&2
    rm -rf "$BOOT"
    "$PYTHON" -m venv "$BOOT"
    "$BOOT/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$VERSION"
fi
exec "$BOOT/bin/uv" "$@"
