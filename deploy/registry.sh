#!/usr/bin/env bash
# Idempotent: a container registry (Debian's docker-registry, the CNCF distribution server) serving
# on ${REGISTRY_ADDR:-127.0.0.1:5000}. Docker treats a 127.0.0.1 registry as insecure-by-default
# (plain HTTP allowed), so no engine configuration is needed on this machine. Prints the address.
# Used by the tests and CI; on a farm, point FORAGER_REGISTRY at any registry all workers reach.
set -euo pipefail
log() { printf '[registry] %s\n' "$*" >&2; }
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
ADDR=${REGISTRY_ADDR:-127.0.0.1:5000}
DIR=${REGISTRY_DIR:-/var/lib/forager-registry}

answers() { curl -fsS -m 3 "http://$ADDR/v2/" >/dev/null 2>&1; }
if answers; then echo "$ADDR"; exit 0; fi

if ! command -v docker-registry >/dev/null 2>&1; then
  log "installing docker-registry (Debian package)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends docker-registry >/dev/null
fi
$SUDO mkdir -p "$DIR"
cat > "$DIR/config.yml" <<CONF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $DIR/data
  delete:
    enabled: true
http:
  addr: $ADDR
CONF
log "starting docker-registry on $ADDR (storage $DIR/data)"
($SUDO nohup docker-registry serve "$DIR/config.yml" >"$DIR/registry.log" 2>&1 &)
for _ in $(seq 1 30); do answers && break; sleep 1; done
answers || { log "docker-registry did not start; see $DIR/registry.log"; exit 1; }
echo "$ADDR"
