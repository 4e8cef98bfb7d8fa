#!/usr/bin/env bash
# Creates .venv-langgraph: LangGraph's own server (`langgraph dev`, from langgraph-cli[inmem]) plus
# the agent runtime's dependencies, beside the project's .venv and never inside it (langgraph-api
# needs sse-starlette>=2 and newer langgraph releases; the factory's LangServe routes need
# sse-starlette<2). The tests that run `langgraph dev` on a generated build context use it.
#
# Idempotent and fast when present: a stamp file records what was installed; when it matches what
# is wanted, the script only prints the venv's path. Prints the venv's path on its last line.
#
#   bash scripts/langgraph-venv.sh
#
# FACTORY_LANGGRAPH_VENV  where the venv goes (default: ./.venv-langgraph)
# FACTORY_PYTHON          the project's Python (default: .venv/bin/python); it creates the venv (same
#                         Python version) and says which runtime versions to pin (the ones it has)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${FACTORY_LANGGRAPH_VENV:-$PWD/.venv-langgraph}
PROJECT_PY=${FACTORY_PYTHON:-.venv/bin/python}
LANGGRAPH_PINS="langgraph-cli[inmem]==0.4.40 langgraph-api==0.16.7 langgraph-runtime-inmem==0.36.7"

if [ ! -x "$PROJECT_PY" ]; then
  echo "langgraph-venv: $PROJECT_PY is missing: run \`make setup\` first (or set FACTORY_PYTHON)" >&2
  exit 1
fi
runtime=$(PYTHONPATH=$PWD "$PROJECT_PY" -c \
  'from factory.build import graph_requirements; print(" ".join(graph_requirements(exact=True)))')
wanted="$LANGGRAPH_PINS $runtime"
stamp=$VENV/.factory-stamp
if [ -x "$VENV/bin/langgraph" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$wanted" ]; then
  [ -f "$VENV/.gitignore" ] || echo '*' > "$VENV/.gitignore"
  echo "$VENV"
  exit 0
fi

started=$(date +%s)
echo "langgraph-venv: creating $VENV ($wanted)" >&2
"$PROJECT_PY" -m venv --clear "$VENV" >&2
echo '*' > "$VENV/.gitignore"  # the venv ignores itself (as Python 3.13's venv module does)
# shellcheck disable=SC2086  # the pins are words on purpose
"$VENV/bin/pip" install -q --disable-pip-version-check $wanted >&2
"$VENV/bin/langgraph" --version >&2
echo "$wanted" > "$stamp"
echo "langgraph-venv: ready in $(( $(date +%s) - started )) s" >&2
echo "$VENV"
