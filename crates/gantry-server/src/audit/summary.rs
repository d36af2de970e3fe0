//! What an audit entry says of a request, built from the request as it arrived (before it is decoded, so that a
//! refused request is described too): the target and a short summary of targets, input names and options. Never an
//! input value or any other literal (default and fixed inputs of a launch plan included): inputs may hold secrets.
//! A refused call that carried literals keeps its message only up to the field it names (`withheld`).
//! A terminate reason is free text a person wrote and is kept by its first 64 characters, as messages quote values.

use std::fmt::Write as _;

use gantry_core::names::quote;
use gantry_engine::NewAuditEntry;
use gantry_proto::v1 as pb;

/// The longest summary kept, in bytes (cut at a character boundary, with `…`).
const SUMMARY_BYTES: usize = 1_024;
/// The longest project, domain, target or principal kept: a refused request's fields may be of any length.
const FIELD_BYTES: usize = 300;
/// The longest status message kept (a worker's error message is cut at 8 KiB too).
const MESSAGE_BYTES: usize = 8 * 1_024;

/// An audited call as its handler describes it, before it ran.
#[derive(Debug, Clone)]
pub struct Audited {
    pub(super) rpc: &'static str,
    principal: String,
    project: String,
    domain: String,
    target: String,
    summary: Vec<String>,
    /// The request holds literals (inputs, default inputs, bindings), which a refusal's message may quote.
    carries_literals: bool,
}

impl Audited {
    fn new(rpc: &'static str, principal: String) -> Self {
        Audited {
            rpc,
            principal,
            project: String::new(),
            domain: String::new(),
            target: String::new(),
            summary: Vec::new(),
            carries_literals: false,
        }
    }

    /// A registration's entry: the identifier as target, the resource's kind and interface's names.
    fn registration(rpc: &'static str, principal: String, id: Option<&pb::Identifier>, kind: &str) -> Self {
        let mut audited = Audited::new(rpc, principal);
        if let Some(id) = id {
            audited.project.clone_from(&id.project);
            audited.domain.clone_from(&id.domain);
            audited.target = format!("{}@{}", id.name, id.version);
        }
        audited.summary.push(kind.to_owned());
        audited
    }

    pub fn register_task(principal: String, request: &pb::RegisterTaskRequest) -> Self {
        let task = request.task.as_ref();
        let mut audited = Audited::registration("RegisterTask", principal, task.and_then(|t| t.id.as_ref()), "task");
        if let Some(interface) = task.and_then(|t| t.interface.as_ref()) {
            audited.interface(interface);
        }
        audited
    }

    pub fn register_workflow(principal: String, request: &pb::RegisterWorkflowRequest) -> Self {
        let workflow = request.workflow.as_ref();
        let mut audited = Audited::registration(
            "RegisterWorkflow",
            principal,
            workflow.and_then(|w| w.id.as_ref()),
            "workflow",
        );
        audited.carries_literals = true;
        if let Some(workflow) = workflow {
            audited.summary.push(format!("{} nodes", workflow.nodes.len()));
            if let Some(interface) = &workflow.interface {
                audited.interface(interface);
            }
        }
        audited
    }

    pub fn register_launch_plan(principal: String, request: &pb::RegisterLaunchPlanRequest) -> Self {
        let plan = request.launch_plan.as_ref();
        let mut audited = Audited::registration(
            "RegisterLaunchPlan",
            principal,
            plan.and_then(|p| p.id.as_ref()),
            "launch plan",
        );
        audited.carries_literals = true;
        if let Some(plan) = plan {
            if let Some(target) = &plan.target {
                audited.summary.push(format!("of {}", identifier(target)));
            }
            audited.names("default inputs", plan.default_inputs.as_ref());
            audited.names("fixed inputs", plan.fixed_inputs.as_ref());
        }
        audited
    }

    pub fn create_execution(principal: String, request: &pb::CreateExecutionRequest) -> Self {
        let mut audited = Audited::new("CreateExecution", principal);
        audited.carries_literals = true;
        audited.project.clone_from(&request.project);
        audited.domain.clone_from(&request.domain);
        use pb::create_execution_request::Target;
        match &request.target {
            Some(Target::Task(id)) => audited.summary.push(format!("task {}", identifier(id))),
            Some(Target::Workflow(id)) => audited.summary.push(format!("workflow {}", identifier(id))),
            Some(Target::LaunchPlan(id)) => audited.summary.push(format!("launch plan {}", identifier(id))),
            None => {}
        }
        audited.names("inputs", request.inputs.as_ref());
        if !request.name.is_empty() {
            audited.summary.push(format!("name {}", quote(&request.name)));
        }
        if let Some(max) = request.max_parallelism {
            audited.summary.push(format!("max_parallelism {max}"));
        }
        if let Some(timeout) = &request.timeout {
            audited.summary.push(format!("timeout {}s", timeout.seconds));
        }
        if request.overwrite_cache {
            audited.summary.push("overwrite_cache".to_owned());
        }
        audited
    }

    pub fn terminate(principal: String, request: &pb::TerminateExecutionRequest) -> Self {
        let mut audited = Audited::new("TerminateExecution", principal);
        audited.target.clone_from(&request.id);
        if !request.reason.is_empty() {
            audited.summary.push(format!("reason {}", quote(&request.reason)));
        }
        audited
    }

    /// SetSignal: the signal, and an approval's decision (a boolean); never another value.
    pub fn set_signal(principal: String, request: &pb::SetSignalRequest) -> Self {
        let mut audited = Audited::new("SetSignal", principal);
        audited.target.clone_from(&request.execution_id);
        audited.summary.push(format!("signal {}", quote(&request.signal_id)));
        if let Some(pb::literal::Value::Boolean(decision)) =
            request.value.as_ref().and_then(|value| value.value.as_ref())
        {
            audited.summary.push(format!("to {decision}"));
        }
        audited
    }

    /// ActivateSchedule (`active`) or DeactivateSchedule: the launch plan is the target.
    pub fn schedule(principal: String, launch_plan: Option<&pb::Identifier>, active: bool) -> Self {
        let rpc = if active {
            "ActivateSchedule"
        } else {
            "DeactivateSchedule"
        };
        Audited::registration(rpc, principal, launch_plan, "launch plan")
    }

    /// RelaunchExecution, or RecoverExecution with `recover`.
    pub fn rerun(principal: String, (id, name, overwrite_cache): (&str, &str, bool), recover: bool) -> Self {
        let rpc = if recover {
            "RecoverExecution"
        } else {
            "RelaunchExecution"
        };
        let mut audited = Audited::new(rpc, principal);
        audited.target = id.to_owned();
        if !name.is_empty() {
            audited.summary.push(format!("as {}", quote(name)));
        }
        if overwrite_cache {
            audited.summary.push("overwrite_cache".to_owned());
        }
        audited
    }

    /// CreateApiKey: the project and role asked for, never the token (the key's id, once issued, is the target).
    pub fn create_api_key(principal: String, request: &pb::CreateApiKeyRequest) -> Self {
        let mut audited = Audited::new("CreateApiKey", principal);
        audited.project.clone_from(&request.project);
        let role = pb::Role::try_from(request.role).map_or("unknown role", |role| role.as_str_name());
        audited.summary.push(format!("role {role}"));
        if let Some(expires_in) = &request.expires_in {
            audited.summary.push(format!("expires in {}s", expires_in.seconds));
        }
        audited
    }

    pub fn revoke_api_key(principal: String, request: &pb::RevokeApiKeyRequest) -> Self {
        let mut audited = Audited::new("RevokeApiKey", principal);
        audited.target.clone_from(&request.id);
        audited
    }

    pub fn create_project(principal: String, request: &pb::CreateProjectRequest) -> Self {
        let mut audited = Audited::new("CreateProject", principal);
        audited.project.clone_from(&request.id);
        audited.target.clone_from(&request.id);
        if !request.domains.is_empty() {
            audited.summary.push(format!("domains: {}", request.domains.join(", ")));
        }
        audited
    }

    pub fn archive_project(principal: String, request: &pb::ArchiveProjectRequest) -> Self {
        let mut audited = Audited::new("ArchiveProject", principal);
        audited.project.clone_from(&request.id);
        audited.target.clone_from(&request.id);
        audited
    }

    /// The target, learned from the answer (a new key's id).
    pub fn set_target(&mut self, target: &str) {
        self.target = target.to_owned();
    }

    /// What the answer says of the execution a call acted on: its project and domain, and, as the target, its id
    /// (`as_target`) or, for a relaunch or recovery, the new execution named in the summary.
    pub fn execution(&mut self, execution: Option<&pb::Execution>, created: bool, as_target: bool) {
        let Some(execution) = execution else { return };
        self.project.clone_from(&execution.project);
        self.domain.clone_from(&execution.domain);
        if as_target {
            self.target.clone_from(&execution.id);
        } else {
            self.summary.push(format!("new execution {}", execution.id));
        }
        if !created {
            self.summary.push("existing execution returned".to_owned());
        }
    }

    /// The entry, with the call's outcome.
    pub(super) fn into_entry(self, outcome: String, message: String) -> NewAuditEntry {
        let message = match self.carries_literals {
            true => withheld(message),
            false => message,
        };
        NewAuditEntry {
            principal: capped(&self.principal, FIELD_BYTES),
            rpc: self.rpc.to_owned(),
            project: capped(&self.project, FIELD_BYTES),
            domain: capped(&self.domain, FIELD_BYTES),
            target: capped(&self.target, FIELD_BYTES),
            summary: capped(&self.summary.join("; "), SUMMARY_BYTES),
            outcome,
            message: capped(&message, MESSAGE_BYTES),
        }
    }

    fn interface(&mut self, interface: &pb::TypedInterface) {
        let inputs: Vec<&str> = interface.inputs.iter().map(|v| v.name.as_str()).collect();
        let outputs: Vec<&str> = interface.outputs.iter().map(|v| v.name.as_str()).collect();
        self.summary.push(format!("inputs: {}", list(&inputs)));
        self.summary.push(format!("outputs: {}", list(&outputs)));
    }

    /// The names of a literal map's entries, never their values.
    fn names(&mut self, what: &str, map: Option<&pb::LiteralMap>) {
        let names: Vec<&str> = map
            .map(|map| map.literals.keys().map(String::as_str).collect())
            .unwrap_or_default();
        if !names.is_empty() || what == "inputs" {
            self.summary.push(format!("{what}: {}", list(&names)));
        }
    }
}

/// A refusal's message without what may describe a value: the checks of literals name the field and then say what is
/// wrong with the value, quoting it (`input "colour": "hunter2" is not one of enum{red, blue}`, `expected enum{red,
/// blue}, got "hunter2"`), so only what comes before the first `: ` is kept: the field, or a message without one.
fn withheld(message: String) -> String {
    match message.split_once(": ") {
        Some((field, _)) => format!("{field}: … (the rest withheld from the audit log: it may quote an input value)"),
        None => message,
    }
}

fn identifier(id: &pb::Identifier) -> String {
    format!("{}/{}/{}@{}", id.project, id.domain, id.name, id.version)
}

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// `text` as stored: control characters (NUL included, which Postgres does not store in text) written as escapes,
/// and cut at `max` bytes (at a character, with `…`). A refused request's fields are recorded as they came.
fn capped(text: &str, max: usize) -> String {
    let mut kept = String::with_capacity(text.len().min(max + 4));
    for character in text.chars() {
        if kept.len() >= max {
            kept.push('…');
            break;
        }
        if character.is_control() {
            let _ = write!(kept, "{}", character.escape_default());
        } else {
            kept.push(character);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn literal(text: &str) -> pb::Literal {
        pb::Literal {
            value: Some(pb::literal::Value::StringValue(text.to_owned())),
            hash: String::new(),
        }
    }

    #[test]
    fn an_execution_is_summarised_by_target_input_names_and_options_without_values() {
        let request = pb::CreateExecutionRequest {
            project: "demo".to_owned(),
            domain: "dev".to_owned(),
            name: "nightly".to_owned(),
            target: Some(pb::create_execution_request::Target::Task(pb::Identifier {
                project: "demo".to_owned(),
                domain: "dev".to_owned(),
                name: "t".to_owned(),
                version: "1".to_owned(),
            })),
            inputs: Some(pb::LiteralMap {
                literals: [("password".to_owned(), literal("hunter2"))].into_iter().collect(),
            }),
            max_parallelism: Some(4),
            overwrite_cache: true,
            timeout: None,
        };
        let entry = Audited::create_execution("alice".to_owned(), &request).into_entry("OK".into(), String::new());
        assert_eq!(
            entry.summary,
            "task demo/dev/t@1; inputs: password; name \"nightly\"; max_parallelism 4; overwrite_cache"
        );
        assert_eq!((entry.project.as_str(), entry.domain.as_str()), ("demo", "dev"));
        assert!(!format!("{entry:?}").contains("hunter2"));
    }

    #[test]
    fn a_refusal_quoting_a_value_is_recorded_without_it() {
        let request = pb::CreateExecutionRequest::default();
        let entry = Audited::create_execution("alice".to_owned(), &request).into_entry(
            "INVALID_ARGUMENT".into(),
            "input \"colour\": \"hunter2\" is not one of enum{red, blue}".into(),
        );
        assert_eq!(
            entry.message,
            "input \"colour\": … (the rest withheld from the audit log: it may quote an input value)"
        );
        let terminate = Audited::terminate("alice".to_owned(), &pb::TerminateExecutionRequest::default())
            .into_entry("NOT_FOUND".into(), "id: execution x not found".into());
        assert_eq!(
            terminate.message, "id: execution x not found",
            "no literals: kept whole"
        );
    }

    #[test]
    fn long_fields_are_cut_at_a_character_and_control_characters_escaped() {
        let summary = capped(&"é".repeat(SUMMARY_BYTES), SUMMARY_BYTES);
        assert!(summary.len() <= SUMMARY_BYTES + "…".len());
        assert!(summary.ends_with('…'));
        assert_eq!(capped("de\0mo\n", FIELD_BYTES), "de\\u{0}mo\\n");
        let request = pb::CreateExecutionRequest {
            project: "p".repeat(2_000_000),
            ..Default::default()
        };
        let entry = Audited::create_execution("alice".to_owned(), &request).into_entry("OK".into(), String::new());
        assert_eq!(entry.project.len(), FIELD_BYTES + "…".len());
    }
}
