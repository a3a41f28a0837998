// The official TypeScript MCP SDK (@modelcontextprotocol/client 2.4.0) as a client of a running
// `keel serve`. Usage: node ts_state.mjs http://127.0.0.1:PORT/mcp
// Checks the state pack on the handshake protocol (a session) and on 2026-07-28 (a named object).
// Prints one line per check and a closing 'N passed, N failed' line; exits non-zero on failure.

import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { randomUUID } from 'node:crypto';

const url = new URL(process.argv[2]);
let passed = 0;
let failed = 0;

function check(name, ok, detail) {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${ok ? '' : `: ${JSON.stringify(detail)}`}`);
}

async function connect(mode) {
  const client = new Client({ name: 'keel-ts-test', version: '1.0.0' }, { versionNegotiation: { mode } });
  await client.connect(new StreamableHTTPClientTransport(url));
  return client;
}

const legacy = await connect('legacy');
check('legacy: negotiated a handshake version', legacy.getNegotiatedProtocolVersion() === '2025-11-25', legacy.getNegotiatedProtocolVersion());
const tools = await legacy.listTools();
const names = tools.tools.map((t) => t.name);
check('legacy: tools/list has the state pack', ['kv_get', 'kv_put', 'kv_delete', 'kv_list', 'sql_exec'].every((n) => names.includes(n)), names);
const put = await legacy.callTool({ name: 'kv_put', arguments: { key: 'greeting', value: { text: 'hi' } } });
check('legacy: kv_put stores', !put.isError && put.structuredContent?.stored === true, put);
const got = await legacy.callTool({ name: 'kv_get', arguments: { key: 'greeting' } });
check('legacy: kv_get reads it back', JSON.stringify(got.structuredContent?.value) === '{"text":"hi"}', got);
const listed = await legacy.callTool({ name: 'kv_list', arguments: {} });
check('legacy: kv_list lists it', listed.structuredContent?.entries?.length === 1, listed);
await legacy.close();

const shared = `club-${randomUUID()}`;
const modern = await connect('auto');
check('auto: negotiated 2026-07-28', modern.getNegotiatedProtocolVersion() === '2026-07-28', modern.getNegotiatedProtocolVersion());
const mput = await modern.callTool({ name: 'kv_put', arguments: { key: 'court-3', value: 'booked', object: shared } });
check('stateless: kv_put on a named object', !mput.isError, mput);
const mget = await modern.callTool({ name: 'kv_get', arguments: { key: 'court-3', object: shared } });
check('stateless: kv_get sees it', mget.structuredContent?.value === 'booked', mget);
const none = await modern.callTool({ name: 'kv_get', arguments: { key: 'court-3' } });
check('stateless: without `object` the error says what to do', none.isError === true && none.content[0].text.includes('object'), none);
await modern.close();

console.log(`ts-sdk: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
