//! References in literals (`OffloadedLiteral`): finding them, and replacing them by the values they name. The
//! server's readers and the Rust SDK walk literals the same way and differ only in how they read one reference, which
//! the caller gives.

use std::future::Future;
use std::pin::Pin;

use crate::v1;

/// What reading one reference (or resolving one literal) gives: the literal, or the reader's error.
pub type Reading<'a, E> = Pin<Box<dyn Future<Output = Result<v1::Literal, E>> + Send + 'a>>;

/// Whether the literal is, or holds at any depth, a reference.
pub fn holds_reference(literal: &v1::Literal) -> bool {
    use v1::literal::Value;
    match &literal.value {
        Some(Value::Offloaded(_)) => true,
        Some(Value::Collection(c)) => c.literals.iter().any(holds_reference),
        Some(Value::Map(m)) => m.literals.values().any(holds_reference),
        Some(Value::Union(u)) => u.value.as_deref().is_some_and(holds_reference),
        _ => false,
    }
}

/// What a reader puts in place of a reference: `read`, the literal the reference named, which carries its own hash;
/// the hash given beside the reference is kept when it has none.
pub fn resolved(read: v1::Literal, beside: String) -> v1::Literal {
    match read.hash.is_empty() {
        true => v1::Literal { hash: beside, ..read },
        false => read,
    }
}

/// The literal with every reference in it (in collections, maps and unions, at any depth) replaced by what `read`
/// gives for it, each value keeping its hash ([`resolved`]). Whether what was read is resolved in turn is `read`'s
/// choice.
pub fn resolve_references<'a, E: Send + 'a>(
    literal: v1::Literal,
    read: &'a (dyn Fn(v1::OffloadedLiteral) -> Reading<'a, E> + Sync),
) -> Reading<'a, E> {
    use v1::literal::Value;
    Box::pin(async move {
        if !holds_reference(&literal) {
            return Ok(literal);
        }
        let hash = literal.hash;
        let value = match literal.value {
            Some(Value::Offloaded(reference)) => return Ok(resolved(read(reference).await?, hash)),
            Some(Value::Collection(collection)) => {
                let mut literals = Vec::with_capacity(collection.literals.len());
                for item in collection.literals {
                    literals.push(resolve_references(item, read).await?);
                }
                Value::Collection(v1::LiteralCollection { literals })
            }
            Some(Value::Map(map)) => {
                let mut literals = std::collections::BTreeMap::new();
                for (key, item) in map.literals {
                    literals.insert(key, resolve_references(item, read).await?);
                }
                Value::Map(v1::LiteralMap { literals })
            }
            Some(Value::Union(mut union)) => {
                if let Some(inner) = union.value.take() {
                    union.value = Some(Box::new(resolve_references(*inner, read).await?));
                }
                Value::Union(union)
            }
            other => return Ok(v1::Literal { value: other, hash }),
        };
        Ok(v1::Literal {
            value: Some(value),
            hash,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use v1::literal::Value;

    fn int(value: i64) -> v1::Literal {
        v1::Literal {
            value: Some(Value::Integer(value)),
            hash: String::new(),
        }
    }

    fn reference(uri: &str, hash: &str) -> v1::Literal {
        v1::Literal {
            value: Some(Value::Offloaded(v1::OffloadedLiteral {
                uri: uri.to_owned(),
                ..Default::default()
            })),
            hash: hash.to_owned(),
        }
    }

    fn list(literals: Vec<v1::Literal>) -> v1::Literal {
        v1::Literal {
            value: Some(Value::Collection(v1::LiteralCollection { literals })),
            hash: String::new(),
        }
    }

    /// Reads `mem:N` as the integer N, `mem:hashed` as 7 hashed "own"; anything else is an error naming it.
    fn read(reference: v1::OffloadedLiteral) -> Reading<'static, String> {
        Box::pin(async move {
            match reference.uri.strip_prefix("mem:") {
                Some("hashed") => Ok(v1::Literal {
                    hash: "own".to_owned(),
                    ..int(7)
                }),
                Some(number) => number.parse().map(int).map_err(|_| reference.uri),
                None => Err(reference.uri),
            }
        })
    }

    #[tokio::test]
    async fn references_are_replaced_at_any_depth_and_keep_their_hashes() {
        let union = v1::Literal {
            value: Some(Value::Union(Box::new(v1::UnionValue {
                value: Some(Box::new(reference("mem:3", ""))),
                variant: None,
            }))),
            hash: String::new(),
        };
        let literal = list(vec![
            int(1),
            reference("mem:2", "beside"),
            union,
            reference("mem:hashed", "beside"),
        ]);
        assert!(holds_reference(&literal));
        let resolved = resolve_references(literal, &read).await.expect("read");
        assert!(!holds_reference(&resolved));
        let Some(Value::Collection(items)) = resolved.value else {
            panic!("a list")
        };
        assert_eq!(items.literals[0], int(1));
        assert_eq!(
            items.literals[1],
            v1::Literal {
                hash: "beside".to_owned(),
                ..int(2)
            },
            "the hash beside is kept"
        );
        let Some(Value::Union(union)) = &items.literals[2].value else {
            panic!("a union")
        };
        assert_eq!(union.value.as_deref(), Some(&int(3)));
        assert_eq!(items.literals[3].hash, "own", "the value's own hash wins");
    }

    #[tokio::test]
    async fn a_read_that_fails_fails_the_whole_literal() {
        let literal = list(vec![int(1), reference("s3://elsewhere", "")]);
        assert_eq!(
            resolve_references(literal, &read).await,
            Err("s3://elsewhere".to_owned())
        );
        // A literal without references is given back without reading.
        assert_eq!(resolve_references(int(4), &read).await, Ok(int(4)));
    }
}
