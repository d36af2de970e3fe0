//! Launch plans' schedules on the launch plans page: each with what it runs on, whether it is active, its next ticks
//! and its last one, and a button to activate or deactivate it; and the POST that does it. A refusal (a viewer's key)
//! is shown on a page of its own with the server's message; success leads back to the launch plans.

use axum::Form;
use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};
use gantry_proto::v1 as pb;
use http::StatusCode;
use maud::{Markup, html};
use serde::Deserialize;

use crate::error::{ConsoleError, status_line, wants_login};
use crate::format;
use crate::grpc::Api;
use crate::layout;
use crate::literals::encode_query;

/// How many of a schedule's next ticks the page shows.
const SHOWN_TICKS: usize = 3;

/// What the button sends.
#[derive(Debug, Default, Deserialize)]
pub struct ScheduleForm {
    /// `true` to activate, `false` to deactivate.
    active: bool,
}

/// The schedules of a project and domain's launch plans.
pub async fn list(api: &Api, project: &str, domain: &str) -> Result<Vec<pb::ScheduleState>, ConsoleError> {
    let request = pb::ListSchedulesRequest {
        project: project.to_owned(),
        domain: domain.to_owned(),
    };
    Ok(api
        .admin()
        .list_schedules(api.request(request))
        .await?
        .into_inner()
        .schedules)
}

/// The section of the launch plans page: nothing when no plan has a schedule.
pub fn section(schedules: &[pb::ScheduleState]) -> Markup {
    if schedules.is_empty() {
        return html! {};
    }
    html! {
        section aria-labelledby="schedules-title" {
            h2 #schedules-title { "Schedules" }
            table.schedules {
                thead { tr { th { "Launch plan" } th { "Schedule" } th { "Active" } th { "Next ticks" } th { "Last tick" } th { "" } } }
                tbody {
                    @for state in schedules {
                        @if let Some(id) = &state.launch_plan {
                            tr data-plan=(format!("{}@{}", id.name, id.version)) {
                                td { a href=(plan_page(id)) { (id.name) "@" (id.version) } }
                                td { (describe(state.schedule.as_ref())) }
                                td.active { @if state.active { "yes" } @else { "no" } }
                                td {
                                    @for tick in state.next_ticks.iter().take(SHOWN_TICKS) {
                                        (format::timestamp(Some(tick))) br;
                                    }
                                }
                                td { (format::timestamp(state.last_tick.as_ref())) }
                                td {
                                    form method="post" action=(action(id)) {
                                        input type="hidden" name="active" value=(if state.active { "false" } else { "true" });
                                        @if state.active {
                                            button.danger type="submit" { "Deactivate" }
                                        } @else {
                                            button type="submit" { "Activate" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `POST /schedules/{project}/{domain}/{name}/{version}`: activates or deactivates it.
pub async fn set(
    api: Api,
    Path((project, domain, name, version)): Path<(String, String, String, String)>,
    Form(form): Form<ScheduleForm>,
) -> Result<Response, ConsoleError> {
    let id = pb::Identifier {
        project,
        domain,
        name,
        version,
    };
    let mut admin = api.admin();
    let result = if form.active {
        let request = pb::ActivateScheduleRequest {
            launch_plan: Some(id.clone()),
        };
        admin.activate_schedule(api.request(request)).await.map(drop)
    } else {
        let request = pb::DeactivateScheduleRequest {
            launch_plan: Some(id.clone()),
        };
        admin.deactivate_schedule(api.request(request)).await.map(drop)
    };
    match result {
        Ok(()) => {
            let back = format!(
                "/launch-plans?project={}&domain={}",
                encode_query(&id.project),
                encode_query(&id.domain)
            );
            Ok(Redirect::to(&back).into_response())
        }
        Err(status) => {
            let code = if wants_login(&status) {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::CONFLICT
            };
            let body = html! {
                p { "Launch plan " a href=(plan_page(&id)) { (id.name) "@" (id.version) } }
                p.error role="alert" { (status_line(&status)) }
                @if wants_login(&status) {
                    p { a href="/login" { "Log in" } " with a key that may do this." }
                }
                p { a href="/launch-plans" { "Back to the launch plans" } }
            };
            let title = if form.active {
                "Activate a schedule"
            } else {
                "Deactivate a schedule"
            };
            Ok((code, layout::page(title, body)).into_response())
        }
    }
}

fn plan_page(id: &pb::Identifier) -> String {
    format!("/launch-plans/{}/{}/{}/{}", id.project, id.domain, id.name, id.version)
}

fn action(id: &pb::Identifier) -> String {
    format!("/schedules/{}/{}/{}/{}", id.project, id.domain, id.name, id.version)
}

/// The schedule in a few words (`gantry_text::schedules::describe`); empty when the server sent none or a malformed one.
fn describe(schedule: Option<&pb::Schedule>) -> String {
    let schedule = schedule.and_then(|wire| gantry_core::model::Schedule::try_from(wire.clone()).ok());
    schedule.map_or_else(String::new, |schedule| gantry_text::schedules::describe(&schedule))
}
