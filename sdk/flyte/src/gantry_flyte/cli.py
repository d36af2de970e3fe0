"""`gantry-flyte register MODULE...` and `gantry-flyte worker`: the bridge's command line."""

from __future__ import annotations

import argparse
import logging
import sys

import gantry
from gantry.v1 import admin_pb2_grpc

from gantry_flyte import registrar
from gantry_flyte.types import Unsupported
from gantry_flyte.worker import DEFAULT_QUEUE, make_worker


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gantry-flyte", description="Run flytekit code on Gantry.")
    commands = parser.add_subparsers(dest="command", required=True)

    reg = commands.add_parser("register", help="register a flytekit module's tasks, workflows and launch plans")
    reg.add_argument("modules", nargs="+", help="Python modules or packages, importable from --path")
    reg.add_argument("--server", required=True, help="Gantry's address, e.g. http://127.0.0.1:50051")
    reg.add_argument("--project", required=True)
    reg.add_argument("--domain", required=True)
    reg.add_argument("--version", required=True)
    reg.add_argument("--queue", default=DEFAULT_QUEUE, help="the queue the bridge workers poll (default flyte)")
    reg.add_argument("--image", default=registrar.DEFAULT_IMAGE, help="the image name flytekit records")
    reg.add_argument("--path", default=".", help="the source root the modules are imported from (default .)")

    work = commands.add_parser("worker", help="run flyte tasks for Gantry")
    work.add_argument("--server", required=True)
    work.add_argument("--queue", action="append", help="a queue to poll (repeatable; default flyte)")
    work.add_argument("--slots", type=int, default=4, help="attempts run at once (default 4)")
    work.add_argument("--runner", choices=["fork", "subprocess"], default="fork")
    work.add_argument("--data-dir", default=".gantry-flyte", help="per-attempt files (default ./.gantry-flyte)")
    work.add_argument("--raw-output-prefix", help="where flytekit writes raw data (default DATA_DIR/raw)")
    work.add_argument(
        "--preload",
        action="append",
        default=[],
        help="a task module the fork server imports once (repeatable; a changed module then needs a restart)",
    )

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.command == "register":
        return _register(args)
    return _work(args)


def _register(args) -> int:
    with gantry.Client(args.server) as client:
        try:
            result = registrar.register(
                admin_pb2_grpc.AdminServiceStub(client.channel),
                args.modules,
                project=args.project,
                domain=args.domain,
                version=args.version,
                queue=args.queue,
                image=args.image,
                source_root=args.path,
            )
        except (registrar.RegistrationError, Unsupported) as error:
            print(f"gantry-flyte: {error}", file=sys.stderr)
            return 1
    for what in result.created:
        print(f"registered {what}")
    for what in result.unchanged:
        print(f"already registered {what}")
    return 0


def _work(args) -> int:
    worker, bridge = make_worker(
        args.server,
        queues=args.queue,
        slots=args.slots,
        runner=args.runner,
        data_dir=args.data_dir,
        raw_prefix=args.raw_output_prefix,
        preload=args.preload,
    )

    def ready() -> None:
        print(
            f"gantry-flyte worker {worker.worker_id} polls {worker.queues} ({bridge.runner.name} runner): ready",
            flush=True,
        )

    try:
        worker.run(ready=ready)
    finally:
        bridge.close()
        worker.close()
    return 0
