//! Gantry's operator console: HTML pages for executions (a list, each execution with its node tree at any depth,
//! each node with its attempts, a dynamic node with its spec drawn as a graph and its children on a timeline), the
//! registry (tasks, workflows drawn as graphs, launch plans, each with a run form), and the actions (terminate,
//! relaunch, recover), served on the server's HTTP port. The drawings are gantry-diagram's SVG (`drawings.rs` maps
//! records onto its inputs).
//!
//! Pages are rendered on the server with maud and made live with htmx (vendored, `scripts/vendor-console-assets`),
//! server-sent events from `WatchExecution`, and a small script of ours; every asset is embedded in the binary. The
//! console is a gRPC client of the server it runs in, through the server's own router and layers ([`Transport`]),
//! so every page is authenticated, authorized, audited, rate limited and counted as any other client's call.
//!
//! Must not depend on the engine, the store or the server: it sees only the admin API.
#![forbid(unsafe_code)]

mod assets;
mod drawings;
mod error;
mod format;
mod grpc;
mod layout;
mod literals;
mod live;
mod pages;
mod run_form;
mod session;
mod tally;

use std::sync::Arc;

use axum::Router;
use axum::response::Redirect;
use axum::routing::{get, post};

pub use grpc::{RouterService, Transport};

/// How the console behaves.
#[derive(Debug, Clone, Default)]
pub struct ConsoleConfig {
    /// Whether the server authenticates callers (API keys or OIDC): the console then asks for a token.
    pub authenticating: bool,
    /// The project and domain the lists open on.
    pub default_project: String,
    /// See `default_project`.
    pub default_domain: String,
}

/// What every handler shares.
#[derive(Debug)]
struct Console {
    transport: Transport,
    config: ConsoleConfig,
}

/// The console's routes, to be merged into the HTTP port's router. `transport` carries its gRPC calls (see
/// [`Transport`]).
pub fn router(transport: Transport, config: ConsoleConfig) -> Router {
    let state = Arc::new(Console { transport, config });
    Router::new()
        .route("/", get(|| async { Redirect::to("/executions") }))
        .route("/assets/{file}", get(assets::serve))
        .route("/executions", get(pages::executions::page))
        .route("/executions/rows", get(pages::executions::rows))
        .route("/executions/{id}", get(pages::execution::page))
        .route("/executions/{id}/children", get(pages::tree::children))
        .route("/executions/{id}/outputs", get(pages::tree::outputs))
        .route("/executions/{id}/row", get(pages::tree::row))
        .route("/executions/{id}/values", get(pages::execution::values))
        .route("/executions/{id}/events", get(live::events))
        .route("/executions/{id}/node", get(pages::node::page))
        .route("/executions/{id}/node-values", get(pages::node::values))
        .route("/executions/{id}/node-graph", get(pages::drawings::spec_graph))
        .route("/executions/{id}/node-timeline", get(pages::drawings::timeline))
        .route(
            "/executions/{id}/actions/{action}",
            get(pages::actions::confirm).post(pages::actions::perform),
        )
        .route("/executions/{id}/signals/{signal}", post(pages::signals::set))
        .route(
            "/schedules/{project}/{domain}/{name}/{version}",
            post(pages::schedules::set),
        )
        .route("/offloaded", get(pages::execution::offloaded))
        .route("/login", get(pages::login::form).post(pages::login::submit))
        .route("/logout", post(pages::login::logout))
        .route("/tasks", get(pages::registry::tasks))
        .route("/workflows", get(pages::registry::workflows))
        .route("/launch-plans", get(pages::registry::launch_plans))
        .route(
            "/workflows/{project}/{domain}/{name}/{version}/graph",
            get(pages::drawings::workflow_graph),
        )
        .route(
            "/{kind}/{project}/{domain}/{name}/{version}",
            get(pages::run::page).post(pages::run::submit),
        )
        .layer(axum::middleware::from_fn(same_origin_only))
        .with_state(state)
}

/// Every request that may change something (anything but GET and HEAD: logging in and out, runs, actions) must come
/// from the console's own pages: its `Origin` names the host it was sent to (`session::same_origin`). One check for
/// every route, so that no new form can forget it.
async fn same_origin_only(request: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let reads = matches!(*request.method(), http::Method::GET | http::Method::HEAD);
    if !reads && !session::same_origin(request.headers()) {
        return axum::response::IntoResponse::into_response(error::ConsoleError::CrossOrigin);
    }
    next.run(request).await
}
