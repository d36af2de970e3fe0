//! `gantry task|workflow|launch-plan list|show`: what is registered, by name and version.

use std::process::ExitCode;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use gantry_core::model::{
    Identifier, LaunchPlan, ResourceKind, TaskPlugin, TaskTemplate, TypedInterface, WorkflowTemplate,
};
use serde_json::{Value, json};

use crate::client::{Admin, Connection, connect, get_launch_plan, get_task, get_workflow, list_registered};
use crate::reference::Reference;
use crate::render::{OutputFormat, print_json, table};
use gantry_text::json::{literal_map_to_json, literal_to_json};
use gantry_text::time_text::format_duration;
use gantry_text::types::format_type;

/// `gantry task ...`, `gantry workflow ...`, `gantry launch-plan ...`.
#[derive(Debug, clap::Subcommand)]
pub enum CatalogCommand {
    /// List what is registered, by name and version.
    #[command(visible_alias = "ls")]
    List(CatalogListArgs),
    /// Show one, with its interface: `project/domain/name@version`, or `name[@version]` in --project and --domain
    /// (without a version, the one registered last).
    #[command(visible_alias = "get")]
    Show {
        /// What to show.
        id: String,
        #[command(flatten)]
        scope: Scope,
    },
}

/// `--project` and `--domain`, defaulting to the SDKs' defaults.
#[derive(Debug, Clone, clap::Args)]
pub struct Scope {
    /// The project.
    #[arg(long, env = "GANTRY_PROJECT", default_value = gantry_worker::DEFAULT_PROJECT)]
    pub project: String,
    /// The domain.
    #[arg(long, env = "GANTRY_DOMAIN", default_value = gantry_worker::DEFAULT_DOMAIN)]
    pub domain: String,
}

/// `list`'s arguments.
#[derive(Debug, clap::Args)]
pub struct CatalogListArgs {
    #[command(flatten)]
    scope: Scope,
    /// Only the versions of this name.
    #[arg(long, default_value = "")]
    name: String,
    /// The most to show.
    #[arg(long, default_value_t = 50)]
    limit: u32,
}

/// Runs a catalog command for `kind`.
pub async fn catalog(
    server: &Connection,
    output: OutputFormat,
    kind: ResourceKind,
    command: CatalogCommand,
) -> anyhow::Result<ExitCode> {
    let mut client = connect(server).await?;
    match command {
        CatalogCommand::List(args) => list(&mut client, output, kind, args).await,
        CatalogCommand::Show { id, scope } => show(&mut client, output, kind, &id, &scope).await,
    }
}

async fn list(
    client: &mut Admin,
    output: OutputFormat,
    kind: ResourceKind,
    args: CatalogListArgs,
) -> anyhow::Result<ExitCode> {
    let Scope { project, domain } = &args.scope;
    let ids = list_registered(client, kind, project, domain, &args.name, args.limit as usize).await?;
    match output {
        OutputFormat::Json => print_json(&Value::Array(ids.iter().map(|id| json!(id.to_string())).collect())),
        OutputFormat::Table if ids.is_empty() => {
            let named = if args.name.is_empty() {
                String::new()
            } else {
                format!(" named {:?}", args.name)
            };
            errln!("no {kind}{named} is registered in {project}/{domain}");
        }
        OutputFormat::Table => {
            let mut rows = table(["NAME", "VERSION", "ID"]);
            for id in &ids {
                rows.add_row(vec![id.name.clone(), id.version.clone(), id.to_string()]);
            }
            outln!("{rows}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn show(
    client: &mut Admin,
    output: OutputFormat,
    kind: ResourceKind,
    text: &str,
    scope: &Scope,
) -> anyhow::Result<ExitCode> {
    let reference = Reference::parse(text)?;
    let project = reference.project.clone().unwrap_or_else(|| scope.project.clone());
    let domain = reference.domain.clone().unwrap_or_else(|| scope.domain.clone());
    let version = match reference.version.clone() {
        Some(version) => version,
        None => crate::client::latest_version(client, kind, &project, &domain, &reference.name).await?,
    };
    let id = Identifier::new(project, domain, reference.name, version);
    let (fields, value) = match kind {
        ResourceKind::Task => task_fields(&get_task(client, &id).await?),
        ResourceKind::Workflow => workflow_fields(&get_workflow(client, &id).await?),
        ResourceKind::LaunchPlan => launch_plan_fields(&get_launch_plan(client, &id).await?),
    };
    match output {
        OutputFormat::Json => print_json(&value),
        OutputFormat::Table => {
            let mut rows = table(["FIELD", "VALUE"]);
            for (field, text) in fields {
                rows.add_row(vec![field.to_owned(), text]);
            }
            outln!("{rows}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

type Fields = Vec<(&'static str, String)>;

/// `index: integer, n: integer = 3`.
fn variables_text(variables: &[gantry_core::model::Variable]) -> String {
    let texts: Vec<String> = variables
        .iter()
        .map(|v| match &v.default {
            Some(default) => format!("{}: {} = {}", v.name, format_type(&v.ty), literal_to_json(default)),
            None => format!("{}: {}", v.name, format_type(&v.ty)),
        })
        .collect();
    texts.join(", ")
}

fn variables_json(variables: &[gantry_core::model::Variable]) -> Value {
    Value::Array(
        variables
            .iter()
            .map(|v| {
                let mut value = json!({"name": v.name, "type": format_type(&v.ty)});
                if let Some(default) = &v.default {
                    value["default"] = literal_to_json(default);
                }
                value
            })
            .collect(),
    )
}

fn interface_fields(id: &Identifier, interface: &TypedInterface) -> (Fields, Value) {
    let fields = vec![
        ("id", id.to_string()),
        ("inputs", variables_text(&interface.inputs)),
        ("outputs", variables_text(&interface.outputs)),
    ];
    let value = json!({
        "id": id.to_string(),
        "inputs": variables_json(&interface.inputs),
        "outputs": variables_json(&interface.outputs),
    });
    (fields, value)
}

fn task_fields(task: &TaskTemplate) -> (Fields, Value) {
    let (mut fields, mut value) = interface_fields(&task.id, &task.interface);
    let metadata = &task.metadata;
    let retries = format!(
        "{} user, {} system",
        metadata.retries.user_retries, metadata.retries.system_retries
    );
    let timeout = metadata.timeout.map(format_duration);
    let queue_timeout = metadata.queue_timeout.map(format_duration);
    let cache = metadata.cache.then(|| metadata.cache_version.clone());
    fields.push(("queue", metadata.queue.clone()));
    fields.push(("retries", retries.clone()));
    fields.push(("timeout", timeout.clone().unwrap_or_else(|| "none".to_owned())));
    fields.push((
        "queue timeout",
        queue_timeout.clone().unwrap_or_else(|| "none".to_owned()),
    ));
    fields.push((
        "cache",
        cache
            .as_ref()
            .map_or_else(|| "off".to_owned(), |version| format!("version {version:?}")),
    ));
    value["queue"] = json!(metadata.queue);
    value["retries"] = json!({"user": metadata.retries.user_retries, "system": metadata.retries.system_retries});
    value["timeout"] = json!(timeout);
    value["queue_timeout"] = json!(queue_timeout);
    value["cache_version"] = json!(cache);
    value["cache_serializable"] = json!(metadata.cache_serializable);
    fields.push((
        "plugin",
        task.plugin.as_ref().map_or_else(|| "none".to_owned(), plugin_text),
    ));
    value["plugin"] = task.plugin.as_ref().map_or(Value::Null, plugin_json);
    (fields, value)
}

/// `python-task, 120 bytes of custom config, config: image=x, pod=y`: the payload's type and keys for people, its
/// bytes only counted (they are the foreign system's own encoding; `--output json` gives them in base64).
fn plugin_text(plugin: &TaskPlugin) -> String {
    let config: Vec<String> = plugin
        .config
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    let mut text = format!("{}, {} bytes of custom config", plugin.task_type, plugin.custom.len());
    if !config.is_empty() {
        text.push_str(&format!(", config: {}", config.join(", ")));
    }
    text
}

/// The payload exactly: `custom` in standard base64, as binary literals are.
fn plugin_json(plugin: &TaskPlugin) -> Value {
    json!({
        "type": plugin.task_type,
        "custom": BASE64.encode(&plugin.custom),
        "config": plugin.config,
    })
}

fn workflow_fields(workflow: &WorkflowTemplate) -> (Fields, Value) {
    let (mut fields, mut value) = interface_fields(&workflow.id, &workflow.interface);
    let nodes: Vec<&str> = workflow.nodes.iter().map(|node| node.id.as_str()).collect();
    fields.push(("nodes", nodes.join(", ")));
    value["nodes"] = json!(nodes);
    (fields, value)
}

fn launch_plan_fields(plan: &LaunchPlan) -> (Fields, Value) {
    let target = format!("{} {}", plan.target_kind, plan.target);
    let defaults = literal_map_to_json(&plan.default_inputs);
    let fixed = literal_map_to_json(&plan.fixed_inputs);
    let timeout = plan.timeout.map(format_duration);
    let fields = vec![
        ("id", plan.id.to_string()),
        ("target", target.clone()),
        ("default inputs", defaults.to_string()),
        ("fixed inputs", fixed.to_string()),
        (
            "max parallelism",
            plan.max_parallelism
                .map_or_else(|| "none".to_owned(), |n| n.to_string()),
        ),
        ("timeout", timeout.clone().unwrap_or_else(|| "none".to_owned())),
    ];
    let value = json!({
        "id": plan.id.to_string(),
        "target": target,
        "default_inputs": defaults,
        "fixed_inputs": fixed,
        "max_parallelism": plan.max_parallelism,
        "timeout": timeout,
    });
    (fields, value)
}

#[cfg(test)]
mod tests {
    use gantry_core::model::{TaskMetadata, TaskPlugin, TaskTemplate};

    use super::*;

    fn task(plugin: Option<TaskPlugin>) -> TaskTemplate {
        TaskTemplate {
            id: Identifier::new("demo", "dev", "flyte", "1"),
            interface: TypedInterface::default(),
            metadata: TaskMetadata::default(),
            container: None,
            plugin,
        }
    }

    #[test]
    fn show_gives_the_plugin_payload() {
        let plugin = TaskPlugin {
            task_type: "python-task".to_owned(),
            custom: vec![0, 0xff, 7],
            config: [("image".to_owned(), "app:1".to_owned())].into(),
        };
        let (fields, value) = task_fields(&task(Some(plugin)));
        let text = fields
            .iter()
            .find(|(field, _)| *field == "plugin")
            .map(|(_, text)| text.as_str());
        assert_eq!(text, Some("python-task, 3 bytes of custom config, config: image=app:1"));
        assert_eq!(
            value["plugin"],
            json!({"type": "python-task", "custom": "AP8H", "config": {"image": "app:1"}})
        );

        let (fields, value) = task_fields(&task(None));
        assert!(fields.contains(&("plugin", "none".to_owned())));
        assert_eq!(value["plugin"], Value::Null);
    }
}
