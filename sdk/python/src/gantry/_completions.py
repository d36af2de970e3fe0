"""Reporting results. A finished attempt's result goes to the `Outbox`; the next poll carries it (results and new work
in one round trip, `PollTasksRequest.completions`), or, when no poll takes it soon, the flusher sends it with
`CompleteAttempts`: at once when no attempt is running or waiting for a slot and no poll will soon carry it (the poll
out may be waiting for work, or the worker stopped polling), at the latest `completion_linger` (5 ms) after it arrived
otherwise. Dynamic specs always go with `CompleteAttempts`, which the server decodes a node at a time.

A call holds at most `max_completion_batch` results (within the server's 1,000 per call) and as many bytes as fit in
one message; a result that does not fit waits for the next call, and one alone is sent alone. A full call is sent at
once. A call the server does not acknowledge (it, or its database, is unavailable) is sent again, with backoff, until
it is; only shutdown's grace ends that. Results the server refuses because they are malformed or over a limit are
replaced by error reports, so that the attempt ends now rather than when its lease runs out.
"""

from __future__ import annotations

import collections
import logging
import random
import threading
import time
from typing import TYPE_CHECKING, Any

import grpc

from gantry.v1 import execution_pb2, worker_pb2

if TYPE_CHECKING:
    from gantry.worker import Worker

log = logging.getLogger("gantry.worker")

# The most completions the server takes in one call, CompleteAttempts or PollTasks (worker.proto).
MAX_COMPLETIONS = 1_000
# Room left in a message beside the completions, for the request's other fields.
MESSAGE_MARGIN = 16 * 1024

# An attempt's key and the completion that reports it.
Pending = tuple[Any, worker_pb2.Completion]


def is_spec(pending: Pending) -> bool:
    """Whether this reports a dynamic spec (sent with `CompleteAttempts`, never in a poll)."""
    return pending[1].WhichOneof("result") == "dynamic_spec"


class Outbox:
    """Results waiting to be reported, shared by the poll loop and the flusher: whoever takes a result sends it.

    It also knows what the flusher decides on: how many attempts the worker holds (running, or claimed ahead and
    waiting for a slot: while there are some, more results will come), whether the poll out may be waiting for work,
    and whether the worker stopped polling.
    """

    def __init__(self, max_count: int, max_bytes: int, linger: float):
        self._max_count = max(1, min(max_count, MAX_COMPLETIONS))
        self._max_bytes = max_bytes - MESSAGE_MARGIN
        self._linger = linger
        self._condition = threading.Condition()
        # The next call's results, their size, and the results that wait for the call after it, in order.
        self._pending: list[Pending] = []
        self._bytes = 0
        self._waiting: collections.deque[tuple[Pending, int]] = collections.deque()
        # How many dynamic specs are pending or waiting.
        self._specs = 0
        # When the outbox last went from empty to holding something (time.monotonic()).
        self._since = 0.0
        self._held = 0
        self._waiting_poll = False
        self._gathering = False
        self._stopping = False
        self._finishing = False

    # --- results -----------------------------------------------------------------------------------------------

    def push(self, pending: Pending) -> None:
        with self._condition:
            self._push(pending)
            self._condition.notify_all()

    def push_all(self, pending: list[Pending]) -> None:
        """Adds results, e.g. what a poll carried when the server did not record it, or error reports in place of
        refused results."""
        if not pending:
            return
        with self._condition:
            for item in pending:
                self._push(item)
            self._condition.notify_all()

    def take_for_poll(self) -> list[Pending]:
        """The results a poll may carry: a call's worth of them, or nothing when a dynamic spec is among them (the
        flusher sends it)."""
        with self._condition:
            self._refill()
            if any(is_spec(pending) for pending in self._pending):
                return []
            return self._take()

    def next_batch(self) -> list[Pending] | None:
        """The flusher's next call: waits until there is something to send and it should go now (see the module's
        docstring). None once `finish` was called and nothing is left."""
        with self._condition:
            while True:
                if self._is_empty():
                    if self._finishing:
                        return None
                    self._condition.wait()
                    continue
                if self._send_now():
                    break
                if self._gathering:
                    # The poll being gathered carries them.
                    self._condition.wait()
                    continue
                left = self._since + self._linger - time.monotonic()
                if left <= 0:
                    break
                self._condition.wait(left)
            self._refill()
            taken = self._take()
            if not self._is_empty():
                self._since = time.monotonic()
            return taken

    # --- what the flusher decides on ---------------------------------------------------------------------------

    def attempt_claimed(self) -> None:
        """The worker holds one more attempt, until `attempt_ended`."""
        with self._condition:
            self._held += 1

    def attempt_ended(self, pending: Pending | None) -> None:
        """An attempt ended: its result, if any, is queued in the same step, so that the flusher never sees the last
        attempt gone before its result arrived."""
        with self._condition:
            self._held -= 1
            if pending is not None:
                self._push(pending)
            self._condition.notify_all()

    def set_gathering(self, gathering: bool) -> None:
        """Whether the poll loop is gathering results for the poll it is about to send, which will carry them."""
        with self._condition:
            self._gathering = gathering
            self._condition.notify_all()

    def set_waiting_poll(self, waiting: bool) -> None:
        """Whether the poll out may be waiting for work: it carries no results (a poll that carries some is answered
        at once) and the poll before it found none."""
        with self._condition:
            self._waiting_poll = waiting
            self._condition.notify_all()

    def stop(self) -> None:
        """No poll goes out any more: nothing but the attempts still held is worth waiting for."""
        with self._condition:
            self._stopping = True
            self._condition.notify_all()

    def finish(self) -> None:
        """Every attempt ended (or was abandoned): the flusher sends what is left at once and ends."""
        with self._condition:
            self._finishing = True
            self._condition.notify_all()

    # --- under the lock ----------------------------------------------------------------------------------------

    def _send_now(self) -> bool:
        # Linger only when there is something to batch: other attempts still held, or a poll that will soon carry the
        # results. A full call, a spec (never carried by a poll) and the end of shutdown go at once.
        if self._finishing or self._specs or self._waiting:
            return True
        return self._held <= 0 and (self._waiting_poll or self._stopping)

    def _is_empty(self) -> bool:
        return not self._pending and not self._waiting

    def _fits(self, size: int) -> bool:
        return not self._pending or (len(self._pending) < self._max_count and self._bytes + size <= self._max_bytes)

    def _push(self, pending: Pending) -> None:
        if self._is_empty():
            self._since = time.monotonic()
        if is_spec(pending):
            self._specs += 1
        size = pending[1].ByteSize()
        if self._waiting or not self._fits(size):
            self._waiting.append((pending, size))
            return
        self._pending.append(pending)
        self._bytes += size

    def _refill(self) -> None:
        """Starts a call with the results that waited for it."""
        while self._waiting and self._fits(self._waiting[0][1]):
            pending, size = self._waiting.popleft()
            self._pending.append(pending)
            self._bytes += size

    def _take(self) -> list[Pending]:
        taken, self._pending, self._bytes = self._pending, [], 0
        self._specs -= sum(1 for pending in taken if is_spec(pending))
        return taken


def flush_loop(worker: Worker) -> None:
    """Sends with `CompleteAttempts` what no poll takes in time, until the outbox is finished and empty."""
    outbox = worker._outbox
    while True:
        batch = outbox.next_batch()
        if batch is None:
            return
        outbox.push_all(send(worker, batch))


def _error_in_place(completion: worker_pb2.Completion, code: str, message: str) -> worker_pb2.Completion:
    replacement = worker_pb2.Completion(attempt=completion.attempt, lease_id=completion.lease_id)
    replacement.error.kind = execution_pb2.ERROR_KIND_USER
    replacement.error.code = code
    replacement.error.message = message
    return replacement


def send(worker: Worker, batch: list[Pending]) -> list[Pending]:
    """Sends one call, retrying while the server is unavailable. Returns the error reports to send in place of
    results the server refused."""
    request = worker_pb2.CompleteAttemptsRequest(
        worker_id=worker.worker_id, completions=[completion for _, completion in batch]
    )
    backoff_delay, give_up_at = 0.05, None
    while True:
        try:
            stub = worker._spec_stub() if any(is_spec(pending) for pending in batch) else worker._stub
            response = stub.CompleteAttempts(request, timeout=30)
            break
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.INVALID_ARGUMENT:
                log.error("server refused the completion batch (%s), dropped", error.details())
                for key, _ in batch:
                    worker._forget(key)
                return []
            too_large = error.code() in (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.OUT_OF_RANGE)
            if too_large and len(batch) > 1:
                # Larger than the server takes (its message limit may be below ours): halve it.
                log.warning("completion batch of %d too large (%s), splitting it", len(batch), error.details())
                half = len(batch) // 2
                return send(worker, batch[:half]) + send(worker, batch[half:])
            if too_large:
                # One result too large to send: report an error in its place.
                ((key, completion),) = batch
                if completion.WhichOneof("result") == "error":
                    worker._forget(key)
                    return []
                log.warning("completion of %s too large to send (%s), reporting an error instead", key, error.details())
                message = f"the result is too large to send: {error.details()}"
                return [(key, _error_in_place(completion, "result_too_large", message))]
            if worker._stopping.is_set():
                give_up_at = give_up_at or time.monotonic() + worker.shutdown_grace
                if time.monotonic() > give_up_at:
                    for key, _ in batch:
                        worker._forget(key)
                    return []
            log.warning(
                "sending %d completions failed (%s), retrying in %.2fs", len(batch), error.code().name, backoff_delay
            )
            time.sleep(backoff_delay * random.uniform(0.75, 1.0))
            backoff_delay = min(backoff_delay * 2, 5.0)
    return settle(worker, batch, list(response.results))


def settle(worker: Worker, batch: list[Pending], results: list[worker_pb2.CompletionResult]) -> list[Pending]:
    """Acts on the server's answer for each completion sent, by `CompleteAttempts` or in a poll: acknowledged ones stop
    being heartbeated, refused ones are replaced by an error report (returned, to be sent next) or dropped."""
    retry = []
    for key, _ in batch[len(results) :]:
        log.warning("server did not answer for the completion of %s", key)
        worker._forget(key)
    for (key, completion), result in zip(batch, results, strict=False):
        replaced = {
            grpc.StatusCode.INVALID_ARGUMENT.value[0]: ("bad_result", "the worker reported a malformed result"),
            grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]: ("result_too_large", "the result is over a server limit"),
        }.get(result.code)
        if result.status == worker_pb2.COMPLETION_STATUS_ACCEPTED:
            worker._forget(key)
        elif replaced and completion.WhichOneof("result") != "error":
            code, what = replaced
            log.warning("completion of %s refused (%s), reporting an error instead", key, result.message)
            retry.append((key, _error_in_place(completion, code, f"{what}: {result.message}")))
        else:
            log.warning("completion of %s rejected: %s", key, result.message)
            worker._forget(key)
    return retry
