//! The executions list: one project and domain, optionally some phases, newest first, a page at a time (the server's
//! page tokens). The table's body polls itself every 2 s (htmx), so phases change on screen without reloading.

use std::sync::Arc;

use axum::extract::{Query, State};
use gantry_proto::v1 as pb;
use maud::{Markup, html};
use serde::Deserialize;

use crate::Console;
use crate::error::ConsoleError;
use crate::format;
use crate::grpc::Api;
use crate::layout;
use crate::literals::encode_query;
use crate::pages::{execution_link, phase_badge};

/// Executions per page.
const PAGE_SIZE: u32 = 50;

/// The list's filters, from the query string.
///
/// NEW FILTERS: ListExecutions' target, created-time range and name-or-id search go here (a field each), in
/// [`ListFilters::request`], in [`ListFilters::query`] and in [`filter_form`]'s `fieldset#more-filters`.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct ListFilters {
    /// The project (the console's default when absent).
    pub project: Option<String>,
    /// The domain (the console's default when absent).
    pub domain: Option<String>,
    /// One phase's word (`running`), or all when absent or empty.
    pub phase: Option<String>,
    /// The page to show (from the previous page's "older" link).
    pub page_token: Option<String>,
}

/// Every execution phase a filter may name, in their order.
const PHASES: [pb::ExecutionPhase; 9] = [
    pb::ExecutionPhase::Queued,
    pb::ExecutionPhase::Running,
    pb::ExecutionPhase::Succeeding,
    pb::ExecutionPhase::Succeeded,
    pb::ExecutionPhase::Failing,
    pb::ExecutionPhase::Failed,
    pb::ExecutionPhase::Aborting,
    pb::ExecutionPhase::Aborted,
    pb::ExecutionPhase::TimedOut,
];

impl ListFilters {
    fn project<'a>(&'a self, console: &'a Console) -> &'a str {
        self.project
            .as_deref()
            .filter(|p| !p.is_empty())
            .unwrap_or(&console.config.default_project)
    }

    fn domain<'a>(&'a self, console: &'a Console) -> &'a str {
        self.domain
            .as_deref()
            .filter(|d| !d.is_empty())
            .unwrap_or(&console.config.default_domain)
    }

    /// The phase the filter names; an unknown word is a bad request.
    fn phase(&self) -> Result<Option<pb::ExecutionPhase>, ConsoleError> {
        match self.phase.as_deref().filter(|p| !p.is_empty()) {
            None => Ok(None),
            Some(word) => PHASES
                .into_iter()
                .find(|phase| format::execution_phase(*phase as i32) == word)
                .map(Some)
                .ok_or_else(|| ConsoleError::BadRequest(format!("no execution phase {word:?}"))),
        }
    }

    /// The ListExecutions request for this page.
    pub fn request(&self, console: &Console) -> Result<pb::ListExecutionsRequest, ConsoleError> {
        Ok(pb::ListExecutionsRequest {
            project: self.project(console).to_owned(),
            domain: self.domain(console).to_owned(),
            phases: self.phase()?.map(|phase| phase as i32).into_iter().collect(),
            page_size: PAGE_SIZE,
            page_token: self.page_token.clone().unwrap_or_default(),
        })
    }

    /// The query string of these filters at `page_token`.
    fn query(&self, console: &Console, page_token: Option<&str>) -> String {
        let mut query = format!(
            "project={}&domain={}",
            encode_query(self.project(console)),
            encode_query(self.domain(console))
        );
        if let Some(phase) = self.phase.as_deref().filter(|p| !p.is_empty()) {
            query.push_str(&format!("&phase={}", encode_query(phase)));
        }
        if let Some(token) = page_token.filter(|t| !t.is_empty()) {
            query.push_str(&format!("&page_token={}", encode_query(token)));
        }
        query
    }
}

/// `GET /executions`: the filters, the table and the paging links.
pub async fn page(
    State(console): State<Arc<Console>>,
    api: Api,
    Query(filters): Query<ListFilters>,
) -> Result<Markup, ConsoleError> {
    let response = api
        .admin()
        .list_executions(api.request(filters.request(&console)?))
        .await?
        .into_inner();
    let body = html! {
        (filter_form(&console, &filters))
        table.executions {
            caption.visually-hidden { "Executions, newest first" }
            thead { tr { th scope="col" { "Execution" } th scope="col" { "Target" } th scope="col" { "Phase" }
                th scope="col" { "Created" } th scope="col" { "Duration" } } }
            (rows_body(&console, &filters, &response.executions))
        }
        @if response.executions.is_empty() {
            p.muted { "No executions here yet." }
        }
        nav.paging aria-label="Pages" {
            @if filters.page_token.as_deref().is_some_and(|t| !t.is_empty()) {
                a href=(format!("/executions?{}", filters.query(&console, None))) { "Newest" }
            }
            @if !response.next_page_token.is_empty() {
                a rel="next" href=(format!("/executions?{}", filters.query(&console, Some(&response.next_page_token)))) { "Older" }
            }
        }
    };
    Ok(layout::page("Executions", body))
}

/// `GET /executions/rows`: the table's body alone, which it polls.
pub async fn rows(
    State(console): State<Arc<Console>>,
    api: Api,
    Query(filters): Query<ListFilters>,
) -> Result<Markup, ConsoleError> {
    let response = api
        .admin()
        .list_executions(api.request(filters.request(&console)?))
        .await?
        .into_inner();
    Ok(rows_body(&console, &filters, &response.executions))
}

fn filter_form(console: &Console, filters: &ListFilters) -> Markup {
    let chosen = filters.phase.as_deref().unwrap_or("");
    html! {
        form.filters method="get" action="/executions" role="search" aria-label="Filter executions" {
            label { "Project " input type="text" name="project" value=(filters.project(console)) required; }
            label { "Domain " input type="text" name="domain" value=(filters.domain(console)) required; }
            label { "Phase "
                select name="phase" {
                    option value="" selected[chosen.is_empty()] { "any" }
                    @for phase in PHASES {
                        @let word = format::execution_phase(phase as i32);
                        option value=(word) selected[word == chosen] { (word) }
                    }
                }
            }
            // NEW FILTERS: the inputs of ListExecutions' target, created-time range and search go here.
            button type="submit" { "Filter" }
        }
    }
}

fn rows_body(console: &Console, filters: &ListFilters, executions: &[pb::Execution]) -> Markup {
    let poll = format!(
        "/executions/rows?{}",
        filters.query(console, filters.page_token.as_deref())
    );
    html! {
        tbody hx-get=(poll) hx-trigger="every 2s" hx-swap="outerHTML" aria-live="polite" {
            @for execution in executions {
                @let phase = format::execution_phase(execution.phase);
                tr data-execution=(execution.id) {
                    td { a href=(execution_link(&execution.id)) { (execution.name) } br; code.id { (execution.id) } }
                    td { (format::short_identifier(execution.target.as_ref())) }
                    td { (phase_badge(&phase)) }
                    td { (format::timestamp(execution.created_at.as_ref())) }
                    td { (format::duration(execution.started_at.as_ref(), execution.finished_at.as_ref())) }
                }
            }
        }
    }
}
