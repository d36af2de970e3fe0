//! Checks of the request fields that are plain strings (projects, domains, names, worker ids, queues, node ids), in
//! one place, with the rules of `gantry_core::names` that `gantry-proto`'s conversions apply to messages. Every
//! refusal is INVALID_ARGUMENT naming the field and quoting the value by a short prefix.

use gantry_core::ids::NodeExecutionId;
use gantry_core::names::{self, Rule};
use gantry_proto::convert::check_name;
use tonic::Status;

/// A required field: INVALID_ARGUMENT when empty.
pub fn required(field: &str, value: &str) -> Result<(), Status> {
    if value.is_empty() {
        return Err(Status::invalid_argument(format!("{field} is required")));
    }
    Ok(())
}

/// A required project or domain.
pub fn project_or_domain(field: &str, value: &str) -> Result<(), Status> {
    required(field, value)?;
    name(field, value, names::PROJECT)
}

/// A required name that must follow `rule`.
pub fn name(field: &str, value: &str, rule: Rule) -> Result<(), Status> {
    Ok(check_name(field, value, rule)?)
}

/// An optional name: empty means none; otherwise it must follow `rule`.
pub fn optional_name(field: &str, value: &str, rule: Rule) -> Result<(), Status> {
    if value.is_empty() {
        return Ok(());
    }
    name(field, value, rule)
}

/// A worker's id: required, a name.
pub fn worker_id(value: &str) -> Result<(), Status> {
    required("worker_id", value)?;
    name("worker_id", value, names::NAME)
}

/// A scoped node id (`parent/attempt/child`).
pub fn node_id(field: &str, value: &str) -> Result<(), Status> {
    NodeExecutionId::parse(value)
        .map(|_| ())
        .map_err(|e| Status::invalid_argument(format!("{field}: {e}")))
}

/// A message for people from a client (a worker's error message, a terminate reason), cut to the documented cap.
pub fn capped_message(message: String) -> String {
    names::cap_message(message, names::MAX_MESSAGE_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    #[test]
    fn refusals_name_the_field_and_quote_the_value_short() {
        let refused = project_or_domain("project", "Demo").expect_err("uppercase");
        assert_eq!(refused.code(), Code::InvalidArgument);
        assert!(refused.message().contains("\"project\""), "{}", refused.message());
        assert_eq!(required("uri", "").expect_err("empty").message(), "uri is required");
        let long = worker_id(&"w".repeat(1 << 20)).expect_err("too long");
        assert!(long.message().len() < 300, "{}", long.message());
        assert!(node_id("node_id", "n0/0/dn1").is_ok());
        assert!(node_id("node_id", "n\0").is_err());
        assert!(optional_name("name", "", names::EXECUTION_NAME).is_ok());
    }
}
