#!/usr/bin/env bash
# The main job, offline by default: the sales discovery agent validated, then its scripted
# conversations run. Set FACTORY_MODEL=openai:gpt-4o-mini (and OPENAI_API_KEY) to use a real model.
set -euo pipefail
cd "$(dirname "$0")/.."
export FACTORY_MODEL="${FACTORY_MODEL:-scripted}"
F=.venv/bin/factory
SPEC=specs/sales_discovery.yaml

echo "== 1. validate"
$F validate "$SPEC"
echo "== 2. one turn, streamed"
$F run "$SPEC" "Hi, I'm Ana from Acme and churn is killing us."
echo "== 3. the scripted conversations"
$F test "$SPEC"
