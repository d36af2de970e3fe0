"""Types and literals between flyteidl and gantry.v1.

Flyte -> Gantry loses what Gantry's IDL has no field for (union structure tags, the msgpack tag of a dataclass,
StructuredDataset columns, JSON schemas). Gantry -> Flyte therefore always takes the *consuming* task's flyte type
(kept in the template's plugin payload) and rebuilds the literal flytekit expects from it: the union variant with its
tag, msgpack bytes with integers restored, the StructuredDataset type with its columns, the blob type.
"""

from __future__ import annotations

import re
from typing import Any

import msgpack
from flyteidl.core import literals_pb2 as fl
from flyteidl.core import types_pb2 as ft
from google.protobuf import json_format, struct_pb2

from gantry.v1 import literals_pb2 as gl
from gantry.v1 import types_pb2 as gt


class Unsupported(ValueError):
    """A flyte construct Gantry cannot carry; the message names it and where it was met."""


_SIMPLE = {
    ft.NONE: gt.SIMPLE_TYPE_NONE,
    ft.INTEGER: gt.SIMPLE_TYPE_INTEGER,
    ft.FLOAT: gt.SIMPLE_TYPE_FLOAT,
    ft.STRING: gt.SIMPLE_TYPE_STRING,
    ft.BOOLEAN: gt.SIMPLE_TYPE_BOOLEAN,
    ft.DATETIME: gt.SIMPLE_TYPE_DATETIME,
    ft.DURATION: gt.SIMPLE_TYPE_DURATION,
    ft.BINARY: gt.SIMPLE_TYPE_BINARY,
    ft.ERROR: gt.SIMPLE_TYPE_ERROR,
}
# Flyte's BlobType.dimensionality starts at 0, Gantry's at 1 (0 is UNSPECIFIED there).
_DIMENSIONALITY = {
    ft.BlobType.SINGLE: gt.BLOB_DIMENSIONALITY_SINGLE,
    ft.BlobType.MULTIPART: gt.BLOB_DIMENSIONALITY_MULTIPART,
}
_DIMENSIONALITY_BACK = {v: k for k, v in _DIMENSIONALITY.items()}


def natural_key(name: str) -> list:
    """`o2` before `o10`: Flyte's interfaces are maps, Gantry's are lists, and outputs read best in numeric order."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _is_msgpack(flyte_type: ft.LiteralType) -> bool:
    """flytekit (>= 1.14) marks dataclasses and dicts it sends as msgpack in the type's cache-key annotation."""
    annotations = (
        json_format.MessageToDict(flyte_type.annotation.annotations) if flyte_type.HasField("annotation") else {}
    )
    return annotations.get("cache-key-metadata", {}).get("serialization-format") == "msgpack"


def to_gantry_type(flyte_type: ft.LiteralType, where: str) -> gt.LiteralType:
    """The Gantry type of a flyte type, with its structure tag (flytekit names union variants `int`, `str`, ... and
    picks the Python type by the tag of the variant a value is stamped with); `Unsupported` for `schema`."""
    result = _gantry_kind(flyte_type, where)
    if flyte_type.structure.tag:
        result.tag = flyte_type.structure.tag
    return result


def _gantry_kind(flyte_type: ft.LiteralType, where: str) -> gt.LiteralType:
    kind = flyte_type.WhichOneof("type")
    if kind == "simple":
        if flyte_type.simple == ft.STRUCT:
            fields = {
                name: to_gantry_type(field, f"{where}.{name}")
                for name, field in flyte_type.structure.dataclass_type.items()
            }
            return gt.LiteralType(struct_type=gt.StructType(fields=fields))
        if flyte_type.simple not in _SIMPLE:
            raise Unsupported(f"{where}: flyte type {ft.SimpleType.Name(flyte_type.simple)} has no Gantry equivalent")
        return gt.LiteralType(simple=_SIMPLE[flyte_type.simple])
    if kind == "blob":
        return gt.LiteralType(
            blob=gt.BlobType(
                format=flyte_type.blob.format, dimensionality=_DIMENSIONALITY[flyte_type.blob.dimensionality]
            )
        )
    if kind == "collection_type":
        return gt.LiteralType(collection_type=to_gantry_type(flyte_type.collection_type, f"{where}[]"))
    if kind == "map_value_type":
        return gt.LiteralType(map_value_type=to_gantry_type(flyte_type.map_value_type, f"{where}{{}}"))
    if kind == "enum_type":
        return gt.LiteralType(enum_type=gt.EnumType(values=list(flyte_type.enum_type.values)))
    if kind == "union_type":
        variants = [to_gantry_type(v, f"{where}|{i}") for i, v in enumerate(flyte_type.union_type.variants)]
        return gt.LiteralType(union_type=gt.UnionType(variants=variants))
    if kind == "structured_dataset_type":
        # Lossy: columns live only in the flyte type, which the consumer's plugin payload still has.
        return gt.LiteralType(
            blob=gt.BlobType(
                format=flyte_type.structured_dataset_type.format, dimensionality=gt.BLOB_DIMENSIONALITY_MULTIPART
            )
        )
    raise Unsupported(f"{where}: flyte type {kind or 'without a kind'} has no Gantry equivalent")


def to_gantry_literal(literal: fl.Literal, where: str) -> gl.Literal:
    """The Gantry literal of a flyte literal (what flytekit wrote in outputs.pb or bound in futures.pb), with the
    hash flytekit's HashMethod gave it (a file's or dataframe's URI changes every run; the hash keeps caches
    hitting). Only a top-level value carries a hash in Gantry, so hashes inside collections are left behind."""
    result = _gantry_value(literal, where)
    if literal.hash:
        result.hash = literal.hash
    return result


def _gantry_value(literal: fl.Literal, where: str) -> gl.Literal:
    kind = literal.WhichOneof("value")
    if kind == "collection":
        return gl.Literal(
            collection=gl.LiteralCollection(
                literals=[_gantry_value(item, f"{where}[{i}]") for i, item in enumerate(literal.collection.literals)]
            )
        )
    if kind == "map":
        return gl.Literal(
            map=gl.LiteralMap(literals={k: _gantry_value(v, f"{where}.{k}") for k, v in literal.map.literals.items()})
        )
    if kind != "scalar":
        raise Unsupported(f"{where}: flyte literal {kind or 'without a value'} has no Gantry equivalent")
    scalar = literal.scalar
    skind = scalar.WhichOneof("value")
    if skind == "primitive":
        return _gantry_primitive(scalar.primitive, where)
    if skind == "none_type":
        return gl.Literal(none=gl.NoneValue())
    if skind == "error":
        return gl.Literal(error=gl.ErrorValue(failed_node_id=scalar.error.failed_node_id, message=scalar.error.message))
    if skind == "blob":
        return gl.Literal(
            blob=gl.Blob(
                uri=scalar.blob.uri,
                format=scalar.blob.metadata.type.format,
                dimensionality=_DIMENSIONALITY[scalar.blob.metadata.type.dimensionality],
            )
        )
    if skind == "binary":
        if scalar.binary.tag == "msgpack":
            value = msgpack.unpackb(scalar.binary.value, strict_map_key=False)
            if not isinstance(value, dict):
                raise Unsupported(f"{where}: a msgpack value that is not an object ({type(value).__name__})")
            struct = struct_pb2.Struct()
            try:
                struct.update(value)
            except (TypeError, ValueError) as error:
                # A Struct holds JSON: bytes (or a datetime msgpack-encoded as an extension) have no place in it.
                raise Unsupported(f"{where}: a msgpack value Gantry's struct cannot hold ({error})") from error
            return gl.Literal(struct_value=struct)
        return gl.Literal(binary=scalar.binary.value)
    if skind == "generic":
        return gl.Literal(struct_value=scalar.generic)
    if skind == "union":
        return gl.Literal(
            union=gl.UnionValue(
                value=_gantry_value(scalar.union.value, where), variant=to_gantry_type(scalar.union.type, where)
            )
        )
    if skind == "structured_dataset":
        sd = scalar.structured_dataset
        return gl.Literal(
            blob=gl.Blob(
                uri=sd.uri,
                format=sd.metadata.structured_dataset_type.format,
                dimensionality=gt.BLOB_DIMENSIONALITY_MULTIPART,
            )
        )
    raise Unsupported(f"{where}: flyte scalar {skind or 'without a value'} has no Gantry equivalent")


def to_gantry_literal_map(literals: fl.LiteralMap, where: str) -> gl.LiteralMap:
    return gl.LiteralMap(literals={k: to_gantry_literal(v, f"{where}.{k}") for k, v in literals.literals.items()})


def _gantry_primitive(primitive: fl.Primitive, where: str) -> gl.Literal:
    kind = primitive.WhichOneof("value")
    if kind == "integer":
        return gl.Literal(integer=primitive.integer)
    if kind == "float_value":
        return gl.Literal(float_value=primitive.float_value)
    if kind == "string_value":
        return gl.Literal(string_value=primitive.string_value)
    if kind == "boolean":
        return gl.Literal(boolean=primitive.boolean)
    if kind == "datetime":
        return gl.Literal(datetime=primitive.datetime)
    if kind == "duration":
        return gl.Literal(duration=primitive.duration)
    raise Unsupported(f"{where}: a flyte primitive without a value")


# Gantry -> Flyte, guided by the consumer's flyte type.


def _primitive(**value: Any) -> fl.Literal:
    return fl.Literal(scalar=fl.Scalar(primitive=fl.Primitive(**value)))


def to_flyte_literal(literal: gl.Literal, flyte_type: ft.LiteralType, where: str) -> fl.Literal:
    """The flyte literal flytekit expects for `flyte_type`, from the Gantry literal the server handed the worker
    (its hash, if any, kept)."""
    result = _flyte_value(literal, flyte_type, where)
    if literal.hash:
        result.hash = literal.hash
    return result


def _flyte_value(literal: gl.Literal, flyte_type: ft.LiteralType, where: str) -> fl.Literal:
    kind = literal.WhichOneof("value")
    ftype = flyte_type.WhichOneof("type")
    if ftype == "union_type":
        return _flyte_union(literal, flyte_type, where)
    if kind == "union":
        # A union value arriving at a non-union consumer: the value itself is what it wants.
        return to_flyte_literal(literal.union.value, flyte_type, where)
    if kind == "none":
        return fl.Literal(scalar=fl.Scalar(none_type=fl.Void()))
    if ftype == "collection_type":
        if kind != "collection":
            raise Unsupported(f"{where}: expected a list for flyte type collection, got a Gantry {kind}")
        items = [
            to_flyte_literal(item, flyte_type.collection_type, f"{where}[{i}]")
            for i, item in enumerate(literal.collection.literals)
        ]
        return fl.Literal(collection=fl.LiteralCollection(literals=items))
    if ftype == "map_value_type":
        if kind != "map":
            raise Unsupported(f"{where}: expected a map for flyte type map, got a Gantry {kind}")
        return fl.Literal(
            map=fl.LiteralMap(
                literals={
                    k: to_flyte_literal(v, flyte_type.map_value_type, f"{where}.{k}")
                    for k, v in literal.map.literals.items()
                }
            )
        )
    if ftype == "enum_type":
        return _primitive(string_value=literal.enum_value if kind == "enum_value" else literal.string_value)
    if ftype == "blob":
        return fl.Literal(
            scalar=fl.Scalar(blob=fl.Blob(uri=literal.blob.uri, metadata=fl.BlobMetadata(type=flyte_type.blob)))
        )
    if ftype == "structured_dataset_type":
        sd_type = ft.StructuredDatasetType()
        sd_type.CopyFrom(flyte_type.structured_dataset_type)
        if not sd_type.format:
            sd_type.format = literal.blob.format
        return fl.Literal(
            scalar=fl.Scalar(
                structured_dataset=fl.StructuredDataset(
                    uri=literal.blob.uri, metadata=fl.StructuredDatasetMetadata(structured_dataset_type=sd_type)
                )
            )
        )
    if ftype == "simple":
        return _flyte_simple(literal, flyte_type, where)
    raise Unsupported(f"{where}: flyte type {ftype or 'without a kind'} has no Gantry equivalent")


def _flyte_simple(literal: gl.Literal, flyte_type: ft.LiteralType, where: str) -> fl.Literal:
    kind = literal.WhichOneof("value")
    simple = flyte_type.simple
    if simple == ft.STRUCT:
        value = json_format.MessageToDict(literal.struct_value)
        if _is_msgpack(flyte_type):
            value = _restore_numbers(value, flyte_type)
            return fl.Literal(scalar=fl.Scalar(binary=fl.Binary(value=msgpack.packb(value), tag="msgpack")))
        return fl.Literal(scalar=fl.Scalar(generic=literal.struct_value))
    if simple == ft.INTEGER:
        return _primitive(integer=literal.integer)
    if simple == ft.FLOAT:
        return _primitive(float_value=literal.float_value if kind == "float_value" else float(literal.integer))
    if simple == ft.STRING:
        return _primitive(string_value=literal.enum_value if kind == "enum_value" else literal.string_value)
    if simple == ft.BOOLEAN:
        return _primitive(boolean=literal.boolean)
    if simple == ft.DATETIME:
        return _primitive(datetime=literal.datetime)
    if simple == ft.DURATION:
        return _primitive(duration=literal.duration)
    if simple == ft.NONE:
        return fl.Literal(scalar=fl.Scalar(none_type=fl.Void()))
    if simple == ft.BINARY:
        return fl.Literal(scalar=fl.Scalar(binary=fl.Binary(value=literal.binary)))
    if simple == ft.ERROR:
        error = literal.error
        return fl.Literal(scalar=fl.Scalar(error=ft.Error(failed_node_id=error.failed_node_id, message=error.message)))
    raise Unsupported(f"{where}: flyte type {ft.SimpleType.Name(simple)} has no Gantry equivalent")


def _restore_numbers(value: Any, flyte_type: ft.LiteralType) -> Any:
    """Gantry structs hold numbers as doubles; a dataclass field declared INTEGER gets its int back."""
    kind = flyte_type.WhichOneof("type")
    if kind == "simple" and flyte_type.simple == ft.INTEGER and isinstance(value, float) and value.is_integer():
        return int(value)
    if kind == "simple" and flyte_type.simple == ft.STRUCT and isinstance(value, dict):
        fields = flyte_type.structure.dataclass_type
        return {k: _restore_numbers(v, fields[k]) if k in fields else v for k, v in value.items()}
    if kind == "collection_type" and isinstance(value, list):
        return [_restore_numbers(v, flyte_type.collection_type) for v in value]
    if kind == "map_value_type" and isinstance(value, dict):
        return {k: _restore_numbers(v, flyte_type.map_value_type) for k, v in value.items()}
    if kind == "union_type":
        for variant in flyte_type.union_type.variants:
            restored = _restore_numbers(value, variant)
            if restored is not value:
                return restored
    return value


def _flyte_union(literal: gl.Literal, flyte_type: ft.LiteralType, where: str) -> fl.Literal:
    """Picks the flyte variant (with its structure tag) that the Gantry value belongs to: the stamped variant when
    the value is a UnionValue, else the first variant the value converts to."""
    variants = list(flyte_type.union_type.variants)
    if literal.WhichOneof("value") == "union":
        stamped = literal.union.variant
        value = literal.union.value
        for i, variant in enumerate(variants):
            if to_gantry_type(variant, f"{where}|{i}") == stamped:
                return _union_of(value, variant, where)
        literal = value
    kind = literal.WhichOneof("value")
    for variant in variants:
        if _fits(kind, variant):
            return _union_of(literal, variant, where)
    raise Unsupported(f"{where}: a Gantry {kind} fits no variant of the flyte union")


def _union_of(value: gl.Literal, variant: ft.LiteralType, where: str) -> fl.Literal:
    return fl.Literal(scalar=fl.Scalar(union=fl.Union(value=to_flyte_literal(value, variant, where), type=variant)))


_FITS = {
    "integer": {ft.INTEGER, ft.FLOAT},
    "float_value": {ft.FLOAT},
    "string_value": {ft.STRING},
    "boolean": {ft.BOOLEAN},
    "datetime": {ft.DATETIME},
    "duration": {ft.DURATION},
    "none": {ft.NONE},
    "binary": {ft.BINARY},
    "struct_value": {ft.STRUCT},
    "error": {ft.ERROR},
}


def _fits(kind: str | None, variant: ft.LiteralType) -> bool:
    vkind = variant.WhichOneof("type")
    if vkind == "simple":
        return variant.simple in _FITS.get(kind or "", set())
    return {
        "collection_type": "collection",
        "map_value_type": "map",
        "enum_type": "enum_value",
        "blob": "blob",
        "structured_dataset_type": "blob",
    }.get(vkind or "") == kind or (vkind == "enum_type" and kind == "string_value")


def to_flyte_literal_map(literals: gl.LiteralMap, types: dict[str, ft.LiteralType], where: str) -> fl.LiteralMap:
    """A task's inputs for flytekit, each rebuilt from the task's own flyte interface."""
    result = fl.LiteralMap()
    for name, value in literals.literals.items():
        if name not in types:
            raise Unsupported(f"{where}: input {name!r} is not in the flyte interface")
        result.literals[name].CopyFrom(to_flyte_literal(value, types[name], f"{where}.{name}"))
    return result
