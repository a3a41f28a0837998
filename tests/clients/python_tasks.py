"""The official Python MCP SDK (mcp 2.3.0) and keel's tasks extension, across a restart.

Usage: python python_tasks.py http://127.0.0.1:PORT/mcp RESTART_COMMAND
Declares `io.modelcontextprotocol/tasks` (as a client extension), starts a task, has the server
restarted by RESTART_COMMAND (a shell command), and fetches the task's result afterwards; also
keeps a handshake session open across the restart and checks that its state is still there.
Prints one line per check and a closing 'N passed, N failed' line; exits non-zero on any failure.
"""

import asyncio
import subprocess
import sys
import time
import uuid
from typing import Any, Literal

from mcp import Client
from mcp.client.extension import ClientExtension, ResultClaim
from mcp_types import CallToolResult, Request, RequestParams, Result
from pydantic import ConfigDict, TypeAdapter

TASKS = "io.modelcontextprotocol/tasks"
results = []


def check(name, ok, detail=""):
    ok = bool(ok)
    results.append(ok)
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else f": {detail}"), flush=True)


class CreateTaskResult(Result):
    """`resultType: "task"`: the call became a task."""

    model_config = ConfigDict(extra="allow")
    result_type: Literal["task"] = "task"
    task_id: str
    status: str


class TaskIdParams(RequestParams):
    task_id: str


class GetTask(Request[TaskIdParams, Literal["tasks/get"]]):
    method: Literal["tasks/get"] = "tasks/get"
    name_param = "taskId"


class CancelTask(Request[TaskIdParams, Literal["tasks/cancel"]]):
    method: Literal["tasks/cancel"] = "tasks/cancel"
    name_param = "taskId"


async def unresolved(created: CreateTaskResult, ctx: Any) -> CallToolResult:
    raise RuntimeError("this test fetches task results itself")


class Tasks(ClientExtension):
    identifier = TASKS

    def claims(self):
        return [ResultClaim(result_type="task", model=CreateTaskResult, resolve=unresolved)]


ANY = TypeAdapter(dict[str, Any])


async def get_task(client, task_id):
    return await client.session.send_request(GetTask(params=TaskIdParams(task_id=task_id)), ANY)


async def wait_terminal(client, task_id, seconds=20):
    deadline = time.monotonic() + seconds
    while True:
        task = await get_task(client, task_id)
        if task["status"] in ("completed", "failed", "cancelled") or time.monotonic() > deadline:
            return task
        await asyncio.sleep(0.2)


async def main(url, restart):
    shared = f"python-tasks-{uuid.uuid4()}"
    async with Client(url, extensions=[Tasks()]) as client, Client(url, mode="legacy") as session:
        created = await client.session.call_tool("slow_compute", {"seconds": 1, "label": "py"}, allow_claimed=True)
        check("a slow call becomes a task", isinstance(created, CreateTaskResult) and created.status == "working", created)
        fast = await client.call_tool("slow_compute", {"seconds": 0, "label": "fast"})
        check("a fast call of the same tool answers directly", isinstance(fast, CallToolResult) and "fast" in fast.content[0].text, fast)
        long = await client.session.call_tool("slow_compute", {"seconds": 60, "label": "long"}, allow_claimed=True)
        done = await wait_terminal(client, created.task_id)
        check("tasks/get inlines the result", done["status"] == "completed" and "py" in done["result"]["content"][0]["text"], done)

        put = await session.call_tool("kv_put", {"key": "k", "value": "kept"})
        check("legacy session: kv_put", not put.is_error, put)

        subprocess.run(restart, shell=True, check=True)

        after = await get_task(client, created.task_id)
        check("after a restart the task and its result are still there", after["status"] == "completed" and "py" in after["result"]["content"][0]["text"], after)
        interrupted = await get_task(client, long.task_id)
        check("a task running during the restart is failed with a reason, not lost", interrupted["status"] == "failed" and "shut down" in interrupted["error"]["message"], interrupted)
        got = await session.call_tool("kv_get", {"key": "k"})
        check("legacy session: the session survived the restart", got.structured_content == {"key": "k", "value": "kept"}, got)

        try:
            await get_task(client, "no-such-task")
            check("an unknown task is an error", False, "no error")
        except Exception as e:  # noqa: BLE001 - any MCP error will do; the code is checked
            check("an unknown task is error -32602", getattr(getattr(e, "error", None), "code", None) == -32602, repr(e))

        confirm = await client.session.call_tool("confirm_delete", {"filename": shared}, allow_claimed=True)
        task = await get_task(client, confirm.task_id)
        check("a task that asks the user is input_required", task["status"] == "input_required" and task["inputRequests"], task)
        await client.session.send_request(CancelTask(params=TaskIdParams(task_id=confirm.task_id)), ANY)
        cancelled = await wait_terminal(client, confirm.task_id)
        check("tasks/cancel stops it", cancelled["status"] == "cancelled", cancelled)

    passed = sum(results)
    failed = len(results) - passed
    print(f"python-sdk tasks: {passed} passed, {failed} failed")
    return failed == 0


if __name__ == "__main__":
    sys.exit(0 if asyncio.run(main(sys.argv[1], sys.argv[2])) else 1)
