"""The bridge worker: a `gantry.Worker` whose handler runs each attempt of a flyte task the way a Flyte container
would (`pyflyte-execute` with inputs.pb, an output prefix, a raw-output prefix and checkpoint paths), and turns
what flytekit wrote back into Gantry's terms: futures.pb -> a dynamic spec, outputs.pb -> outputs, error.pb -> an
error. A process that wrote none of them failed as a container would: a recoverable `ContainerFailed`. What the
bridge cannot convert fails the attempt as a non-recoverable user error naming it.

Files live under `data_dir/<execution>/<node>/<attempt>/`; raw data (FlyteFile, FlyteDirectory, StructuredDataset)
under `raw_prefix/<execution>/<node>/<attempt>/`. Both are local by default: a worker on another host must share
them (a network file system, or an object store URI that flytekit can write as `raw_prefix`).
"""

from __future__ import annotations

import datetime
import logging
import os
import time
from pathlib import Path
from typing import Sequence

from flyteidl.core import dynamic_job_pb2 as fd
from flyteidl.core import errors_pb2 as fe
from flyteidl.core import literals_pb2 as fl

import gantry
from gantry import Assignment
from gantry.handler import Result
from gantry.v1 import execution_pb2 as gx
from gantry.v1 import literals_pb2 as gl

from gantry_flyte import translate
from gantry_flyte.runner import ForkServerError, Process, SubprocessRunner, make_runner
from gantry_flyte.types import Unsupported, to_flyte_literal, to_gantry_literal_map

log = logging.getLogger("gantry_flyte")
DEFAULT_QUEUE = "flyte"
# How often a waiting attempt looks at its cancellation flag and deadline.
WATCH_INTERVAL = 0.1
LOG_TAIL = 4000


def accepts(template) -> bool:
    """Attempts the bridge runs: templates carrying a flyte TaskTemplate (made by this package's translator)."""
    return template.HasField("plugin") and template.plugin.custom != b"" and template.HasField("container")


def user_error(code: str, message: str, recoverable: bool = False) -> gx.ExecutionError:
    return gx.ExecutionError(kind=gx.ERROR_KIND_USER, recoverable=recoverable, code=code, message=message[-8000:])


class Bridge:
    """The handler: one instance per worker, shared by its threads."""

    def __init__(
        self,
        data_dir: str | os.PathLike,
        raw_prefix: str | None = None,
        runner: str = "fork",
        preload: Sequence[str] = (),
    ):
        self.data_dir = Path(data_dir).resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.raw_prefix = raw_prefix or str(self.data_dir / "raw")
        self.runner = make_runner(runner, preload)
        self.fallback = SubprocessRunner()
        self.cwd = os.getcwd()

    def close(self) -> None:
        self.runner.close()

    def __call__(self, assignment: Assignment) -> Result:
        context = assignment.context
        template = assignment.task
        where = f"task {template.id.name} (node {context.node_id}, attempt {context.attempt})"
        try:
            flyte = translate.flyte_template(assignment.plugin)
            config = dict(assignment.plugin.config)
            mapped = config.pop(translate.MAPPED_INPUTS, None)
            inputs = self._flyte_inputs(assignment.inputs, flyte, mapped, where)
        except (Unsupported, ValueError, KeyError) as error:
            return user_error("FlyteBridgeConversion", f"{where}: the bridge could not convert the inputs: {error}")
        attempt_dir = self.data_dir / context.execution_id / context.node_id / str(context.attempt)
        out_dir = attempt_dir / "out"
        out_dir.mkdir(parents=True, exist_ok=True)
        (attempt_dir / "inputs.pb").write_bytes(inputs.SerializeToString())
        argv = self._render(list(template.container.args), attempt_dir, context)
        env = self._environment(template, config, context, mapped is not None)
        log_path = str(attempt_dir / "flytekit.log")
        process = self._start(argv, env, str(attempt_dir), log_path)
        outcome = self._wait(process, context)
        if outcome is not None:
            return outcome
        return self._results(out_dir, template.metadata.queue, config, log_path, where)

    def _flyte_inputs(self, inputs: gl.LiteralMap, flyte, mapped: str | None, where: str) -> fl.LiteralMap:
        """The inputs rebuilt from the task's own flyte interface; a map element's list inputs as singleton lists
        (pyflyte-map-execute reads the whole list and picks element 0)."""
        lists = set(mapped.split(",")) if mapped else set()
        types = translate.flyte_types(flyte.interface.inputs)
        result = fl.LiteralMap()
        for name, value in inputs.literals.items():
            if name not in types:
                raise Unsupported(f"{where}: input {name!r} is not in the flyte interface")
            if name in lists:
                value = gl.Literal(collection=gl.LiteralCollection(literals=[value]))
            result.literals[name].CopyFrom(to_flyte_literal(value, types[name], f"{where} input {name!r}"))
        return result

    def _render(self, args: list[str], attempt_dir: Path, context) -> list[str]:
        node_dir = attempt_dir.parent
        checkpoint = node_dir / "checkpoint" / str(context.attempt)
        previous = node_dir / "checkpoint" / str(context.attempt - 1)
        raw = f"{self.raw_prefix.rstrip('/')}/{context.execution_id}/{context.node_id}/{context.attempt}"
        values = {
            "{{.input}}": str(attempt_dir / "inputs.pb"),
            "{{.Input}}": str(attempt_dir / "inputs.pb"),
            "{{.outputPrefix}}": str(attempt_dir / "out"),
            "{{.rawOutputDataPrefix}}": raw,
            "{{.checkpointOutputPrefix}}": str(checkpoint),
            # flytekit treats an unrendered placeholder as "no previous checkpoint".
            "{{.prevCheckpointPrefix}}": str(previous) if previous.exists() else "{{.prevCheckpointPrefix}}",
        }
        return [values.get(arg, arg) for arg in args]

    def _environment(self, template, config: dict[str, str], context, is_map: bool) -> dict[str, str]:
        task_id = template.id
        env = dict(os.environ)
        # The attempt runs in its own directory; the task's modules are imported from the worker's.
        env["PYTHONPATH"] = os.pathsep.join(p for p in (self.cwd, env.get("PYTHONPATH", "")) if p)
        env.update(template.container.env)
        env.update(
            {
                "_F_SS_C": config.get(translate.SERIALIZATION_CONTEXT, env.get("_F_SS_C", "")),
                "FLYTE_INTERNAL_EXECUTION_ID": context.execution_id,
                "FLYTE_INTERNAL_EXECUTION_PROJECT": task_id.project,
                "FLYTE_INTERNAL_EXECUTION_DOMAIN": task_id.domain,
                "FLYTE_INTERNAL_TASK_PROJECT": task_id.project,
                "FLYTE_INTERNAL_TASK_DOMAIN": task_id.domain,
                "FLYTE_INTERNAL_TASK_NAME": task_id.name,
                "FLYTE_INTERNAL_TASK_VERSION": task_id.version,
                "FLYTE_INTERNAL_NODE_ID": context.node_id,
                "FLYTE_ATTEMPT_NUMBER": str(context.attempt),
            }
        )
        if is_map:
            env["BATCH_JOB_ARRAY_INDEX_VAR_NAME"] = "FLYTE_K8S_ARRAY_INDEX"
            env["FLYTE_K8S_ARRAY_INDEX"] = "0"
        return env

    def _start(self, argv: list[str], env: dict[str, str], cwd: str, log_path: str) -> Process:
        try:
            return self.runner.start(argv, env, cwd, log_path)
        except ForkServerError as error:
            log.warning("%s; this attempt runs as a subprocess", error)
            return self.fallback.start(argv, env, cwd, log_path)

    def _wait(self, process: Process, context) -> gx.ExecutionError | None:
        """Waits for the process; kills its group when the attempt is cancelled or its deadline passes."""
        deadline = context.deadline.timestamp() if isinstance(context.deadline, datetime.datetime) else None
        while True:
            if context.cancelled.is_set():
                process.kill()
                return user_error("Cancelled", f"process {process.pid} was killed: the attempt was cancelled")
            if deadline is not None and time.time() >= deadline:
                process.kill()
                return user_error(
                    "Timeout", f"process {process.pid} was killed at the attempt's deadline", recoverable=True
                )
            try:
                code = process.wait(WATCH_INTERVAL)
            except ConnectionError as error:
                # The fork server died: its child's result is unknowable, the attempt may run again elsewhere.
                process.kill()
                return gx.ExecutionError(
                    kind=gx.ERROR_KIND_SYSTEM, recoverable=True, code="ForkServerLost", message=str(error)
                )
            if code is not None:
                return None

    def _results(self, out_dir: Path, queue: str, config: dict[str, str], log_path: str, where: str):
        futures, outputs, errors = (out_dir / n for n in ("futures.pb", "outputs.pb", "error.pb"))
        try:
            if errors.exists():
                document = fe.ErrorDocument()
                document.ParseFromString(errors.read_bytes())
                return translate.execution_error(document)
            if futures.exists():
                spec = fd.DynamicJobSpec()
                spec.ParseFromString(futures.read_bytes())
                return translate.dynamic_spec(spec, queue, config, where)
            if outputs.exists():
                literals = fl.LiteralMap()
                literals.ParseFromString(outputs.read_bytes())
                return to_gantry_literal_map(literals, f"{where} output")
        except (Unsupported, ValueError, KeyError) as error:
            return user_error("FlyteBridgeConversion", f"{where}: the bridge could not convert the results: {error}")
        tail = Path(log_path).read_text(errors="replace")[-LOG_TAIL:] if Path(log_path).exists() else ""
        return user_error(
            "ContainerFailed", f"{where}: flytekit wrote no outputs, futures or error; its log ends:\n{tail}", True
        )


def make_worker(
    server: str,
    *,
    queues: list[str] | None = None,
    slots: int = 4,
    runner: str = "fork",
    data_dir: str | os.PathLike = ".gantry-flyte",
    raw_prefix: str | None = None,
    preload: Sequence[str] = (),
) -> tuple[gantry.Worker, Bridge]:
    """A Gantry worker serving the flyte tasks of `queues` (default `flyte`) with `slots` attempts at once."""
    bridge = Bridge(data_dir, raw_prefix, runner, preload)
    worker = gantry.Worker(
        server, queues=queues or [DEFAULT_QUEUE], handler=bridge, accepts=accepts, concurrency=slots, prefetch=slots
    )
    return worker, bridge
