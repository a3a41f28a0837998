"""The official Python MCP SDK (mcp 2.3.0) over the legacy HTTP+SSE transport of a running `keel serve`.

Usage: python python_sse.py http://127.0.0.1:PORT/sse
Old clients open GET /sse and POST their messages to the endpoint it names. Checks the handshake,
the state pack on the connection's session, isolation between two connections, and a named object
shared with them. Prints one line per check and a closing 'N passed, N failed' line; exits non-zero
on any failure.
"""

import asyncio
import sys
import uuid

from mcp import ClientSession
from mcp.client.sse import sse_client

results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else f": {detail}"), flush=True)


async def main(url):
    shared = f"club-{uuid.uuid4()}"
    async with sse_client(url) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            check("sse: initialize names keel", init.server_info.name == "keel", init.server_info)
            tools = await session.list_tools()
            names = [t.name for t in tools.tools]
            check("sse: tools/list has the state pack", "kv_put" in names and "sql_exec" in names, names)
            put = await session.call_tool("kv_put", {"key": "greeting", "value": "hello"})
            check("sse: kv_put stores", not put.is_error, put)
            got = await session.call_tool("kv_get", {"key": "greeting"})
            check("sse: kv_get reads it back", got.structured_content == {"key": "greeting", "value": "hello"}, got)
            bad = await session.call_tool("kv_get", {"key": 12})
            check("sse: a wrong argument type is a readable tool error", bad.is_error and "/key" in bad.content[0].text, bad)
            await session.call_tool("kv_put", {"key": "court", "value": 3, "object": shared})

    async with sse_client(url) as (read, write):
        async with ClientSession(read, write) as other:
            await other.initialize()
            got = await other.call_tool("kv_get", {"key": "greeting"})
            check("sse: connections are isolated sessions", got.structured_content == {"key": "greeting", "value": None}, got)
            got = await other.call_tool("kv_get", {"key": "court", "object": shared})
            check("sse: a named object is shared", got.structured_content == {"key": "court", "value": 3}, got)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
    passed = sum(results)
    failed = len(results) - passed
    print(f"python-sdk sse: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
