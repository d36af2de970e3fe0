//! Gantry's protobuf IDL (`proto/gantry/v1/*.proto`), compiled into Rust messages, tonic clients and servers, and the
//! conversions between the wire messages and `gantry_core`'s model.
//!
//! The clients and servers (and `From<ConversionError> for tonic::Status`) come with the `services` feature; without
//! it the crate is prost messages only and does not depend on tonic, which is how the engine uses it.
//!
//! This crate owns the wire format and its validation at the edge: `TryFrom<pb::X>` for every core type rejects a
//! malformed message with a [`convert::ConversionError`] naming the exact field path. It must not depend on the
//! engine, the store or the server; they depend on it.
#![forbid(unsafe_code)]

pub mod convert;
pub mod lazy;
pub mod references;

/// Generated code for the `gantry.v1` package.
pub mod gantry {
    /// Messages, enums, and (with the `services` feature) `AdminService` and `WorkerService` clients and servers of
    /// `gantry.v1`.
    // prost spells every path out in full; clippy's style lints are not ours to satisfy in generated code.
    #[allow(unused_qualifications, clippy::all)]
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/gantry.v1.rs"));
    }
}

/// The generated `gantry.v1` package under a short name, conventionally imported as `pb`.
pub use gantry::v1;

/// The encoded `FileDescriptorSet` of every `gantry.v1` file and its imports, for `tonic-reflection`.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/gantry_descriptor.bin"));

/// The encoded `FileDescriptorSet` of `grpc/health/v1/health.proto` as shipped in `proto/` (verbatim from the gRPC
/// project), for `tonic-reflection`: the health service's description clients can read is the file we ship.
pub const HEALTH_FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/health_descriptor.bin"));

pub use convert::ConversionError;

/// gRPC's status codes' names by number, as the protos and the `grpc-status` documentation spell them (`NOT_FOUND`):
/// the one spelling of the per-RPC metrics' labels, the audit log's outcomes and the console's messages.
pub const STATUS_CODE_NAMES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// A status code's name (`FAILED_PRECONDITION`), from [`STATUS_CODE_NAMES`].
#[cfg(feature = "services")]
pub fn code_name(code: tonic::Code) -> &'static str {
    STATUS_CODE_NAMES.get(code as usize).copied().unwrap_or("UNKNOWN")
}

#[cfg(all(test, feature = "services"))]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_own_name() {
        for (number, name) in STATUS_CODE_NAMES.iter().enumerate() {
            let code = tonic::Code::from_i32(number as i32);
            assert_eq!(code as usize, number, "{name}");
            assert_eq!(code_name(code), *name);
        }
        assert_eq!(code_name(tonic::Code::FailedPrecondition), "FAILED_PRECONDITION");
        assert_eq!(code_name(tonic::Code::Unauthenticated), "UNAUTHENTICATED");
    }
}
