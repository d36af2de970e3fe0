"""The seed example in Python: `generate_others` yields `tasks_count` × `other_task` and returns their outputs.

    python sdk/python/examples/seed.py worker            # registers the tasks, then runs them until Ctrl-C
    python sdk/python/examples/seed.py run 10            # runs generate_others(tasks_count=10), prints the output

Both take `--address` (default http://127.0.0.1:50051, or GANTRY_ENDPOINT) and, for an https:// address, `--ca-file`
(GANTRY_CA_FILE), `--client-cert` and `--client-key` (GANTRY_CLIENT_CERT, GANTRY_CLIENT_KEY), and for a server with
authentication `--token` (GANTRY_TOKEN: an operator key of the project, since the tasks are registered), as the CLI
does.
"""

from __future__ import annotations

import argparse
import logging
import os

from gantry import Client, Worker, dynamic_task, task


# Registered as py_other_task and py_generate_others: in the default project and domain (demo/dev), beside the Rust
# example's other_task and generate_others, which `gantry server --examples` registers and whose cache entries these
# must not share (the cache is keyed by name, not by version).
@task(name="py_other_task", output_name="other_task_out")
def other_task(index: int) -> int:
    return index * 2


@dynamic_task(name="py_generate_others", cache_version="1")
def generate_others(tasks_count: int) -> list[int]:
    res = []
    for i in range(tasks_count):
        task = other_task(index=i)
        yield task
        res.append(task.outputs.other_task_out)
    return res


TASKS = [other_task, generate_others]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--address", default=os.environ.get("GANTRY_ENDPOINT", "http://127.0.0.1:50051"))
    parser.add_argument("--ca-file", default=os.environ.get("GANTRY_CA_FILE"))
    parser.add_argument("--client-cert", default=os.environ.get("GANTRY_CLIENT_CERT"))
    parser.add_argument("--client-key", default=os.environ.get("GANTRY_CLIENT_KEY"))
    parser.add_argument("--token", default=os.environ.get("GANTRY_TOKEN"), help="an API key (or GANTRY_TOKEN)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("worker", help="register the tasks and run them")
    run = commands.add_parser("run", help="run generate_others and print its output")
    run.add_argument("tasks_count", type=int)
    args = parser.parse_args()
    tls = {
        "ca_file": args.ca_file,
        "client_cert_file": args.client_cert,
        "client_key_file": args.client_key,
        "token": args.token,
    }
    if args.command == "worker":
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        worker = Worker(args.address, tasks=TASKS, concurrency=8, **tls)
        created = worker.register()
        worker.run(
            ready=lambda: print(
                f"registered {created} new task(s); polling queue(s) {worker.queues}; Ctrl-C stops", flush=True
            )
        )
        return
    with Client(args.address, **tls) as client:
        client.register(*TASKS)
        execution = client.run(generate_others, tasks_count=args.tasks_count)
        print(f"execution {execution.id}")
        print({"out": execution.result()})


if __name__ == "__main__":
    main()
