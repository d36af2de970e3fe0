//! [`TaskDef`]: a task template built in code, registered with the server and used as a dynamic spec's node target.

use gantry_core::model::{
    ContainerSpec, Duration, Identifier, LiteralType, TaskMetadata, TaskPlugin, TaskTemplate, TypedInterface, Variable,
};

use crate::literal::IntoLiteral;

/// A task template under construction:
/// `TaskDef::new("demo", "dev", "other_task", "1").input("index", LiteralType::Integer)`.
///
/// Defaults are the server's: queue `default`, no user retries, 3 system retries, no timeout, no cache.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskDef {
    template: TaskTemplate,
}

impl TaskDef {
    /// A task in the default project and domain ([`crate::DEFAULT_PROJECT`], [`crate::DEFAULT_DOMAIN`]), with no
    /// inputs or outputs yet.
    pub fn named(name: impl Into<String>, version: impl Into<String>) -> Self {
        TaskDef::new(crate::DEFAULT_PROJECT, crate::DEFAULT_DOMAIN, name, version)
    }

    /// A task with no inputs or outputs yet.
    pub fn new(
        project: impl Into<String>,
        domain: impl Into<String>,
        name: impl Into<String>,
        version: impl Into<String>,
    ) -> Self {
        TaskDef {
            template: TaskTemplate {
                id: Identifier::new(project, domain, name, version),
                interface: TypedInterface::default(),
                metadata: TaskMetadata::default(),
                container: None,
                plugin: None,
            },
        }
    }

    /// Declares an input; inputs keep their declaration order.
    #[must_use]
    pub fn input(mut self, name: impl Into<String>, ty: LiteralType) -> Self {
        self.template.interface.inputs.push(Variable::new(name, ty));
        self
    }

    /// Declares an input that callers and nodes may leave unbound.
    #[must_use]
    pub fn input_with_default(mut self, name: impl Into<String>, ty: LiteralType, default: impl IntoLiteral) -> Self {
        let variable = Variable::new(name, ty).with_default(default.into_literal());
        self.template.interface.inputs.push(variable);
        self
    }

    /// Declares an output; outputs keep their declaration order.
    #[must_use]
    pub fn output(mut self, name: impl Into<String>, ty: LiteralType) -> Self {
        self.template.interface.outputs.push(Variable::new(name, ty));
        self
    }

    /// The queue whose workers run the task.
    #[must_use]
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.template.metadata.queue = queue.into();
        self
    }

    /// Retry budgets: after recoverable user errors, and after system errors.
    #[must_use]
    pub fn retries(mut self, user: u32, system: u32) -> Self {
        self.template.metadata.retries.user_retries = user;
        self.template.metadata.retries.system_retries = system;
        self
    }

    /// The backoff before the first retry, doubled up to `max`.
    #[must_use]
    pub fn backoff(mut self, initial: std::time::Duration, max: std::time::Duration) -> Self {
        self.template.metadata.retries.initial_backoff = duration(initial);
        self.template.metadata.retries.max_backoff = duration(max);
        self
    }

    /// Limit on one attempt's running time, from its claim. Past it the server times the attempt out (a recoverable
    /// user error, retried under the user budget) and the handler's context is cancelled.
    #[must_use]
    pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
        self.template.metadata.timeout = Some(duration(timeout));
        self
    }

    /// Limit on the time an attempt may wait queued before a worker claims it; past it the node times out.
    #[must_use]
    pub fn queue_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.template.metadata.queue_timeout = Some(duration(timeout));
        self
    }

    /// Turns caching on with `cache_version` as part of the key (bump it to invalidate earlier entries).
    #[must_use]
    pub fn cache(mut self, cache_version: impl Into<String>) -> Self {
        self.template.metadata.cache = true;
        self.template.metadata.cache_version = cache_version.into();
        self
    }

    /// With caching on, lets only one holder of a cache key run at a time.
    #[must_use]
    pub fn cache_serializable(mut self) -> Self {
        self.template.metadata.cache_serializable = true;
        self
    }

    /// How the task is started by workers that run containers; passed through by the server.
    #[must_use]
    pub fn container(mut self, container: ContainerSpec) -> Self {
        self.template.container = Some(container);
        self
    }

    /// A foreign task system's payload (a Flyte task's type, custom config and config map), stored with the
    /// template and handed untouched to the worker of each attempt ([`crate::TaskContext::plugin`]).
    #[must_use]
    pub fn plugin(mut self, plugin: TaskPlugin) -> Self {
        self.template.plugin = Some(plugin);
        self
    }

    /// `project/domain/name@version`.
    pub fn id(&self) -> &Identifier {
        &self.template.id
    }

    /// The task's name, which workers dispatch on.
    pub fn name(&self) -> &str {
        &self.template.id.name
    }

    /// The template as built so far.
    pub fn template(&self) -> &TaskTemplate {
        &self.template
    }

    /// The finished template.
    pub fn into_template(self) -> TaskTemplate {
        self.template
    }
}

impl From<TaskDef> for TaskTemplate {
    fn from(def: TaskDef) -> Self {
        def.template
    }
}

/// Wraps a template built elsewhere (read from a file, fetched from the server).
impl From<TaskTemplate> for TaskDef {
    fn from(template: TaskTemplate) -> Self {
        TaskDef { template }
    }
}

fn duration(value: std::time::Duration) -> Duration {
    Duration {
        seconds: i64::try_from(value.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(value.subsec_nanos()).unwrap_or(0),
    }
}
