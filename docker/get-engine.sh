#!/usr/bin/env bash
# Make a Docker engine answer on a bare Debian bookworm machine (run as root).
# Idempotent. The last line on stdout is the one a caller needs:
#   eval "$(bash docker/get-engine.sh | tail -1)"
# Everything else goes to stderr.
set -euo pipefail
exec 3>&1 1>&2            # keep stdout clean for the final export line

SOCK=/run/factory-docker.sock
HOST="unix://$SOCK"
DATA_ROOT=/var/lib/factory-docker    # outside any clone: layers survive between runs
EXEC_ROOT=/run/factory-docker        # own exec-root/pidfile: no clash with a system dockerd
PIDFILE=/run/factory-docker.pid
LOG=/var/log/factory-dockerd.log

answers() { timeout 10 docker ${1:+--host "$1"} info >/dev/null 2>&1; }
done_with() { echo "docker engine: $1" ; echo "export DOCKER_HOST=$1" >&3; exit 0; }

# 1. An engine already answers (DOCKER_HOST or the default socket): use it as is.
if command -v docker >/dev/null && answers "${DOCKER_HOST:-}"; then
  done_with "${DOCKER_HOST:-unix:///var/run/docker.sock}"
fi
if command -v docker >/dev/null && answers "$HOST"; then done_with "$HOST"; fi

# 2. Install the engine (Debian's docker.io; no registry needed) and debootstrap.
if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null || ! command -v debootstrap >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap
fi

wait_for() {  # $1 = pid; true once the engine answers, false if it dies or 60 s pass
  for _ in $(seq 1 60); do
    answers "$HOST" && return 0
    kill -0 "$1" 2>/dev/null || return 1
    sleep 1
  done
  return 1
}

# Serialise concurrent callers, so only one of them starts dockerd.
exec 9>/run/factory-docker.lock
flock 9
if answers "$HOST"; then done_with "$HOST"; fi

# 3. Our dockerd is already running but still starting up: just wait for it.
if [[ -f $PIDFILE ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  wait_for "$(cat "$PIDFILE")" && done_with "$HOST"
  echo "dockerd (pid $(cat "$PIDFILE")) runs but does not answer on $HOST; see $LOG" ; exit 1
fi

# 4. Start dockerd. Default flags (overlay2 + iptables bridge) work on this kind of machine;
#    the fallbacks cover kernels without overlayfs or without iptables/nf_tables.
#    With --iptables=false, `-p 127.0.0.1:PORT:8000` still works (docker-proxy), but
#    containers lose outbound NAT.
mkdir -p "$DATA_ROOT" "$EXEC_ROOT"
for extra in "" "--storage-driver vfs" "--storage-driver vfs --iptables=false --ip-masq=false"; do
  rm -f "$SOCK" "$PIDFILE"
  echo "starting dockerd ${extra:-(default flags)}; log in $LOG"
  # setsid + every fd redirected (3>&- 9>&- too): the daemon outlives this script and never
  # holds the caller's $(...) pipe open (a leaked fd 3 made `eval "$(...)"` hang).
  # shellcheck disable=SC2086
  setsid dockerd --host "$HOST" --data-root "$DATA_ROOT" --exec-root "$EXEC_ROOT" \
    --pidfile "$PIDFILE" $extra </dev/null >>"$LOG" 2>&1 3>&- 9>&- &
  pid=$!
  if wait_for "$pid"; then done_with "$HOST"; fi
  echo "dockerd ${extra:-(default flags)} failed; last log lines:"; tail -5 "$LOG"
  kill "$pid" 2>/dev/null || true; sleep 2
done
echo "no dockerd configuration worked; see $LOG"; exit 1
