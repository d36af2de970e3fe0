//! The executions list: one project and domain, filtered by phase, target, creation time and name or id, newest first, a page at a time (the server's
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
use gantry_text::time_text::parse_timestamp;

/// Executions per page.
const PAGE_SIZE: u32 = 50;

/// The list's filters, from the query string: project and domain, a phase, a target, a creation time range and a
/// search by name prefix or id, each passed to ListExecutions as it is (the server checks them).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct ListFilters {
    /// The project (the console's default when absent).
    pub project: Option<String>,
    /// The domain (the console's default when absent).
    pub domain: Option<String>,
    /// One phase's word (`running`), or all when absent or empty.
    pub phase: Option<String>,
    /// A name prefix, or an execution's id.
    pub search: Option<String>,
    /// What the target is: `task` (the default), `workflow` or `launch_plan`.
    pub target_type: Option<String>,
    /// The target's name, or `name@version`.
    pub target: Option<String>,
    /// Created at or after (RFC 3339, or a form's `YYYY-MM-DDTHH:MM[:SS]`, read as UTC).
    pub created_after: Option<String>,
    /// Created before (as `created_after`).
    pub created_before: Option<String>,
    /// The page to show (from the previous page's "older" link).
    pub page_token: Option<String>,
}

/// A filter's text, if given.
fn given(field: &Option<String>) -> Option<&str> {
    field.as_deref().map(str::trim).filter(|text| !text.is_empty())
}

/// A time from a filter: RFC 3339, or a `datetime-local` input's value (no zone: UTC).
fn parse_time(text: &str) -> Result<prost_types::Timestamp, String> {
    let rfc3339 = match text.len() {
        16 => format!("{text}:00Z"),
        19 => format!("{text}Z"),
        _ => text.to_owned(),
    };
    parse_timestamp(&rfc3339)
        .or_else(|_| parse_timestamp(text))
        .map(|at| prost_types::Timestamp {
            seconds: at.seconds,
            nanos: at.nanos,
        })
        .map_err(|_| format!("{text:?} is not a time like 2026-05-01T12:00 (UTC) or 2026-05-01T12:00:00Z"))
}

/// The target filter: `name` or `name@version`, of a task unless the type says otherwise.
fn target_filter(kind: Option<&str>, target: &str) -> Result<pb::ExecutionTargetFilter, String> {
    let resource = match kind.unwrap_or("task") {
        "task" => pb::ResourceType::Task,
        "workflow" => pb::ResourceType::Workflow,
        "launch_plan" => pb::ResourceType::LaunchPlan,
        other => return Err(format!("no target type {other:?}: task, workflow or launch_plan")),
    };
    let (name, version) = target.split_once('@').unwrap_or((target, ""));
    Ok(pb::ExecutionTargetFilter {
        r#type: resource as i32,
        project: String::new(),
        domain: String::new(),
        name: name.to_owned(),
        version: version.to_owned(),
    })
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

    /// The ListExecutions request for this page; a filter the console cannot read is a bad request.
    pub fn request(&self, console: &Console) -> Result<pb::ListExecutionsRequest, ConsoleError> {
        let time = |field: &Option<String>| {
            given(field)
                .map(parse_time)
                .transpose()
                .map_err(ConsoleError::BadRequest)
        };
        let target = given(&self.target)
            .map(|target| target_filter(given(&self.target_type), target))
            .transpose()
            .map_err(ConsoleError::BadRequest)?;
        Ok(pb::ListExecutionsRequest {
            project: self.project(console).to_owned(),
            domain: self.domain(console).to_owned(),
            phases: self.phase()?.map(|phase| phase as i32).into_iter().collect(),
            page_size: PAGE_SIZE,
            page_token: self.page_token.clone().unwrap_or_default(),
            target,
            created_after: time(&self.created_after)?,
            created_before: time(&self.created_before)?,
            search: given(&self.search).unwrap_or_default().to_owned(),
        })
    }

    /// The query string of these filters at `page_token`.
    fn query(&self, console: &Console, page_token: Option<&str>) -> String {
        let mut query = format!(
            "project={}&domain={}",
            encode_query(self.project(console)),
            encode_query(self.domain(console))
        );
        let optional = [
            ("phase", given(&self.phase)),
            ("search", given(&self.search)),
            ("target_type", given(&self.target_type)),
            ("target", given(&self.target)),
            ("created_after", given(&self.created_after)),
            ("created_before", given(&self.created_before)),
            ("page_token", page_token.filter(|t| !t.is_empty())),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                query.push_str(&format!("&{key}={}", encode_query(value)));
            }
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
    let response = list(&console, &api, &filters).await?;
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
    let response = list(&console, &api, &filters).await?;
    Ok(rows_body(&console, &filters, &response.executions))
}

/// One page of the executions the filters select.
async fn list(console: &Console, api: &Api, filters: &ListFilters) -> Result<pb::ListExecutionsResponse, ConsoleError> {
    let request = api.request(filters.request(console)?);
    Ok(api.admin().list_executions(request).await?.into_inner())
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
            label { "Name or id " input type="search" name="search" value=(given(&filters.search).unwrap_or_default())
                maxlength="63" pattern="[A-Za-z0-9_-]+" placeholder="prefix or id"; }
            label { "Target "
                select name="target_type" aria-label="Target type" {
                    @for (word, label) in [("task", "task"), ("workflow", "workflow"), ("launch_plan", "launch plan")] {
                        option value=(word) selected[given(&filters.target_type) == Some(word)] { (label) }
                    }
                }
            }
            label { "Target name " input type="text" name="target" value=(given(&filters.target).unwrap_or_default())
                placeholder="name or name@version"; }
            label { "Created after (UTC) " input type="datetime-local" step="1" name="created_after"
                value=(given(&filters.created_after).unwrap_or_default()); }
            label { "Created before (UTC) " input type="datetime-local" step="1" name="created_before"
                value=(given(&filters.created_before).unwrap_or_default()); }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_come_as_rfc3339_or_as_a_forms_local_time_read_as_utc() {
        assert_eq!(parse_time("1970-01-01T00:01").unwrap().seconds, 60);
        assert_eq!(parse_time("1970-01-01T00:01:05").unwrap().seconds, 65);
        assert_eq!(parse_time("1970-01-01T01:00:00+01:00").unwrap().seconds, 0);
        assert!(parse_time("yesterday").unwrap_err().contains("not a time"));
    }

    #[test]
    fn targets_are_names_with_an_optional_version() {
        let filter = target_filter(None, "generate_others@1").unwrap();
        assert_eq!(filter.r#type, pb::ResourceType::Task as i32);
        assert_eq!(
            (filter.name.as_str(), filter.version.as_str()),
            ("generate_others", "1")
        );
        let plan = target_filter(Some("launch_plan"), "double").unwrap();
        assert_eq!(plan.r#type, pb::ResourceType::LaunchPlan as i32);
        assert!(plan.version.is_empty());
        assert!(target_filter(Some("job"), "x").is_err());
    }
}
