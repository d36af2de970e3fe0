//! Values that flow between nodes. A literal is plain data: it knows nothing of where it came from.

use std::collections::BTreeMap;

use super::types::{BlobDimensionality, LiteralType};

/// A point in time, as seconds and nanoseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Timestamp {
    pub seconds: i64,
    pub nanos: i32,
}

/// A signed span of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Duration {
    pub seconds: i64,
    pub nanos: i32,
}

impl Duration {
    pub fn from_secs(seconds: i64) -> Self {
        Duration { seconds, nanos: 0 }
    }

    pub fn from_millis(millis: i64) -> Self {
        Duration {
            seconds: millis.div_euclid(1000),
            nanos: (millis.rem_euclid(1000) * 1_000_000) as i32,
        }
    }

    /// Whole milliseconds, saturating.
    pub fn as_millis(&self) -> i64 {
        self.seconds
            .saturating_mul(1000)
            .saturating_add(i64::from(self.nanos) / 1_000_000)
    }
}

/// A JSON-like value: the payload of a struct literal.
#[derive(Debug, Clone, PartialEq)]
pub enum StructValue {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    List(Vec<StructValue>),
    Object(BTreeMap<String, StructValue>),
}

/// A reference to data that lives outside the control plane (a file or a directory of parts).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Blob {
    pub uri: String,
    pub format: String,
    pub dimensionality: BlobDimensionality,
}

/// A value. Collections and maps nest; a union value carries the variant type it was stamped with.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Integer(i64),
    Float(f64),
    String(String),
    Boolean(bool),
    Datetime(Timestamp),
    Duration(Duration),
    None,
    Binary(Vec<u8>),
    /// A JSON-like object (the top level is always an object).
    Struct(BTreeMap<String, StructValue>),
    Blob(Blob),
    Collection(Vec<Literal>),
    Map(BTreeMap<String, Literal>),
    Union(Box<UnionValue>),
    /// One of the values of an enum type.
    Enum(String),
    /// A reference to a large literal: in rows, one the server moved to its blob store; in a response, also one held
    /// in a row that did not fit the response. Issued by the server only; clients and workers read the value behind
    /// it (`AdminService.ReadOffloaded`).
    Offloaded(Offloaded),
    /// A node's failure as a value (Flyte's `Scalar.error`, the input of a failure handler).
    Error(ErrorValue),
    /// A value with the hash its producer gave it (Flyte's `Literal.hash`). It is the value wherever a value is
    /// read; a cache key counts the hash instead. Never holds another `Hashed` (see [`Literal::hashed`]).
    Hashed(Box<Hashed>),
}

/// A node's failure as a value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorValue {
    /// The scoped id of the node that failed; empty when not known.
    pub failed_node_id: String,
    pub message: String,
}

/// A value and the hash its producer gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct Hashed {
    pub hash: String,
    pub value: Literal,
}

/// Where an offloaded literal lives, and what the control plane may know of it without fetching it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offloaded {
    /// The object holding the encoded literal.
    pub uri: String,
    /// The encoded literal's size in bytes.
    pub size_bytes: u64,
    /// The literal's type, for type checks.
    pub ty: LiteralType,
    /// Hex SHA-256 of the encoded literal, for cache keys.
    pub sha256: String,
}

/// A value of a union type, stamped with the variant it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct UnionValue {
    pub value: Literal,
    pub variant: LiteralType,
}

/// Named values: the inputs or outputs of a task, node, workflow or execution.
pub type LiteralMap = BTreeMap<String, Literal>;

impl Literal {
    /// `value` with `hash` (replacing a hash it had); `value` itself when `hash` is empty.
    pub fn hashed(hash: String, value: Literal) -> Literal {
        let value = value.into_unhashed();
        match hash.is_empty() {
            true => value,
            false => Literal::Hashed(Box::new(Hashed { hash, value })),
        }
    }

    /// The value, without the hash it may carry.
    pub fn unhashed(&self) -> &Literal {
        match self {
            Literal::Hashed(hashed) => &hashed.value,
            other => other,
        }
    }

    /// The value, without the hash it may carry.
    pub fn into_unhashed(self) -> Literal {
        match self {
            Literal::Hashed(hashed) => hashed.value,
            other => other,
        }
    }

    /// The value under any union stamps and hash: what comparisons and attribute paths read.
    pub fn bare(&self) -> &Literal {
        let mut literal = self;
        loop {
            literal = match literal {
                Literal::Union(union) => &union.value,
                Literal::Hashed(hashed) => &hashed.value,
                other => return other,
            };
        }
    }

    /// The hash its producer gave the value, if any.
    pub fn hash(&self) -> Option<&str> {
        match self {
            Literal::Hashed(hashed) => Some(&hashed.hash),
            _ => None,
        }
    }

    /// A short name of the literal's kind, for error messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Literal::Hashed(hashed) => hashed.value.kind_name(),
            Literal::Integer(_) => "integer",
            Literal::Float(_) => "float",
            Literal::String(_) => "string",
            Literal::Boolean(_) => "boolean",
            Literal::Datetime(_) => "datetime",
            Literal::Duration(_) => "duration",
            Literal::None => "none",
            Literal::Binary(_) => "binary",
            Literal::Struct(_) => "struct",
            Literal::Blob(_) => "blob",
            Literal::Collection(_) => "collection",
            Literal::Map(_) => "map",
            Literal::Union(_) => "union",
            Literal::Enum(_) => "enum",
            Literal::Offloaded(_) => "offloaded literal",
            Literal::Error(_) => "error",
        }
    }
}
