//! The actions on an execution, each confirmed on a page of its own before its POST: terminate (with a reason),
//! relaunch (optionally overwriting the cache) and recover, both with an optional name for the new execution. A
//! refusal (FAILED_PRECONDITION for a finished execution, PERMISSION_DENIED for a viewer, ...) is shown on the same
//! page with the server's message; success leads to the execution, old or new, with a notice.

use axum::Form;
use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};
use gantry_proto::v1 as pb;
use http::StatusCode;
use maud::{Markup, html};
use serde::Deserialize;

use crate::error::{ConsoleError, status_line, wants_login};
use crate::grpc::Api;
use crate::layout;
use crate::pages::execution_link;

/// An action the console offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Terminate,
    Relaunch,
    Recover,
}

impl Action {
    fn parse(word: &str) -> Result<Action, ConsoleError> {
        match word {
            "terminate" => Ok(Action::Terminate),
            "relaunch" => Ok(Action::Relaunch),
            "recover" => Ok(Action::Recover),
            other => Err(ConsoleError::BadRequest(format!("no action {other:?}"))),
        }
    }

    fn word(self) -> &'static str {
        match self {
            Action::Terminate => "terminate",
            Action::Relaunch => "relaunch",
            Action::Recover => "recover",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Action::Terminate => "Terminate execution",
            Action::Relaunch => "Relaunch execution",
            Action::Recover => "Recover execution",
        }
    }

    fn explanation(self) -> &'static str {
        match self {
            Action::Terminate => {
                "Running attempts are cancelled, child executions terminated, and every node not finished is aborted."
            }
            Action::Relaunch => {
                "A new execution of the same target with the same inputs; nothing is reused but the cache."
            }
            Action::Recover => {
                "A new execution of the same target with the same inputs that reuses the outputs of every node that \
                 succeeded."
            }
        }
    }
}

/// What the confirmation form sends.
#[derive(Debug, Default, Deserialize)]
pub struct ActionForm {
    /// Terminate: why, for people.
    #[serde(default)]
    reason: String,
    /// Relaunch and recover: the new execution's name (the server generates one when empty).
    #[serde(default)]
    name: String,
    /// Relaunch: present when checked.
    overwrite_cache: Option<String>,
}

/// `GET /executions/{id}/actions/{action}`: the confirmation.
pub async fn confirm(Path((id, action)): Path<(String, String)>) -> Result<Markup, ConsoleError> {
    let action = Action::parse(&action)?;
    Ok(confirmation(&id, action, &ActionForm::default(), None))
}

/// `POST /executions/{id}/actions/{action}`: does it.
pub async fn perform(
    api: Api,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Result<Response, ConsoleError> {
    let action = Action::parse(&action)?;
    let mut admin = api.admin();
    let result = match action {
        Action::Terminate => {
            let request = pb::TerminateExecutionRequest {
                id: id.clone(),
                reason: form.reason.clone(),
            };
            admin
                .terminate_execution(api.request(request))
                .await
                .map(|_| (id.clone(), "terminated"))
        }
        Action::Relaunch => {
            let request = pb::RelaunchExecutionRequest {
                id: id.clone(),
                name: form.name.trim().to_owned(),
                overwrite_cache: form.overwrite_cache.is_some(),
            };
            admin.relaunch_execution(api.request(request)).await.map(|response| {
                (
                    response.into_inner().execution.map(|e| e.id).unwrap_or_default(),
                    "relaunched",
                )
            })
        }
        Action::Recover => {
            let request = pb::RecoverExecutionRequest {
                id: id.clone(),
                name: form.name.trim().to_owned(),
            };
            admin.recover_execution(api.request(request)).await.map(|response| {
                (
                    response.into_inner().execution.map(|e| e.id).unwrap_or_default(),
                    "recovered",
                )
            })
        }
    };
    match result {
        Ok((target, notice)) => {
            Ok(Redirect::to(&format!("{}?notice={notice}", execution_link(&target))).into_response())
        }
        Err(status) => {
            let code = if wants_login(&status) {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::CONFLICT
            };
            Ok((code, confirmation(&id, action, &form, Some(&status))).into_response())
        }
    }
}

fn confirmation(id: &str, action: Action, form: &ActionForm, refused: Option<&tonic::Status>) -> Markup {
    let body = html! {
        p { "Execution " a href=(execution_link(id)) { code { (id) } } }
        p { (action.explanation()) }
        @if let Some(status) = refused {
            p.error role="alert" { (status_line(status)) }
            @if wants_login(status) {
                p { a href="/login" { "Log in" } " with a key that may do this." }
            }
        }
        form.action method="post" action=(format!("/executions/{id}/actions/{}", action.word())) {
            @match action {
                Action::Terminate => {
                    label for="reason" { "Reason (recorded with the execution's error)" }
                    textarea #reason name="reason" rows="2" { (form.reason) }
                }
                Action::Relaunch | Action::Recover => {
                    label for="name" { "Name of the new execution (optional)" }
                    input #name type="text" name="name" value=(form.name) pattern="[A-Za-z0-9_-]{1,63}";
                }
            }
            @if action == Action::Relaunch {
                label { input type="checkbox" name="overwrite_cache" checked[form.overwrite_cache.is_some()]; " Overwrite the cache" }
            }
            p {
                button.danger[action == Action::Terminate] type="submit" { (action.title()) }
                " "
                a href=(execution_link(id)) { "Cancel" }
            }
        }
    };
    layout::page(action.title(), body)
}
