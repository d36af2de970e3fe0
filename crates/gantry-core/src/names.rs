//! What a name may be, and how a value is quoted in a message.
//!
//! Every name, id, queue and version that reaches the server has a maximum length and a character set, the same on
//! every store (a 2 MB task name must not be accepted by one store and refused by another's index). The edge
//! (`gantry-proto`'s conversions, the server's handlers) checks them with [`check`]; the rules are documented in
//! `proto/gantry/v1/identifier.proto` and the README.
//!
//! Messages quote values with [`quote`], which keeps a short prefix of a long value: an error about a 2 MB name must
//! not be 2 MB long (standard gRPC clients cannot even read a status message that large).

use std::fmt::Write;

/// The characters a name may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// `[a-z0-9][a-z0-9_-]*`: projects and domains (they are path segments in URLs and CLIs).
    Slug,
    /// `[A-Za-z0-9_-]+`: node ids and execution names.
    Word,
    /// Printable text: any character but control characters (NUL included), not starting or ending with spaces.
    Printable,
    /// Printable text without `@`, which separates a resource's name from its version (`project/domain/name@version`
    /// is how identifiers are written, stored and paged).
    ResourceName,
}

/// A kind of name: its maximum length in bytes and its characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub max_bytes: usize,
    pub charset: Charset,
}

/// Projects and domains: 1 to 63 bytes of `[a-z0-9][a-z0-9_-]*`.
pub const PROJECT: Rule = Rule {
    max_bytes: 63,
    charset: Charset::Slug,
};
/// Execution names (and node ids): 1 to 63 bytes of `[A-Za-z0-9_-]`.
pub const EXECUTION_NAME: Rule = Rule {
    max_bytes: 63,
    charset: Charset::Word,
};
/// Task, workflow and launch plan names and versions: 1 to 255 bytes of printable text without `@`.
pub const RESOURCE_NAME: Rule = Rule {
    max_bytes: 255,
    charset: Charset::ResourceName,
};
/// Queues, worker ids, variable names, error codes, cache versions: 1 to 255 bytes of printable text.
pub const NAME: Rule = Rule {
    max_bytes: 255,
    charset: Charset::Printable,
};
/// The longest scoped node id (`parent/attempt/child`, at any depth) accepted.
pub const MAX_SCOPED_NODE_ID_BYTES: usize = 4096;
/// The longest error message a worker may report (`ExecutionError.message`) or a client may give as a reason; a
/// longer one is cut to this and says so.
pub const MAX_MESSAGE_BYTES: usize = 8 * 1024;
/// How many characters of a value a message quotes.
pub const QUOTED_CHARS: usize = 64;

/// Checks `value` against `rule`; the error says what is wrong, quoting at most a prefix of the value. Empty values
/// are refused: the caller decides whether an empty field means a default before checking.
pub fn check(value: &str, rule: Rule) -> Result<(), String> {
    if value.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if value.len() > rule.max_bytes {
        return Err(format!("{} is longer than {} bytes", quote(value), rule.max_bytes));
    }
    let fits = match rule.charset {
        Charset::Slug => {
            value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
                && value.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        }
        Charset::Word => value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
        Charset::Printable => printable(value),
        Charset::ResourceName => printable(value) && !value.contains('@'),
    };
    if !fits {
        return Err(format!("{} {}", quote(value), charset_rule(rule.charset)));
    }
    Ok(())
}

fn printable(value: &str) -> bool {
    !value.chars().any(char::is_control) && value.trim() == value
}

fn charset_rule(charset: Charset) -> &'static str {
    match charset {
        Charset::Slug => "must be lowercase letters, digits, '_' and '-', starting with a letter or digit",
        Charset::Word => "may only contain letters, digits, '_' and '-'",
        Charset::Printable => {
            "must be printable text: no control characters (NUL included), no leading or trailing spaces"
        }
        Charset::ResourceName => {
            "must be printable text without '@': no control characters (NUL included), no leading or trailing spaces"
        }
    }
}

/// Quotes a value for a message: the whole value, escaped as Rust's `{:?}` does, when it is short; else its first
/// [`QUOTED_CHARS`] characters and its length, `"abc…" (2097152 bytes)`.
pub fn quote(value: &str) -> String {
    let mut chars = value.char_indices();
    match chars.nth(QUOTED_CHARS) {
        None => format!("{value:?}"),
        Some((cut, _)) => {
            let mut quoted = format!("{:?}", &value[..cut]);
            quoted.pop();
            let _ = write!(quoted, "…\" ({} bytes)", value.len());
            quoted
        }
    }
}

/// A value for a field path or a message where quotes would not fit (`literals['key']`): the value itself when it is
/// short, else its first [`QUOTED_CHARS`] characters and its length, `nnnn… (2097152 bytes)`.
pub fn shorten(value: &str) -> std::borrow::Cow<'_, str> {
    match value.char_indices().nth(QUOTED_CHARS) {
        None => std::borrow::Cow::Borrowed(value),
        Some((cut, _)) => std::borrow::Cow::Owned(format!("{}… ({} bytes)", &value[..cut], value.len())),
    }
}

/// Cuts a message longer than `max_bytes` at a character boundary and says so; a shorter one is kept as it is.
pub fn cap_message(message: String, max_bytes: usize) -> String {
    if message.len() <= max_bytes {
        return message;
    }
    let note = format!(" … (truncated from {} bytes)", message.len());
    let mut cut = max_bytes.saturating_sub(note.len());
    while !message.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut capped = message;
    capped.truncate(cut);
    capped.push_str(&note);
    capped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_quoted_whole_and_long_ones_by_a_prefix_and_their_length() {
        assert_eq!(quote("abc"), "\"abc\"");
        assert_eq!(quote("a\0b"), "\"a\\0b\"");
        let long = "x".repeat(2 << 20);
        let quoted = quote(&long);
        assert_eq!(quoted, format!("\"{}…\" (2097152 bytes)", "x".repeat(QUOTED_CHARS)));
        let multibyte = "é".repeat(100);
        assert!(quote(&multibyte).ends_with("…\" (200 bytes)"));
    }

    #[test]
    fn names_are_checked_for_length_and_characters() {
        assert!(check("demo", PROJECT).is_ok());
        assert!(check("my-project_2", PROJECT).is_ok());
        for bad in ["", "Demo", "-x", "a b", "a\0b", &"p".repeat(64)] {
            assert!(check(bad, PROJECT).is_err(), "{bad:?}");
        }
        assert!(check("gantry.examples.other_task", NAME).is_ok());
        assert!(check("ünïcode name", NAME).is_ok());
        for bad in ["", "a\0b", "tab\there", " padded", &"n".repeat(256)] {
            assert!(check(bad, NAME).is_err(), "{bad:?}");
        }
        let refused = check(&"n".repeat(2 << 20), NAME).expect_err("too long");
        assert!(refused.len() < 200, "{refused}");
        assert!(refused.contains("longer than 255 bytes"), "{refused}");
        assert!(check("module.task", RESOURCE_NAME).is_ok());
        assert!(check("task@1", RESOURCE_NAME).is_err());
        assert!(check("task@1", NAME).is_ok());
        assert!(check("run-1_a", EXECUTION_NAME).is_ok());
        assert!(check("run/1", EXECUTION_NAME).is_err());
    }

    #[test]
    fn short_values_are_kept_and_long_ones_shortened() {
        assert_eq!(shorten("key"), "key");
        assert_eq!(
            shorten(&"k".repeat(1000)),
            format!("{}… (1000 bytes)", "k".repeat(QUOTED_CHARS))
        );
    }

    #[test]
    fn long_messages_are_capped_and_say_so() {
        assert_eq!(cap_message("short".to_owned(), 10), "short");
        let capped = cap_message("é".repeat(10_000), MAX_MESSAGE_BYTES);
        assert!(capped.len() <= MAX_MESSAGE_BYTES, "{}", capped.len());
        assert!(capped.ends_with("(truncated from 20000 bytes)"), "{capped}");
    }
}
