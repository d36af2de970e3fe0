//! The console's one error type and its one mapping to a page: a refused call keeps the server's code and message,
//! and an authentication or authorization refusal offers the login page.

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use maud::html;

use crate::layout;

/// Why a page could not be shown.
#[derive(Debug)]
pub enum ConsoleError {
    /// The server refused or failed the call.
    Rpc(tonic::Status),
    /// The request itself is wrong (a bad query parameter, an unknown page).
    BadRequest(String),
    /// A POST that did not come from the console's own pages.
    CrossOrigin,
    /// The server answered something the console cannot show.
    Data(String),
}

impl From<tonic::Status> for ConsoleError {
    fn from(status: tonic::Status) -> Self {
        ConsoleError::Rpc(status)
    }
}

/// The server's refusal as one line: `FAILED_PRECONDITION: execution ... already finished`.
pub fn status_line(status: &tonic::Status) -> String {
    format!("{}: {}", gantry_proto::code_name(status.code()), status.message())
}

/// Whether logging in (again, or as someone else) could help.
pub fn wants_login(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        tonic::Code::Unauthenticated | tonic::Code::PermissionDenied
    )
}

fn http_status(status: &tonic::Status) -> StatusCode {
    match status.code() {
        tonic::Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        tonic::Code::PermissionDenied => StatusCode::FORBIDDEN,
        tonic::Code::NotFound => StatusCode::NOT_FOUND,
        tonic::Code::InvalidArgument | tonic::Code::OutOfRange => StatusCode::BAD_REQUEST,
        tonic::Code::FailedPrecondition | tonic::Code::AlreadyExists | tonic::Code::Aborted => StatusCode::CONFLICT,
        tonic::Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        tonic::Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_GATEWAY,
    }
}

impl ConsoleError {
    /// What went wrong, in one line: a refused call's code and message, or the console's own reason.
    pub fn message(&self) -> String {
        match self {
            ConsoleError::Rpc(status) => status_line(status),
            ConsoleError::BadRequest(message) | ConsoleError::Data(message) => message.clone(),
            ConsoleError::CrossOrigin => {
                "this form was not sent from the console's own pages (its Origin header does not match)".to_owned()
            }
        }
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let line = self.message();
        let (code, title, login) = match &self {
            ConsoleError::Rpc(status) => {
                let title = if wants_login(status) {
                    "Not allowed"
                } else {
                    "The server refused"
                };
                (http_status(status), title, wants_login(status))
            }
            ConsoleError::BadRequest(_) => (StatusCode::BAD_REQUEST, "Bad request", false),
            ConsoleError::CrossOrigin => (StatusCode::FORBIDDEN, "Refused", false),
            ConsoleError::Data(_) => (StatusCode::BAD_GATEWAY, "Cannot show this", false),
        };
        let body = html! {
            p.error role="alert" { (line) }
            @if login {
                p { a href="/login" { "Log in" } " with an API key or token that may see this." }
            }
        };
        (code, layout::page(title, body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_keep_the_servers_code_and_message() {
        let status = tonic::Status::failed_precondition("execution already succeeded");
        assert_eq!(status_line(&status), "FAILED_PRECONDITION: execution already succeeded");
        assert_eq!(http_status(&status), StatusCode::CONFLICT);
        assert!(!wants_login(&status));
        assert!(wants_login(&tonic::Status::unauthenticated("no token")));
        assert_eq!(
            http_status(&tonic::Status::permission_denied("viewer")),
            StatusCode::FORBIDDEN
        );
    }
}
