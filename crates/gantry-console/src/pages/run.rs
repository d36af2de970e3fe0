//! A registered task's, workflow's or launch plan's page: its typed interface (and a workflow's graph, drawn after
//! the page by `drawings.rs`), and a run form generated from it (`run_form.rs`). The browser checks what HTML
//! attributes can (required, numbers, JSON text areas through `console.js`); the console checks every field again
//! with the shared JSON conversion and shows each error beside its field; the server checks once more. A run creates
//! the execution and leads to its page.

use std::collections::BTreeSet;

use axum::Form;
use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};
use gantry_core::model::{LiteralMap, TypedInterface};
use gantry_proto::v1 as pb;
use http::StatusCode;
use maud::{Markup, html};

use crate::error::{ConsoleError, status_line};
use crate::grpc::Api;
use crate::layout;
use crate::literals;
use crate::pages::drawings;
use crate::run_form::{self, Field, FieldError, Widget};
use gantry_text::types::format_type;

/// What can be run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Task,
    Workflow,
    LaunchPlan,
}

impl Kind {
    fn parse(word: &str) -> Result<Kind, ConsoleError> {
        match word {
            "tasks" => Ok(Kind::Task),
            "workflows" => Ok(Kind::Workflow),
            "launch-plans" => Ok(Kind::LaunchPlan),
            other => Err(ConsoleError::BadRequest(format!("no page /{other}/..."))),
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Kind::Task => "Task",
            Kind::Workflow => "Workflow",
            Kind::LaunchPlan => "Launch plan",
        }
    }
}

/// A runnable thing as its page needs it.
#[derive(Debug)]
struct Runnable {
    kind: Kind,
    id: pb::Identifier,
    interface: TypedInterface,
    /// A launch plan's defaults, before the interface's own.
    defaults: LiteralMap,
    /// A launch plan's fixed inputs: not in the form.
    fixed: LiteralMap,
    /// A launch plan's target.
    target: Option<pb::Identifier>,
    /// The workflow drawn on the page: a workflow's own id, a launch plan's target when it is a workflow.
    drawn_workflow: Option<pb::Identifier>,
}

impl Runnable {
    fn fields(&self) -> Vec<Field> {
        let fixed: BTreeSet<String> = self.fixed.keys().cloned().collect();
        run_form::fields(&self.interface, &self.defaults, &fixed)
    }

    fn url(&self) -> String {
        let kind = match self.kind {
            Kind::Task => "tasks",
            Kind::Workflow => "workflows",
            Kind::LaunchPlan => "launch-plans",
        };
        format!(
            "/{kind}/{}/{}/{}/{}",
            self.id.project, self.id.domain, self.id.name, self.id.version
        )
    }
}

type PathParts = (String, String, String, String, String);

fn interface(wire: Option<pb::TypedInterface>) -> Result<TypedInterface, ConsoleError> {
    let wire = wire.ok_or_else(|| ConsoleError::Data("the template has no interface".to_owned()))?;
    TypedInterface::try_from(wire).map_err(|error| ConsoleError::Data(format!("the interface: {error}")))
}

async fn task_interface(api: &Api, id: pb::Identifier) -> Result<TypedInterface, ConsoleError> {
    let request = pb::GetTaskRequest { id: Some(id) };
    let task = api
        .admin()
        .get_task(api.request(request))
        .await?
        .into_inner()
        .task
        .unwrap_or_default();
    interface(task.interface)
}

async fn workflow_interface(api: &Api, id: pb::Identifier) -> Result<TypedInterface, ConsoleError> {
    let request = pb::GetWorkflowRequest { id: Some(id) };
    let workflow = api
        .admin()
        .get_workflow(api.request(request))
        .await?
        .into_inner()
        .workflow
        .unwrap_or_default();
    interface(workflow.interface)
}

async fn load(api: &Api, (kind, project, domain, name, version): PathParts) -> Result<Runnable, ConsoleError> {
    let kind = Kind::parse(&kind)?;
    let id = pb::Identifier {
        project,
        domain,
        name,
        version,
    };
    let mut runnable = Runnable {
        kind,
        id: id.clone(),
        interface: TypedInterface::default(),
        defaults: LiteralMap::new(),
        fixed: LiteralMap::new(),
        target: None,
        drawn_workflow: None,
    };
    match kind {
        Kind::Task => runnable.interface = task_interface(api, id).await?,
        Kind::Workflow => {
            runnable.interface = workflow_interface(api, id.clone()).await?;
            runnable.drawn_workflow = Some(id);
        }
        Kind::LaunchPlan => {
            let request = pb::GetLaunchPlanRequest { id: Some(id) };
            let plan = api
                .admin()
                .get_launch_plan(api.request(request))
                .await?
                .into_inner()
                .launch_plan
                .unwrap_or_default();
            let target = plan.target.clone().unwrap_or_default();
            runnable.interface = if plan.target_type == pb::ResourceType::Workflow as i32 {
                runnable.drawn_workflow = Some(target.clone());
                workflow_interface(api, target.clone()).await?
            } else {
                task_interface(api, target.clone()).await?
            };
            runnable.defaults = literals::decode(plan.default_inputs)?;
            runnable.fixed = literals::decode(plan.fixed_inputs)?;
            runnable.target = Some(target);
        }
    }
    Ok(runnable)
}

/// `GET /{tasks|workflows|launch-plans}/{project}/{domain}/{name}/{version}`.
pub async fn page(api: Api, Path(parts): Path<PathParts>) -> Result<Markup, ConsoleError> {
    let runnable = load(&api, parts).await?;
    let fields = runnable.fields();
    Ok(render(&runnable, &fields, &[], None))
}

/// `POST` of the run form.
pub async fn submit(
    api: Api,
    Path(parts): Path<PathParts>,
    Form(submitted): Form<Vec<(String, String)>>,
) -> Result<Response, ConsoleError> {
    let runnable = load(&api, parts).await?;
    let mut fields = runnable.fields();
    for field in &mut fields {
        if let Some((_, text)) = submitted.iter().find(|(name, _)| *name == field.name) {
            field.initial = text.clone();
        } else if field.widget == Widget::Checkbox {
            field.initial = String::new();
        }
    }
    let inputs = match run_form::parse(&fields, &submitted) {
        Ok(inputs) => inputs,
        Err(errors) => return Ok((StatusCode::BAD_REQUEST, render(&runnable, &fields, &errors, None)).into_response()),
    };
    let id = runnable.id.clone();
    let target = match runnable.kind {
        Kind::Task => pb::create_execution_request::Target::Task(id.clone()),
        Kind::Workflow => pb::create_execution_request::Target::Workflow(id.clone()),
        Kind::LaunchPlan => pb::create_execution_request::Target::LaunchPlan(id.clone()),
    };
    let request = pb::CreateExecutionRequest {
        project: id.project,
        domain: id.domain,
        name: String::new(),
        target: Some(target),
        inputs: Some(inputs.into()),
        max_parallelism: None,
        overwrite_cache: false,
        timeout: None,
    };
    match api.admin().create_execution(api.request(request)).await {
        Ok(response) => {
            let execution = response.into_inner().execution.unwrap_or_default();
            Ok(Redirect::to(&format!("/executions/{}?notice=created", execution.id)).into_response())
        }
        Err(status) => {
            let page = render(&runnable, &fields, &[], Some(&status));
            Ok((StatusCode::CONFLICT, page).into_response())
        }
    }
}

fn render(runnable: &Runnable, fields: &[Field], errors: &[FieldError], refused: Option<&tonic::Status>) -> Markup {
    let body = html! {
        p { code { (runnable.id.project) "/" (runnable.id.domain) "/" (runnable.id.name) "@" (runnable.id.version) } }
        @if let Some(target) = &runnable.target {
            p { "Runs " code { (target.name) "@" (target.version) } }
        }
        section aria-labelledby="interface-title" {
            h2 #interface-title { "Interface" }
            table.interface {
                caption { "Inputs and outputs" }
                thead { tr { th scope="col" { "" } th scope="col" { "Name" } th scope="col" { "Type" } th scope="col" { "Default" } th scope="col" { "Description" } } }
                tbody {
                    @for input in &runnable.interface.inputs {
                        tr {
                            td { "input" } td { code { (input.name) } } td { code { (format_type(&input.ty)) } }
                            td { @if let Some(fixed) = runnable.fixed.get(&input.name) { "fixed: " code { (literals::pretty(fixed)) } }
                                 @else if let Some(default) = runnable.defaults.get(&input.name).or(input.default.as_ref()) { code { (literals::pretty(default)) } } }
                            td { (input.description) }
                        }
                    }
                    @for output in &runnable.interface.outputs {
                        tr { td { "output" } td { code { (output.name) } } td { code { (format_type(&output.ty)) } } td {} td { (output.description) } }
                    }
                }
            }
        }
        @if let Some(workflow) = &runnable.drawn_workflow {
            (drawings::placeholder("workflow-graph", "Graph",
                &format!("/workflows/{}/{}/{}/{}/graph",
                    workflow.project, workflow.domain, workflow.name, workflow.version),
                "Drawing the workflow…"))
        }
        section aria-labelledby="run-title" {
            h2 #run-title { "Run" }
            @if let Some(status) = refused {
                p.error role="alert" { (status_line(status)) }
            }
            @if !errors.is_empty() {
                p.error role="alert" { "Some inputs do not fit their types; see below." }
            }
            form.run method="post" action=(runnable.url()) {
                @for field in fields {
                    (field_markup(field, errors.iter().find(|e| e.field == field.name)))
                }
                p { button type="submit" { "Run" } }
            }
        }
    };
    layout::page(&format!("{} {}", runnable.kind.noun(), runnable.id.name), body)
}

fn field_markup(field: &Field, error: Option<&FieldError>) -> Markup {
    let id = format!("input-{}", field.name);
    let error_id = format!("error-{}", field.name);
    let described = if error.is_some() {
        error_id.clone()
    } else {
        format!("hint-{}", field.name)
    };
    let placeholder = match field.type_text.as_str() {
        "datetime" => "2024-05-01T12:00:00Z",
        "duration" => "1m30s",
        _ => "",
    };
    html! {
        div.field {
            label for=(id) { (field.name) " " span.type { (field.type_text) } @if field.required { " (required)" } }
            @match field.widget {
                Widget::Integer => input #(id) type="number" step="1" name=(field.name) value=(field.initial)
                    required[field.required] aria-invalid=[error.map(|_| "true")] aria-describedby=(described);,
                Widget::Float => input #(id) type="number" step="any" name=(field.name) value=(field.initial)
                    required[field.required] aria-invalid=[error.map(|_| "true")] aria-describedby=(described);,
                Widget::Text => input #(id) type="text" name=(field.name) value=(field.initial) placeholder=(placeholder)
                    required[field.required] aria-invalid=[error.map(|_| "true")] aria-describedby=(described);,
                Widget::Checkbox => input #(id) type="checkbox" name=(field.name) checked[!field.initial.is_empty()]
                    aria-describedby=(described);,
                Widget::Json => textarea #(id) name=(field.name) rows="3" data-json required[field.required]
                    aria-invalid=[error.map(|_| "true")] aria-describedby=(described) { (field.initial) },
            }
            @if let Some(error) = error {
                p.field-error id=(error_id) { (error.message) }
            }
            p.hint id=(format!("hint-{}", field.name)) { (field.description) }
        }
    }
}
