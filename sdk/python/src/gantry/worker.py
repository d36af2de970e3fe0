"""The worker: polls attempts of its queues (worker.proto), runs them in a pool of threads, heartbeats their leases
every third of the lease, stops those the server cancels, and reports results in batches.

It mirrors the Rust SDK's worker (crates/gantry-worker). `concurrency` threads run handlers, and the worker holds up
to `concurrency + prefetch` attempts, claiming ahead as many as its measured run times call for (`_prefetch`): a poll
asks for the room within that (up to the server's 1,000), after gathering for a moment the results of attempts about
to end, and an attempt claimed ahead waits in the pool's queue for a thread, leased and heartbeated from its claim. An attempt's
room is freed as soon as its handler returns and its result is queued; it stays heartbeated until the result is
acknowledged. The next poll carries the results queued since the last one (the server records them and claims in one
round trip); what no poll takes in time goes with `CompleteAttempts` (see `_completions`: at once when nothing is
running and the poll out is waiting for work, within `completion_linger` otherwise, and always for dynamic specs). A
server that does not answer for the results a poll carried gets them with `CompleteAttempts` from then on. Dynamic
tasks are held to the spec limits every poll response announces; shutdown stops polling, lets running attempts and
those claimed ahead finish for a grace period (then reports them as recoverable system errors), sends every result,
and stops heartbeating.

Python threads cannot be killed: an attempt the server cancels keeps running until its function returns, but its
result is dropped. Long tasks should look at `current_context().cancelled` now and then.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import queue
import random
import signal
import socket
import threading
import time
from typing import Any, Callable, Iterable

import grpc

from gantry import _completions, _prefetch, _tracing
from gantry._channels import TlsSettings, make_channel, raise_for_tls
from gantry.errors import GantryError, execution_error, system_error
from gantry.handler import Assignment, Handler, run_handler, task_handler
from gantry.limits import SpecLimits
from gantry.plugin import TaskPlugin
from gantry.references import resolve_map
from gantry.task import TaskFunction
from gantry.types import datetime_of
from gantry.v1 import admin_pb2, admin_pb2_grpc, worker_pb2, worker_pb2_grpc

log = logging.getLogger("gantry.worker")

# Until the first assignment tells the real lease, heartbeat as if it were this short.
ASSUMED_LEASE = 15.0
MIN_HEARTBEAT_INTERVAL = 0.05
POLL_DEADLINE_MARGIN = 15.0
# A poll being gathered goes out once no held attempt ended for this long (seconds).
GATHER_QUIET = 0.001
# What one request may carry at most, on every server (worker.proto).
MAX_POLL_QUEUES = 100
MAX_POLL_ATTEMPTS = 1_000
MAX_HEARTBEAT_ATTEMPTS = 10_000
# Room left in a message beside a dynamic spec, for the rest of the completion request (as the server counts it).
SPEC_MESSAGE_MARGIN = 64 * 1024
# Errors that retrying the same request cannot fix.
FATAL_CODES = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.UNIMPLEMENTED,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNAUTHENTICATED,
}

_context = threading.local()


@dataclasses.dataclass
class AttemptContext:
    """What a running task may know about its attempt (see `current_context`)."""

    execution_id: str
    node_id: str
    attempt: int
    worker_id: str
    task: TaskFunction | None
    deadline: Any  # datetime | None
    cancelled: threading.Event = dataclasses.field(default_factory=threading.Event)
    # What the server accepts in a dynamic spec, as it told the worker; a dynamic task's yields keep to it.
    spec_limits: SpecLimits = dataclasses.field(default_factory=SpecLimits)
    # The template's plugin payload (a foreign system's description of the task), untouched; None without one.
    plugin: TaskPlugin | None = None

    def is_cancelled(self) -> bool:
        """True once the server cancelled the attempt (execution terminated, lease lost or deadline passed)."""
        return self.cancelled.is_set()


def current_context() -> AttemptContext:
    """The attempt the calling thread runs; RuntimeError outside a task run by a worker."""
    context = getattr(_context, "current", None)
    if context is None:
        raise RuntimeError("no attempt runs on this thread")
    return context


def default_worker_id() -> str:
    host = socket.gethostname() or "worker"
    return f"{host}-{os.getpid()}-py{random.randrange(16**6):06x}"


class _Backoff:
    """Doubling delays with jitter, for retrying RPCs while the server is unavailable."""

    def __init__(self, initial: float, maximum: float):
        self.initial, self.maximum, self.current = initial, maximum, initial

    def next_delay(self) -> float:
        delay = self.current
        self.current = min(self.current * 2, self.maximum)
        return delay * random.uniform(0.75, 1.0)

    def reset(self) -> None:
        self.current = self.initial


@dataclasses.dataclass
class _Attempt:
    """An attempt being run, or whose result is not yet acknowledged: what heartbeats present for it."""

    key: tuple[str, str, int]
    ref: Any  # AttemptRef
    lease_id: str
    context: AttemptContext
    assignment: worker_pb2.AttemptAssignment
    deadline: float | None  # time.time() seconds
    # Set once a thread took it up, and once its result was queued or dropped (or it was abandoned at shutdown).
    started: bool = False
    finished: bool = False


class _Room:
    """Room for attempts the worker may hold (running, or claimed ahead and waiting for a thread); a poll takes all
    there is at once. An attempt handed out beyond what was asked takes room it does not have: the count goes below
    zero until attempts end."""

    def __init__(self, count: int):
        self._free = count
        self._condition = threading.Condition()

    def take_all(self, stopping: threading.Event) -> int:
        with self._condition:
            while self._free <= 0 and not stopping.is_set():
                self._condition.wait()
            return self._take()

    def gather(self, taken: int, capacity: int, linger: float, stopping: threading.Event) -> int:
        """While attempts are still held (`taken` below `capacity`), waits for more of them to end, taking the room
        each frees, so that the next poll carries their results and asks for their room at once: up to `linger`, and
        no longer than `GATHER_QUIET` after the last one ended (the rest may run for long)."""
        end = time.monotonic() + linger
        quiet = min(linger, GATHER_QUIET)
        with self._condition:
            while taken < capacity and not stopping.is_set():
                left = min(end, time.monotonic() + quiet) - time.monotonic()
                if left <= 0:
                    break
                self._condition.wait(left)
                more = self._take()
                if not more:
                    break
                taken += more
        return taken

    def within(self, taken: int, capacity: int, target: Callable[[], int], stopping: threading.Event) -> int:
        """Keeps to the prefetch `target()` calls for: gives back the room beyond it, waiting while there is none
        within it. Returns the room kept (0 once stopping)."""
        with self._condition:
            while not stopping.is_set():
                wanted = target() - (capacity - taken)
                if wanted > 0:
                    self._free += taken - min(taken, wanted)
                    return min(taken, wanted)
                self._condition.wait()
                taken += self._take()
            self._free += taken
            return 0

    def _take(self) -> int:
        taken, self._free = max(self._free, 0), min(self._free, 0)
        return taken

    def give(self, count: int = 1) -> None:
        with self._condition:
            self._free += count
            self._condition.notify_all()


class _Pool:
    """A fixed pool of daemon threads: a task stuck forever cannot keep the process from exiting."""

    def __init__(self, size: int, name: str):
        self._jobs: queue.Queue = queue.Queue()
        self._active = 0
        self._idle = threading.Condition()
        self._threads = [threading.Thread(target=self._loop, name=f"{name}-{i}", daemon=True) for i in range(size)]
        for thread in self._threads:
            thread.start()

    def submit(self, job) -> None:
        with self._idle:
            self._active += 1
        self._jobs.put(job)

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                job()
            finally:
                with self._idle:
                    self._active -= 1
                    self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        end = time.monotonic() + timeout
        with self._idle:
            while self._active:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def close(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)


class Worker:
    """Runs Python tasks for a Gantry server: `Worker("http://127.0.0.1:50051", tasks=[other_task, ...]).run()`.

    `queues` defaults to the queues of `tasks`; tasks are dispatched by name, as the Rust SDK does. A `handler` (see
    `gantry.handler`) serves every other attempt of the queues, or, with `accepts`, those whose template it accepts:
    it gets the whole assignment (template, plugin payload, inputs as literals, context) and returns the outputs, a
    dynamic spec or an error. A worker with a handler and no tasks must name its `queues`. `run()` blocks
    until `stop()` (from any thread) or SIGINT/SIGTERM (when run on the main thread); `start()` runs it on a
    background thread.

    `concurrency` attempts run at once, on as many threads. `prefetch` is the most attempts to claim ahead of the free
    threads, so that a thread that frees starts its next attempt at once instead of after a round trip (default 0:
    none; running and prefetched attempts together are held to 1,000, or to `concurrency` when that is larger).
    Within it the worker claims `concurrency × round trip / run time` ahead, at least one once it has measured both
    (none before; see `_prefetch`). Set it for short tasks; leave it off where long tasks must spread over several
    workers, since attempts one worker claimed ahead wait for its threads even while another worker's are free. A
    prefetched attempt is leased and heartbeated while it waits, and its timeout runs from its claim.
    `completion_linger` is the longest a finished attempt's result waits to be sent with others when no poll carries it
    first (default 5 ms); it waits only while other attempts run or a poll is about to go out, otherwise it is sent at
    once.

    An `https://` address speaks TLS, verified against the system's trust store or the CA certificates in `ca_file`;
    `client_cert_file` and `client_key_file` are presented for mutual TLS (all PEM). A TLS failure raises `TlsError`
    from `register()` and stops `run()` with it (it is not retried, and never replaced by plaintext).

    `token` (an API key from `gantry auth keys create`) is presented on every call to a server with authentication;
    a worker key's polls claim only attempts of its project's executions (registering tasks needs an operator key).
    """

    def __init__(
        self,
        address: str,
        tasks: Iterable[TaskFunction] = (),
        *,
        handler: Handler | None = None,
        accepts: Callable[[Any], bool] | None = None,
        queues: Iterable[str] | None = None,
        concurrency: int = 4,
        prefetch: int | None = None,
        worker_id: str | None = None,
        poll_wait: float = 20.0,
        shutdown_grace: float = 30.0,
        completion_linger: float = 0.005,
        max_completion_batch: int = 500,
        max_message_bytes: int = 64 * 1024 * 1024,
        ca_file: str | os.PathLike | None = None,
        client_cert_file: str | os.PathLike | None = None,
        client_key_file: str | os.PathLike | None = None,
        token: str | None = None,
    ):
        self.tasks: dict[str, TaskFunction] = {}
        for task in tasks:
            if not isinstance(task, TaskFunction):
                raise TypeError(f"{task!r} is not a @task or @dynamic_task function")
            if task.name in self.tasks:
                raise ValueError(f"task {task.name!r} is given twice")
            self.tasks[task.name] = task
        if accepts is not None and handler is None:
            raise ValueError("accepts chooses attempts for a handler: give the handler too")
        if not self.tasks and handler is None:
            raise ValueError("a worker needs tasks or a handler")
        self.handler = handler
        self.accepts = accepts
        self._task_handlers = {name: task_handler(task) for name, task in self.tasks.items()}
        self.queues = sorted(set(queues) if queues is not None else {task.queue for task in self.tasks.values()})
        if not self.queues or any(not q for q in self.queues):
            raise ValueError("a worker needs at least one non-empty queue")
        if len(self.queues) > MAX_POLL_QUEUES:
            raise ValueError(f"{len(self.queues)} queues given; a poll may name at most {MAX_POLL_QUEUES}")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if prefetch is not None and prefetch < 0:
            raise ValueError("prefetch must not be negative")
        self.address = address
        self.concurrency = concurrency
        self.prefetch = min(prefetch or 0, max(MAX_POLL_ATTEMPTS - concurrency, 0))
        # How many attempts may be held at once: running, and claimed ahead while they wait for a thread.
        self.capacity = max(concurrency + self.prefetch, 1)
        self._prefetch = _prefetch.Prefetch(concurrency, self.prefetch)
        self.worker_id = worker_id or default_worker_id()
        self.poll_wait = poll_wait
        self.shutdown_grace = shutdown_grace
        self.completion_linger = completion_linger
        self.max_completion_batch = max_completion_batch
        self.max_message_bytes = max_message_bytes
        self._spec_limits = SpecLimits()
        self.tls = TlsSettings(ca_file, client_cert_file, client_key_file)
        self._token = token
        self._channel = make_channel(address, max_message_bytes, self.tls, token=token)
        self._stub = worker_pb2_grpc.WorkerServiceStub(self._channel)
        self._admin = admin_pb2_grpc.AdminServiceStub(self._channel)
        # (send limit, channel, stub) for completions carrying a spec (see `_spec_stub`).
        self._spec_channel: tuple[int, grpc.Channel, worker_pb2_grpc.WorkerServiceStub] | None = None
        self._lock = threading.Lock()
        self._running: dict[tuple[str, str, int], _Attempt] = {}
        self._stopping = threading.Event()
        self._started = threading.Event()
        self._stopped = threading.Event()
        self._poll_future: Any = None
        self._lease = ASSUMED_LEASE
        self._lease_changed = threading.Event()
        self._outbox = _completions.Outbox(max_completion_batch, max_message_bytes, completion_linger)
        # Whether polls carry results; off for a server that does not answer for them.
        self._polls_carry = True
        self._thread: threading.Thread | None = None
        self._room = _Room(self.capacity)
        self.error: BaseException | None = None

    # --- public ------------------------------------------------------------------------------------------------

    def register(self) -> int:
        """Registers the template of every task; an identical template already registered is fine. Returns how many
        were newly created. GantryError when the server refuses one (ALREADY_EXISTS: a different template)."""
        created = 0
        for task in self.tasks.values():
            try:
                response = self._admin.RegisterTask(admin_pb2.RegisterTaskRequest(task=task.template), timeout=30)
            except grpc.RpcError as error:
                raise_for_tls(self.address, self.tls, error)
                raise GantryError(f"registering {task!r}: {error.code().name}: {error.details()}") from None
            created += int(response.created)
        return created

    def run(self, ready: Callable[[], None] | None = None) -> None:
        """Polls and runs attempts until stopped, then shuts down in order. `ready` is called once signals are
        handled and the first poll is about to go out. Raises when the server refuses the worker in a way retrying
        cannot fix."""
        restore = self._install_signal_handlers()
        try:
            self._run(ready)
        finally:
            for signum, handler in restore.items():
                signal.signal(signum, handler)

    def start(self) -> threading.Thread:
        """Runs the worker on a background thread and returns once it polls."""

        def target() -> None:
            try:
                self.run()
            except BaseException as error:  # noqa: BLE001 - kept for whoever joins the thread
                self.error = error
                log.exception("worker failed")
                self._started.set()

        self._thread = threading.Thread(target=target, name=f"gantry-worker-{self.worker_id}", daemon=True)
        self._thread.start()
        self._started.wait()
        return self._thread

    def stop(self, wait: bool = False, timeout: float | None = None) -> None:
        """Asks the worker to stop polling and shut down; with `wait`, returns once it has."""
        with self._lock:
            self._stopping.set()
            if self._poll_future is not None:
                self._poll_future.cancel()
        # A poll loop waiting for room wakes up and sees the stop; the flusher stops waiting for polls.
        self._room.give(0)
        self._outbox.stop()
        if wait:
            self._stopped.wait(timeout)

    def close(self) -> None:
        self._channel.close()
        if self._spec_channel is not None:
            self._spec_channel[1].close()

    # --- the loop ----------------------------------------------------------------------------------------------

    def _install_signal_handlers(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}

        def on_signal(signum: int, _frame: Any) -> None:
            # A handler runs on the main thread between two bytecodes, possibly while it holds the worker's lock:
            # stop from another thread so that it can wait for that lock.
            log.info("worker %s got %s", self.worker_id, signal.Signals(signum).name)
            threading.Thread(target=self.stop, name="gantry-worker-stop", daemon=True).start()

        previous = {}
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.getsignal(signum)
            signal.signal(signum, on_signal)
        return previous

    def _run(self, ready: Callable[[], None] | None) -> None:
        log.info(
            "worker %s started: queues %s, concurrency %d, prefetch %d",
            self.worker_id,
            self.queues,
            self.concurrency,
            self.prefetch,
        )
        pool = _Pool(self.concurrency, "gantry-attempt")
        flusher = threading.Thread(
            target=_completions.flush_loop, args=(self,), name="gantry-completions", daemon=True
        )
        heartbeats_stop = threading.Event()
        heartbeats = threading.Thread(
            target=self._heartbeat_loop, args=(heartbeats_stop,), name="gantry-heartbeats", daemon=True
        )
        flusher.start()
        heartbeats.start()
        try:
            self._poll_loop(pool, self._room, ready)
        finally:
            log.info("worker %s shutting down: no more polls, draining running attempts", self.worker_id)
            self._outbox.stop()
            # Attempts claimed ahead still run within the grace: the pool works through its queue.
            if not pool.wait_idle(self.shutdown_grace):
                log.warning("shutdown grace elapsed, reporting the attempts still running as failed")
                self._abandon_running()
            pool.close()
            self._outbox.finish()
            flusher.join(self.shutdown_grace)
            if flusher.is_alive():
                log.warning("could not report every result before the shutdown grace elapsed")
            heartbeats_stop.set()
            self._lease_changed.set()
            heartbeats.join()
            self._stopped.set()
            log.info("worker %s stopped", self.worker_id)

    def _poll_loop(self, pool: _Pool, room: _Room, ready: Callable[[], None] | None) -> None:
        backoff = _Backoff(0.1, 5.0)
        outbox = self._outbox
        found_work = False
        self._started.set()
        if ready is not None:
            ready()
        while not self._stopping.is_set():
            free = room.take_all(self._stopping)
            outbox.set_gathering(True)
            free = room.gather(free, self.capacity, self.completion_linger, self._stopping)
            outbox.set_gathering(False)
            free = room.within(free, self.capacity, self._prefetch.target, self._stopping)
            if self._stopping.is_set():
                room.give(free)
                return
            # The server refuses more per poll; the room not asked for is given back with the unused room.
            asked = min(free, MAX_POLL_ATTEMPTS)
            carried = outbox.take_for_poll() if self._polls_carry else []
            request = worker_pb2.PollTasksRequest(
                worker_id=self.worker_id,
                queues=self.queues,
                max_attempts=asked,
                completions=[completion for _, completion in carried],
            )
            request.wait.FromNanoseconds(int(self.poll_wait * 1e9))
            # A poll that carries results is answered at once; one that does not, after a poll that found no work,
            # may wait: results that arrive meanwhile should not wait for it.
            may_wait = not carried and not found_work
            outbox.set_waiting_poll(may_wait)
            sent = time.monotonic()
            with self._lock:
                if self._stopping.is_set():
                    outbox.set_waiting_poll(False)
                    outbox.push_all(carried)
                    room.give(free)
                    return
                future = self._stub.PollTasks.future(request, timeout=self.poll_wait + POLL_DEADLINE_MARGIN)
                self._poll_future = future
            try:
                response = future.result()
            except grpc.FutureCancelledError:
                # An attempt claimed by a poll cut short comes back after its lease expires; results it carried are
                # sent again (one the server did record is answered as such).
                outbox.push_all(carried)
                room.give(free)
                return
            except grpc.RpcError as error:
                outbox.push_all(carried)
                room.give(free)
                if self._stopping.is_set():
                    return
                # Never retried: a server that refuses our TLS (or we its) will not change its mind.
                raise_for_tls(self.address, self.tls, error)
                if error.code() in FATAL_CODES:
                    raise GantryError(f"PollTasks failed: {error.code().name}: {error.details()}") from None
                delay = backoff.next_delay()
                log.warning("poll failed (%s: %s), retrying in %.2fs", error.code().name, error.details(), delay)
                self._stopping.wait(delay)
                continue
            finally:
                outbox.set_waiting_poll(False)
                with self._lock:
                    self._poll_future = None
            backoff.reset()
            if response.HasField("limits"):
                self._spec_limits = SpecLimits.from_proto(response.limits)
            self._settle_carried(carried, list(response.completion_results))
            assignments = list(response.assignments)
            found_work = bool(assignments)
            if found_work and not may_wait:
                self._prefetch.observe_round_trip(time.monotonic() - sent)
            # The server never hands out more than asked; if it did, the extra attempts take room that frees later.
            room.give(free - len(assignments))
            for assignment in assignments:
                attempt = self._track(assignment)
                if attempt is None:
                    room.give()
                    continue
                outbox.attempt_claimed()
                pool.submit(lambda attempt=attempt: self._run_attempt(attempt, room))

    def _settle_carried(self, carried: list[_completions.Pending], results: list[worker_pb2.CompletionResult]) -> None:
        """Acts on the answers for the results a poll carried. A server that answers for none of them does not take
        results in polls: they go with `CompleteAttempts`, now and from then on."""
        if not carried:
            return
        if len(results) != len(carried):
            log.warning(
                "the server answered for %d of the %d results a poll carried; sending them with CompleteAttempts",
                len(results),
                len(carried),
            )
            self._polls_carry = False
            self._outbox.push_all(carried)
            return
        self._outbox.push_all(_completions.settle(self, carried, results))

    def _track(self, assignment: worker_pb2.AttemptAssignment) -> _Attempt | None:
        if not assignment.HasField("attempt"):
            log.warning("assignment without an attempt, ignored (lease %s)", assignment.lease_id)
            return None
        ref = assignment.attempt
        self._observe_lease(assignment.lease_expires_at)
        deadline = None
        if assignment.HasField("deadline"):
            deadline = assignment.deadline.seconds + assignment.deadline.nanos / 1e9
        context = AttemptContext(
            execution_id=ref.execution_id,
            node_id=ref.node_id,
            attempt=ref.attempt,
            worker_id=self.worker_id,
            task=self.tasks.get(assignment.task.id.name),
            deadline=datetime_of(assignment.deadline) if assignment.HasField("deadline") else None,
            spec_limits=self._spec_limits,
            plugin=TaskPlugin.of_template(assignment.task),
        )
        attempt = _Attempt(
            key=(ref.execution_id, ref.node_id, ref.attempt),
            ref=ref,
            lease_id=assignment.lease_id,
            context=context,
            assignment=assignment,
            deadline=deadline,
        )
        with self._lock:
            self._running[attempt.key] = attempt
        return attempt

    def _run_attempt(self, attempt: _Attempt, room: _Room) -> None:
        pending: _completions.Pending | None = None
        try:
            # Cancelled while it waited for a thread, or abandoned at the end of shutdown's grace: it never runs.
            if attempt.context.is_cancelled():
                self._forget(attempt.key)
                return
            attempt.started = True
            completion = worker_pb2.Completion(attempt=attempt.ref, lease_id=attempt.lease_id)
            _context.current = attempt.context
            started = time.monotonic()
            try:
                with _tracing.attempt_span(attempt.assignment, attempt.assignment.task.id.name) as span:
                    self._execute(attempt, completion)
                    _tracing.record_outcome(span, completion)
                self._prefetch.observe_run(time.monotonic() - started)
            finally:
                _context.current = None
            if attempt.context.is_cancelled():
                self._forget(attempt.key)
            else:
                pending = (attempt.key, completion)
        finally:
            # The result is queued and the room freed as soon as the handler returns; the attempt stays heartbeated
            # until the result is acknowledged.
            with self._lock:
                if attempt.finished:
                    # Abandoned at the end of shutdown's grace: reported as such already.
                    pending = None
                attempt.finished = True
            self._outbox.attempt_ended(pending)
            room.give()

    def _execute(self, attempt: _Attempt, completion: worker_pb2.Completion) -> None:
        template = attempt.assignment.task
        try:
            handler = self._handler_for(template)
        except Exception as error:  # noqa: BLE001 - a failing `accepts` fails the attempt, not the worker
            completion.error.CopyFrom(execution_error(error, code="accepts_failed"))
            return
        if handler is None:
            completion.error.CopyFrom(
                system_error(f"worker {self.worker_id} has no handler for task {template.id.name}", "unknown_task")
            )
            return
        try:
            # Inputs too large for the poll's response come as references: read them first, as part of the attempt.
            resolve_map(self._admin, attempt.assignment.inputs)
        except GantryError as error:
            message = f"the worker could not read its inputs: {error}"
            completion.error.CopyFrom(system_error(message, "inputs_unavailable"))
            return
        assignment = Assignment(task=template, inputs=attempt.assignment.inputs, context=attempt.context)
        run_handler(handler, assignment, completion)

    def _handler_for(self, template: Any) -> Handler | None:
        """The `@task` function of the template's name, else the generic handler if it accepts the template."""
        by_name = self._task_handlers.get(template.id.name)
        if by_name is not None:
            return by_name
        if self.handler is not None and (self.accepts is None or self.accepts(template)):
            return self.handler
        return None

    def _abandon_running(self) -> None:
        """After the shutdown grace: report attempts still running, or claimed ahead and never started, as recoverable
        system errors."""
        with self._lock:
            # Running, or claimed ahead and never started; not those whose result is queued already.
            abandoned = [attempt for attempt in self._running.values() if not attempt.finished]
            for attempt in abandoned:
                attempt.finished = True
        for attempt in abandoned:
            if attempt.context.is_cancelled():
                continue
            attempt.context.cancelled.set()
            completion = worker_pb2.Completion(attempt=attempt.ref, lease_id=attempt.lease_id)
            what = "finished" if attempt.started else "started"
            message = f"the worker shut down before the attempt {what}"
            completion.error.CopyFrom(system_error(message, "worker_shutdown"))
            self._outbox.push((attempt.key, completion))

    def _spec_stub(self) -> worker_pb2_grpc.WorkerServiceStub:
        """A stub for a `CompleteAttempts` call that carries a dynamic spec: the server takes one as large as its spec
        limit whatever its message limit, so it goes on a channel that sends that much (opened when first needed, and
        again if the limit grew); every other call is held to `max_message_bytes`."""
        size = max(self.max_message_bytes, self._spec_limits.max_bytes + SPEC_MESSAGE_MARGIN)
        with self._lock:
            if self._spec_channel is None or self._spec_channel[0] < size:
                if self._spec_channel is not None:
                    self._spec_channel[1].close()
                channel = make_channel(
                    self.address, self.max_message_bytes, self.tls, max_send_bytes=size, token=self._token
                )
                self._spec_channel = (size, channel, worker_pb2_grpc.WorkerServiceStub(channel))
            return self._spec_channel[2]

    def _forget(self, key: tuple[str, str, int]) -> None:
        with self._lock:
            self._running.pop(key, None)

    def _cancel(self, key: tuple[str, str, int]) -> None:
        with self._lock:
            attempt = self._running.pop(key, None)
        if attempt is not None:
            attempt.context.cancelled.set()

    # --- heartbeats --------------------------------------------------------------------------------------------

    def _observe_lease(self, expires_at: Any) -> None:
        lease = expires_at.seconds + expires_at.nanos / 1e9 - time.time()
        if lease <= 0:
            return
        # Rounded up to 100 ms so that the time a message spent in flight does not wake the heartbeat loop each time.
        lease = -(-lease // 0.1) * 0.1
        if abs(lease - self._lease) > 1e-6:
            self._lease = lease
            self._lease_changed.set()

    def _heartbeat_loop(self, stop: threading.Event) -> None:
        last_beat = time.monotonic()
        while not stop.is_set():
            interval = max(self._lease / 3, MIN_HEARTBEAT_INTERVAL)
            wait = last_beat + interval - time.monotonic()
            if wait > 0:
                if self._lease_changed.wait(wait):
                    self._lease_changed.clear()
                    continue
            if stop.is_set():
                return
            last_beat = time.monotonic()
            self._beat()

    def _beat(self) -> None:
        now = time.time()
        with self._lock:
            attempts = list(self._running.values())
        for attempt in attempts:
            if attempt.deadline is not None and now >= attempt.deadline:
                # The server times the attempt out by itself; a completion would be rejected.
                log.warning("attempt %s passed its deadline, its result will be dropped", attempt.key)
                self._cancel(attempt.key)
        attempts = [a for a in attempts if not a.context.is_cancelled()]
        # One call per 10,000 attempts, the server's limit.
        for start in range(0, len(attempts), MAX_HEARTBEAT_ATTEMPTS):
            self._beat_some(attempts[start : start + MAX_HEARTBEAT_ATTEMPTS])

    def _beat_some(self, attempts: list[_Attempt]) -> None:
        request = worker_pb2.HeartbeatRequest(
            worker_id=self.worker_id,
            attempts=[worker_pb2.LeasedAttempt(attempt=a.ref, lease_id=a.lease_id) for a in attempts],
        )
        try:
            response = self._stub.Heartbeat(request, timeout=max(self._lease / 3, 1.0))
        except grpc.RpcError as error:
            # The next beat retries; the lease outlives two missed beats.
            log.warning("heartbeat failed: %s: %s", error.code().name, error.details())
            return
        # One status per attempt, in request order; an attempt left unanswered is heartbeated again next time.
        for attempt, status in zip(attempts, response.statuses, strict=False):
            if status.state == worker_pb2.LEASE_STATE_EXTENDED:
                self._observe_lease(status.lease_expires_at)
            elif status.state == worker_pb2.LEASE_STATE_CANCEL:
                log.info("server cancelled attempt %s, stopping it", attempt.key)
                self._cancel(attempt.key)
            elif status.state == worker_pb2.LEASE_STATE_LOST and attempt.finished:
                # A beat that reached the server after the attempt's result was recorded: nothing to stop. (Had the
                # lease really been lost, the completion's answer says so.)
                log.debug("attempt %s ended before its heartbeat arrived", attempt.key)
                self._cancel(attempt.key)
            elif status.state == worker_pb2.LEASE_STATE_LOST:
                log.warning("lease of attempt %s lost, stopping it", attempt.key)
                self._cancel(attempt.key)
