//! Task templates, their metadata and retry policies.

use gantry_core::model::{
    ContainerSpec, MAX_PLUGIN_BYTES, Resources, RetryPolicy, TaskMetadata, TaskPlugin, TaskTemplate,
};
use prost::Message;

use gantry_core::names;

use super::interface::{check_name, interface_or_empty, required_identifier};
use super::literal::{duration_from_pb, duration_to_pb, timeout_from_pb};
use super::{ConversionError, optional};
use crate::v1 as pb;

/// The queue an empty `TaskMetadata.queue` stands for.
pub const DEFAULT_QUEUE: &str = "default";

/// Absent backoffs take the core's defaults.
impl TryFrom<pb::RetryPolicy> for RetryPolicy {
    type Error = ConversionError;

    fn try_from(retries: pb::RetryPolicy) -> Result<Self, Self::Error> {
        let defaults = RetryPolicy::default();
        Ok(RetryPolicy {
            user_retries: retries.user_retries,
            system_retries: retries.system_retries,
            initial_backoff: retries
                .initial_backoff
                .map_or(defaults.initial_backoff, duration_from_pb),
            max_backoff: retries.max_backoff.map_or(defaults.max_backoff, duration_from_pb),
        })
    }
}

impl From<RetryPolicy> for pb::RetryPolicy {
    fn from(retries: RetryPolicy) -> Self {
        pb::RetryPolicy {
            user_retries: retries.user_retries,
            system_retries: retries.system_retries,
            initial_backoff: Some(duration_to_pb(retries.initial_backoff)),
            max_backoff: Some(duration_to_pb(retries.max_backoff)),
        }
    }
}

/// An absent retry policy takes the core's defaults; an empty queue is [`DEFAULT_QUEUE`].
impl TryFrom<pb::TaskMetadata> for TaskMetadata {
    type Error = ConversionError;

    fn try_from(metadata: pb::TaskMetadata) -> Result<Self, Self::Error> {
        if !metadata.queue.is_empty() {
            check_name("queue", &metadata.queue, names::NAME)?;
        }
        if !metadata.cache_version.is_empty() {
            check_name("cache_version", &metadata.cache_version, names::NAME)?;
        }
        Ok(TaskMetadata {
            retries: optional("retries", metadata.retries)?.unwrap_or_default(),
            timeout: timeout_from_pb("timeout", metadata.timeout)?,
            queue_timeout: timeout_from_pb("queue_timeout", metadata.queue_timeout)?,
            cache: metadata.cache,
            cache_version: metadata.cache_version,
            cache_serializable: metadata.cache_serializable,
            queue: if metadata.queue.is_empty() {
                DEFAULT_QUEUE.to_owned()
            } else {
                metadata.queue
            },
        })
    }
}

impl From<TaskMetadata> for pb::TaskMetadata {
    fn from(metadata: TaskMetadata) -> Self {
        pb::TaskMetadata {
            retries: Some(metadata.retries.into()),
            timeout: metadata.timeout.map(duration_to_pb),
            queue_timeout: metadata.queue_timeout.map(duration_to_pb),
            cache: metadata.cache,
            cache_version: metadata.cache_version,
            cache_serializable: metadata.cache_serializable,
            queue: metadata.queue,
        }
    }
}

impl From<pb::ContainerSpec> for ContainerSpec {
    fn from(container: pb::ContainerSpec) -> Self {
        ContainerSpec {
            image: container.image,
            command: container.command,
            args: container.args,
            env: container.env,
            resources: container.resources.map(Into::into).unwrap_or_default(),
        }
    }
}

/// No resources are encoded as none, so that a template's bytes are what they were before resources existed.
impl From<ContainerSpec> for pb::ContainerSpec {
    fn from(container: ContainerSpec) -> Self {
        pb::ContainerSpec {
            image: container.image,
            command: container.command,
            args: container.args,
            env: container.env,
            resources: (!container.resources.is_empty()).then(|| container.resources.into()),
        }
    }
}

impl From<pb::Resources> for Resources {
    fn from(resources: pb::Resources) -> Self {
        Resources {
            requests: resources.requests,
            limits: resources.limits,
        }
    }
}

impl From<Resources> for pb::Resources {
    fn from(resources: Resources) -> Self {
        pb::Resources {
            requests: resources.requests,
            limits: resources.limits,
        }
    }
}

/// The payload is kept untouched; only its size, its type's name and its config keys are checked.
impl TryFrom<pb::TaskPlugin> for TaskPlugin {
    type Error = ConversionError;

    fn try_from(plugin: pb::TaskPlugin) -> Result<Self, Self::Error> {
        let encoded = plugin.encoded_len();
        if encoded > MAX_PLUGIN_BYTES {
            return Err(ConversionError::new(
                "",
                format!("{encoded} bytes given, over the limit of {MAX_PLUGIN_BYTES}"),
            ));
        }
        check_name("type", &plugin.r#type, names::NAME)?;
        if plugin.config.contains_key("") {
            return Err(ConversionError::new("config", "a key is empty"));
        }
        Ok(TaskPlugin {
            task_type: plugin.r#type,
            custom: plugin.custom,
            config: plugin.config,
        })
    }
}

impl From<TaskPlugin> for pb::TaskPlugin {
    fn from(plugin: TaskPlugin) -> Self {
        pb::TaskPlugin {
            r#type: plugin.task_type,
            custom: plugin.custom,
            config: plugin.config,
        }
    }
}

/// `id` is required; an absent interface is empty and absent metadata takes the core's defaults.
impl TryFrom<pb::TaskTemplate> for TaskTemplate {
    type Error = ConversionError;

    fn try_from(task: pb::TaskTemplate) -> Result<Self, Self::Error> {
        Ok(TaskTemplate {
            id: required_identifier("id", task.id)?,
            interface: interface_or_empty("interface", task.interface)?,
            metadata: optional("metadata", task.metadata)?.unwrap_or_default(),
            container: task.container.map(Into::into),
            plugin: optional("plugin", task.plugin)?,
        })
    }
}

impl From<TaskTemplate> for pb::TaskTemplate {
    fn from(task: TaskTemplate) -> Self {
        pb::TaskTemplate {
            id: Some(task.id.into()),
            interface: Some(task.interface.into()),
            metadata: Some(task.metadata.into()),
            container: task.container.map(Into::into),
            plugin: task.plugin.map(Into::into),
        }
    }
}
