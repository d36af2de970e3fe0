"""The fork server: imports flytekit once, then forks a child per attempt that runs flytekit's own entrypoint
(`pyflyte-execute` or `pyflyte-map-execute`, the click commands, called in process). A fork costs tens of
milliseconds where a fresh interpreter spends over a second importing flytekit.

Run as `python -m gantry_flyte.forkserver SOCKET [MODULE...]`; it imports the MODULEs too (the worker's
`--preload`: task modules whose own imports, pandas say, would otherwise be paid per attempt; a changed module then
needs a worker restart) and prints `ready` once it listens. Each request is one connection:
the worker sends a JSON line `{"argv", "env", "cwd", "log"}`, the server answers `{"pid": N}` at once and
`{"status": CODE}` when the child ended (a negative code is the signal that killed it). Each child leads its own
process group, so that the worker can kill it and whatever it started. The server is single-threaded (fork and
threads do not mix): one selector over the listening socket, the connections and a SIGCHLD wake-up pipe.
"""

from __future__ import annotations

import importlib
import json
import os
import random
import selectors
import signal
import socket
import sys

from flytekit.bin.entrypoint import execute_task_cmd, map_execute_task_cmd

COMMANDS = {"pyflyte-execute": execute_task_cmd, "pyflyte-map-execute": map_execute_task_cmd}


def run_child(request: dict, close: list) -> None:
    """In the forked child: a session of its own, the attempt's environment, output to its log; never returns."""
    code = 1
    try:
        os.setsid()
        for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        signal.set_wakeup_fd(-1)
        for item in close:
            item.close()
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        extra = [p for p in request["env"].get("PYTHONPATH", "").split(os.pathsep) if p and p not in sys.path]
        sys.path[:0] = extra
        # The parent's random state is every child's: reseed, or children pick the same "random" names.
        random.seed()
        argv = request["argv"]
        sys.argv = list(argv)
        try:
            COMMANDS[argv[0]].main(args=argv[1:], prog_name=argv[0], standalone_mode=True)
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException:  # noqa: BLE001 - the child must end here whatever happened, with the traceback logged
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def serve(path: str) -> None:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(128)
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_read, False)
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "accept")
    selector.register(wake_read, selectors.EVENT_READ, "child")
    children: dict[int, socket.socket] = {}
    buffers: dict[socket.socket, bytes] = {}
    print("ready", flush=True)

    def reap() -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            code = os.waitstatus_to_exitcode(status)
            conn = children.pop(pid, None)
            if conn is not None:
                try:
                    conn.sendall(json.dumps({"status": code}).encode() + b"\n")
                except OSError:
                    pass
                conn.close()

    while True:
        for key, _ in selector.select():
            if key.data == "accept":
                conn, _ = listener.accept()
                buffers[conn] = b""
                selector.register(conn, selectors.EVENT_READ, "request")
            elif key.data == "child":
                try:
                    while os.read(wake_read, 4096):
                        pass
                except BlockingIOError:
                    pass
                reap()
            else:
                conn = key.fileobj
                chunk = conn.recv(65536)
                buffers[conn] += chunk
                if not chunk:
                    selector.unregister(conn)
                    buffers.pop(conn)
                    conn.close()
                    continue
                if b"\n" not in buffers[conn]:
                    continue
                selector.unregister(conn)
                request = json.loads(buffers.pop(conn))
                others = [listener, selector, conn, *buffers, *children.values()]
                pid = os.fork()
                if pid == 0:
                    os.close(wake_read)
                    os.close(wake_write)
                    run_child(request, others)
                children[pid] = conn
                conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
        reap()


if __name__ == "__main__":
    sys.path.insert(0, os.getcwd())
    for module in sys.argv[2:]:
        importlib.import_module(module)
    serve(sys.argv[1])
