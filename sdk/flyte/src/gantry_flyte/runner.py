"""How an attempt's flytekit process is started and stopped: a plain subprocess (`pyflyte-execute`, a fresh
interpreter per attempt, about a second of CPU importing flytekit) or a child of the fork server (flytekit imported
once; see `forkserver`). Either way the child leads its own process group, and `kill` ends the group.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Protocol, Sequence

log = logging.getLogger("gantry_flyte")


class Process(Protocol):
    pid: int

    def wait(self, timeout: float) -> int | None:
        """The exit code once the process ended (negative: the signal), None if it still runs after `timeout`."""

    def kill(self) -> None:
        """Kills the process group."""


def kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def script(name: str) -> str:
    """flytekit's console script from this interpreter's environment, else from PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else (shutil.which(name) or name)


class _Subprocess:
    def __init__(self, popen: subprocess.Popen):
        self.popen = popen
        self.pid = popen.pid

    def wait(self, timeout: float) -> int | None:
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        kill_group(self.pid)
        self.popen.wait()


class SubprocessRunner:
    """`pyflyte-execute` (or `pyflyte-map-execute`) as a new process in a session of its own."""

    name = "subprocess"

    def start(self, argv: list[str], env: dict[str, str], cwd: str, log_path: str) -> Process:
        with open(log_path, "ab") as out:
            popen = subprocess.Popen(
                [script(argv[0]), *argv[1:]],
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return _Subprocess(popen)

    def close(self) -> None:
        pass


class _Forked:
    def __init__(self, conn: socket.socket, pid: int, rest: bytes):
        self.conn = conn
        self.pid = pid
        self.buffer = rest
        self.code: int | None = None

    def wait(self, timeout: float) -> int | None:
        if self.code is not None:
            return self.code
        self.conn.settimeout(timeout)
        while b"\n" not in self.buffer:
            try:
                chunk = self.conn.recv(4096)
            except socket.timeout:
                return None
            if not chunk:
                raise ConnectionError(f"the fork server went away while process {self.pid} ran")
            self.buffer += chunk
        self.code = json.loads(self.buffer)["status"]
        self.conn.close()
        return self.code

    def kill(self) -> None:
        kill_group(self.pid)
        try:
            while self.wait(5.0) is None:
                kill_group(self.pid)
        except ConnectionError:
            pass  # the fork server is gone, and with it whoever would have reaped the child


class ForkServerError(RuntimeError):
    pass


class ForkRunner:
    """Starts the fork server and asks it for a child per attempt."""

    name = "fork"

    def __init__(self, preload: Sequence[str] = (), ready_timeout: float = 120.0):
        self.directory = tempfile.mkdtemp(prefix="gantry-flyte-fork-")
        self.path = os.path.join(self.directory, "fork.sock")
        self.server = subprocess.Popen(
            [sys.executable, "-m", "gantry_flyte.forkserver", self.path, *preload],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
        )
        ready = threading.Event()
        line: list[str] = []

        def read() -> None:
            line.append(self.server.stdout.readline())
            ready.set()
            # Keep the pipe drained, so that whatever the server prints later cannot block it.
            for rest in self.server.stdout:
                log.info("fork server: %s", rest.rstrip())

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(ready_timeout) or line[0].strip() != "ready":
            self.close()
            raise ForkServerError(f"the fork server did not start (exit code {self.server.poll()})")

    def start(self, argv: list[str], env: dict[str, str], cwd: str, log_path: str) -> Process:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.connect(self.path)
            request = {"argv": argv, "env": env, "cwd": cwd, "log": log_path}
            conn.sendall(json.dumps(request).encode() + b"\n")
            buffer = b""
            while b"\n" not in buffer:
                chunk = conn.recv(4096)
                if not chunk:
                    raise ForkServerError("the fork server closed the connection before forking")
                buffer += chunk
        except OSError as error:
            conn.close()
            raise ForkServerError(f"the fork server is unreachable: {error}") from error
        first, _, rest = buffer.partition(b"\n")
        return _Forked(conn, json.loads(first)["pid"], rest)

    def alive(self) -> bool:
        return self.server.poll() is None

    def close(self) -> None:
        if self.server.poll() is None:
            self.server.terminate()
            self.server.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


def make_runner(kind: str, preload: Sequence[str] = ()) -> SubprocessRunner | ForkRunner:
    """`fork` (falling back to `subprocess` when the fork server cannot start) or `subprocess`; `preload` names
    modules the fork server imports before it forks."""
    if kind == "subprocess":
        return SubprocessRunner()
    if kind != "fork":
        raise ValueError(f"unknown runner {kind!r}: fork or subprocess")
    try:
        return ForkRunner(preload)
    except (ForkServerError, OSError) as error:
        log.warning("%s; running attempts as subprocesses instead", error)
        return SubprocessRunner()
