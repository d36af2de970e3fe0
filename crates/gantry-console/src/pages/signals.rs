//! An execution's signals on its page: what its gates wait for and what was set, with a form for each signal a gate
//! waits for (a value read as the gate's type, or, for an approval, Approve and Reject), and the POST that sets it.
//! A refusal (a value of the wrong type, a signal already set, a viewer's key) is shown on a page of its own with the
//! server's message and the form again; success leads back to the execution with a notice.

use axum::Form;
use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};
use gantry_core::model::{Literal, LiteralType};
use gantry_proto::v1 as pb;
use gantry_text::json::{literal_from_json, literal_to_json};
use gantry_text::types::format_type;
use http::StatusCode;
use maud::{Markup, html};
use serde::Deserialize;

use crate::error::{ConsoleError, status_line, wants_login};
use crate::format;
use crate::grpc::Api;
use crate::layout;
use crate::literals::encode_query;
use crate::pages::{execution_link, node_link};

/// What a signal's form sends: a JSON value, or an approval's decision.
#[derive(Debug, Default, Deserialize)]
pub struct SignalForm {
    /// The value as JSON, read as the type the gate waits for.
    #[serde(default)]
    value: String,
    /// `approve` or `reject`, for an approval.
    #[serde(default)]
    decision: String,
}

/// The execution's signals, by signal id.
pub async fn list(api: &Api, execution_id: &str) -> Result<Vec<pb::Signal>, ConsoleError> {
    let request = pb::ListSignalsRequest {
        execution_id: execution_id.to_owned(),
    };
    Ok(api
        .admin()
        .list_signals(api.request(request))
        .await?
        .into_inner()
        .signals)
}

/// The page's section: nothing when the execution has no signal.
pub fn section(execution_id: &str, signals: &[pb::Signal]) -> Markup {
    if signals.is_empty() {
        return html! {};
    }
    html! {
        section aria-labelledby="signals-title" {
            h2 #signals-title { "Signals" }
            table.signals {
                thead { tr { th { "Signal" } th { "Waiting node" } th { "Type" } th { "Deadline" } th { "Value" } th { "Set by" } } }
                tbody {
                    @for signal in signals {
                        tr data-signal=(signal.signal_id) {
                            td { code { (signal.signal_id) } }
                            td {
                                @if !signal.node_id.is_empty() {
                                    a href=(node_link(execution_id, &signal.node_id)) { code { (signal.node_id) } }
                                }
                            }
                            td { (type_text(signal)) }
                            td { (format::timestamp(signal.deadline.as_ref())) }
                            td {
                                @if let Some(value) = value_of(signal) {
                                    code { (literal_to_json(&value)) }
                                } @else if !signal.node_id.is_empty() {
                                    (form(execution_id, signal, &SignalForm::default()))
                                }
                            }
                            td { (signal.set_by) }
                        }
                    }
                }
            }
        }
    }
}

/// `POST /executions/{id}/signals/{signal}`: sets it.
pub async fn set(
    api: Api,
    Path((id, signal_id)): Path<(String, String)>,
    Form(form): Form<SignalForm>,
) -> Result<Response, ConsoleError> {
    let waiting = list(&api, &id)
        .await?
        .into_iter()
        .find(|signal| signal.signal_id == signal_id && !signal.node_id.is_empty())
        .ok_or_else(|| ConsoleError::BadRequest(format!("no gate of execution {id} waits for signal {signal_id:?}")))?;
    let value = match read_value(&waiting, &form) {
        Ok(value) => value,
        Err(problem) => return Ok((StatusCode::BAD_REQUEST, refused(&id, &waiting, &form, &problem)).into_response()),
    };
    let request = pb::SetSignalRequest {
        execution_id: id.clone(),
        signal_id: signal_id.clone(),
        value: Some(value.into()),
    };
    match api.admin().set_signal(api.request(request)).await {
        Ok(_) => Ok(Redirect::to(&format!("{}?notice=signal-set", execution_link(&id))).into_response()),
        Err(status) => {
            let code = if wants_login(&status) {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::CONFLICT
            };
            Ok((code, refused(&id, &waiting, &form, &status_line(&status))).into_response())
        }
    }
}

/// The value the form gives: an approval's decision, or the JSON read as the gate's type.
fn read_value(signal: &pb::Signal, form: &SignalForm) -> Result<Literal, String> {
    if signal.approval {
        return match form.decision.as_str() {
            "approve" => Ok(Literal::Boolean(true)),
            "reject" => Ok(Literal::Boolean(false)),
            other => Err(format!("an approval is approved or rejected, not {other:?}")),
        };
    }
    let ty = signal_type(signal).ok_or_else(|| "the server sent no type for the signal".to_owned())?;
    let json: serde_json::Value =
        serde_json::from_str(form.value.trim()).map_err(|error| format!("the value is not JSON: {error}"))?;
    literal_from_json(&json, &ty, "value").map_err(|error| error.to_string())
}

fn form(execution_id: &str, signal: &pb::Signal, given: &SignalForm) -> Markup {
    let action = format!("/executions/{execution_id}/signals/{}", encode_query(&signal.signal_id));
    let field = format!("value-{}", signal.signal_id);
    html! {
        form.signal method="post" action=(action) {
            @if signal.approval {
                button type="submit" name="decision" value="approve" { "Approve" }
                " "
                button.danger type="submit" name="decision" value="reject" { "Reject" }
            } @else {
                label for=(field) { "Value (JSON)" }
                input id=(field) type="text" name="value" value=(given.value) required;
                " "
                button type="submit" { "Set" }
            }
        }
    }
}

fn refused(execution_id: &str, signal: &pb::Signal, form_given: &SignalForm, problem: &str) -> Markup {
    let body = html! {
        p { "Execution " a href=(execution_link(execution_id)) { code { (execution_id) } } }
        p { "Signal " code { (signal.signal_id) } " (" (type_text(signal)) ")" }
        p.error role="alert" { (problem) }
        (form(execution_id, signal, form_given))
        p { a href=(execution_link(execution_id)) { "Back to the execution" } }
    };
    layout::page("Set a signal", body)
}

fn signal_type(signal: &pb::Signal) -> Option<LiteralType> {
    signal.r#type.clone().and_then(|ty| LiteralType::try_from(ty).ok())
}

fn type_text(signal: &pb::Signal) -> String {
    match (signal.approval, signal_type(signal)) {
        (true, _) => "approval".to_owned(),
        (false, Some(ty)) => format_type(&ty),
        (false, None) => String::new(),
    }
}

fn value_of(signal: &pb::Signal) -> Option<Literal> {
    signal.value.clone().and_then(|value| Literal::try_from(value).ok())
}
