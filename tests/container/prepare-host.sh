#!/bin/sh
# Makes this (Debian, root) machine able to run real containers for `npm run test:container`:
# podman with runc, buildah, debootstrap (see agent/README.md, "Real container test").
set -eu
need=
for tool in podman buildah runc debootstrap; do
  command -v "$tool" >/dev/null 2>&1 || need="$need $tool"
done
if [ -n "$need" ]; then
  apt-get update -qq
  # shellcheck disable=SC2086 # one word per package
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
fi
# The kernel here runs cgroups in hybrid mode and refuses raising rlimits: crun (podman's
# default) fails on both; runc works once podman sets no ulimits and uses cgroupfs.
mkdir -p /etc/containers
conf=/etc/containers/containers.conf
if ! grep -q 'cgroup_manager = "cgroupfs"' "$conf" 2>/dev/null; then
  printf '[containers]\ndefault_ulimits = []\npids_limit = 0\n[engine]\ncgroup_manager = "cgroupfs"\nruntime = "runc"\n' >"$conf"
fi
