"""The server's limits on a dynamic spec (WorkerLimits in worker.proto), which the worker learns from every poll, and
the byte accounting that holds a generator to them: `SpecTooLarge` is what a yield past one raises."""

from __future__ import annotations

import dataclasses

from gantry.errors import UserError
from gantry.v1 import worker_pb2


class SpecTooLarge(UserError):
    """The spec would pass one of the server's limits; no retry changes that, so it is not recoverable."""

    def __init__(self, message: str):
        super().__init__(message, recoverable=False, code="spec_too_large")


# Field numbers of DynamicJobSpec.nodes (dynamic.proto) and Completion.dynamic_spec (worker.proto).
NODES_FIELD = 1
COMPLETION_SPEC_FIELD = 4


def varint_len(value: int) -> int:
    return max(1, (value.bit_length() + 6) // 7)


def field_len(field: int, body: int) -> int:
    """The encoded size of a length-delimited field with a body of `body` bytes."""
    return varint_len(field << 3) + varint_len(body) + body


@dataclasses.dataclass(frozen=True)
class SpecLimits:
    """What the server accepts in a dynamic spec (WorkerLimits in worker.proto): its nodes, and its bytes counted as
    the encoded `Completion.dynamic_spec` field. The defaults are a server's, for specs built before a poll told."""

    max_nodes: int = 1_000_000
    max_bytes: int = 256 * 1024 * 1024

    @classmethod
    def from_proto(cls, limits: worker_pb2.WorkerLimits) -> SpecLimits:
        defaults = cls()
        return cls(
            max_nodes=limits.max_spec_nodes or defaults.max_nodes,
            max_bytes=limits.max_spec_bytes or defaults.max_bytes,
        )

    def too_many_nodes(self, count: int) -> SpecTooLarge:
        return SpecTooLarge(
            f"the dynamic spec would have {count} nodes, above the server's limit of {self.max_nodes} nodes"
        )

    def too_many_bytes(self, size: int) -> SpecTooLarge:
        return SpecTooLarge(
            f"the dynamic spec would be {size} bytes, above the server's limit of {self.max_bytes} bytes"
        )
