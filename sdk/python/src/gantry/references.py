"""References: the server answers with them (`Literal.offloaded`, a node's `dynamic_spec_reference`) in place of
values too large for one response, and streams their bytes with `ReadOffloaded` (admin.proto). The client reads them
before it hands values out, and the worker before a task runs, so that users see values. Every read is checked
against the reference's size and SHA-256."""

from __future__ import annotations

import hashlib

import grpc

from gantry.errors import GantryError
from gantry.v1 import admin_pb2, dynamic_pb2, literals_pb2

# A reference's bytes arrive in chunks of about 1 MiB; the stream as a whole may take a while for large values.
READ_TIMEOUT = 600


def holds_reference(literal: literals_pb2.Literal) -> bool:
    """Whether the literal is, or holds at any depth, a reference."""
    kind = literal.WhichOneof("value")
    if kind == "offloaded":
        return True
    if kind == "collection":
        return any(holds_reference(item) for item in literal.collection.literals)
    if kind == "map":
        return any(holds_reference(item) for item in literal.map.literals.values())
    if kind == "union":
        return holds_reference(literal.union.value)
    return False


def read(admin, uri: str, size: int | None = None, sha256: str = "") -> bytes:
    """The bytes of the reference `uri`, checked against `size` and `sha256` when given. GantryError when the
    server refuses (NOT_FOUND for a reference it does not know) or the bytes do not match."""
    digest = hashlib.sha256()
    chunks = []
    try:
        for response in admin.ReadOffloaded(admin_pb2.ReadOffloadedRequest(uri=uri), timeout=READ_TIMEOUT):
            digest.update(response.chunk)
            chunks.append(response.chunk)
    except grpc.RpcError as error:
        raise GantryError(f"ReadOffloaded {uri}: {error.code().name}: {error.details()}") from None
    data = b"".join(chunks)
    if size is not None and len(data) != size:
        raise GantryError(f"ReadOffloaded {uri}: {len(data)} bytes read, {size} announced")
    if sha256 and digest.hexdigest() != sha256:
        raise GantryError(f"ReadOffloaded {uri}: SHA-256 {digest.hexdigest()}, {sha256} announced")
    return data


def resolve(admin, literal: literals_pb2.Literal) -> None:
    """Replaces, in place, every reference in the literal by the value it refers to (read and resolved in turn: a
    value read may hold references itself)."""
    kind = literal.WhichOneof("value")
    if kind == "offloaded":
        reference = literal.offloaded
        value = literals_pb2.Literal()
        value.ParseFromString(read(admin, reference.uri, reference.size_bytes, reference.sha256))
        resolve(admin, value)
        # The value read carries its own hash; one given beside the reference is kept if it has none.
        beside = literal.hash
        literal.CopyFrom(value)
        if not literal.hash:
            literal.hash = beside
    elif kind == "collection":
        for item in literal.collection.literals:
            if holds_reference(item):
                resolve(admin, item)
    elif kind == "map":
        resolve_map(admin, literal.map)
    elif kind == "union" and holds_reference(literal.union.value):
        resolve(admin, literal.union.value)


def resolve_map(admin, literal_map: literals_pb2.LiteralMap) -> literals_pb2.LiteralMap:
    """Resolves every reference in the map in place (see `resolve`), and returns it."""
    for literal in literal_map.literals.values():
        if holds_reference(literal):
            resolve(admin, literal)
    return literal_map


def read_spec(admin, reference) -> dynamic_pb2.DynamicJobSpec:
    """The dynamic spec an `OffloadedSpec` refers to."""
    spec = dynamic_pb2.DynamicJobSpec()
    spec.ParseFromString(read(admin, reference.uri, reference.size_bytes))
    return spec
