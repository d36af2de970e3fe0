//! References to registered resources (`project/domain/name@version`, parts left out) and promises
//! (`node.output[0]["key"]`, `inputs.name`), as spec files and the command line spell them.

use anyhow::{anyhow, bail};
use gantry_core::model::{AttrStep, Identifier, Promise};

/// `project/domain/name@version` with any of project/domain (together) and version left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The project, when given (always with the domain).
    pub project: Option<String>,
    /// The domain, when given.
    pub domain: Option<String>,
    /// The name.
    pub name: String,
    /// The version, when given.
    pub version: Option<String>,
}

impl Reference {
    /// Parses `p/d/name@v`, `p/d/name`, `name@v` or `name`.
    pub fn parse(text: &str) -> anyhow::Result<Reference> {
        let (path, version) = match text.rsplit_once('@') {
            Some((path, version)) if !version.is_empty() => (path, Some(version.to_owned())),
            Some(_) => bail!("{text:?}: empty version after '@'"),
            None => (text, None),
        };
        let parts: Vec<&str> = path.split('/').collect();
        let reference = match parts.as_slice() {
            [name] => Reference {
                project: None,
                domain: None,
                name: (*name).to_owned(),
                version,
            },
            [project, domain, name] => Reference {
                project: Some((*project).to_owned()),
                domain: Some((*domain).to_owned()),
                name: (*name).to_owned(),
                version,
            },
            _ => bail!("{text:?} is not project/domain/name@version"),
        };
        if reference.name.is_empty() || parts.iter().any(|p| p.is_empty()) {
            bail!("{text:?}: every part of project/domain/name@version must be non-empty");
        }
        Ok(reference)
    }

    /// Fills the missing parts from `base`.
    pub fn resolve(self, base: &Identifier) -> Identifier {
        Identifier {
            project: self.project.unwrap_or_else(|| base.project.clone()),
            domain: self.domain.unwrap_or_else(|| base.domain.clone()),
            name: self.name,
            version: self.version.unwrap_or_else(|| base.version.clone()),
        }
    }
}

/// `node.output`, `inputs.name`, with a path of `[3]`, `["key"]`, `['key']` or `.key` steps.
pub fn parse_promise(text: &str) -> anyhow::Result<Promise> {
    let invalid = || anyhow!("{text:?} is not a promise like node.output or inputs.name");
    let (node, rest) = text.split_once('.').ok_or_else(invalid)?;
    let output_len = rest.find(['.', '[']).unwrap_or(rest.len());
    let (output, mut path) = rest.split_at(output_len);
    if node.is_empty() || output.is_empty() {
        return Err(invalid());
    }
    let node_id = if node == "inputs" { "" } else { node };
    let mut promise = Promise::new(node_id, output);
    while !path.is_empty() {
        if let Some(after) = path.strip_prefix('.') {
            let len = after.find(['.', '[']).unwrap_or(after.len());
            if len == 0 {
                return Err(invalid());
            }
            promise.attr_path.push(AttrStep::Key(after[..len].to_owned()));
            path = &after[len..];
        } else if let Some(after) = path.strip_prefix('[') {
            let close = after.find(']').ok_or_else(invalid)?;
            let inside = &after[..close];
            let quoted = inside.len() >= 2
                && ((inside.starts_with('"') && inside.ends_with('"'))
                    || (inside.starts_with('\'') && inside.ends_with('\'')));
            let step = if quoted {
                AttrStep::Key(inside[1..inside.len() - 1].to_owned())
            } else {
                AttrStep::Index(inside.parse().map_err(|_| invalid())?)
            };
            promise.attr_path.push(step);
            path = &after[close + 1..];
        } else {
            return Err(invalid());
        }
    }
    Ok(promise)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promises_and_references_parse() {
        let promise = parse_promise("a.out[0][\"k\"].f").unwrap();
        assert_eq!(promise.node_id, "a");
        assert_eq!(
            promise.attr_path,
            [AttrStep::Index(0), AttrStep::Key("k".into()), AttrStep::Key("f".into())]
        );
        assert_eq!(parse_promise("inputs.x").unwrap(), Promise::new("", "x"));
        assert!(parse_promise("nodot").is_err());
        assert!(parse_promise("a.out[x]").is_err());
        let base = Identifier::new("p", "d", "n", "v");
        assert_eq!(
            Reference::parse("t").unwrap().resolve(&base),
            Identifier::new("p", "d", "t", "v")
        );
        assert_eq!(
            Reference::parse("t@2").unwrap().resolve(&base),
            Identifier::new("p", "d", "t", "2")
        );
        assert_eq!(
            Reference::parse("a/b/t@3").unwrap().resolve(&base),
            Identifier::new("a", "b", "t", "3")
        );
        assert!(Reference::parse("a/t@1").is_err());
        assert!(Reference::parse("t@").is_err());
    }
}
