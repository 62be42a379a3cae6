#!/usr/bin/env bash
# Builds the container image (deploy/Containerfile) with buildah, without a registry or a
# Docker engine: the base comes from Debian's packages (mmdebstrap), unless FSI_IMAGE_BASE
# names another (python:3.11-slim where a registry is reachable).
#
#   deploy/image.sh            build (or reuse) the image; its reference is the last line
#   deploy/image.sh --tools    only install buildah, mmdebstrap and podman when missing
#
# The image is tagged NAME:VERSION (pyproject.toml) and NAME:inputs-HASH, HASH being that of
# everything the build reads (the files .containerignore lets in, the Containerfile, the base
# image's id, uv's version): an image of the same inputs is reused, not built again. Progress
# goes to standard error, the reference alone to standard output.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=deploy/os-packages.sh
source deploy/os-packages.sh

BASE="${FSI_IMAGE_BASE:-localhost/debian:bookworm}"
NAME="${FSI_IMAGE_NAME:-localhost/fsi-intake}"
SUITE=bookworm
VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -n 1)"
UV_VERSION="$(sed -n 's/^UV_VERSION := //p' Makefile)"
# Downloads during the build trust what this machine trusts (a TLS-inspecting proxy's CA).
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt

say() { printf 'image: %s\n' "$*" >&2; }

tools() {
    local missing=()
    command -v buildah >/dev/null || missing+=(buildah)
    command -v podman >/dev/null || missing+=(podman)
    command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
    if [ ${#missing[@]} -gt 0 ]; then
        os_install "the container image" "${missing[@]}"
    fi
}

image_id() { buildah images --noheading --quiet "$1" 2>/dev/null | head -n 1; }

base() {
    # Only the locally made base is made here; another is pulled by buildah as usual.
    [ "$BASE" = "localhost/debian:$SUITE" ] || return 0
    [ -n "$(image_id "$BASE")" ] && return 0
    dir="$(mktemp -d)"
    trap 'rm -rf "$dir"' EXIT
    say "making $BASE with mmdebstrap (Debian $SUITE, python3 and its venv module)"
    mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,ca-certificates \
        "$SUITE" "$dir/base.tar" >&2
    podman import --quiet "$dir/base.tar" "$BASE" >/dev/null
}

inputs_hash() {
    # The files .containerignore lets into the build, whatever git knows of them.
    {
        find pyproject.toml uv.lock README.md deploy/Containerfile .containerignore \
            schemas services clients deploy/routing deploy/triage -type f \
            ! -path '*/__pycache__/*' ! -name '*.pyc' -print0 \
            | sort -z | xargs -0 sha256sum
        echo "base $(image_id "$BASE") uv $UV_VERSION"
    } | sha256sum | cut -c 1-16
}

# This checkout, as a label on the images it builds: a digest of its directory.
checkout() {
    git rev-parse --show-toplevel 2>/dev/null | sha256sum | cut -c 1-16
}

build() {
    local hash tag
    hash="$(inputs_hash)"
    tag="$NAME:inputs-$hash"
    if [ -n "$(image_id "$tag")" ]; then
        say "reusing $tag (built from these inputs)"
        buildah tag "$tag" "$NAME:$VERSION"
        echo "$tag"
        return
    fi
    local secret=()
    [ -s "$CA_BUNDLE" ] && secret=(--secret "id=ca,src=$CA_BUNDLE")
    say "building $NAME:$VERSION from $BASE"
    buildah bud --isolation chroot --network host --format docker --layers --force-rm \
        "${secret[@]}" \
        --label "fsi.checkout=$(checkout)" \
        --build-arg "BASE=$BASE" \
        --build-arg "UV_VERSION=$UV_VERSION" \
        --build-arg "VERSION=$VERSION" \
        --build-arg "REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
        -f deploy/Containerfile -t "$NAME:$VERSION" . >&2
    # Named by its inputs only when they are still the ones it was built from. Older
    # images of other inputs built from this checkout are removed (their layers with them;
    # shared ones stay); another checkout's images are its own, perhaps in use by its tests.
    if [ "$(inputs_hash)" = "$hash" ]; then
        buildah tag "$NAME:$VERSION" "$tag"
        buildah images --format '{{.Name}}:{{.Tag}}' --filter "reference=$NAME:inputs-*" \
            --filter "label=fsi.checkout=$(checkout)" \
            | sort -u | grep -vxF "$tag" | xargs -r -n 1 buildah rmi >/dev/null 2>&1 || true
        echo "$tag"
    else
        say "the sources changed during the build: not tagged as built from inputs $hash"
        echo "$NAME:$VERSION"
    fi
}

case "${1:-}" in
    --tools) tools ;;
    "")
        # One after the other, not joined by &&: bash runs a function of an && list with
        # `set -e` off, so a failing mmdebstrap would go unnoticed.
        tools
        base
        build
        ;;
    *) say "usage: deploy/image.sh [--tools]"; exit 2 ;;
esac
