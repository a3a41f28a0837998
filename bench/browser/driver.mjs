// Drives two browser MCP servers (keel and Playwright MCP) through the official MCP TypeScript
// client and prints JSON, per server: median latency of navigate, snapshot, click and type over
// RUNS rounds on the booking demo, of navigate and snapshot on two larger pages, snapshot sizes of
// three pages, and a new session's first navigate.
// The servers take turns round by round (which one goes first alternates), so a slow spell of the
// machine (on 2 shared cores the same page's load varies by half between minutes) falls on both
// alike instead of on whichever happened to be measured then.
// Usage: node driver.mjs KEEL_MCP_URL PW_MCP_URL SITE_URL RUNS
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

const [, , keelUrl, pwUrl, site, runsArg] = process.argv;
const runs = Number(runsArg || 20);
const urls = { keel: keelUrl, pw: pwUrl };
const names = Object.keys(urls);
// Round i's order: keel first on even rounds, Playwright MCP first on odd ones.
const order = (i) => (i % 2 ? [...names].reverse() : names);
// Each turn starts after a short pause, so what the other server left running (a session it is
// closing, its browser's work after an answer) does not fall into this one's measurement.
const pause = () => new Promise((resolve) => setTimeout(resolve, 150));

async function session(mcpUrl) {
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

const clients = {};
for (const name of names) {
  clients[name] = await session(urls[name]);
  // Warm-up: the browser starts on first use.
  await timed(clients[name], 'browser_navigate', { url: `${site}/` });
}
const t = Object.fromEntries(names.map((n) => [n, { navigate: [], snapshot: [], click: [], type: [] }]));
async function round(client, t, i) {
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
for (let i = 0; i < runs; i++) for (const n of order(i)) { await pause(); await round(clients[n], t[n], i); }
const sizes = Object.fromEntries(names.map((n) => [n, {}]));
for (const [label, path] of [['booking park page', '/park/riverside'], ['article (12 chapters)', '/lab/article'], ['5000 links', '/lab/big?n=5000']]) {
  for (const n of names) {
    await timed(clients[n], 'browser_navigate', { url: `${site}${path}` });
    const snap = await timed(clients[n], 'browser_snapshot', {});
    sizes[n][label] = { bytes: Buffer.byteLength(snap.text), refs: (snap.text.match(/\[ref=/g) || []).length };
  }
}
// The larger pages: navigate (its result carries the page's snapshot in both servers) and
// snapshot, RUNS rounds each, from another page each time.
const larger = Object.fromEntries(names.map((n) => [n, {}]));
for (const [label, path] of [['article (12 chapters)', '/lab/article'], ['5000 links', '/lab/big?n=5000']]) {
  const l = Object.fromEntries(names.map((n) => [n, { navigate: [], snapshot: [] }]));
  for (let i = 0; i < runs; i++) {
    for (const n of order(i)) {
      await pause();
      await timed(clients[n], 'browser_navigate', { url: `${site}/` });
      l[n].navigate.push((await timed(clients[n], 'browser_navigate', { url: `${site}${path}` })).ms);
      l[n].snapshot.push((await timed(clients[n], 'browser_snapshot', {})).ms);
    }
  }
  for (const n of names) larger[n][label] = { navigate: median(l[n].navigate), snapshot: median(l[n].snapshot) };
}
for (const n of names) await clients[n].close();
const first = Object.fromEntries(names.map((n) => [n, []]));
for (let i = 0; i < Math.max(5, Math.floor(runs / 2)); i++) {
  for (const n of order(i)) {
    await pause();
    const fresh = await session(urls[n]);
    first[n].push((await timed(fresh, 'browser_navigate', { url: `${site}/park/riverside` })).ms);
    await fresh.close();
  }
}
console.log(JSON.stringify(Object.fromEntries(names.map((n) => [n, {
  median: Object.fromEntries(Object.entries(t[n]).map(([k, v]) => [k, median(v)])),
  p90: Object.fromEntries(Object.entries(t[n]).map(([k, v]) => [k, p(v, 0.9)])),
  sizes: sizes[n],
  larger: larger[n],
  firstNavigate: { p50: median(first[n]) },
}]))));
