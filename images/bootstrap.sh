#!/usr/bin/env bash
# Build a Forager base image from a Debian suite, without any container registry:
# debootstrap a minimal root filesystem, then `docker import` it.
#   images/bootstrap.sh SUITE TAG [MIRROR]
# bullseye -> Python 3.9, bookworm -> Python 3.11, trixie -> Python 3.13.
set -euo pipefail
suite=${1:?suite (bullseye|bookworm|trixie)}
tag=${2:?image tag}
mirror=${3:-http://deb.debian.org/debian}
command -v debootstrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
root=$(mktemp -d /tmp/forager-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
# python3-venv gives ensurepip; git serves setuptools-scm builds and from-history tasks.
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates,git,procps \
  "$suite" "$root" "$mirror" >"$root.log" 2>&1 || { tail -30 "$root.log" >&2; exit 1; }
rm -f "$root.log"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import \
  --change 'ENV LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1' \
  --change 'CMD ["/bin/bash"]' - "$tag" >/dev/null
echo "$tag"
