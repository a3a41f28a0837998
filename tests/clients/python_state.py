"""The official Python MCP SDK (mcp 2.3.0) as a client of a running `keel serve`.

Usage: python python_state.py http://127.0.0.1:PORT/mcp
Checks the state pack on the handshake protocol (a session) and on the stateless 2026-07-28
protocol (a named object), as an agent would use them. Prints one line per check and a closing
'N passed, N failed' line; exits non-zero on any failure.
"""

import asyncio
import sys
import uuid

from mcp import Client

results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else f": {detail}"), flush=True)


async def legacy_session(url):
    async with Client(url, mode="legacy") as client:
        check("legacy: negotiated a handshake version", client.protocol_version == "2025-11-25", client.protocol_version)
        tools = await client.list_tools()
        names = [t.name for t in tools.tools]
        check("legacy: tools/list has the state pack", all(n in names for n in ["kv_get", "kv_put", "kv_delete", "kv_list", "sql_exec"]), names)
        put = await client.call_tool("kv_put", {"key": "greeting", "value": {"text": "hello"}})
        check("legacy: kv_put stores", not put.is_error and put.structured_content == {"key": "greeting", "stored": True}, put)
        got = await client.call_tool("kv_get", {"key": "greeting"})
        check("legacy: kv_get reads the session's value", got.structured_content == {"key": "greeting", "value": {"text": "hello"}}, got)
        await client.call_tool("sql_exec", {"query": "CREATE TABLE t (x INTEGER)"})
        await client.call_tool("sql_exec", {"query": "INSERT INTO t VALUES (?1), (?2)", "params": [1, 2]})
        rows = await client.call_tool("sql_exec", {"query": "SELECT sum(x) AS s FROM t"})
        check("legacy: sql_exec returns rows", rows.structured_content["rows"] == [{"s": 3}], rows)
        bad = await client.call_tool("kv_get", {"key": 12})
        check("legacy: a wrong argument type is a readable tool error", bad.is_error and "/key" in bad.content[0].text and "string" in bad.content[0].text, bad)

    # A second session does not see the first one's state.
    async with Client(url, mode="legacy") as other:
        got = await other.call_tool("kv_get", {"key": "greeting"})
        check("legacy: sessions are isolated", got.structured_content == {"key": "greeting", "value": None}, got)


async def stateless(url):
    shared = f"club-{uuid.uuid4()}"
    async with Client(url) as client:
        check("auto: negotiated 2026-07-28", client.protocol_version == "2026-07-28", client.protocol_version)
        put = await client.call_tool("kv_put", {"key": "court-3", "value": "booked", "object": shared})
        check("stateless: kv_put on a named object", not put.is_error, put)
        got = await client.call_tool("kv_get", {"key": "court-3", "object": shared})
        check("stateless: kv_get sees it", got.structured_content == {"key": "court-3", "value": "booked"}, got)
        missing = await client.call_tool("kv_get", {"key": "court-3"})
        check("stateless: without `object` the error says what to do", missing.is_error and "object" in missing.content[0].text, missing)
    async with Client(url, mode="legacy") as session:
        got = await session.call_tool("kv_get", {"key": "court-3", "object": shared})
        check("legacy session sees the named object too", got.structured_content == {"key": "court-3", "value": "booked"}, got)


async def main(url):
    await legacy_session(url)
    await stateless(url)
    passed = sum(results)
    failed = len(results) - passed
    print(f"python-sdk: {passed} passed, {failed} failed")
    return failed == 0


if __name__ == "__main__":
    sys.exit(0 if asyncio.run(main(sys.argv[1])) else 1)
