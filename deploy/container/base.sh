#!/usr/bin/env bash
# Makes the base image the Containerfile starts from when no registry is
# reachable: Debian 12 (bookworm), minimal, from Debian's archive with
# debootstrap, imported into podman as localhost/debian:bookworm-slim. Does
# nothing when that image exists already (it is kept between runs).
#
#   deploy/container/base.sh [MIRROR]    (default http://deb.debian.org/debian)
set -euo pipefail

image=localhost/debian:bookworm-slim
mirror=${1:-http://deb.debian.org/debian}
if podman image exists "$image"; then
    echo "base image $image exists"
    exit 0
fi
for tool in debootstrap podman; do
    command -v "$tool" >/dev/null || {
        echo "base.sh: $tool is not installed (apt-get install $tool)" >&2
        exit 1
    }
done
root=$(mktemp -d "${TMPDIR:-/tmp}/motcua-rootfs.XXXXXX")
trap 'rm -rf "$root"' EXIT
echo "debootstrap bookworm (minbase) from $mirror into $root" >&2
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1 || {
    tail -n 20 "$root.log" >&2
    exit 1
}
rm -f "$root.log"
# What the slim images drop: documentation, manuals, the apt lists.
rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/var/lib/apt/lists/* \
    "$root"/var/cache/apt/archives/*.deb
tar -C "$root" -c . | podman import --change 'CMD ["/bin/bash"]' - "$image" >/dev/null
echo "base image $image: $(podman image inspect --format '{{.Size}}' "$image") bytes"
