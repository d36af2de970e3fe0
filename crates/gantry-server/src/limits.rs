//! Refusals tonic makes before a handler runs, relabelled on their way out with the codes the protos promise:
//! - tonic refuses a message over its decoding limit with OUT_OF_RANGE; Gantry promises RESOURCE_EXHAUSTED for every
//!   exceeded limit (AIP-193);
//! - tonic answers a request whose bytes are not a protobuf message of the request's type with INTERNAL ("failed to
//!   decode Protobuf message"), the code gRPC suggests for a broken peer; but the client sent them, so Gantry answers
//!   INVALID_ARGUMENT, as for any other malformed request.
//!
//! Only the status code changes; tonic's message (the sizes, or what did not decode) is kept.

use http::{HeaderValue, Response};

const OUT_OF_RANGE: &str = "11";
const RESOURCE_EXHAUSTED: &str = "8";
const INTERNAL: &str = "13";
const INVALID_ARGUMENT: &str = "3";
/// The start of prost's message for bytes that do not decode, which tonic sends as it is.
const UNDECODABLE: &str = "failed to decode Protobuf message";
/// The same, percent-encoded.
const UNDECODABLE_ENCODED: &str = "failed%20to%20decode%20Protobuf%20message";
/// The start of tonic's message for a message over the decoding limit.
const TOO_LARGE: &str = "Error, decoded message length too large";
/// The same, as it travels in the percent-encoded `grpc-message` header.
const TOO_LARGE_ENCODED: &str = "Error,%20decoded%20message%20length%20too%20large";

/// Relabels both of tonic's refusals (see the module's comment).
pub fn relabel<B>(response: Response<B>) -> Response<B> {
    relabel_undecodable(relabel_too_large(response))
}

/// Relabels tonic's "message too large" refusal as RESOURCE_EXHAUSTED.
pub fn relabel_too_large<B>(response: Response<B>) -> Response<B> {
    relabel_one(
        response,
        (OUT_OF_RANGE, [TOO_LARGE, TOO_LARGE_ENCODED]),
        RESOURCE_EXHAUSTED,
    )
}

/// Relabels tonic's "failed to decode" refusal of a request's bytes as INVALID_ARGUMENT.
pub fn relabel_undecodable<B>(response: Response<B>) -> Response<B> {
    relabel_one(
        response,
        (INTERNAL, [UNDECODABLE, UNDECODABLE_ENCODED]),
        INVALID_ARGUMENT,
    )
}

/// Gives `to` as the status of a response whose status is `from.0` and whose message starts with one of `from.1`.
fn relabel_one<B>(mut response: Response<B>, from: (&str, [&str; 2]), to: &'static str) -> Response<B> {
    let (code, prefixes) = from;
    let headers = response.headers_mut();
    let matches = headers.get("grpc-status").is_some_and(|v| v == code)
        && headers
            .get("grpc-message")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|m| prefixes.iter().any(|prefix| m.starts_with(prefix)));
    if matches {
        headers.insert("grpc-status", HeaderValue::from_static(to));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: &'static str, message: &'static str) -> Response<()> {
        let mut response = Response::new(());
        response
            .headers_mut()
            .insert("grpc-status", HeaderValue::from_static(status));
        response
            .headers_mut()
            .insert("grpc-message", HeaderValue::from_static(message));
        response
    }

    #[test]
    fn only_the_size_refusal_is_relabelled() {
        let relabelled = relabel_too_large(response(
            "11",
            "Error,%20decoded%20message%20length%20too%20large: found 9",
        ));
        assert_eq!(relabelled.headers()["grpc-status"], "8");
        let other = relabel_too_large(response("11", "after_sequence too old"));
        assert_eq!(other.headers()["grpc-status"], "11");
        let ok = relabel_too_large(response("0", ""));
        assert_eq!(ok.headers()["grpc-status"], "0");
    }

    #[test]
    fn only_an_undecodable_request_is_relabelled_invalid() {
        let relabelled = relabel(response(
            "13",
            "failed%20to%20decode%20Protobuf%20message:%20invalid%20wire%20type",
        ));
        assert_eq!(relabelled.headers()["grpc-status"], "3");
        let stored = relabel(response("13", "stored%20inputs%20do%20not%20decode"));
        assert_eq!(
            stored.headers()["grpc-status"],
            "13",
            "the server's own data is its fault"
        );
    }
}
