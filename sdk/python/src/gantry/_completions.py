"""A worker's completion flusher: gathers finished attempts' results and sends them in `CompleteAttempts` calls.

A call is sent when it is full (`max_completion_batch` results, within the server's 1,000 per call, or as many bytes
as fit in one message; a result that does not fit waits for the next call, and one alone is sent alone), or at the
latest `completion_linger` after its first result arrived. Results the server refuses because they are malformed or
over a limit are replaced by error reports, so that the attempt ends now rather than when its lease runs out.
"""

from __future__ import annotations

import collections
import logging
import queue
import random
import time
from typing import TYPE_CHECKING, Any

import grpc

from gantry.v1 import execution_pb2, worker_pb2

if TYPE_CHECKING:
    from gantry.worker import Worker

log = logging.getLogger("gantry.worker")

# The most completions the server takes in one call (worker.proto).
MAX_COMPLETIONS = 1_000
# Room left in a message beside the completions, for the request's other fields.
MESSAGE_MARGIN = 16 * 1024

Pending = tuple[Any, worker_pb2.Completion]


def flush_loop(worker: Worker) -> None:
    """Sends results from `worker._completions` until it yields None and everything gathered is sent."""
    max_count = max(1, min(worker.max_completion_batch, MAX_COMPLETIONS))
    max_bytes = worker.max_message_bytes - MESSAGE_MARGIN
    waiting: collections.deque[tuple[Any, worker_pb2.Completion, int]] = collections.deque()
    done = False
    while True:
        batch: list[Pending] = []
        size = 0
        while waiting and (not batch or (len(batch) < max_count and size + waiting[0][2] <= max_bytes)):
            key, completion, item_size = waiting.popleft()
            batch.append((key, completion))
            size += item_size
        if not batch:
            if done:
                return
            first = worker._completions.get()
            if first is None:
                return
            batch.append(first)
            size = first[1].ByteSize()
            send_by = time.monotonic() + worker.completion_linger
            while len(batch) < max_count:
                left = send_by - time.monotonic()
                try:
                    item = worker._completions.get(timeout=left) if left > 0 else worker._completions.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    done = True
                    break
                item_size = item[1].ByteSize()
                if size + item_size > max_bytes:
                    waiting.append((item[0], item[1], item_size))
                    break
                batch.append(item)
                size += item_size
        retry = send(worker, batch)
        while retry:
            retry = send(worker, retry)


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
            response = worker._stub.CompleteAttempts(request, timeout=30)
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
    retry = []
    for key, _ in batch[len(response.results) :]:
        log.warning("server did not answer for the completion of %s", key)
        worker._forget(key)
    for (key, completion), result in zip(batch, response.results, strict=False):
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
