//! Literal types: what an input or output declares it holds.

use std::collections::BTreeMap;
use std::fmt;

/// Whether a blob is one file or a directory of parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum BlobDimensionality {
    #[default]
    Single,
    Multipart,
}

/// The type of a blob. An empty `format` accepts any format.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct BlobType {
    pub format: String,
    pub dimensionality: BlobDimensionality,
}

/// The type of a struct. With no fields the struct is schemaless: any JSON-like object, and attribute paths into it
/// are checked when the value is known.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct StructType {
    pub fields: BTreeMap<String, LiteralType>,
}

/// A literal type. `Union` of `[T, None]` is how an optional `T` is spelled.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LiteralType {
    Integer,
    Float,
    String,
    Boolean,
    Datetime,
    Duration,
    None,
    Binary,
    /// A node's failure as a value.
    Error,
    Struct(StructType),
    Blob(BlobType),
    Collection(Box<LiteralType>),
    /// A map with string keys and values of one type.
    Map(Box<LiteralType>),
    Union(Vec<LiteralType>),
    /// A string restricted to the given values.
    Enum(Vec<String>),
    /// A type with the name its declaring SDK gave it (Flyte's `TypeStructure.tag`: `int`, `str`, a dataclass's
    /// name), which tells apart union variants an SDK would otherwise confuse. Castability and values ignore it; a
    /// union value keeps the tagged variant it was stamped with. Never holds another `Tagged` (see
    /// [`LiteralType::tagged`]).
    Tagged(Box<TaggedType>),
}

/// A type and its tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaggedType {
    pub tag: String,
    pub ty: LiteralType,
}

impl LiteralType {
    pub fn collection(element: LiteralType) -> Self {
        LiteralType::Collection(Box::new(element))
    }

    pub fn map(value: LiteralType) -> Self {
        LiteralType::Map(Box::new(value))
    }

    pub fn optional(inner: LiteralType) -> Self {
        LiteralType::Union(vec![inner, LiteralType::None])
    }

    pub fn schemaless_struct() -> Self {
        LiteralType::Struct(StructType::default())
    }

    /// `ty` with `tag` (replacing a tag it had); `ty` itself when `tag` is empty.
    pub fn tagged(tag: String, ty: LiteralType) -> Self {
        let ty = match ty {
            LiteralType::Tagged(tagged) => tagged.ty,
            other => other,
        };
        match tag.is_empty() {
            true => ty,
            false => LiteralType::Tagged(Box::new(TaggedType { tag, ty })),
        }
    }

    /// The type without its tag, if it has one.
    pub fn untagged(&self) -> &LiteralType {
        match self {
            LiteralType::Tagged(tagged) => &tagged.ty,
            other => other,
        }
    }

    /// The tag, if the type has one.
    pub fn tag(&self) -> Option<&str> {
        match self {
            LiteralType::Tagged(tagged) => Some(&tagged.tag),
            _ => None,
        }
    }
}

impl fmt::Display for LiteralType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LiteralType::Integer => f.write_str("integer"),
            LiteralType::Float => f.write_str("float"),
            LiteralType::String => f.write_str("string"),
            LiteralType::Boolean => f.write_str("boolean"),
            LiteralType::Datetime => f.write_str("datetime"),
            LiteralType::Duration => f.write_str("duration"),
            LiteralType::None => f.write_str("none"),
            LiteralType::Binary => f.write_str("binary"),
            LiteralType::Error => f.write_str("error"),
            LiteralType::Struct(s) if s.fields.is_empty() => f.write_str("struct"),
            LiteralType::Struct(s) => {
                f.write_str("struct{")?;
                for (i, (name, ty)) in s.fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{name}: {ty}")?;
                }
                f.write_str("}")
            }
            LiteralType::Blob(b) => {
                let dim = match b.dimensionality {
                    BlobDimensionality::Single => "single",
                    BlobDimensionality::Multipart => "multipart",
                };
                if b.format.is_empty() {
                    write!(f, "blob({dim})")
                } else {
                    write!(f, "blob({}, {dim})", b.format)
                }
            }
            LiteralType::Collection(t) => write!(f, "list<{t}>"),
            LiteralType::Map(t) => write!(f, "map<string, {t}>"),
            LiteralType::Union(variants) => {
                f.write_str("union<")?;
                for (i, v) in variants.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" | ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str(">")
            }
            LiteralType::Enum(values) => write!(f, "enum{{{}}}", values.join(", ")),
            LiteralType::Tagged(tagged) => write!(f, "{} ({:?})", tagged.ty, tagged.tag),
        }
    }
}
