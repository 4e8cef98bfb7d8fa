#!/usr/bin/env bash
# Ensure the image factory-base:bookworm exists without any registry: debootstrap a
# minimal Debian bookworm with Python 3.11, import it, and add a thin layer so it can stand
# in for python:3.11-slim (python/python3/python3.11 on PATH, pip allowed system-wide).
# Idempotent; starts the engine itself if needed (docker/get-engine.sh).
set -euo pipefail
exec 3>&1 1>&2
HERE=$(cd "$(dirname "$0")" && pwd)
IMAGE=factory-base:bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
ROOTFS=/var/cache/factory-rootfs/bookworm    # outside the repo; reused if complete

eval "$(bash "$HERE/get-engine.sh" | tail -1)"

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "$IMAGE already exists"; exit 0
fi
start=$SECONDS
command -v debootstrap >/dev/null || {
  apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; }

# minbase = Priority: required only (has passwd/useradd); we add python3 and its venv/pip
# bits and the CA bundle. Build in a temp dir and rename, so a crash never leaves a
# half-made rootfs that looks complete.
if [[ ! -x $ROOTFS/usr/bin/python3 ]]; then
  mkdir -p "$(dirname "$ROOTFS")"; tmp=$(mktemp -d "$(dirname "$ROOTFS")/tmp.XXXX")
  debootstrap --variant=minbase \
    --include=python3,python3-venv,python3-pip,ca-certificates bookworm "$tmp" "$MIRROR"
  rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/*    # smaller image
  rm -rf "$ROOTFS"; mv "$tmp" "$ROOTFS"
fi
echo "debootstrap done after $((SECONDS - start)) s"

tar -C "$ROOTFS" --numeric-owner -c . | docker import - "$IMAGE-rootfs"
echo "import done after $((SECONDS - start)) s"

# The engine has the legacy builder only (no BuildKit): plain Dockerfile, context from stdin.
# - python:3.11-slim has python/python3 in /usr/local/bin; Dockerfiles written for it
#   may call `python` or `pip install` directly, so mirror that here.
# - Removing EXTERNALLY-MANAGED lets `pip install` outside a venv work as in python:3.11-slim.
docker build -t "$IMAGE" - <<EOF
FROM $IMAGE-rootfs
RUN ln -sf /usr/bin/python3 /usr/local/bin/python \\
 && ln -sf /usr/bin/python3 /usr/local/bin/python3 \\
 && ln -sf /usr/bin/python3.11 /usr/local/bin/python3.11 \\
 && ln -sf /usr/bin/pip3 /usr/local/bin/pip \\
 && rm -f /usr/lib/python3.11/EXTERNALLY-MANAGED \\
 && python --version && python3 -m venv /tmp/v && /tmp/v/bin/pip --version && rm -rf /tmp/v
ENV LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CMD ["python3"]
EOF
docker rmi "$IMAGE-rootfs" >/dev/null 2>&1 || true   # the layer stays, only the tag goes
echo "$IMAGE built in $((SECONDS - start)) s"
