"""Running registered flyte entities on Gantry from the tests, and reading their records."""

from __future__ import annotations

import os
import select
import threading
from pathlib import Path
from typing import Any

import gantry
from gantry.v1 import admin_pb2, execution_pb2

from conftest import DOMAIN, PROJECT, VERSION

TIMEOUT = 120


def ref(name: str, version: str = VERSION) -> str:
    return f"{PROJECT}/{DOMAIN}/{name}@{version}"


def run(
    client: gantry.Client, name: str, kind: str = "task", version: str = VERSION, **inputs: Any
) -> gantry.Execution:
    return client.run(ref(name, version), inputs, kind=kind)


def outputs(execution: gantry.Execution) -> dict[str, Any]:
    return execution.outputs(timeout=TIMEOUT)


def all_nodes(client: gantry.Client, execution: gantry.Execution) -> list[execution_pb2.NodeExecution]:
    """Every node execution at every depth."""
    nodes, token = [], ""
    while True:
        response = client.admin.ListNodeExecutions(
            admin_pb2.ListNodeExecutionsRequest(
                execution_id=execution.id, all_depths=True, page_size=1000, page_token=token
            )
        )
        nodes.extend(response.node_executions)
        token = response.next_page_token
        if not token:
            return nodes


def attempts(client: gantry.Client, execution: gantry.Execution, node_id: str) -> list[execution_pb2.TaskAttempt]:
    response = client.admin.ListTaskAttempts(
        admin_pb2.ListTaskAttemptsRequest(execution_id=execution.id, node_id=node_id)
    )
    return list(response.attempts)


def task_names(nodes) -> list[str]:
    return sorted(n.target.name for n in nodes if n.kind == execution_pb2.NODE_KIND_TASK)


def read_pids(fifo: Path) -> list[int]:
    """The pids the task writes into `fifo` (its own and its helper's): opening a FIFO for reading blocks until the
    task opens it to write."""
    os.mkfifo(fifo)
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(fifo.read_text()), daemon=True)
    reader.start()
    reader.join(TIMEOUT)
    assert result, f"the task did not write its pid into {fifo} within {TIMEOUT} s"
    return [int(pid) for pid in result[0].split()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def ends_within(pid: int, seconds: float) -> bool:
    """Whether process `pid` (not our child) ends within `seconds`: a pidfd becomes readable when it ends."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        # Readable once it exited, even while it waits, a zombie, for a parent to reap it.
        readable, _, _ = select.select([fd], [], [], seconds)
        return bool(readable)
    finally:
        os.close(fd)
