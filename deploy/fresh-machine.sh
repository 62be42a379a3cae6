#!/usr/bin/env bash
# The base of the fresh-machine test: a Debian system as an image, made from Debian's packages.
#
#   deploy/fresh-machine.sh          make the base image (or reuse it); its reference is the last line
#   deploy/fresh-machine.sh --tools  only install buildah, mmdebstrap and slirp4netns when missing
#                                    (slirp4netns: the test's container network, outbound only)
#
# The base is Debian's minbase variant (apt, dpkg, bash, coreutils: less than a default
# install, which also has python3) plus make, because `make` is the README's command itself:
# everything else `make install` and `make run` need (python3 and its venv module,
# PostgreSQL, RabbitMQ, PgBouncer) they must install themselves. Made once per suite and
# reused (delete it with `buildah rmi` to start from the archive again). Progress goes to
# standard error, the reference alone to standard output.
set -euo pipefail
# shellcheck source=deploy/os-packages.sh
source "$(dirname "$0")/os-packages.sh"

SUITE="${FSI_FRESH_SUITE:-bookworm}"
IMAGE="${FSI_FRESH_IMAGE:-localhost/fsi-fresh-debian:$SUITE}"
INCLUDE="make"

say() { printf 'fresh-machine: %s\n' "$*" >&2; }

tools() {
    os_need "the fresh-machine test" buildah=buildah mmdebstrap=mmdebstrap slirp4netns=slirp4netns
}

base() {
    if buildah inspect --type image "$IMAGE" >/dev/null 2>&1; then
        say "reusing $IMAGE"
        echo "$IMAGE"
        return 0
    fi
    # Not local: the EXIT trap reads them after the function has returned.
    dir="$(mktemp -d)"
    container=""
    trap 'rm -rf "$dir"; [ -z "$container" ] || buildah rm "$container" >/dev/null 2>&1' EXIT
    say "making $IMAGE with mmdebstrap (Debian $SUITE, minbase and $INCLUDE)"
    mmdebstrap --quiet --variant=minbase --include="$INCLUDE" "$SUITE" "$dir/base.tar" >&2
    # An image of the archive alone: buildah unpacks a local tar into the empty container.
    container="$(buildah from scratch)"
    buildah add --quiet "$container" "$dir/base.tar" / >/dev/null
    buildah config \
        --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        --env LANG=C.UTF-8 \
        --cmd /bin/bash \
        --label "org.opencontainers.image.description=Debian $SUITE minbase with $INCLUDE" \
        "$container"
    buildah commit --quiet --rm "$container" "$IMAGE" >/dev/null
    container=""
    echo "$IMAGE"
}

case "${1:-}" in
    --tools) tools ;;
    "") tools && base ;;
    *) say "usage: deploy/fresh-machine.sh [--tools]"; exit 2 ;;
esac
