// The official TypeScript MCP SDK serving the benchmark's trivial tool (kv_get with an `object`
// argument that is echoed back, no storage), as createMcpHandler + toNodeHandler with JSON
// responses. Usage: node server.mjs PORT
import http from 'node:http';
import { McpServer, createMcpHandler, fromJsonSchema } from '@modelcontextprotocol/server';
import { toNodeHandler } from '@modelcontextprotocol/node';

const inputSchema = fromJsonSchema({
  type: 'object',
  properties: { key: { type: 'string' }, object: { type: 'string', 'x-mcp-header': 'Object' } },
  required: ['key'],
});

const handler = createMcpHandler(() => {
  const server = new McpServer({ name: 'ts-anchor', version: '1.0.0' });
  server.registerTool('kv_get', { description: 'Returns a fixed value.', inputSchema }, async ({ key }) => ({
    content: [{ type: 'text', text: JSON.stringify({ key, value: null }) }],
    structuredContent: { key, value: null },
  }));
  return server;
});

const port = Number(process.argv[2] ?? 0);
const httpServer = http.createServer(toNodeHandler(handler));
httpServer.listen(port, '127.0.0.1', () => {
  console.log(`ts-server listening on http://127.0.0.1:${httpServer.address().port}`);
});
