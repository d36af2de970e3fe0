//! The registry's lists: tasks, workflows and launch plans of one project and domain, newest version first, a page
//! at a time; each entry links to its page with the typed interface and the run form (`run.rs`).

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

/// Entries per page.
const PAGE_SIZE: u32 = 50;

/// A registry list's query.
#[derive(Debug, Default, Deserialize)]
pub struct RegistryQuery {
    project: Option<String>,
    domain: Option<String>,
    page_token: Option<String>,
}

impl RegistryQuery {
    fn scope(&self, console: &Console) -> (String, String) {
        let pick = |given: &Option<String>, default: &str| {
            given
                .clone()
                .filter(|g| !g.is_empty())
                .unwrap_or_else(|| default.to_owned())
        };
        (
            pick(&self.project, &console.config.default_project),
            pick(&self.domain, &console.config.default_domain),
        )
    }
}

/// What a list shows of one entry.
struct Entry {
    id: pb::Identifier,
    detail: String,
}

/// `GET /tasks`.
pub async fn tasks(
    State(console): State<Arc<Console>>,
    api: Api,
    Query(query): Query<RegistryQuery>,
) -> Result<Markup, ConsoleError> {
    let (project, domain) = query.scope(&console);
    let request = pb::ListTasksRequest {
        project: project.clone(),
        domain: domain.clone(),
        name: String::new(),
        page_size: PAGE_SIZE,
        page_token: query.page_token.clone().unwrap_or_default(),
    };
    let response = api.admin().list_tasks(api.request(request)).await?.into_inner();
    let entries = response
        .tasks
        .into_iter()
        .filter_map(|task| {
            let inputs = task.interface.as_ref().map_or(0, |i| i.inputs.len());
            task.id.map(|id| Entry {
                id,
                detail: format!("{inputs} inputs"),
            })
        })
        .collect();
    Ok(listing(
        ("Tasks", "tasks"),
        (&project, &domain),
        entries,
        &response.next_page_token,
        html! {},
    ))
}

/// `GET /workflows`.
pub async fn workflows(
    State(console): State<Arc<Console>>,
    api: Api,
    Query(query): Query<RegistryQuery>,
) -> Result<Markup, ConsoleError> {
    let (project, domain) = query.scope(&console);
    let request = pb::ListWorkflowsRequest {
        project: project.clone(),
        domain: domain.clone(),
        name: String::new(),
        page_size: PAGE_SIZE,
        page_token: query.page_token.clone().unwrap_or_default(),
    };
    let response = api.admin().list_workflows(api.request(request)).await?.into_inner();
    let entries = response
        .workflows
        .into_iter()
        .filter_map(|workflow| {
            let nodes = workflow.nodes.len();
            workflow.id.map(|id| Entry {
                id,
                detail: format!("{nodes} nodes"),
            })
        })
        .collect();
    Ok(listing(
        ("Workflows", "workflows"),
        (&project, &domain),
        entries,
        &response.next_page_token,
        html! {},
    ))
}

/// `GET /launch-plans`.
pub async fn launch_plans(
    State(console): State<Arc<Console>>,
    api: Api,
    Query(query): Query<RegistryQuery>,
) -> Result<Markup, ConsoleError> {
    let (project, domain) = query.scope(&console);
    let request = pb::ListLaunchPlansRequest {
        project: project.clone(),
        domain: domain.clone(),
        name: String::new(),
        page_size: PAGE_SIZE,
        page_token: query.page_token.clone().unwrap_or_default(),
    };
    let response = api.admin().list_launch_plans(api.request(request)).await?.into_inner();
    let schedules = crate::pages::schedules::list(&api, &project, &domain).await?;
    let entries = response
        .launch_plans
        .into_iter()
        .filter_map(|plan| {
            let target = format!("runs {}", format::short_identifier(plan.target.as_ref()));
            plan.id.map(|id| Entry { id, detail: target })
        })
        .collect();
    Ok(listing(
        ("Launch plans", "launch-plans"),
        (&project, &domain),
        entries,
        &response.next_page_token,
        crate::pages::schedules::section(&schedules),
    ))
}

/// A registry page: the filters, the entries, the link to the next page, and `more` after them (a section of the
/// kind's own).
fn listing(
    (title, kind): (&str, &str),
    (project, domain): (&str, &str),
    entries: Vec<Entry>,
    next_page_token: &str,
    more: Markup,
) -> Markup {
    let body = html! {
        form.filters method="get" action=(format!("/{kind}")) aria-label=(format!("Filter {}", title.to_lowercase())) {
            label { "Project " input type="text" name="project" value=(project) required; }
            label { "Domain " input type="text" name="domain" value=(domain) required; }
            button type="submit" { "Show" }
        }
        @if entries.is_empty() {
            p.muted { "Nothing registered here." }
        } @else {
            table.registry {
                thead { tr { th scope="col" { "Name" } th scope="col" { "Version" } th scope="col" { "" } } }
                tbody {
                    @for entry in &entries {
                        tr {
                            td { a href=(format!("/{kind}/{}/{}/{}/{}", entry.id.project, entry.id.domain, entry.id.name, entry.id.version)) { (entry.id.name) } }
                            td { code { (entry.id.version) } }
                            td { (entry.detail) }
                        }
                    }
                }
            }
        }
        @if !next_page_token.is_empty() {
            nav.paging aria-label="Pages" {
                a rel="next" href=(format!("/{kind}?project={}&domain={}&page_token={}", encode_query(project), encode_query(domain), encode_query(next_page_token))) { "More" }
            }
        }
        (more)
    };
    layout::page(title, body)
}
