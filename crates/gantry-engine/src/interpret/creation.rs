//! Creating a composite's children in bounded chunks. A 100,000-node spec must not hold the writer while its rows
//! are built and inserted: the batch that accepts it commits the spec, the parent and the first chunk, and each
//! later batch creates one more chunk beside whatever other clients sent. A chunk is sized from how long the last
//! one took, so that a batch that creates children takes about `EngineConfig::children_batch_target` (at most
//! `EngineConfig::children_chunk` children). The parent's `children_created` says how far creation got, so a
//! restarted server (or another replica, when the creating one died) goes on from there.
//!
//! Children are created in order. A child whose upstream nodes were created in an earlier chunk looks at them when
//! it is created: those that succeeded no longer hold it, one that failed or was skipped skips it, those still
//! running release it when they settle. An array element beyond the first `parallelism` starts when it is created
//! if enough elements have settled by then.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use gantry_core::model::NodeTarget;
use gantry_core::state::{ChildCounts, NodeEvent, NodePhase, flow};

use crate::batch::{Batch, NodeKey};

/// How many children the first chunk creates, before any batch was timed.
pub(crate) const FIRST_CHUNK: usize = 500;
/// The smallest chunk: below it, the commit costs more than the children.
const SMALLEST_CHUNK: usize = 50;

/// Sizes the next chunk from how long a batch that created `created` children took: aiming at the configured
/// batch time, halfway from the current size (so that one slow commit does not swing it), within the configured
/// maximum.
pub(crate) fn adapt_chunk(shared: &Shared, created: usize, took: Duration) {
    let config = &shared.config;
    if created == 0 || config.children_chunk <= SMALLEST_CHUNK {
        return;
    }
    let per_child = took.as_secs_f64() / created as f64;
    let fitting = (config.children_batch_target.as_secs_f64() / per_child.max(1e-9)) as usize;
    let current = shared.chunk.load(Ordering::Relaxed);
    let next = ((current + fitting) / 2).clamp(SMALLEST_CHUNK, config.children_chunk);
    shared.chunk.store(next, Ordering::Relaxed);
}

/// How often the sweeper looks for composites whose children stopped being created.
pub(crate) const STALL_CHECK_MS: i64 = 5_000;
/// A composite whose children no one created a chunk of for this long is taken over (its creator died). The one
/// creating it updates it every chunk, a few milliseconds apart.
pub(crate) const STALLED_AFTER_MS: i64 = 10_000;
use super::counts_of;
use super::start::Prepared;
use crate::codec;
use crate::error::{EngineError, EngineResult};
use crate::interpret::Children;
use crate::interpret::Scope;
use crate::shared::Shared;

impl Batch<'_> {
    /// Creates the first chunk of a node's prepared children, all of them when they fit, and reports them created.
    pub async fn create_node_children(&mut self, key: &NodeKey) -> EngineResult<()> {
        let Some(children) = self.prepared.get(key).cloned() else {
            return Err(EngineError::Internal(format!(
                "no prepared children for node {:?}",
                key.1
            )));
        };
        let scope = self.child_scope(key).await?;
        let total = children.len();
        let end = total.min(self.shared.chunk.load(Ordering::Relaxed));
        let skipped = self.create_children(&scope, &children, 0..end);
        self.outcome.children_chunked += end;
        let row = self.rows.node_mut(key);
        row.children_total = total as i64;
        row.children_created = end as i64;
        row.children_skipped = skipped as i64;
        if end < total {
            self.shared.remember_children(key, Arc::new(children));
            self.outcome.creating.push(key.clone());
        }
        let rule = self.plan(key).await?.rule;
        let counts = ChildCounts {
            skipped,
            ..ChildCounts::new(total as u64)
        };
        let first_failure = self.first_child_failure(key, counts, rule).await?;
        self.events.push_back((
            key.clone(),
            NodeEvent::ChildrenCreated {
                counts,
                rule,
                first_failure,
            },
        ));
        Ok(())
    }

    /// Starts the children of the node's first chunk that can start.
    pub async fn start_node_children(&mut self, key: &NodeKey) -> EngineResult<()> {
        let Some(children) = self.prepared.get(key).cloned() else {
            return Err(EngineError::Internal(format!(
                "no prepared children for node {:?}",
                key.1
            )));
        };
        let scope = self.child_scope(key).await?;
        let created = self.rows.node(key).await?.children_created as usize;
        self.start_created(&scope, &children, 0..created, 0).await
    }

    /// Creates the next chunk of the node's children, if it still runs and has children to create; queues the node
    /// again when more remain.
    pub async fn continue_children(&mut self, key: &NodeKey) -> EngineResult<()> {
        let row = self.rows.node(key).await?;
        let (start, total) = (row.children_created as usize, row.children_total as usize);
        if row.phase != NodePhase::ChildrenRunning || start >= total {
            self.shared.forget_children(key);
            return Ok(());
        }
        let settled = counts_of(row).settled();
        let children = match self.shared.children(key) {
            Some(children) => children,
            None => {
                // Values its children need are being fetched: they go on creating it when they come (or the sweeper
                // takes the creation over, if the fetch failed).
                let Some(children) = self.rebuild_children(key).await? else {
                    return Ok(());
                };
                let children = Arc::new(children);
                self.shared.remember_children(key, children.clone());
                children
            }
        };
        if children.len() != total {
            return Err(EngineError::Internal(format!(
                "node {:?} has {total} children, but {} were prepared again",
                key.1,
                children.len()
            )));
        }
        let scope = self.child_scope(key).await?;
        let end = total.min(start + self.shared.chunk.load(Ordering::Relaxed));
        self.create_children(&scope, &children, start..end);
        let now = self.now;
        self.outcome.children_chunked += end - start;
        let row = self.rows.node_mut(key);
        row.children_created = end as i64;
        row.updated_at = now;
        self.start_created(&scope, &children, start..end, settled).await?;
        if end < total {
            self.outcome.creating.push(key.clone());
        } else {
            self.shared.forget_children(key);
        }
        self.run().await
    }

    /// Starts the children in `range`, created just now: graph nodes whose upstream nodes all succeeded (or are not
    /// there to wait for), skipping those with an upstream node that failed; array elements within the parallelism,
    /// given `settled` elements have finished; a branch's taken arm.
    pub(crate) async fn start_created(
        &mut self,
        scope: &Scope,
        children: &Children,
        range: Range<usize>,
        settled: u64,
    ) -> EngineResult<()> {
        let mut follow = Vec::new();
        match children {
            Children::Graph(graph) => {
                // Upstream nodes of earlier chunks exist and may have settled: read them once.
                let earlier: Vec<String> = range
                    .clone()
                    .flat_map(|i| graph.nodes[i].upstream.iter().copied())
                    .filter(|&u| u < range.start)
                    .map(|u| scope.child_id(graph.node_id(u)))
                    .collect();
                self.rows.load_nodes(scope.execution_id, &earlier).await?;
                for i in range.clone() {
                    // Upstream nodes in this chunk or a later one have not settled.
                    let upstream = graph.nodes[i].upstream.iter().map(|&u| {
                        let earlier = (u < range.start).then(|| (scope.execution_id, scope.child_id(graph.node_id(u))));
                        earlier.and_then(|key| self.rows.held_node(&key)).map(|row| row.phase)
                    });
                    let (pending, then) = flow::created_child(upstream);
                    let key = (scope.execution_id, scope.child_id(graph.node_id(i)));
                    // `create_children` counted every upstream node as pending.
                    if range.start > 0 && then != flow::Then::Skip {
                        self.rows.node_mut(&key).upstream_pending = pending as i32;
                    }
                    if then != flow::Then::Nothing {
                        follow.push((key, then));
                    }
                }
            }
            Children::Arms { nodes, taken } => {
                if range.contains(taken) {
                    follow.push((
                        (scope.execution_id, scope.child_id(&nodes[*taken].id)),
                        flow::Then::Start,
                    ));
                }
            }
            Children::Elements { nodes, parallelism } => {
                let started = flow::elements_started(nodes.len() as u64, *parallelism, settled);
                for i in range.filter(|&i| (i as u64) < started) {
                    follow.push(((scope.execution_id, scope.child_id(&nodes[i].id)), flow::Then::Start));
                }
            }
        }
        // Nodes start first, then the skips are queued, as events.
        follow.sort_by_key(|(_, then)| *then == flow::Then::Skip);
        for (key, then) in follow {
            self.follow(&key, then).await?;
        }
        Ok(())
    }

    /// A node's children prepared again, after a restart (or on another replica): a dynamic node's from its accepted
    /// spec, a sub-workflow's from its workflow, an array's from its inputs. `None` when offloaded values that needs
    /// are not in the batch: they are fetched outside the writer (`hydration.rs`), which then creates the next chunk.
    async fn rebuild_children(&mut self, key: &NodeKey) -> EngineResult<Option<Children>> {
        let row = self.rows.node(key).await?;
        let (is_dynamic, attempt, task_id) = (
            row.is_dynamic,
            row.attempts.saturating_sub(1),
            row.task.clone().unwrap_or_default(),
        );
        if is_dynamic {
            return self.spec_children(key, attempt, &task_id).await.map(Some);
        }
        let definition = codec::decode_node(&self.rows.node(key).await?.definition)?;
        if let NodeTarget::SubWorkflow(id) = &definition.target {
            return Ok(Some(Children::Graph(self.sub_workflow_graph(id).await?)));
        }
        match self.prepare_node(key, &definition).await? {
            Prepared::Ready(_) => {}
            Prepared::Failed(error) => {
                return Err(EngineError::Internal(format!(
                    "node {:?} no longer prepares its children: {}",
                    key.1, error.message
                )));
            }
            Prepared::Hydrating(references) => {
                self.fetch_for_children(key, references);
                return Ok(None);
            }
        }
        self.prepared
            .remove(key)
            .map(Some)
            .ok_or_else(|| EngineError::Internal(format!("node {:?} prepared no children", key.1)))
    }
}

/// Queues every composite of the store with children still to create: at start, the ones this server or a dead
/// one left half-created.
pub(crate) async fn resume(shared: &Shared) {
    match shared.store.nodes_creating_children(i64::MAX).await {
        Ok(keys) => {
            if !keys.is_empty() {
                tracing::info!(composites = keys.len(), "going on creating children");
            }
            shared.queue_creations(keys);
        }
        Err(error) => tracing::warn!(%error, "cannot read which composites still create children"),
    }
}
