//! The attempt rows a batch holds. Every command of a batch must see the effects of the commands before it, as if
//! each had its own transaction: a heartbeat applied after a completion of the same attempt must find it finished,
//! not the row as it was before the batch. So attempts, like nodes, are read once per batch and then served from
//! here, with their pending writes; the store is only asked about what the batch has not touched.
//!
//! Two rules keep the held rows and the database in step:
//! - before a statement that selects attempts by their state (claims, the sweep's expired and overdue rows, slot
//!   counts), the pending writes go out first ([`HeldAttempts::take_pending`]), so the statement sees them;
//! - after a statement that changes attempts in bulk (aborts, releases from parking), the held copies it may have
//!   changed are dropped ([`HeldAttempts::forget_execution`]) and read again when next needed.

use std::collections::HashMap;

use gantry_store::AttemptRow;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    /// Created in this batch, not yet inserted.
    New,
    /// Read (or inserted) and changed since.
    Dirty,
    /// As in the database.
    Clean,
}

/// Attempt rows read or written by the batch, by id.
#[derive(Debug, Default)]
pub(crate) struct HeldAttempts {
    rows: HashMap<Uuid, (AttemptRow, Status)>,
}

/// What must be written: rows to insert and rows to update.
#[derive(Debug, Default)]
pub(crate) struct PendingAttempts {
    pub inserts: Vec<AttemptRow>,
    pub updates: Vec<AttemptRow>,
}

impl HeldAttempts {
    pub fn get(&self, id: &Uuid) -> Option<&AttemptRow> {
        self.rows.get(id).map(|(row, _)| row)
    }

    /// The ids of `ids` the batch does not hold yet.
    pub fn missing(&self, ids: &[Uuid]) -> Vec<Uuid> {
        let mut missing: Vec<Uuid> = ids.iter().filter(|id| !self.rows.contains_key(id)).copied().collect();
        missing.sort_unstable();
        missing.dedup();
        missing
    }

    /// Holds rows just read from the database. A row the batch already holds is kept: it has this batch's writes.
    pub fn hold_read(&mut self, rows: impl IntoIterator<Item = AttemptRow>) {
        let rows = rows.into_iter();
        self.rows.reserve(rows.size_hint().0);
        for row in rows {
            self.rows.entry(row.id).or_insert((row, Status::Clean));
        }
    }

    /// Holds rows a statement has just written (a claim): the database's version replaces the held one, which was
    /// written out before the statement ran.
    pub fn hold_written(&mut self, rows: impl IntoIterator<Item = AttemptRow>) {
        let rows = rows.into_iter();
        self.rows.reserve(rows.size_hint().0);
        for row in rows {
            debug_assert!(
                self.rows
                    .get(&row.id)
                    .is_none_or(|(_, status)| *status == Status::Clean),
                "a statement changed an attempt with pending writes"
            );
            self.rows.insert(row.id, (row, Status::Clean));
        }
    }

    /// A new attempt, inserted with the batch's next write.
    pub fn insert(&mut self, row: AttemptRow) {
        self.rows.insert(row.id, (row, Status::New));
    }

    /// A changed attempt; it must be held (read through the batch) or new.
    pub fn update(&mut self, row: AttemptRow) {
        let status = match self.rows.get(&row.id) {
            Some((_, Status::New)) => Status::New,
            _ => Status::Dirty,
        };
        self.rows.insert(row.id, (row, status));
    }

    pub fn has_pending(&self) -> bool {
        self.rows.values().any(|(_, status)| *status != Status::Clean)
    }

    /// The pending writes, after which every held row counts as written.
    pub fn take_pending(&mut self) -> PendingAttempts {
        let mut pending = PendingAttempts::default();
        for (row, status) in self.rows.values_mut() {
            match status {
                Status::New => pending.inserts.push(row.clone()),
                Status::Dirty => pending.updates.push(row.clone()),
                Status::Clean => continue,
            }
            *status = Status::Clean;
        }
        // Oldest first, as claims take them.
        pending.inserts.sort_unstable_by_key(|row| row.id);
        pending.updates.sort_unstable_by_key(|row| row.id);
        pending
    }

    /// Drops the held attempts of the execution after a statement changed them in the database. Write the pending
    /// ones first: only written rows may be forgotten.
    pub fn forget_execution(&mut self, execution_id: Uuid) {
        debug_assert!(
            !self
                .rows
                .values()
                .any(|(row, status)| row.execution_id == execution_id && *status != Status::Clean),
            "forgetting attempts with pending writes"
        );
        self.rows.retain(|_, (row, _)| row.execution_id != execution_id);
    }
}

#[cfg(test)]
mod tests {
    use gantry_core::state::AttemptPhase;

    use super::*;

    fn attempt(execution_id: Uuid) -> AttemptRow {
        AttemptRow {
            id: Uuid::now_v7(),
            execution_id,
            node_id: "n0".into(),
            attempt: 0,
            queue: "default".into(),
            task: "p/d/t@1".into(),
            project: "p".to_owned(),
            phase: AttemptPhase::Queued,
            worker_id: None,
            not_before: 0,
            lease_expires_at: None,
            timeout_ms: None,
            queue_timeout_ms: None,
            deadline: None,
            error: None,
            created_at: 0,
            started_at: None,
            finished_at: None,
        }
    }

    #[test]
    fn a_held_row_keeps_its_writes_over_a_later_read() {
        let mut held = HeldAttempts::default();
        let mut row = attempt(Uuid::now_v7());
        held.hold_read([row.clone()]);
        row.phase = AttemptPhase::Failed;
        held.update(row.clone());
        let mut stale = row.clone();
        stale.phase = AttemptPhase::Running;
        held.hold_read([stale]);
        assert_eq!(held.get(&row.id).map(|r| r.phase), Some(AttemptPhase::Failed));
        assert!(held.missing(&[row.id]).is_empty());
    }

    #[test]
    fn pending_writes_are_taken_once_and_new_rows_stay_inserts() {
        let mut held = HeldAttempts::default();
        let execution = Uuid::now_v7();
        let new = attempt(execution);
        let read = attempt(execution);
        held.insert(new.clone());
        held.hold_read([read.clone()]);
        let mut changed = new.clone();
        changed.phase = AttemptPhase::Running;
        held.update(changed);
        held.update(read.clone());
        assert!(held.has_pending());
        let pending = held.take_pending();
        assert_eq!(pending.inserts.len(), 1);
        assert_eq!(pending.inserts[0].phase, AttemptPhase::Running);
        assert_eq!(pending.updates.len(), 1);
        assert!(!held.has_pending());
        assert!(held.take_pending().inserts.is_empty());
        held.forget_execution(execution);
        assert_eq!(held.missing(&[new.id, read.id]).len(), 2);
    }
}
