//! Logging in: the token (an API key, or an OIDC bearer token) is checked with one call, then kept in an HttpOnly,
//! SameSite=Strict cookie that every later call presents as `authorization`. Logging out forgets it.

use std::sync::Arc;

use axum::Form;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use gantry_proto::v1 as pb;
use http::header::SET_COOKIE;
use http::{HeaderMap, StatusCode};
use maud::{Markup, html};
use serde::Deserialize;

use crate::Console;
use crate::error::{ConsoleError, status_line};
use crate::grpc::Api;
use crate::layout;
use crate::session;

/// `GET /login`.
pub async fn form(State(console): State<Arc<Console>>) -> Markup {
    login_page(&console, None)
}

/// The login form's fields.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    token: String,
}

/// `POST /login`: checks the token with a listing any valid caller may make, then keeps it.
pub async fn submit(
    State(console): State<Arc<Console>>,
    api: Api,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, ConsoleError> {
    let token = form.token.trim().to_owned();
    if !session::cookie_safe(&token) {
        let page = login_page(
            &console,
            Some("That is not a token: it is empty or holds spaces or separators."),
        );
        return Ok((StatusCode::BAD_REQUEST, page).into_response());
    }
    let api = api.with_token(token.clone());
    let probe = pb::ListExecutionsRequest {
        project: console.config.default_project.clone(),
        domain: console.config.default_domain.clone(),
        page_size: 1,
        ..Default::default()
    };
    if let Err(status) = api.admin().list_executions(api.request(probe)).await
        && matches!(status.code(), tonic::Code::Unauthenticated)
    {
        let page = login_page(&console, Some(&status_line(&status)));
        return Ok((StatusCode::UNAUTHORIZED, page).into_response());
    }
    let secure = headers
        .get(http::header::ORIGIN)
        .and_then(|origin| origin.to_str().ok())
        .is_some_and(|origin| origin.starts_with("https://"));
    Ok((
        [(SET_COOKIE, session::set_cookie(&token, secure))],
        Redirect::to("/executions"),
    )
        .into_response())
}

/// `POST /logout`.
pub async fn logout() -> Result<Response, ConsoleError> {
    Ok(([(SET_COOKIE, session::clear_cookie())], Redirect::to("/login")).into_response())
}

fn login_page(console: &Console, refused: Option<&str>) -> Markup {
    let body = html! {
        @if !console.config.authenticating {
            p.notice { "This server runs without authentication (developer mode): no login is needed." }
        }
        @if let Some(message) = refused {
            p.error role="alert" { (message) }
        }
        form.login method="post" action="/login" {
            label for="token" { "API key or OIDC token" }
            input #token type="password" name="token" autocomplete="off" required autofocus;
            p { button type="submit" { "Log in" } }
        }
        p.muted { "The token is kept in a cookie that scripts cannot read, and sent with each of the console's calls." }
    };
    layout::page("Log in", body)
}
