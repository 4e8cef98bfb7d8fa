#!/usr/bin/env bash
# Gets what the test suite needs on a bare machine of this kind: Chromium (browser tests), Node.js
# (the JS SDK tests), a Docker engine plus a local base image (no registry here), and a running
# Postgres reachable as postgres://postgres@127.0.0.1:5432/test (trust auth), Redis on 127.0.0.1:6379,
# HAProxy and Prometheus (the chaos test).
# Writes ./.factory-env with the variables the tests need (DOCKER_HOST). Idempotent; fast when all
# is already there.
# A missing piece is a warning, unless its FACTORY_REQUIRE_BROWSER / FACTORY_REQUIRE_DOCKER /
# FACTORY_REQUIRE_POSTGRES is 1 (CI sets them): then the script stops with exit 1 and says why.
set -euo pipefail
cd "$(dirname "$0")/.."
: > .factory-env

PG_URL=postgresql://postgres@127.0.0.1:5432/test

missing() {  # $1 = the FACTORY_REQUIRE_* variable, $2 = what is missing
  if [ "${!1:-0}" = 1 ]; then
    echo "setup-machine: ERROR: $2 ($1=1, so this is fatal)" >&2
    exit 1
  fi
  echo "setup-machine: warning: $2 (those tests will skip)" >&2
}

apt_updated=0
apt_install() {  # `apt-get update` once, before the first install
  if [ "$apt_updated" = 0 ]; then
    apt-get update -qq || return 1
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# --- Chromium -------------------------------------------------------------------------------
has_chromium() { command -v chromium >/dev/null 2>&1 || [ -x /usr/lib/chromium/chromium ]; }
if ! has_chromium; then
  apt_install chromium || echo "setup-machine: apt-get install chromium failed" >&2
  has_chromium || missing FACTORY_REQUIRE_BROWSER "no Chromium (apt-get install chromium failed)"
fi

# --- Node.js (the JS SDK tests of the Agent Server API) ---------------------------------------
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  apt_install nodejs npm || echo "setup-machine: apt-get install nodejs npm failed" >&2
  command -v npm >/dev/null 2>&1 || missing FACTORY_REQUIRE_NODE "no Node.js/npm (apt-get install nodejs npm failed)"
fi

# --- Docker engine and base image -----------------------------------------------------------
if [ -f docker/get-engine.sh ]; then
  if engine_env=$(bash docker/get-engine.sh | tail -n 1) && [[ $engine_env == "export DOCKER_HOST="* ]]; then
    echo "$engine_env" >> .factory-env
    eval "$engine_env"
    if ! bash docker/get-base-image.sh >&2 || ! docker image inspect factory-base:bookworm >/dev/null 2>&1; then
      missing FACTORY_REQUIRE_DOCKER "no base image factory-base:bookworm (docker/get-base-image.sh failed)"
    fi
  else
    missing FACTORY_REQUIRE_DOCKER "no Docker engine answers (docker/get-engine.sh failed; see /var/log/factory-dockerd.log)"
  fi
else
  missing FACTORY_REQUIRE_DOCKER "docker/get-engine.sh is missing, so no Docker engine"
fi

# --- PostgreSQL -----------------------------------------------------------------------------
pg_ok() { command -v psql >/dev/null 2>&1 && psql "$PG_URL" -tAc 'select 1' >/dev/null 2>&1; }

setup_postgres() {  # Debian's postgresql: a running cluster on 5432, trust on loopback, database test
  if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
    apt_install postgresql || { echo "setup-machine: apt-get install postgresql failed" >&2; return 1; }
  fi
  local version conf hba
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  conf=/etc/postgresql/$version/main
  [ -d "$conf" ] || pg_createcluster --port 5432 "$version" main >&2 || return 1
  hba=$conf/pg_hba.conf
  # first match wins: trust on loopback goes on top
  if ! grep -qE '^host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba"; then
    { printf 'host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n'; cat "$hba"; } > "$hba.new"
    cat "$hba.new" > "$hba" && rm -f "$hba.new"
  fi
  if pg_ctlcluster --skip-systemctl-redirect "$version" main status >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$version" main reload >&2 || return 1
  else
    pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || return 1
  fi
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  if ! psql -h 127.0.0.1 -p 5432 -U postgres -d postgres -tAc "select 1 from pg_database where datname = 'test'" \
      | grep -q 1; then
    psql -h 127.0.0.1 -p 5432 -U postgres -d postgres -qc 'create database test' >&2 || return 1
  fi
  pg_ok
}

if ! pg_ok; then
  setup_postgres || missing FACTORY_REQUIRE_POSTGRES "PostgreSQL does not answer at $PG_URL"
fi

# --- Redis, HAProxy and Prometheus (the scale and chaos tests) -------------------------------
redis_ok() { command -v redis-cli >/dev/null 2>&1 && [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = PONG ]; }
if ! redis_ok; then
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server || echo "setup-machine: apt-get install redis-server failed" >&2
  if command -v redis-server >/dev/null 2>&1; then
    redis-server --bind 127.0.0.1 --port 6379 --save '' --appendonly no --daemonize yes >/dev/null 2>&1 || true
    for _ in $(seq 1 20); do redis_ok && break; sleep 0.5; done
  fi
  redis_ok || missing FACTORY_REQUIRE_REDIS "Redis does not answer at 127.0.0.1:6379"
fi
if ! command -v haproxy >/dev/null 2>&1 && [ ! -x /usr/sbin/haproxy ]; then
  apt_install haproxy || echo "setup-machine: apt-get install haproxy failed" >&2
  command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing FACTORY_REQUIRE_HAPROXY "no haproxy"
fi
if ! command -v prometheus >/dev/null 2>&1; then
  apt_install prometheus || echo "setup-machine: apt-get install prometheus failed" >&2
  command -v prometheus >/dev/null 2>&1 || missing FACTORY_REQUIRE_PROMETHEUS "no prometheus"
fi
