#!/bin/sh
# Builds the Debian 12 minbase image the container test starts from, once: debootstrap from the
# Debian mirror this machine's apt already uses, imported into podman as $1. A second run finds
# the image and returns at once.
set -eu
image=${1:?usage: base-image.sh IMAGE}
if podman image exists "$image"; then
  echo "base image $image: cached"
  exit 0
fi
mirror=$(sed -n 's#^URIs: *\(https\{0,1\}://[^ ]*/debian\)/*$#\1#p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
[ -n "$mirror" ] || mirror=$(sed -n 's#^deb  *\(https\{0,1\}://[^ ]*/debian\)/* .*#\1#p' /etc/apt/sources.list 2>/dev/null | head -n 1)
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs"' EXIT
echo "base image $image: debootstrap --variant=minbase bookworm from $mirror"
debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >/dev/null
tar -C "$rootfs" -c . | podman import - "$image" >/dev/null
echo "base image $image: imported"
