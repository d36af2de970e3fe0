"""Python types and values as Gantry literal types and literals (types.proto, literals.proto).

| Python | literal type | literal |
|---|---|---|
| `int` | `integer` | `integer` |
| `float` | `float` | `float_value` (an `int` value is accepted and widened) |
| `str` | `string` | `string_value` |
| `bool` | `boolean` | `boolean` |
| `datetime.datetime` | `datetime` | `datetime` (naive values are taken as UTC; decoded as aware UTC) |
| `datetime.timedelta` | `duration` | `duration` |
| `bytes` | `binary` | `binary` |
| `list[T]` | `collection_type` | `collection` |
| `dict[str, T]` | `map_value_type` | `map` |
| `Optional[T]` | `union<T, none>` | the value of `T`, or `none` |
| `Union[A, B]` | `union<A, B>` | the value of the first variant it fits |
| a dataclass | `struct_type` with one field per dataclass field | `struct_value` (JSON, see below) |
| `dict` (bare) | schemaless `struct_type` | `struct_value` |
| `Blob` / `Directory` | `blob` (single / multipart) | `blob` |
| `ErrorValue` | `error` | `error` (a node's failure as a value) |

Inside a struct, values are JSON: numbers are doubles (integers above 2**53 lose precision), `datetime` is an RFC 3339
string, `timedelta` a number of seconds, `bytes` base64, a blob `{"uri", "format", "dimensionality"}`; the struct
type declares those fields as string, float, string and struct, the JSON that carries them.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import types as pytypes
import typing
from typing import Any

from google.protobuf import duration_pb2, struct_pb2, timestamp_pb2

from gantry.v1 import literals_pb2, types_pb2

NoneType = type(None)
UTC = dt.timezone.utc
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)


@dataclasses.dataclass(frozen=True)
class Blob:
    """A reference to one file in a blob store (`s3://bucket/key`, `file:///tmp/x`). Gantry never reads it."""

    uri: str
    format: str = ""

    dimensionality: typing.ClassVar[int] = types_pb2.BLOB_DIMENSIONALITY_SINGLE


@dataclasses.dataclass(frozen=True)
class Directory:
    """A reference to a prefix (directory) of parts in a blob store: a multipart blob."""

    uri: str
    format: str = ""

    dimensionality: typing.ClassVar[int] = types_pb2.BLOB_DIMENSIONALITY_MULTIPART


@dataclasses.dataclass(frozen=True)
class ErrorValue:
    """A node's failure as a value (Flyte's `Scalar.error`, the input of a failure handler)."""

    failed_node_id: str = ""
    message: str = ""


class LiteralTypeError(TypeError):
    """A Python type Gantry cannot express, or a value that does not fit its declared type. `path` locates the value
    inside a nested one (`[2]`, `["key"]`, `.field`)."""

    def __init__(self, message: str, path: str = ""):
        self.message = message
        self.path = path
        super().__init__(f"at {path}: {message}" if path else message)

    def within(self, step: str) -> LiteralTypeError:
        return LiteralTypeError(self.message, step + self.path)


def _args(py_type: Any) -> tuple[Any, ...]:
    return typing.get_args(py_type)


def _origin(py_type: Any) -> Any:
    return typing.get_origin(py_type)


def _is_union(py_type: Any) -> bool:
    return _origin(py_type) in (typing.Union, pytypes.UnionType)


def _strip_annotated(py_type: Any) -> Any:
    while _origin(py_type) is typing.Annotated:
        py_type = _args(py_type)[0]
    return py_type


def is_dataclass_type(py_type: Any) -> bool:
    return isinstance(py_type, type) and dataclasses.is_dataclass(py_type)


def _type_hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def dataclass_fields(cls: type) -> dict[str, Any]:
    """The init fields of a dataclass and their resolved types, in declaration order."""
    hints = _type_hints(cls)
    return {field.name: hints[field.name] for field in dataclasses.fields(cls) if field.init}


def _simple(simple: int) -> types_pb2.LiteralType:
    return types_pb2.LiteralType(simple=simple)


_SIMPLE = {
    bool: types_pb2.SIMPLE_TYPE_BOOLEAN,
    int: types_pb2.SIMPLE_TYPE_INTEGER,
    float: types_pb2.SIMPLE_TYPE_FLOAT,
    str: types_pb2.SIMPLE_TYPE_STRING,
    dt.datetime: types_pb2.SIMPLE_TYPE_DATETIME,
    dt.timedelta: types_pb2.SIMPLE_TYPE_DURATION,
    bytes: types_pb2.SIMPLE_TYPE_BINARY,
    NoneType: types_pb2.SIMPLE_TYPE_NONE,
    ErrorValue: types_pb2.SIMPLE_TYPE_ERROR,
}


# Inside a struct, types JSON cannot express are declared as what carries them. The compile-time checker would accept
# any JSON value for a datetime field, but run-time conformance (resolve::conform) demands a datetime literal, which no
# JSON value converts to; declaring the carrier keeps both satisfied.
_STRING = types_pb2.LiteralType(simple=types_pb2.SIMPLE_TYPE_STRING)
_JSON_CARRIERS = {
    dt.datetime: _STRING,
    bytes: _STRING,
    dt.timedelta: types_pb2.LiteralType(simple=types_pb2.SIMPLE_TYPE_FLOAT),
    Blob: types_pb2.LiteralType(
        struct_type=types_pb2.StructType(fields={"uri": _STRING, "format": _STRING, "dimensionality": _STRING})
    ),
}
_JSON_CARRIERS[Directory] = _JSON_CARRIERS[Blob]


def literal_type(py_type: Any, *, in_struct: bool = False) -> types_pb2.LiteralType:
    """The literal type of a Python type hint; `LiteralTypeError` for one Gantry cannot express. `in_struct` types a
    field of a dataclass, whose values travel as JSON."""
    py_type = _strip_annotated(py_type)
    if py_type is None:
        py_type = NoneType
    if in_struct and py_type in _JSON_CARRIERS:
        return _JSON_CARRIERS[py_type]
    if py_type in _SIMPLE:
        return _simple(_SIMPLE[py_type])
    if py_type in (Blob, Directory):
        return types_pb2.LiteralType(blob=types_pb2.BlobType(format="", dimensionality=py_type.dimensionality))
    if _is_union(py_type):
        variants = [literal_type(arg, in_struct=in_struct) for arg in _args(py_type)]
        return types_pb2.LiteralType(union_type=types_pb2.UnionType(variants=variants))
    origin, args = _origin(py_type), _args(py_type)
    if origin in (list, typing.List) or py_type is list:
        if len(args) != 1:
            raise LiteralTypeError("a list type needs its element type: list[int]")
        return types_pb2.LiteralType(collection_type=literal_type(args[0], in_struct=in_struct))
    if origin in (dict, typing.Dict):
        if len(args) != 2 or args[0] is not str:
            raise LiteralTypeError(f"map keys must be str: dict[str, T], got {py_type!r}")
        return types_pb2.LiteralType(map_value_type=literal_type(args[1], in_struct=in_struct))
    if py_type is dict:
        return types_pb2.LiteralType(struct_type=types_pb2.StructType())
    if is_dataclass_type(py_type):
        fields = {}
        for name, field_type in dataclass_fields(py_type).items():
            try:
                fields[name] = literal_type(field_type, in_struct=True)
            except LiteralTypeError as error:
                raise error.within(f".{name}") from None
        return types_pb2.LiteralType(struct_type=types_pb2.StructType(fields=fields))
    raise LiteralTypeError(f"Gantry has no literal type for {py_type!r}")


def _optional_inner(py_type: Any) -> Any | None:
    """`T` for `Optional[T]`, else None."""
    if _is_union(py_type):
        rest = [arg for arg in _args(py_type) if arg is not NoneType]
        if len(rest) == 1 and len(_args(py_type)) == 2:
            return rest[0]
    return None


def _fits(value: Any, py_type: Any) -> bool:
    """Whether `value` can be encoded as `py_type`, judged shallowly (for picking a union variant)."""
    py_type = _strip_annotated(py_type)
    if py_type in (None, NoneType):
        return value is None
    if py_type is bool:
        return isinstance(value, bool)
    if py_type is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if py_type is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if py_type in (str, bytes, dt.datetime, dt.timedelta, Blob, Directory) or is_dataclass_type(py_type):
        return isinstance(value, py_type)
    if _is_union(py_type):
        return any(_fits(value, arg) for arg in _args(py_type))
    origin = _origin(py_type)
    if origin is list:
        return isinstance(value, (list, tuple))
    if origin is dict or py_type is dict:
        return isinstance(value, dict)
    return False


def timestamp_of(value: dt.datetime) -> timestamp_pb2.Timestamp:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    seconds, micros = divmod(micros, 1_000_000)
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=micros * 1000)


def datetime_of(timestamp: timestamp_pb2.Timestamp) -> dt.datetime:
    return _EPOCH + dt.timedelta(seconds=timestamp.seconds, microseconds=timestamp.nanos // 1000)


def duration_of(value: dt.timedelta) -> duration_pb2.Duration:
    micros = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    sign = -1 if micros < 0 else 1
    seconds, rest = divmod(abs(micros), 1_000_000)
    # protobuf durations carry seconds and nanos with the same sign.
    return duration_pb2.Duration(seconds=sign * seconds, nanos=sign * rest * 1000)


def timedelta_of(duration: duration_pb2.Duration) -> dt.timedelta:
    return dt.timedelta(seconds=duration.seconds, microseconds=int(duration.nanos / 1000))


def hashed(value: Any, hash: str, py_type: Any = None) -> literals_pb2.Literal:
    """`value` encoded as a literal of `py_type` (inferred when None) carrying `hash`: a hash of the value chosen by
    its producer (Flyte's `Literal.hash`, e.g. of a dataframe whose URI changes every run). The hash travels with the
    value wherever it goes, and a cache key counts it instead of the value. Pass the result wherever a value goes:
    as an input to `Client.run`, or as a task's return value."""
    if not hash:
        raise ValueError("a hash must not be empty")
    literal = to_literal(value, py_type)
    literal.hash = hash
    return literal


def to_literal(value: Any, py_type: Any = None) -> literals_pb2.Literal:
    """Encodes `value` as a literal of `py_type` (inferred from the value when `py_type` is None). A literal given as
    one (see `hashed`) is taken as it is; the server checks it against the declared type."""
    if isinstance(value, literals_pb2.Literal):
        return value
    if py_type is None:
        py_type = infer_type(value)
    py_type = _strip_annotated(py_type)
    if py_type is NoneType:
        if value is not None:
            raise LiteralTypeError(f"expected None, got {type(value).__name__}")
        return literals_pb2.Literal(none=literals_pb2.NoneValue())
    if _is_union(py_type):
        if value is None and NoneType in _args(py_type):
            return literals_pb2.Literal(none=literals_pb2.NoneValue())
        for variant in _args(py_type):
            if variant is not NoneType and _fits(value, variant):
                return to_literal(value, variant)
        raise LiteralTypeError(f"{type(value).__name__} fits no variant of {py_type!r}")
    if py_type is bool:
        _expect(value, bool, "bool")
        return literals_pb2.Literal(boolean=value)
    if py_type is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise LiteralTypeError(f"expected int, got {type(value).__name__}")
        if not -(2**63) <= value < 2**63:
            raise LiteralTypeError(f"integer {value} does not fit in 64 bits")
        return literals_pb2.Literal(integer=value)
    if py_type is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise LiteralTypeError(f"expected float, got {type(value).__name__}")
        return literals_pb2.Literal(float_value=float(value))
    if py_type is str:
        _expect(value, str, "str")
        return literals_pb2.Literal(string_value=value)
    if py_type is bytes:
        if not isinstance(value, (bytes, bytearray)):
            raise LiteralTypeError(f"expected bytes, got {type(value).__name__}")
        return literals_pb2.Literal(binary=bytes(value))
    if py_type is dt.datetime:
        _expect(value, dt.datetime, "datetime")
        return literals_pb2.Literal(datetime=timestamp_of(value))
    if py_type is dt.timedelta:
        _expect(value, dt.timedelta, "timedelta")
        return literals_pb2.Literal(duration=duration_of(value))
    if py_type in (Blob, Directory):
        _expect(value, py_type, py_type.__name__)
        blob = literals_pb2.Blob(uri=value.uri, format=value.format, dimensionality=py_type.dimensionality)
        return literals_pb2.Literal(blob=blob)
    if py_type is ErrorValue:
        _expect(value, ErrorValue, "ErrorValue")
        error = literals_pb2.ErrorValue(failed_node_id=value.failed_node_id, message=value.message)
        return literals_pb2.Literal(error=error)
    origin, args = _origin(py_type), _args(py_type)
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise LiteralTypeError(f"expected a list, got {type(value).__name__}")
        items = []
        for index, item in enumerate(value):
            try:
                items.append(to_literal(item, args[0]))
            except LiteralTypeError as error:
                raise error.within(f"[{index}]") from None
        return literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=items))
    if origin is dict:
        if not isinstance(value, dict):
            raise LiteralTypeError(f"expected a dict, got {type(value).__name__}")
        entries = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise LiteralTypeError(f"map keys must be str, got {type(key).__name__}")
            try:
                entries[key] = to_literal(item, args[1])
            except LiteralTypeError as error:
                raise error.within(f"[{key!r}]") from None
        return literals_pb2.Literal(map=literals_pb2.LiteralMap(literals=entries))
    if py_type is dict:
        if not isinstance(value, dict):
            raise LiteralTypeError(f"expected a dict, got {type(value).__name__}")
        struct = struct_pb2.Struct()
        struct.update(_json_untyped(value))
        return literals_pb2.Literal(struct_value=struct)
    if is_dataclass_type(py_type):
        _expect(value, py_type, py_type.__name__)
        struct = struct_pb2.Struct()
        struct.update(_json_of(value, py_type))
        return literals_pb2.Literal(struct_value=struct)
    raise LiteralTypeError(f"Gantry has no literal type for {py_type!r}")


def _expect(value: Any, cls: type, name: str) -> None:
    if not isinstance(value, cls):
        raise LiteralTypeError(f"expected {name}, got {type(value).__name__}")


def infer_type(value: Any) -> Any:
    """A Python type hint for an untyped value (used where no interface is declared, e.g. reference tasks)."""
    if value is None:
        return NoneType
    for cls in (bool, int, float, str, bytes, dt.datetime, dt.timedelta, Blob, Directory, ErrorValue):
        if isinstance(value, cls):
            return cls
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return type(value)
    if isinstance(value, (list, tuple)):
        if not value:
            return list[int]  # An empty list's element type does not matter: no element is checked.
        return list[infer_type(value[0])]
    if isinstance(value, dict):
        if value and all(isinstance(key, str) for key in value):
            return dict[str, infer_type(next(iter(value.values())))]
        return dict[str, int]
    raise LiteralTypeError(f"cannot infer a literal type for {type(value).__name__}")


# --- JSON inside structs ---------------------------------------------------------------------------------------


def _json_untyped(value: Any) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, dict):
        return {str(key): _json_untyped(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_untyped(item) for item in value]
    return _json_of(value, infer_type(value))


def _json_of(value: Any, py_type: Any) -> Any:
    """A JSON-like value (for google.protobuf.Struct) of `value` typed `py_type`."""
    py_type = _strip_annotated(py_type)
    if value is None:
        if (
            py_type is NoneType
            or _optional_inner(py_type) is not None
            or (_is_union(py_type) and NoneType in _args(py_type))
        ):
            return None
        raise LiteralTypeError(f"expected {getattr(py_type, '__name__', py_type)}, got None")
    if _is_union(py_type):
        for variant in _args(py_type):
            if variant is not NoneType and _fits(value, variant):
                return _json_of(value, variant)
        raise LiteralTypeError(f"{type(value).__name__} fits no variant of {py_type!r}")
    if py_type is bool:
        _expect(value, bool, "bool")
        return value
    if py_type in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise LiteralTypeError(f"expected {py_type.__name__}, got {type(value).__name__}")
        if py_type is int and not isinstance(value, int):
            raise LiteralTypeError(f"expected int, got {type(value).__name__}")
        return float(value)
    if py_type is str:
        _expect(value, str, "str")
        return value
    if py_type is bytes:
        _expect(value, (bytes, bytearray), "bytes")
        return base64.b64encode(bytes(value)).decode("ascii")
    if py_type is dt.datetime:
        _expect(value, dt.datetime, "datetime")
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat()
    if py_type is dt.timedelta:
        _expect(value, dt.timedelta, "timedelta")
        return value.total_seconds()
    if py_type in (Blob, Directory):
        _expect(value, py_type, py_type.__name__)
        dimensionality = "MULTIPART" if py_type is Directory else "SINGLE"
        return {"uri": value.uri, "format": value.format, "dimensionality": dimensionality}
    origin, args = _origin(py_type), _args(py_type)
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise LiteralTypeError(f"expected a list, got {type(value).__name__}")
        out = []
        for index, item in enumerate(value):
            try:
                out.append(_json_of(item, args[0]))
            except LiteralTypeError as error:
                raise error.within(f"[{index}]") from None
        return out
    if origin is dict:
        if not isinstance(value, dict):
            raise LiteralTypeError(f"expected a dict, got {type(value).__name__}")
        out = {}
        for key, item in value.items():
            try:
                out[key] = _json_of(item, args[1])
            except LiteralTypeError as error:
                raise error.within(f"[{key!r}]") from None
        return out
    if py_type is dict:
        _expect(value, dict, "dict")
        return _json_untyped(value)
    if is_dataclass_type(py_type):
        _expect(value, py_type, py_type.__name__)
        out = {}
        for name, field_type in dataclass_fields(py_type).items():
            try:
                out[name] = _json_of(getattr(value, name), field_type)
            except LiteralTypeError as error:
                raise error.within(f".{name}") from None
        return out
    raise LiteralTypeError(f"Gantry has no literal type for {py_type!r}")


def _from_json(value: Any, py_type: Any) -> Any:
    py_type = _strip_annotated(py_type)
    if value is None:
        return None
    inner = _optional_inner(py_type)
    if inner is not None:
        return _from_json(value, inner)
    if _is_union(py_type):
        for variant in _args(py_type):
            try:
                return _from_json(value, variant)
            except (LiteralTypeError, ValueError, TypeError):
                continue
        raise LiteralTypeError(f"{value!r} fits no variant of {py_type!r}")
    if py_type is int:
        if not isinstance(value, (int, float)) or float(value) != int(value):
            raise LiteralTypeError(f"expected an integral number, got {value!r}")
        return int(value)
    if py_type is float:
        return float(value)
    if py_type in (bool, str):
        _expect(value, py_type, py_type.__name__)
        return value
    if py_type is bytes:
        return base64.b64decode(value)
    if py_type is dt.datetime:
        return dt.datetime.fromisoformat(value).astimezone(UTC)
    if py_type is dt.timedelta:
        return dt.timedelta(seconds=value)
    if py_type in (Blob, Directory):
        return py_type(uri=value["uri"], format=value.get("format", ""))
    origin, args = _origin(py_type), _args(py_type)
    if origin is list:
        return [_from_json(item, args[0]) for item in value]
    if origin is dict:
        return {key: _from_json(item, args[1]) for key, item in value.items()}
    if py_type is dict:
        return value
    if is_dataclass_type(py_type):
        fields = dataclass_fields(py_type)
        return py_type(**{name: _from_json(value.get(name), ty) for name, ty in fields.items() if name in value})
    raise LiteralTypeError(f"Gantry has no literal type for {py_type!r}")


def _struct_to_python(struct: struct_pb2.Struct) -> dict[str, Any]:
    return {key: _value_to_python(item) for key, item in struct.fields.items()}


def _value_to_python(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "null_value" or kind is None:
        return None
    if kind == "number_value":
        return value.number_value
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return _struct_to_python(value.struct_value)
    return [_value_to_python(item) for item in value.list_value.values]


# --- decoding --------------------------------------------------------------------------------------------------


def from_literal(literal: literals_pb2.Literal, py_type: Any = None) -> Any:
    """Decodes a literal as `py_type`, or, with no type, as the natural Python value (structs as dicts, blobs as
    `Blob` / `Directory`). Union values are looked through."""
    kind = literal.WhichOneof("value")
    if kind == "union":
        return from_literal(literal.union.value, py_type)
    if py_type is not None:
        py_type = _strip_annotated(py_type)
        if _is_union(py_type):
            if kind == "none":
                return None
            return _from_union_literal(literal, py_type)
    if kind == "none":
        return None
    if kind == "integer":
        return float(literal.integer) if py_type is float else literal.integer
    if kind == "float_value":
        return literal.float_value
    if kind == "string_value":
        return literal.string_value
    if kind == "enum_value":
        return literal.enum_value
    if kind == "boolean":
        return literal.boolean
    if kind == "datetime":
        return datetime_of(literal.datetime)
    if kind == "duration":
        return timedelta_of(literal.duration)
    if kind == "binary":
        return literal.binary
    if kind == "blob":
        cls = Directory if literal.blob.dimensionality == types_pb2.BLOB_DIMENSIONALITY_MULTIPART else Blob
        return cls(uri=literal.blob.uri, format=literal.blob.format)
    if kind == "collection":
        element = _args(py_type)[0] if py_type is not None and _origin(py_type) is list else None
        return [from_literal(item, element) for item in literal.collection.literals]
    if kind == "map":
        value_type = _args(py_type)[1] if py_type is not None and _origin(py_type) is dict else None
        return {key: from_literal(item, value_type) for key, item in sorted(literal.map.literals.items())}
    if kind == "struct_value":
        raw = _struct_to_python(literal.struct_value)
        if py_type is not None and is_dataclass_type(py_type):
            return _from_json(raw, py_type)
        return raw
    if kind == "error":
        return ErrorValue(failed_node_id=literal.error.failed_node_id, message=literal.error.message)
    if kind == "offloaded":
        raise LiteralTypeError("an offloaded literal reached the SDK unresolved")
    raise LiteralTypeError("a literal without a value")


_KIND_TYPES = {
    "integer": (int,),
    "float_value": (float,),
    "string_value": (str,),
    "boolean": (bool,),
    "datetime": (dt.datetime,),
    "duration": (dt.timedelta,),
    "binary": (bytes,),
    "blob": (Blob, Directory),
    "error": (ErrorValue,),
}


def _from_union_literal(literal: literals_pb2.Literal, py_type: Any) -> Any:
    kind = literal.WhichOneof("value")
    variants = [arg for arg in _args(py_type) if arg is not NoneType]
    for variant in variants:
        plain = _strip_annotated(variant)
        if kind in _KIND_TYPES and plain in _KIND_TYPES[kind]:
            return from_literal(literal, variant)
        if kind == "collection" and _origin(plain) is list:
            return from_literal(literal, variant)
        if kind == "map" and _origin(plain) is dict:
            return from_literal(literal, variant)
        if kind == "struct_value" and (is_dataclass_type(plain) or plain is dict):
            return from_literal(literal, variant)
    return from_literal(literal, variants[0] if len(variants) == 1 else None)


def literal_map(values: dict[str, Any], types: dict[str, Any] | None = None) -> literals_pb2.LiteralMap:
    """Encodes named values, each as its declared type in `types` (inferred when absent)."""
    types = types or {}
    literals = {}
    for name, value in values.items():
        try:
            literals[name] = to_literal(value, types.get(name))
        except LiteralTypeError as error:
            raise LiteralTypeError(f"{name!r}: {error}") from None
    return literals_pb2.LiteralMap(literals=literals)


def python_values(literals: literals_pb2.LiteralMap, types: dict[str, Any] | None = None) -> dict[str, Any]:
    """Decodes named literals, each as its declared type in `types` (natural decoding when absent)."""
    types = types or {}
    return {name: from_literal(literal, types.get(name)) for name, literal in literals.literals.items()}
