// Drives one browser MCP server (keel or Playwright MCP) through the official MCP TypeScript client
// and prints JSON: median latency of navigate, snapshot, click and type over RUNS rounds on the
// booking demo, of navigate and snapshot on two larger pages, snapshot sizes of three pages, and a
// new session's first navigate.
// Usage: node driver.mjs MCP_URL SITE_URL RUNS
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

const [, , mcpUrl, site, runsArg] = process.argv;
const runs = Number(runsArg || 20);

async function session() {
  const client = new Client({ name: 'keel-bench', version: '1.0.0' }, { versionNegotiation: { mode: 'legacy' } });
  await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl)));
  return client;
}

function text(result) {
  return (result.content || []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');
}

async function timed(client, name, args) {
  const start = performance.now();
  const result = await client.callTool({ name, arguments: args });
  const ms = performance.now() - start;
  if (result.isError) throw new Error(`${name} failed: ${text(result)}`);
  return { ms, text: text(result) };
}

function ref(snapshot, pattern) {
  for (const line of snapshot.split('\n')) {
    if (pattern.test(line)) {
      const m = line.match(/\[ref=(e\d+|f\d+e\d+)\]/);
      if (m) return m[1];
    }
  }
  throw new Error(`no element matching ${pattern} in:\n${snapshot.slice(0, 2000)}`);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const p = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];

const client = await session();
// Warm-up: the browser starts on first use.
await timed(client, 'browser_navigate', { url: `${site}/` });
const t = { navigate: [], snapshot: [], click: [], type: [] };
for (let i = 0; i < runs; i++) {
  const nav = await timed(client, 'browser_navigate', { url: `${site}/park/riverside` });
  t.navigate.push(nav.ms);
  const snap = await timed(client, 'browser_snapshot', {});
  t.snapshot.push(snap.ms);
  const book = ref(snap.text, /button "Book"/);
  const click = await timed(client, 'browser_click', { element: 'Book button', ref: book, target: book });
  t.click.push(click.ms);
  const form = (await timed(client, 'browser_snapshot', {})).text;
  const name = ref(form, /textbox "Your name"/);
  const type = await timed(client, 'browser_type', { element: 'Your name', ref: name, target: name, text: `Player ${i}` });
  t.type.push(type.ms);
}
const sizes = {};
for (const [label, path] of [['booking park page', '/park/riverside'], ['article (12 chapters)', '/lab/article'], ['5000 links', '/lab/big?n=5000']]) {
  await timed(client, 'browser_navigate', { url: `${site}${path}` });
  const snap = await timed(client, 'browser_snapshot', {});
  sizes[label] = { bytes: Buffer.byteLength(snap.text), refs: (snap.text.match(/\[ref=/g) || []).length };
}
// The larger pages: navigate (its result carries the page's snapshot in both servers) and
// snapshot, RUNS rounds each, from another page each time.
const larger = {};
for (const [label, path] of [['article (12 chapters)', '/lab/article'], ['5000 links', '/lab/big?n=5000']]) {
  const l = { navigate: [], snapshot: [] };
  for (let i = 0; i < runs; i++) {
    await timed(client, 'browser_navigate', { url: `${site}/` });
    l.navigate.push((await timed(client, 'browser_navigate', { url: `${site}${path}` })).ms);
    l.snapshot.push((await timed(client, 'browser_snapshot', {})).ms);
  }
  larger[label] = { navigate: median(l.navigate), snapshot: median(l.snapshot) };
}
await client.close();
const first = [];
for (let i = 0; i < Math.max(5, Math.floor(runs / 2)); i++) {
  const fresh = await session();
  first.push((await timed(fresh, 'browser_navigate', { url: `${site}/park/riverside` })).ms);
  await fresh.close();
}
console.log(JSON.stringify({
  median: Object.fromEntries(Object.entries(t).map(([k, v]) => [k, median(v)])),
  p90: Object.fromEntries(Object.entries(t).map(([k, v]) => [k, p(v, 0.9)])),
  sizes,
  larger,
  firstNavigate: { p50: median(first) },
}));
