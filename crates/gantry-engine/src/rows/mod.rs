//! The rows of one batch: a store transaction, the rows it has read (each read once and locked), and the writes it
//! will make, flushed as a handful of multi-row statements. Nothing here decides anything: the interpreter
//! (`interpret/`) asks the core and changes the rows held here, which write them on [`Rows::commit`].

mod held;

use std::collections::HashMap;
use std::sync::Arc;

use gantry_core::model::LiteralMap;
use gantry_core::state::ExecutionPhase;
use gantry_store::{AttemptRow, ExecutionRow, NodeRow, SpecRow, Tx};
use uuid::Uuid;

use crate::codec;
use crate::error::{EngineError, EngineResult};
use held::HeldAttempts;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    /// Created in this batch, not yet inserted.
    New,
    /// Read (or inserted) and changed since.
    Dirty,
    Clean,
}

#[derive(Debug)]
struct Entry {
    row: NodeRow,
    status: Status,
    /// The row as a statement wrote it ahead of the interpreter ([`Rows::start_nodes`]): `row` is written at the
    /// flush only if it differs. Boxed: most entries have none, and a batch holds thousands of entries.
    stored: Option<Box<NodeRow>>,
}

impl Entry {
    fn held(row: NodeRow, status: Status) -> Self {
        Self {
            row,
            status,
            stored: None,
        }
    }

    /// Whether the flush must write the row, which it then takes as written.
    fn pending(&mut self) -> Option<Status> {
        let stored = self.stored.take();
        let status = std::mem::replace(&mut self.status, Status::Clean);
        match status {
            Status::New => Some(Status::New),
            _ if stored.is_some() => (stored.as_deref() != Some(&self.row)).then_some(Status::Dirty),
            Status::Dirty => Some(Status::Dirty),
            Status::Clean => None,
        }
    }
}

/// A node execution's key: its execution and its scoped id.
pub(crate) type NodeKey = (Uuid, String);

/// The rows and pending writes of one transaction.
pub(crate) struct Rows {
    pub tx: Box<dyn Tx>,
    nodes: HashMap<NodeKey, Entry>,
    executions: HashMap<Uuid, (ExecutionRow, bool)>,
    /// Attempt rows read or written, with their pending writes (see `held.rs`).
    attempts: HeldAttempts,
    new_specs: Vec<SpecRow>,
    /// Decoded inputs of parents (and executions, under an empty node id), read by their children's bindings.
    parent_inputs: HashMap<NodeKey, Arc<LiteralMap>>,
}

impl std::fmt::Debug for Rows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rows")
            .field("nodes", &self.nodes.len())
            .field("executions", &self.executions.len())
            .finish_non_exhaustive()
    }
}

/// What a batch announces to the other replicas as it commits.
#[derive(Debug)]
pub(crate) struct Announcements<'a> {
    /// This replica, so that it skips its own announcements.
    pub instance: Uuid,
    /// Queues that got claimable attempts.
    pub queues: Vec<String>,
    /// Executions whose phase changed.
    pub executions: &'a [(Uuid, ExecutionPhase)],
}

impl Rows {
    pub fn new(tx: Box<dyn Tx>) -> Rows {
        Rows {
            tx,
            nodes: HashMap::new(),
            executions: HashMap::new(),
            attempts: HeldAttempts::default(),
            new_specs: Vec::new(),
            parent_inputs: HashMap::new(),
        }
    }

    /// Reads and locks the nodes not yet held. Missing ids are skipped.
    pub async fn load_nodes(&mut self, execution_id: Uuid, node_ids: &[String]) -> EngineResult<()> {
        let missing = self.not_held(execution_id, node_ids);
        if missing.is_empty() {
            return Ok(());
        }
        let rows = self.tx.lock_nodes(execution_id, &missing).await?;
        // Grown once, not doubling its way there: a large table's growth is fresh memory for the kernel to clear.
        self.nodes.reserve(rows.len());
        for row in rows {
            let key = (row.execution_id, row.node_id.clone());
            self.nodes.insert(key, Entry::held(row, Status::Clean));
        }
        Ok(())
    }

    /// Starts the nodes of claimed attempts in one statement ([`gantry_store::Tx::start_nodes`]) and holds them as
    /// they were, for the interpreter to decide on; they are written again at the flush only if it decides
    /// otherwise. Nodes that did not start (not queued) are read and locked on first use, as any node.
    pub async fn start_nodes(&mut self, execution_id: Uuid, node_ids: &[String], now: i64) -> EngineResult<()> {
        let missing = self.not_held(execution_id, node_ids);
        if missing.is_empty() {
            return Ok(());
        }
        let started = self.tx.start_nodes(execution_id, &missing, now).await?;
        self.nodes.reserve(started.len());
        for started in started {
            let key = (execution_id, started.before.node_id.clone());
            let entry = Entry {
                row: started.before,
                status: Status::Clean,
                stored: Some(Box::new(started.written)),
            };
            self.nodes.insert(key, entry);
        }
        Ok(())
    }

    /// The ids of these nodes the batch does not hold yet.
    fn not_held(&self, execution_id: Uuid, node_ids: &[String]) -> Vec<String> {
        node_ids
            .iter()
            .filter(|id| !self.nodes.contains_key(&(execution_id, (*id).clone())))
            .cloned()
            .collect()
    }

    /// The node, read and locked on first use.
    pub async fn node(&mut self, key: &NodeKey) -> EngineResult<&NodeRow> {
        self.load_nodes(key.0, std::slice::from_ref(&key.1)).await?;
        self.nodes
            .get(key)
            .map(|e| &e.row)
            .ok_or_else(|| EngineError::Internal(format!("node {:?} of execution {} does not exist", key.1, key.0)))
    }

    /// The node for writing; it must have been read first.
    pub fn node_mut(&mut self, key: &NodeKey) -> &mut NodeRow {
        let entry = self.nodes.get_mut(key).expect("node is read before it is written");
        if entry.status == Status::Clean {
            entry.status = Status::Dirty;
        }
        &mut entry.row
    }

    pub fn held_node(&self, key: &NodeKey) -> Option<&NodeRow> {
        self.nodes.get(key).map(|e| &e.row)
    }

    /// Adds nodes created in this batch.
    pub fn create_nodes(&mut self, rows: Vec<NodeRow>) {
        self.nodes.reserve(rows.len());
        for row in rows {
            let key = (row.execution_id, row.node_id.clone());
            self.nodes.insert(key, Entry::held(row, Status::New));
        }
    }

    /// The execution, read and locked on first use.
    pub async fn execution(&mut self, id: Uuid) -> EngineResult<&ExecutionRow> {
        if !self.executions.contains_key(&id) {
            let row = self
                .tx
                .lock_execution(id)
                .await?
                .ok_or_else(|| EngineError::NotFound(format!("execution {id} not found")))?;
            self.executions.insert(id, (row, false));
        }
        Ok(&self.executions[&id].0)
    }

    pub fn execution_mut(&mut self, id: Uuid) -> &mut ExecutionRow {
        let entry = self
            .executions
            .get_mut(&id)
            .expect("execution is read before it is written");
        entry.1 = true;
        &mut entry.0
    }

    /// Inserts a new execution at once (its nodes reference it).
    /// Inserts a new execution at once (its nodes reference it).
    pub async fn insert_execution(&mut self, row: ExecutionRow) -> EngineResult<()> {
        self.tx.insert_execution(&row).await?;
        self.executions.insert(row.id, (row, false));
        Ok(())
    }

    /// Inserts an attempt created in this batch with the batch's writes.
    pub fn insert_attempt(&mut self, row: AttemptRow) {
        self.attempts.insert(row);
    }

    /// Writes a changed attempt with the batch; it must have been read through [`Rows::lock_attempts`] or added.
    pub fn update_attempt(&mut self, row: AttemptRow) {
        self.attempts.update(row);
    }

    /// Reads and locks the attempts not yet held; held ones keep this batch's writes. Missing ids are skipped.
    pub async fn lock_attempts(&mut self, ids: &[Uuid]) -> EngineResult<()> {
        let missing = self.attempts.missing(ids);
        if !missing.is_empty() {
            let rows = self.tx.lock_attempts(&missing).await?;
            self.attempts.hold_read(rows);
        }
        Ok(())
    }

    /// An attempt read through [`Rows::lock_attempts`], as this batch left it.
    pub fn held_attempt(&self, id: &Uuid) -> Option<&AttemptRow> {
        self.attempts.get(id)
    }

    /// Holds attempts a statement just read (after [`Rows::write_attempts`]); held ones keep this batch's writes.
    pub fn hold_attempts(&mut self, rows: Vec<AttemptRow>) {
        self.attempts.hold_read(rows);
    }

    /// Holds attempts a statement just changed (a claim), as the statement returned them.
    pub fn hold_written_attempts(&mut self, rows: Vec<AttemptRow>) {
        self.attempts.hold_written(rows);
    }

    /// Writes the attempts' pending changes, so that a statement selecting attempts by their state sees them.
    pub async fn write_attempts(&mut self) -> EngineResult<()> {
        if !self.attempts.has_pending() {
            return Ok(());
        }
        let pending = self.attempts.take_pending();
        if !pending.inserts.is_empty() {
            self.tx.insert_attempts(&pending.inserts).await?;
        }
        if !pending.updates.is_empty() {
            self.tx.update_attempts(&pending.updates).await?;
        }
        Ok(())
    }

    /// Forgets the execution's held attempts after a statement changed them in the database; call
    /// [`Rows::write_attempts`] (or [`Rows::flush`]) first.
    pub fn forget_attempts(&mut self, execution_id: Uuid) {
        self.attempts.forget_execution(execution_id);
    }

    pub fn add_spec(&mut self, row: SpecRow) {
        self.new_specs.push(row);
    }

    /// Inputs a child's bindings read through promises with an empty node id: its parent node's inputs, or the
    /// execution's for top-level nodes.
    pub async fn parent_inputs(&mut self, execution_id: Uuid, parent_id: &str) -> EngineResult<Arc<LiteralMap>> {
        let key = (execution_id, parent_id.to_owned());
        if let Some(inputs) = self.parent_inputs.get(&key) {
            return Ok(inputs.clone());
        }
        let bytes = if parent_id.is_empty() {
            Some(self.execution(execution_id).await?.inputs.clone())
        } else {
            self.node(&key).await?.inputs.clone()
        };
        let inputs = Arc::new(match bytes {
            Some(bytes) => codec::decode_literals(&bytes)?,
            None => LiteralMap::new(),
        });
        self.parent_inputs.insert(key, inputs.clone());
        Ok(inputs)
    }

    /// Writes everything pending, so that reads of many rows (assembly, aborts) see it.
    pub async fn flush(&mut self) -> EngineResult<()> {
        let mut inserts = Vec::new();
        let mut updates = Vec::new();
        for entry in self.nodes.values_mut() {
            match entry.pending() {
                Some(Status::New) => inserts.push(entry.row.clone()),
                Some(_) => updates.push(entry.row.clone()),
                None => {}
            }
        }
        self.write(inserts, updates).await
    }

    /// The last flush before the commit: the held rows are not read again, so they are moved out rather than copied
    /// (a fan-out's creation holds every child's row).
    async fn flush_final(&mut self) -> EngineResult<()> {
        let mut inserts = Vec::new();
        let mut updates = Vec::new();
        for (_, mut entry) in self.nodes.drain() {
            match entry.pending() {
                Some(Status::New) => inserts.push(entry.row),
                Some(_) => updates.push(entry.row),
                None => {}
            }
        }
        self.write(inserts, updates).await
    }

    async fn write(&mut self, mut inserts: Vec<NodeRow>, updates: Vec<NodeRow>) -> EngineResult<()> {
        if !inserts.is_empty() {
            inserts.sort_by(|a, b| (&a.parent_id, a.position).cmp(&(&b.parent_id, b.position)));
            self.tx.insert_nodes(&inserts).await?;
        }
        if !updates.is_empty() {
            self.tx.update_nodes(&updates).await?;
        }
        if !self.new_specs.is_empty() {
            for spec in std::mem::take(&mut self.new_specs) {
                self.tx.insert_spec(&spec).await?;
            }
        }
        self.write_attempts().await?;
        for (row, dirty) in self.executions.values_mut() {
            if *dirty {
                self.tx.update_execution(row).await?;
                *dirty = false;
            }
        }
        Ok(())
    }

    /// Forgets held rows strictly below `node_id` (every node of the execution when `None`) after a statement
    /// changed them in the database. Call [`Rows::flush`] first.
    pub fn forget_below(&mut self, execution_id: Uuid, node_id: Option<&str>) {
        let prefix = node_id.map(|id| format!("{id}/"));
        self.nodes
            .retain(|(exec, id), _| *exec != execution_id || prefix.as_deref().is_some_and(|p| !id.starts_with(p)));
    }

    /// Rolls back at once, so that the rows it locked are free for the next batch. A failed rollback (a lost
    /// connection) rolls back anyway, on the server's side.
    pub async fn rollback(self) {
        if let Err(error) = self.tx.rollback().await {
            tracing::warn!(%error, "rollback failed");
        }
    }

    /// Writes everything pending, announces and commits.
    pub async fn commit(mut self, announce: Announcements<'_>) -> EngineResult<()> {
        self.flush_final().await?;
        if !announce.queues.is_empty() {
            self.tx.announce_queues(&announce.queues).await?;
        }
        if !announce.executions.is_empty() {
            self.tx
                .announce_executions(announce.instance, announce.executions)
                .await?;
        }
        self.tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use gantry_core::state::{CacheStatus, NodeKind, NodePhase};

    use super::*;

    fn queued() -> NodeRow {
        NodeRow {
            execution_id: Uuid::now_v7(),
            node_id: "n".to_owned(),
            parent_id: String::new(),
            local_id: "n".to_owned(),
            kind: NodeKind::Task,
            definition: Vec::new(),
            task: Some("p/d/t@v1".to_owned()),
            phase: NodePhase::Queued,
            is_dynamic: false,
            attempts: 1,
            user_failures: 0,
            system_failures: 0,
            cache_status: CacheStatus::Disabled,
            upstream_pending: 0,
            downstream: Vec::new(),
            position: 0,
            children_total: 0,
            children_succeeded: 0,
            children_failed: 0,
            children_skipped: 0,
            children_created: 0,
            inputs: Some(vec![1, 2, 3]),
            outputs: None,
            error: None,
            child_execution_id: None,
            created_at: 1,
            updated_at: 1,
            started_at: Some(1),
            finished_at: None,
        }
    }

    /// An entry started by a statement, and the interpreter's row after `decide`.
    fn started(decide: impl FnOnce(&mut NodeRow)) -> Entry {
        let written = NodeRow {
            phase: NodePhase::Running,
            updated_at: 5,
            ..queued()
        };
        let mut entry = Entry {
            row: NodeRow {
                execution_id: written.execution_id,
                ..queued()
            },
            status: Status::Clean,
            stored: Some(Box::new(written)),
        };
        decide(&mut entry.row);
        entry.status = Status::Dirty;
        entry
    }

    #[test]
    fn a_row_decided_as_the_statement_wrote_it_is_not_written_again() {
        let mut entry = started(|row| {
            row.phase = NodePhase::Running;
            row.updated_at = 5;
        });
        assert_eq!(entry.pending(), None);
        assert_eq!(entry.pending(), None, "taken as written");
    }

    #[test]
    fn a_row_decided_otherwise_is_written() {
        let mut entry = started(|row| {
            row.phase = NodePhase::Running;
            row.updated_at = 5;
            row.attempts = 2;
        });
        assert_eq!(entry.pending(), Some(Status::Dirty));
        assert_eq!(entry.pending(), None, "taken as written");
    }

    #[test]
    fn a_row_nobody_decided_on_is_written_back_as_it_was() {
        let mut entry = started(|_| {});
        entry.status = Status::Clean;
        assert_eq!(entry.pending(), Some(Status::Dirty));
        assert_eq!(entry.row.phase, NodePhase::Queued);
    }

    #[test]
    fn read_and_new_rows_keep_their_status() {
        let mut read = Entry::held(queued(), Status::Clean);
        assert_eq!(read.pending(), None);
        read.status = Status::Dirty;
        assert_eq!(read.pending(), Some(Status::Dirty));
        let mut new = Entry::held(queued(), Status::New);
        assert_eq!(new.pending(), Some(Status::New));
        assert_eq!(new.pending(), None);
    }
}
