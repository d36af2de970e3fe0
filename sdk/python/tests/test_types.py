"""Python types as literal types and values as literals: offline, and round-tripped through the server and the
Python worker (client -> server -> worker -> server -> client)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Optional, Union

import pytest

import tasks
from gantry import Blob, Directory, ErrorValue
from gantry.types import LiteralTypeError, from_literal, literal_type, to_literal
from gantry.v1 import types_pb2

UTC = dt.timezone.utc


def sample_record(i: int) -> tasks.Record:
    return tasks.Record(
        id=i,
        score=0.5 + i,
        label=f"record {i}",
        active=i % 2 == 0,
        tags=["a", "b"][: i + 1],
        weights={"w": 1.25 * i},
        owner=tasks.Owner(name="ada", joined=dt.datetime(2024, 2, 29, 12, 30, 15, 123456, tzinfo=UTC)),
        parent=None if i == 0 else i - 1,
        payload=bytes([0, 255, i]),
        timeout=dt.timedelta(minutes=5, microseconds=250),
        source=Blob(uri=f"s3://bucket/{i}.csv", format="csv"),
    )


EVERYTHING = tasks.Everything(
    i=-(2**63),
    f=3.25,
    s="héllo\n",
    b=True,
    when=dt.datetime(1969, 7, 20, 20, 17, 40, 500001, tzinfo=UTC),
    span=dt.timedelta(days=-1, seconds=3, microseconds=7),
    raw=b"\x00\x01binary\xff",
    ints=[1, 2, 2**62],
    nested={"x": [1.5, -2.0], "empty": []},
    maybe=42,
    nothing=None,
    either="text",
    record=sample_record(1),
    records=[sample_record(0), sample_record(2)],
    blob=Blob(uri="file:///tmp/data.parquet", format="parquet"),
    folder=Directory(uri="s3://bucket/prefix/"),
    free={"a": 1.5, "b": [1.0, "x", None], "c": {"d": True}},
)


def test_every_supported_type_round_trips_through_server_and_worker(client):
    outputs = client.run(tasks.echo_everything, EVERYTHING._asdict()).outputs(timeout=60)
    assert outputs == EVERYTHING._asdict()
    # Typed as declared, not just equal.
    for name, expected in tasks.EXPECTED_TYPES.items():
        assert type(outputs[name]) is expected, name


def test_execution_inputs_read_back_untyped(client):
    execution = client.run(tasks.add_one, x=41)
    assert execution.result(timeout=60) == 42
    assert client.inputs_of(execution) == {"x": 41}


@pytest.mark.parametrize(
    "py_type, expected",
    [
        (int, types_pb2.LiteralType(simple=types_pb2.SIMPLE_TYPE_INTEGER)),
        (float, types_pb2.LiteralType(simple=types_pb2.SIMPLE_TYPE_FLOAT)),
        (str, types_pb2.LiteralType(simple=types_pb2.SIMPLE_TYPE_STRING)),
        (bool, types_pb2.LiteralType(simple=types_pb2.SIMPLE_TYPE_BOOLEAN)),
        (dt.datetime, types_pb2.LiteralType(simple=types_pb2.SIMPLE_TYPE_DATETIME)),
        (dt.timedelta, types_pb2.LiteralType(simple=types_pb2.SIMPLE_TYPE_DURATION)),
        (bytes, types_pb2.LiteralType(simple=types_pb2.SIMPLE_TYPE_BINARY)),
        (
            list[int],
            types_pb2.LiteralType(collection_type=types_pb2.LiteralType(simple=types_pb2.SIMPLE_TYPE_INTEGER)),
        ),
        (
            dict[str, bool],
            types_pb2.LiteralType(map_value_type=types_pb2.LiteralType(simple=types_pb2.SIMPLE_TYPE_BOOLEAN)),
        ),
        (
            Optional[str],
            types_pb2.LiteralType(
                union_type=types_pb2.UnionType(
                    variants=[
                        types_pb2.LiteralType(simple=types_pb2.SIMPLE_TYPE_STRING),
                        types_pb2.LiteralType(simple=types_pb2.SIMPLE_TYPE_NONE),
                    ]
                )
            ),
        ),
        (
            Blob,
            types_pb2.LiteralType(blob=types_pb2.BlobType(dimensionality=types_pb2.BLOB_DIMENSIONALITY_SINGLE)),
        ),
        (
            Directory,
            types_pb2.LiteralType(blob=types_pb2.BlobType(dimensionality=types_pb2.BLOB_DIMENSIONALITY_MULTIPART)),
        ),
        (dict, types_pb2.LiteralType(struct_type=types_pb2.StructType())),
        (ErrorValue, types_pb2.LiteralType(simple=types_pb2.SIMPLE_TYPE_ERROR)),
    ],
)
def test_literal_types(py_type, expected):
    assert literal_type(py_type) == expected


def test_int_or_none_spelled_with_a_bar_is_optional():
    assert literal_type(int | None) == literal_type(Optional[int])


def test_a_dataclass_is_a_struct_with_its_fields():
    struct = literal_type(tasks.Record).struct_type
    assert sorted(struct.fields) == sorted(f.name for f in dataclasses.fields(tasks.Record))
    # JSON carries datetimes as RFC 3339 strings, and the field is declared as what carries it.
    assert struct.fields["owner"].struct_type.fields["joined"].simple == types_pb2.SIMPLE_TYPE_STRING
    assert struct.fields["parent"].HasField("union_type")


@pytest.mark.parametrize(
    "value, py_type",
    [
        (0, int),
        (1.0, float),
        ("", str),
        (False, bool),
        (dt.datetime(2000, 1, 1, tzinfo=UTC), dt.datetime),
        (dt.timedelta(seconds=-1, microseconds=1), dt.timedelta),
        (b"", bytes),
        ([[1], [], [2, 3]], list[list[int]]),
        ({"k": None, "v": 1}, dict[str, Optional[int]]),
        (7, Union[str, int]),
        (sample_record(3), tasks.Record),
        (Blob("s3://b/k"), Blob),
        (ErrorValue("n0/0/dn1", "boom"), ErrorValue),
        (ErrorValue(), Optional[ErrorValue]),
    ],
)
def test_values_round_trip_offline(value, py_type):
    assert from_literal(to_literal(value, py_type), py_type) == value


def test_naive_datetimes_are_taken_as_utc():
    naive = dt.datetime(2020, 5, 17, 10, 0)
    assert from_literal(to_literal(naive, dt.datetime), dt.datetime) == naive.replace(tzinfo=UTC)


@pytest.mark.parametrize(
    "value, py_type, where",
    [
        (True, int, ""),
        ("1", int, ""),
        (2**63, int, ""),
        ([1, "two"], list[int], "[1]"),
        ({"a": [1.0, "x"]}, dict[str, list[float]], "['a'][1]"),
        (b"x", Optional[int], ""),
    ],
)
def test_values_of_the_wrong_type_are_refused_with_where(value, py_type, where):
    with pytest.raises(LiteralTypeError) as refused:
        to_literal(value, py_type)
    assert refused.value.path == where


def test_types_gantry_cannot_express_are_refused():
    with pytest.raises(LiteralTypeError):
        literal_type(dict[int, str])
    with pytest.raises(LiteralTypeError):
        literal_type(set[int])


def test_an_error_value_round_trips_through_server_and_worker(client):
    failure = ErrorValue(failed_node_id="n0/0/dn3", message="the disk is full")
    handled = client.run(tasks.describe_failure, failure=failure).result(timeout=60)
    assert handled == ErrorValue(failed_node_id="n0/0/dn3", message="handled: the disk is full; retry: None")
    with pytest.raises(LiteralTypeError, match="expected ErrorValue, got str"):
        client.run(tasks.describe_failure, failure="not an error")
