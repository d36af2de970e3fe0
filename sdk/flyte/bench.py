"""End-to-end throughput of the flytekit bridge: one `@dynamic` with N flytekit children (examples/bench_flyte.py),
run on a real Gantry server by a real bridge worker, for the fork runner (default N = 1,000) and then the subprocess
runner (small N). The fork server preloads the workload's module. Prints children per second (from CreateExecution
to SUCCEEDED) and CPU seconds per attempt of the bridge (the worker and everything it started: fork server, forked
children, subprocesses) and of the server.

    python sdk/flyte/bench.py [--n 1000] [--subprocess-n 10] [--slots 4] [--database-url postgres://...]

The server binary comes from target/debug (GANTRY_BIN_DIR overrides); without --database-url it uses its embedded
SQLite store in a temporary directory. Run it with `nice` when other work shares the machine.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import gantry

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
EXAMPLES = HERE / "examples"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU of `pid` and of its children it reaped (/proc/PID/stat utime, stime, cutime, cstime)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / TICKS


def tree_cpu(pid: int) -> float:
    """CPU of a process, its reaped children and its live children (e.g. the fork server and what it reaped)."""
    total = cpu_seconds(pid)
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return total + sum(tree_cpu(int(child)) for child in children)


def start_line(argv: list[str], pattern: str, **kwargs) -> tuple[subprocess.Popen, re.Match]:
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, **kwargs)
    for line in process.stdout:
        match = re.search(pattern, line)
        if match:
            return process, match
    raise RuntimeError(f"{argv[0]} exited ({process.wait()}) before printing {pattern!r}")


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()


def measure(server: str, server_pid: int, runner: str, n: int, slots: int, version: str, data: Path) -> None:
    queue = f"bench-{runner}"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "gantry_flyte",
            "register",
            "bench_flyte",
            "--server",
            server,
            "--project",
            "bench",
            "--domain",
            "development",
            "--version",
            f"{version}-{runner}",
            "--queue",
            queue,
        ],
        cwd=EXAMPLES,
        check=True,
        capture_output=True,
    )
    worker, _ = start_line(
        [
            sys.executable,
            "-m",
            "gantry_flyte",
            "worker",
            "--server",
            server,
            "--queue",
            queue,
            "--slots",
            str(slots),
            "--runner",
            runner,
            "--data-dir",
            str(data / runner),
            *(["--preload", "bench_flyte"] if runner == "fork" else []),
        ],
        r"ready",
        cwd=EXAMPLES,
        env={**os.environ, "PYTHONPATH": str(EXAMPLES)},
    )
    try:
        with gantry.Client(server) as client:
            worker_cpu, server_cpu = tree_cpu(worker.pid), tree_cpu(server_pid)
            started = time.monotonic()
            execution = client.run(f"bench/development/bench_flyte.fan_out@{version}-{runner}", {"n": n})
            result = execution.outputs(timeout=3600)
            elapsed = time.monotonic() - started
            worker_cpu, server_cpu = tree_cpu(worker.pid) - worker_cpu, tree_cpu(server_pid) - server_cpu
            nodes = client.list_nodes(execution.id, parent="n0")
            attempts = sum(node.attempts for node in nodes) + 1
        assert result == {"o0": [i + 1 for i in range(n)]}, "wrong outputs"
    finally:
        stop(worker)
    print(
        f"{runner:>10}: {n} children in {elapsed:.1f} s = {n / elapsed:.1f} children/s; "
        f"CPU per attempt: bridge {1000 * worker_cpu / attempts:.0f} ms, server {1000 * server_cpu / attempts:.0f} ms "
        f"({attempts} attempts, {slots} slots, {os.cpu_count()} cores)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="children for the fork runner (default 1000)")
    parser.add_argument("--subprocess-n", type=int, default=10, help="children for the subprocess runner (default 10)")
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--database-url", help="Postgres URL; without it the server uses embedded SQLite")
    args = parser.parse_args()
    binary = Path(os.environ.get("GANTRY_BIN_DIR", REPO / "target" / "debug")) / "gantry"
    with tempfile.TemporaryDirectory(prefix="gantry-flyte-bench-") as tmp:
        data = Path(tmp)
        argv = [str(binary), "server", "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"]
        argv += ["--database-url", args.database_url] if args.database_url else ["--data-path", str(data / "db")]
        server, match = start_line(argv, r"gantry listening on (http://\S+)", cwd=tmp, stderr=subprocess.DEVNULL)
        try:
            endpoint = match.group(1)
            version = f"b{int(time.time())}"
            measure(endpoint, server.pid, "fork", args.n, args.slots, version, data)
            if args.subprocess_n:
                measure(endpoint, server.pid, "subprocess", args.subprocess_n, args.slots, version, data)
        finally:
            stop(server)


if __name__ == "__main__":
    main()
