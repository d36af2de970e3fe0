"""Errors a task raises to say how it failed, and how any exception becomes the `ExecutionError` a worker reports.

The kind decides the retry budget (execution.proto, worker.proto): a user error is retried only when recoverable,
under the task's user retries; a system error is retried under the system retries. Any other exception is a
non-recoverable user error. The message carries the Python traceback, so it is visible from the client.
"""

from __future__ import annotations

import traceback

from gantry.v1 import execution_pb2

# Messages are stored and sent with every look at the error; a runaway traceback is cut to this many characters.
MAX_MESSAGE_CHARS = 32_000


class TaskError(Exception):
    """A task's failure with an explicit kind, recoverability and code."""

    kind = execution_pb2.ERROR_KIND_USER

    def __init__(self, message: str, *, recoverable: bool = False, code: str = "user_error"):
        super().__init__(message)
        self.message = message
        self.recoverable = recoverable
        self.code = code


class UserError(TaskError):
    """The task's own code or data failed. Pass `recoverable=True` when another attempt may succeed (it is then
    retried under the task's `retries`)."""


class SystemTaskError(TaskError):
    """Something outside the task failed (a dependency, the machine); retried under the system budget."""

    kind = execution_pb2.ERROR_KIND_SYSTEM

    def __init__(self, message: str, *, recoverable: bool = True, code: str = "system_error"):
        super().__init__(message, recoverable=recoverable, code=code)


def _truncate(text: str) -> str:
    if len(text) <= MAX_MESSAGE_CHARS:
        return text
    half = MAX_MESSAGE_CHARS // 2
    return f"{text[:half]}\n... ({len(text) - MAX_MESSAGE_CHARS} characters cut) ...\n{text[-half:]}"


def execution_error(error: BaseException, *, code: str | None = None) -> execution_pb2.ExecutionError:
    """The error a worker reports for an exception raised by a task: its kind and flags, and a message of the
    exception followed by its traceback."""
    details = "".join(traceback.format_exception(type(error), error, error.__traceback__)).rstrip()
    if isinstance(error, TaskError):
        summary = f"{type(error).__name__}: {error.message}"
        return execution_pb2.ExecutionError(
            kind=error.kind,
            recoverable=error.recoverable,
            code=code or error.code,
            message=_truncate(f"{summary}\n\n{details}"),
        )
    summary = f"{type(error).__name__}: {error}"
    return execution_pb2.ExecutionError(
        kind=execution_pb2.ERROR_KIND_USER,
        recoverable=False,
        code=code or "exception",
        message=_truncate(f"{summary}\n\n{details}"),
    )


def system_error(message: str, code: str, recoverable: bool = True) -> execution_pb2.ExecutionError:
    return execution_pb2.ExecutionError(
        kind=execution_pb2.ERROR_KIND_SYSTEM, recoverable=recoverable, code=code, message=message
    )


class GantryError(Exception):
    """A client-side failure: an RPC the server refused, or an execution that did not succeed."""


class TlsError(GantryError):
    """A call to an `https://` address failed at TLS: the server's certificate was not trusted, the server does not
    speak TLS there, or it refused this client's certificate. Retrying does not fix it, and nothing falls back to
    plaintext."""

    def __init__(self, address: str, cause: str):
        super().__init__(f"TLS with {address} failed: {cause}")
        self.address = address
        self.cause = cause


class ExecutionFailed(GantryError):
    """An execution ended in a phase other than SUCCEEDED; `error` is its ExecutionError (kind, code, message)."""

    def __init__(self, execution_id: str, phase: str, error: execution_pb2.ExecutionError):
        self.execution_id = execution_id
        self.phase = phase
        self.error = error
        super().__init__(f"execution {execution_id} {phase}: {error.code}: {error.message}")
