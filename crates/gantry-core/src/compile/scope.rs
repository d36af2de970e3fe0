//! Templates embedded in a dynamic spec belong to that spec. One that differs from the template registered under its
//! identifier does not replace it, and is not refused: the spec's nodes run it under a scoped identifier, the same
//! one with `~spec-<digest>` appended to its version, where the digest names the embedded template's contents. Two
//! specs embedding the same contents share one scoped template; what is registered under the plain identifier never
//! changes. (Flyte lets a dynamic spec's templates shadow registered ones, and flytekit relies on it: the template a
//! nested dynamic embeds carries the run's settings in its environment, so it differs from the registered one.)
//!
//! A sub-workflow that refers to a renamed template differs from the registered one in turn, and is scoped likewise.

use std::collections::{HashMap, HashSet};

use crate::model::{
    DynamicJobSpec, Identifier, ResourceKind, TaskTemplate, WorkflowTemplate, references, rename_references,
};

use super::Resolver;

/// What separates a version from the digest of a spec-scoped template. Registered versions may not end with it and
/// a digest (see [`is_scoped_version`]).
pub const SCOPE_MARK: &str = "~spec-";

/// How many hex digits of the digest a scoped version keeps.
pub const SCOPE_DIGEST_CHARS: usize = 16;

/// An embedded template, for the caller's digest of its contents.
#[derive(Debug, Clone, Copy)]
pub enum EmbeddedTemplate<'a> {
    Task(&'a TaskTemplate),
    Workflow(&'a WorkflowTemplate),
}

/// One embedded template the spec now names under a scoped identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scoped {
    pub kind: ResourceKind,
    pub registered: Identifier,
    pub scoped: Identifier,
}

/// Whether `version` is that of a spec-scoped template (`<version>~spec-<16 hex digits>`).
pub fn is_scoped_version(version: &str) -> bool {
    let Some((_, digest)) = version.rsplit_once(SCOPE_MARK) else {
        return false;
    };
    digest.len() == SCOPE_DIGEST_CHARS && digest.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn scoped_id(id: &Identifier, digest: &str) -> Identifier {
    let digest = &digest[..digest.len().min(SCOPE_DIGEST_CHARS)];
    Identifier {
        version: format!("{}{SCOPE_MARK}{digest}", id.version),
        ..id.clone()
    }
}

/// Renames, in place, every template embedded in `spec` that differs from the one `registered` resolves under its
/// identifier, and every reference to it. `digest` names a template's contents in lowercase hex (at least
/// [`SCOPE_DIGEST_CHARS`] digits); it sees each template as embedded, with the references it holds already
/// renamed. Templates that are not registered, or registered with the same contents, keep their identifiers.
/// Returns the renames, tasks first.
pub fn scope_embedded(
    spec: &mut DynamicJobSpec,
    registered: &dyn Resolver,
    digest: &dyn Fn(EmbeddedTemplate<'_>) -> String,
) -> Vec<Scoped> {
    let mut done = Vec::new();
    let mut tasks = HashMap::new();
    for task in &mut spec.tasks {
        let renamed = match tasks.get(&task.id) {
            Some(renamed) => Some(Identifier::clone(renamed)),
            None => match registered.task(&task.id) {
                Some(existing) if *existing != *task => {
                    let scoped = scoped_id(&task.id, &digest(EmbeddedTemplate::Task(task)));
                    tasks.insert(task.id.clone(), scoped.clone());
                    done.push(Scoped {
                        kind: ResourceKind::Task,
                        registered: task.id.clone(),
                        scoped: scoped.clone(),
                    });
                    Some(scoped)
                }
                _ => None,
            },
        };
        if let Some(renamed) = renamed {
            task.id = renamed;
        }
    }
    let rename_tasks = |kind: ResourceKind, id: &Identifier| match kind {
        ResourceKind::Task => tasks.get(id).cloned(),
        _ => None,
    };
    if !tasks.is_empty() {
        rename_references(&mut spec.nodes, &rename_tasks);
        for workflow in &mut spec.subworkflows {
            rename_references(&mut workflow.nodes, &rename_tasks);
        }
    }
    // A sub-workflow differs when its contents do, or when one it runs differs (it now names a scoped one). Which
    // ones differ is settled first; then each is named after the ones it runs have their final names, so that its
    // digest covers what it will hold.
    let runs = |workflow: &WorkflowTemplate| -> Vec<Identifier> {
        references(&workflow.nodes)
            .into_iter()
            .filter_map(|(kind, id)| (kind == ResourceKind::Workflow).then_some(id))
            .collect()
    };
    let mut differing: HashSet<Identifier> = spec
        .subworkflows
        .iter()
        .filter(|workflow| {
            registered
                .workflow(&workflow.id)
                .is_some_and(|existing| *existing != **workflow)
        })
        .map(|workflow| workflow.id.clone())
        .collect();
    loop {
        let more: Vec<Identifier> = spec
            .subworkflows
            .iter()
            .filter(|workflow| !differing.contains(&workflow.id) && registered.workflow(&workflow.id).is_some())
            .filter(|workflow| runs(workflow).iter().any(|id| differing.contains(id)))
            .map(|workflow| workflow.id.clone())
            .collect();
        if more.is_empty() {
            break;
        }
        differing.extend(more);
    }
    let mut workflows: HashMap<Identifier, Identifier> = HashMap::new();
    while workflows.len() < differing.len() {
        let ready = |workflow: &WorkflowTemplate| {
            differing.contains(&workflow.id)
                && !workflows.contains_key(&workflow.id)
                && runs(workflow)
                    .iter()
                    .all(|id| *id == workflow.id || !differing.contains(id) || workflows.contains_key(id))
        };
        // In a cycle (which does not compile) nothing is ready: name what is left as it stands.
        let stuck = !spec.subworkflows.iter().any(ready);
        let mut named = Vec::new();
        for workflow in &spec.subworkflows {
            if (stuck || ready(workflow)) && differing.contains(&workflow.id) && !workflows.contains_key(&workflow.id) {
                let mut renamed = workflow.clone();
                rename_references(&mut renamed.nodes, &|kind, id| match kind {
                    ResourceKind::Workflow => workflows.get(id).cloned(),
                    _ => None,
                });
                named.push((
                    workflow.id.clone(),
                    scoped_id(&workflow.id, &digest(EmbeddedTemplate::Workflow(&renamed))),
                ));
            }
        }
        for (id, scoped) in named {
            if let std::collections::hash_map::Entry::Vacant(entry) = workflows.entry(id) {
                done.push(Scoped {
                    kind: ResourceKind::Workflow,
                    registered: entry.key().clone(),
                    scoped: scoped.clone(),
                });
                entry.insert(scoped);
            }
        }
    }
    if !workflows.is_empty() {
        let rename = |kind: ResourceKind, id: &Identifier| match kind {
            ResourceKind::Workflow => workflows.get(id).cloned(),
            _ => None,
        };
        for workflow in &mut spec.subworkflows {
            if let Some(scoped) = workflows.get(&workflow.id) {
                workflow.id = scoped.clone();
            }
            rename_references(&mut workflow.nodes, &rename);
        }
        rename_references(&mut spec.nodes, &rename);
    }
    done
}
