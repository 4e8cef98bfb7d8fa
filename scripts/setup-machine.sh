#!/usr/bin/env bash
# Gets what the test suite needs on a bare machine of this kind: Chromium (browser tests), a
# Docker engine plus a local base image (no registry here), and a running Postgres.
# Writes ./.factory-env with the variables the tests need (DOCKER_HOST). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
: > .factory-env

if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/lib/chromium/chromium ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "setup-machine: could not install chromium (browser tests will skip or fail)" >&2
fi

if [ -x docker/get-engine.sh ] || [ -f docker/get-engine.sh ]; then
  if engine_env=$(bash docker/get-engine.sh | tail -n 1); then
    echo "$engine_env" >> .factory-env
    eval "$engine_env"
    bash docker/get-base-image.sh >&2 || echo "setup-machine: no base image (docker tests will skip or fail)" >&2
  else
    echo "setup-machine: no Docker engine (docker tests will skip or fail)" >&2
  fi
fi

if command -v pg_ctlcluster >/dev/null 2>&1 && ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
fi
