import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
const [, , mcpUrl, site] = process.argv;
const client = new Client({ name: 'p', version: '1' }, { versionNegotiation: { mode: 'legacy' } });
await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl)));
const text = (r) => (r.content || []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');
async function t(name, args) { const s = performance.now(); const r = await client.callTool({ name, arguments: args }); return [performance.now() - s, text(r)]; }
const res = { kv: [], nav: [], click: [], type: [] };
await t('browser_navigate', { url: `${site}/` });
for (let i = 0; i < 15; i++) {
  res.kv.push((await t('kv_get', { key: 'x' }))[0]);
  const [n] = await t('browser_navigate', { url: `${site}/park/riverside` }); res.nav.push(n);
  const [, snap] = await t('browser_snapshot', {});
  const book = snap.split('\n').find((l) => /button "Book"/.test(l)).match(/\[ref=(e\d+)\]/)[1];
  const [c] = await t('browser_click', { target: book }); res.click.push(c);
  const [, form] = await t('browser_snapshot', {});
  const name = form.split('\n').find((l) => /textbox "Your name"/.test(l)).match(/\[ref=(e\d+)\]/)[1];
  const [ty] = await t('browser_type', { target: name, text: `P ${i}` }); res.type.push(ty);
}
for (const [k, v] of Object.entries(res)) { v.sort((a, b) => a - b); console.log(k, 'median', v[7].toFixed(1), v.map((x) => x.toFixed(1)).join(' ')); }
await client.close();
