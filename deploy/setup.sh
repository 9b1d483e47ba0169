#!/usr/bin/env bash
# Idempotent set-up of one Forager machine: a Docker engine, the Python environment (.venv),
# and the base image. Safe to run again; it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[setup] %s\n' "$*" >&2; }
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"

apt_install() {  # apt_install PACKAGE... (only the missing ones)
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]} (Debian packages)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
}

# 1. A Docker engine: use the one that answers, else install Debian's docker.io and start dockerd.
if ! docker info >/dev/null 2>&1; then
  command -v dockerd >/dev/null 2>&1 || apt_install docker.io
  log "starting dockerd"
  ($SUDO nohup dockerd >/var/log/forager-dockerd.log 2>&1 &)
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { log "dockerd did not start; see /var/log/forager-dockerd.log"; exit 1; }
fi
# debootstrap makes base images where no container registry is reachable.
apt_install debootstrap
[ -n "${FORAGER_SETUP_EXTRA_APT:-}" ] && apt_install ${FORAGER_SETUP_EXTRA_APT}

# 2. The Python environment.
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
if ! .venv/bin/python -c "import forager, pytest" 2>/dev/null || [ pyproject.toml -nt .venv/.forager-installed ]; then
  log "installing Forager into .venv"
  .venv/bin/pip install -q -e '.[test]'
  touch .venv/.forager-installed
fi

# 3. The base image for the default Python (bookworm: Python 3.11).
.venv/bin/forager images bootstrap --suite "${FORAGER_SETUP_SUITE:-bookworm}" >/dev/null
log "ready"
