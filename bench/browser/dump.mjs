// Prints browser_snapshot of a list of demo pages (for comparing snapshot engines).
// Usage: node dump.mjs MCP_URL SITE_URL OTHER_SITE_URL
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
const [, , mcpUrl, site] = process.argv;
const client = new Client({ name: 'dump', version: '1' }, { versionNegotiation: { mode: 'legacy' } });
await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl)));
const text = (r) => (r.content || []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');
const pages = ['/', '/park/riverside', '/lab/dialog', '/lab/overlay', '/lab/iframe', '/lab/xiframe', '/lab/xxiframe', '/lab/shadow',
  '/lab/big?n=5', '/lab/article', '/lab/form', '/lab/storage', '/lab/upload', '/lab/popup', '/lab/cookie'];
for (const p of pages) {
  await client.callTool({ name: 'browser_navigate', arguments: { url: site + p } });
  await new Promise((r) => setTimeout(r, 300));
  const snap = text(await client.callTool({ name: 'browser_snapshot', arguments: {} }));
  console.log(`=== ${p}\n${snap}`);
}
await client.callTool({ name: 'browser_navigate', arguments: { url: site + '/park/riverside' } });
const snap = text(await client.callTool({ name: 'browser_snapshot', arguments: {} }));
const book = snap.split('\n').find((l) => /button "Book"/.test(l)).match(/\[ref=(e\d+)\]/)[1];
console.log('=== click Book\n' + text(await client.callTool({ name: 'browser_click', arguments: { target: book } })));
console.log('=== form\n' + text(await client.callTool({ name: 'browser_snapshot', arguments: {} })));
await client.close();
