//! The type syntax of spec files and tables: `integer`, `float`, `string`, `boolean`, `datetime`, `duration`,
//! `binary`, `none`, `error`, `struct`, `struct{a: integer}`, `blob`, `blob(csv)`, `blob(csv, multipart)`, `list<T>`,
//! `map<T>` (also `map<string, T>`), `optional<T>`, `union<A | B>` and `enum{red, green}`.
//! Aliases: `int`, `bool`, `str`, `bytes`.

use gantry_core::model::{BlobDimensionality, BlobType, LiteralType, StructType};

/// Parses a type; the error says what was expected where.
pub fn parse_type(text: &str) -> Result<LiteralType, String> {
    let mut parser = Parser { text, pos: 0 };
    let ty = parser.ty()?;
    parser.skip_space();
    if parser.pos != text.len() {
        return Err(parser.error("end of type"));
    }
    Ok(ty)
}

/// Formats a type in the syntax [`parse_type`] reads. The syntax has no tags: a tagged type is written as its type.
pub fn format_type(ty: &LiteralType) -> String {
    match ty {
        LiteralType::Tagged(tagged) => format_type(&tagged.ty),
        LiteralType::Integer => "integer".to_owned(),
        LiteralType::Float => "float".to_owned(),
        LiteralType::String => "string".to_owned(),
        LiteralType::Boolean => "boolean".to_owned(),
        LiteralType::Datetime => "datetime".to_owned(),
        LiteralType::Duration => "duration".to_owned(),
        LiteralType::None => "none".to_owned(),
        LiteralType::Binary => "binary".to_owned(),
        LiteralType::Error => "error".to_owned(),
        LiteralType::Struct(s) if s.fields.is_empty() => "struct".to_owned(),
        LiteralType::Struct(s) => {
            let fields: Vec<String> = s
                .fields
                .iter()
                .map(|(k, v)| format!("{k}: {}", format_type(v)))
                .collect();
            format!("struct{{{}}}", fields.join(", "))
        }
        LiteralType::Blob(blob) => {
            let dimensionality = match blob.dimensionality {
                BlobDimensionality::Single => None,
                BlobDimensionality::Multipart => Some("multipart"),
            };
            match (blob.format.as_str(), dimensionality) {
                ("", None) => "blob".to_owned(),
                ("", Some(d)) => format!("blob({d})"),
                (format, None) => format!("blob({format})"),
                (format, Some(d)) => format!("blob({format}, {d})"),
            }
        }
        LiteralType::Collection(element) => format!("list<{}>", format_type(element)),
        LiteralType::Map(value) => format!("map<{}>", format_type(value)),
        LiteralType::Union(variants) if variants.len() == 2 && variants[1] == LiteralType::None => {
            format!("optional<{}>", format_type(&variants[0]))
        }
        LiteralType::Union(variants) => {
            let variants: Vec<String> = variants.iter().map(format_type).collect();
            format!("union<{}>", variants.join(" | "))
        }
        LiteralType::Enum(values) => format!("enum{{{}}}", values.join(", ")),
    }
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, expected: &str) -> String {
        format!("type {:?}: expected {expected} at position {}", self.text, self.pos)
    }

    fn skip_space(&mut self) {
        while self.text[self.pos..].starts_with(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, token: char) -> bool {
        self.skip_space();
        if self.text[self.pos..].starts_with(token) {
            self.pos += token.len_utf8();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, token: char) -> Result<(), String> {
        if self.eat(token) {
            Ok(())
        } else {
            Err(self.error(&format!("{token:?}")))
        }
    }

    /// A name: letters, digits, `_`, `-` and `.`.
    fn word(&mut self) -> Result<&str, String> {
        self.skip_space();
        let rest = &self.text[self.pos..];
        let len = rest
            .find(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.')))
            .unwrap_or(rest.len());
        if len == 0 {
            return Err(self.error("a name"));
        }
        let word = &self.text[self.pos..self.pos + len];
        self.pos += len;
        Ok(word)
    }

    fn ty(&mut self) -> Result<LiteralType, String> {
        let start = self.pos;
        let word = self.word()?.to_ascii_lowercase();
        Ok(match word.as_str() {
            "integer" | "int" => LiteralType::Integer,
            "float" => LiteralType::Float,
            "string" | "str" => LiteralType::String,
            "boolean" | "bool" => LiteralType::Boolean,
            "datetime" => LiteralType::Datetime,
            "duration" => LiteralType::Duration,
            "none" => LiteralType::None,
            "binary" | "bytes" => LiteralType::Binary,
            "error" => LiteralType::Error,
            "list" => LiteralType::collection(self.one_parameter()?),
            "optional" => LiteralType::optional(self.one_parameter()?),
            "map" => {
                self.expect('<')?;
                let mut value = self.ty()?;
                if value == LiteralType::String && self.eat(',') {
                    value = self.ty()?;
                }
                self.expect('>')?;
                LiteralType::map(value)
            }
            "union" => {
                self.expect('<')?;
                let mut variants = vec![self.ty()?];
                while self.eat('|') {
                    variants.push(self.ty()?);
                }
                self.expect('>')?;
                LiteralType::Union(variants)
            }
            "enum" => {
                self.expect('{')?;
                let mut values = vec![self.word()?.to_owned()];
                while self.eat(',') {
                    values.push(self.word()?.to_owned());
                }
                self.expect('}')?;
                LiteralType::Enum(values)
            }
            "struct" => {
                let mut fields = std::collections::BTreeMap::new();
                if self.eat('{') && !self.eat('}') {
                    loop {
                        let name = self.word()?.to_owned();
                        self.expect(':')?;
                        fields.insert(name, self.ty()?);
                        if !self.eat(',') {
                            break;
                        }
                    }
                    self.expect('}')?;
                }
                LiteralType::Struct(StructType { fields })
            }
            "blob" => LiteralType::Blob(self.blob()?),
            _ => {
                self.pos = start;
                self.skip_space();
                return Err(self.error("a type (integer, float, string, boolean, datetime, duration, binary, none, struct, blob, list<T>, map<T>, optional<T>, union<A | B>, enum{..})"));
            }
        })
    }

    fn one_parameter(&mut self) -> Result<LiteralType, String> {
        self.expect('<')?;
        let ty = self.ty()?;
        self.expect('>')?;
        Ok(ty)
    }

    /// `(format)`, `(multipart)`, `(format, multipart)`, `(format, single)`, or nothing.
    fn blob(&mut self) -> Result<BlobType, String> {
        let mut blob = BlobType::default();
        if !self.eat('(') {
            return Ok(blob);
        }
        let mut words = vec![self.word()?.to_owned()];
        while self.eat(',') {
            words.push(self.word()?.to_owned());
        }
        self.expect(')')?;
        if let Some(last) = words.last() {
            let dimensionality = match last.as_str() {
                "single" => Some(BlobDimensionality::Single),
                "multipart" => Some(BlobDimensionality::Multipart),
                _ => None,
            };
            if let Some(dimensionality) = dimensionality {
                blob.dimensionality = dimensionality;
                words.pop();
            }
        }
        match words.as_slice() {
            [] => {}
            [format] => blob.format = format.clone(),
            _ => return Err(self.error("blob(format, single|multipart)")),
        }
        Ok(blob)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_parses_and_formats_back() {
        for text in [
            "integer",
            "float",
            "string",
            "boolean",
            "datetime",
            "duration",
            "binary",
            "none",
            "struct",
            "struct{a: integer, b: list<string>}",
            "blob",
            "blob(csv)",
            "blob(multipart)",
            "blob(parquet, multipart)",
            "list<map<optional<integer>>>",
            "union<integer | string | none>",
            "enum{red, green}",
        ] {
            let ty = parse_type(text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(format_type(&ty), text);
        }
    }

    #[test]
    fn aliases_and_the_core_spellings_parse() {
        assert_eq!(parse_type("int"), Ok(LiteralType::Integer));
        assert_eq!(
            parse_type(" list < bool > "),
            Ok(LiteralType::collection(LiteralType::Boolean))
        );
        assert_eq!(
            parse_type("map<string, float>"),
            Ok(LiteralType::map(LiteralType::Float))
        );
        assert_eq!(parse_type("map<string>"), Ok(LiteralType::map(LiteralType::String)));
        assert_eq!(
            parse_type("optional<str>"),
            Ok(LiteralType::optional(LiteralType::String))
        );
    }

    #[test]
    fn errors_say_what_was_expected_where() {
        let error = parse_type("list<integr>").unwrap_err();
        assert!(error.contains("position 5"), "{error}");
        assert!(parse_type("list<integer").unwrap_err().contains("'>'"));
        assert!(parse_type("integer extra").is_err());
    }
}
