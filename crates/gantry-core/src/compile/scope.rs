//! Templates embedded in a dynamic spec belong to that spec. One that differs from the template registered under its
//! identifier does not replace it, and is not refused: the spec's nodes run it under a scoped identifier, the same
//! one with `~spec-<digest>` appended to its version, where the digest names the embedded template's contents. Two
//! specs embedding the same contents share one scoped template; what is registered under the plain identifier never
//! changes. (Flyte lets a dynamic spec's templates shadow registered ones, and flytekit relies on it: the template a
//! nested dynamic embeds carries the run's settings in its environment, so it differs from the registered one.)
//!
//! A sub-workflow that refers to a renamed template differs from the registered one in turn, and is scoped likewise.
//!
//! A node whose overrides change its template (cache, resources, image) runs a derived template, the task's with
//! them applied, under a scoped identifier named the same way ([`derive_overridden`]); registered workflows get
//! theirs as they are registered, dynamic specs as they are accepted ([`scope_spec`]).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::model::{
    DynamicJobSpec, ElseArm, Identifier, Node, NodeTarget, ResourceKind, TaskTemplate, WorkflowTemplate, references,
    rename_references,
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

/// Scopes a dynamic spec: the derived templates of its nodes' overrides (its sub-workflows' nodes included) are
/// added to its embedded templates, then the embedded templates that differ from registered ones are renamed
/// ([`scope_embedded`]). Returns every rename.
pub fn scope_spec(
    spec: &mut DynamicJobSpec,
    registered: &dyn Resolver,
    digest: &dyn Fn(EmbeddedTemplate<'_>) -> String,
) -> Vec<Scoped> {
    let embedded: HashMap<Identifier, Arc<TaskTemplate>> = spec
        .tasks
        .iter()
        .map(|task| (task.id.clone(), Arc::new(task.clone())))
        .collect();
    let resolve = |id: &Identifier| embedded.get(id).cloned().or_else(|| registered.task(id));
    let mut derived = derive_overridden(&mut spec.nodes, &resolve, digest);
    for workflow in &mut spec.subworkflows {
        derived.extend(derive_overridden(&mut workflow.nodes, &resolve, digest));
    }
    let mut done: Vec<Scoped> = Vec::new();
    for (registered, task) in derived {
        if !done.iter().any(|scoped| scoped.scoped == task.id) {
            done.push(Scoped {
                kind: ResourceKind::Task,
                registered,
                scoped: task.id.clone(),
            });
            spec.tasks.push(task);
        }
    }
    done.extend(scope_embedded(spec, registered, digest));
    done
}

/// Points every task node of `nodes` (branch arms and array elements included) whose overrides change its template
/// at a template derived from its task's (`resolve`), with those overrides applied and cleared from the node, under
/// the task's identifier scoped by the derived template's `digest`. Returns the derived templates with the identifier
/// each derives from. A task `resolve` does not know is left for the compiler to report.
pub fn derive_overridden(
    nodes: &mut [Node],
    resolve: &dyn Fn(&Identifier) -> Option<Arc<TaskTemplate>>,
    digest: &dyn Fn(EmbeddedTemplate<'_>) -> String,
) -> Vec<(Identifier, TaskTemplate)> {
    let mut derived = Vec::new();
    for node in nodes {
        match &mut node.target {
            NodeTarget::Task(id) if node.overrides.changes_template() => {
                let Some(task) = resolve(id) else {
                    continue;
                };
                let mut template = node.overrides.apply(&task);
                node.overrides = node.overrides.applied();
                // Overrides that restate the task's own settings (flytekit copies a task's metadata into its nodes)
                // change nothing.
                if template == *task {
                    continue;
                }
                let scoped = scoped_id(id, &digest(EmbeddedTemplate::Task(&template)));
                template.id = scoped.clone();
                derived.push((std::mem::replace(id, scoped), template));
            }
            NodeTarget::Branch(branch) => {
                for case in &mut branch.cases {
                    derived.extend(derive_overridden(
                        std::slice::from_mut(&mut *case.then_node),
                        resolve,
                        digest,
                    ));
                }
                if let Some(ElseArm::Node(arm)) = &mut branch.otherwise {
                    derived.extend(derive_overridden(std::slice::from_mut(&mut **arm), resolve, digest));
                }
            }
            NodeTarget::Array(array) => {
                derived.extend(derive_overridden(
                    std::slice::from_mut(&mut *array.node),
                    resolve,
                    digest,
                ));
            }
            _ => {}
        }
    }
    derived
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
