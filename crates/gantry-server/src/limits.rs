//! Message size limits. tonic refuses a message over its decoding limit with OUT_OF_RANGE; Gantry promises
//! RESOURCE_EXHAUSTED for every exceeded limit (AIP-193), so responses carrying tonic's size refusal are relabelled on
//! their way out. Only the status code changes; tonic's message, which gives both sizes, is kept.

use http::{HeaderValue, Response};

const OUT_OF_RANGE: &str = "11";
const RESOURCE_EXHAUSTED: &str = "8";
/// The start of tonic's message for a message over the decoding limit.
const TOO_LARGE: &str = "Error, decoded message length too large";
/// The same, as it travels in the percent-encoded `grpc-message` header.
const TOO_LARGE_ENCODED: &str = "Error,%20decoded%20message%20length%20too%20large";

/// Relabels tonic's "message too large" refusal as RESOURCE_EXHAUSTED.
pub fn relabel_too_large<B>(mut response: Response<B>) -> Response<B> {
    let headers = response.headers_mut();
    let too_large = headers.get("grpc-status").is_some_and(|v| v == OUT_OF_RANGE)
        && headers
            .get("grpc-message")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|m| m.starts_with(TOO_LARGE_ENCODED) || m.starts_with(TOO_LARGE));
    if too_large {
        headers.insert("grpc-status", HeaderValue::from_static(RESOURCE_EXHAUSTED));
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
}
