//! What workers call: a poll (which may carry the results of finished attempts), heartbeats and completions. Each
//! becomes one command for the writer; a poll that carries results records them and claims in the same command, so a
//! worker slot's cycle costs one round trip and one commit.

use std::time::Duration;

use tokio::sync::oneshot;
use uuid::Uuid;

use crate::error::{EngineError, EngineResult};
use crate::ingress::Admitted;
use crate::reads::TaskAssignment;
use crate::worker::{Assignment, AttemptRef, Claimant, Completion, CompletionOutcome, LeaseStatus};
use crate::writer::{Reply, Request};
use crate::{Engine, health};

/// What a poll got: one outcome per completion it carried, in order, and the attempts it claimed.
#[derive(Debug, Default)]
pub struct Polled {
    pub completions: Vec<CompletionOutcome>,
    pub assignments: Vec<TaskAssignment>,
}

/// Completions checked at the edge: the admitted ones with their positions, and an outcome slot for each.
struct Admission {
    outcomes: Vec<Option<CompletionOutcome>>,
    /// The position and attempt of each admitted completion.
    positions: Vec<(usize, AttemptRef)>,
    admitted: Vec<Admitted>,
}

impl Engine {
    /// Claims up to `limit` attempts of `queues`, waiting up to `wait` for some to exist.
    pub async fn poll(
        &self,
        worker_id: &str,
        queues: &[String],
        limit: u32,
        wait: Duration,
    ) -> EngineResult<Vec<TaskAssignment>> {
        let claimant = Claimant {
            worker_id: worker_id.to_owned(),
            project: None,
        };
        Ok(self
            .poll_with(&claimant, queues, limit, wait, Vec::new())
            .await?
            .assignments)
    }

    /// Records `completions` (as [`Engine::complete`] does) and claims up to `limit` attempts of `queues` in one
    /// writer command. With no completions, waits up to `wait` for work; with some, answers at once when nothing is
    /// claimable, so that their outcomes are not held back. `claimant` says whose worker id the claims go under and
    /// which project's attempts it may claim.
    pub async fn poll_with(
        &self,
        claimant: &Claimant,
        queues: &[String],
        limit: u32,
        wait: Duration,
        completions: Vec<Completion>,
    ) -> EngineResult<Polled> {
        let limit = limit.clamp(1, self.shared.config.max_poll_attempts);
        let deadline = tokio::time::Instant::now() + wait.min(self.shared.config.max_poll_wait);
        let wakers: Vec<_> = queues.iter().map(|q| self.shared.signals.queue(q)).collect();
        let carried = !completions.is_empty();
        let mut admission = Some(self.admit(completions).await);
        loop {
            // Register interest before looking, so that work queued between the look and the wait wakes us.
            let mut notified: Vec<_> = wakers.iter().map(|w| Box::pin(w.notified())).collect();
            for n in &mut notified {
                n.as_mut().enable();
            }
            let (claimed, outcomes) = match admission.take() {
                Some(mut admission) if !admission.admitted.is_empty() => {
                    let (tx, rx) = oneshot::channel();
                    let request = Request::Poll {
                        claimant: claimant.clone(),
                        completions: std::mem::take(&mut admission.admitted),
                        queues: queues.to_vec(),
                        limit,
                    };
                    let (completed, claimed) = self.send(request, Reply::Polled(tx), rx).await?;
                    (claimed, self.outcomes(admission, completed).await?)
                }
                // Nothing to record (none carried, or every one refused at the edge): a plain claim.
                Some(admission) => (
                    self.claim(claimant, queues, limit).await?,
                    self.outcomes(admission, Vec::new()).await?,
                ),
                None => (self.claim(claimant, queues, limit).await?, Vec::new()),
            };
            if carried
                || !claimed.is_empty()
                || tokio::time::Instant::now() >= deadline
                || self.shared.signals.is_closing()
            {
                return Ok(Polled {
                    completions: outcomes,
                    assignments: self.assignments_out(claimed).await?,
                });
            }
            // A poll waiting on an unreachable store ends, as a poll made then would, so that the worker learns of it.
            let woken = tokio::select! {
                woken = tokio::time::timeout_at(deadline, crate::any_notified(notified)) => woken,
                () = self.shared.health.until_unreachable() => {
                    return Err(health::StoreHealth::unreachable().into());
                }
            };
            if woken.is_err() {
                return Ok(Polled::default());
            }
        }
    }

    async fn claim(&self, claimant: &Claimant, queues: &[String], limit: u32) -> EngineResult<Vec<Assignment>> {
        let (tx, rx) = oneshot::channel();
        let request = Request::Claim {
            claimant: claimant.clone(),
            queues: queues.to_vec(),
            limit,
        };
        self.send(request, Reply::Claimed(tx), rx).await
    }

    /// Ends every long poll now and makes later polls return at once: the server is stopping.
    pub fn close(&self) {
        self.shared.signals.close();
    }

    /// Extends the leases of running attempts; says which to cancel and which are lost.
    pub async fn heartbeat(&self, worker_id: &str, leases: Vec<(AttemptRef, Uuid)>) -> EngineResult<Vec<LeaseStatus>> {
        let (tx, rx) = oneshot::channel();
        let request = Request::Heartbeat {
            worker_id: worker_id.to_owned(),
            leases,
        };
        self.send(request, Reply::Leases(tx), rx).await
    }

    /// Records finished attempts, each accepted or refused on its own.
    pub async fn complete(
        &self,
        worker_id: &str,
        completions: Vec<Completion>,
    ) -> EngineResult<Vec<CompletionOutcome>> {
        let mut admission = self.admit(completions).await;
        let admitted = std::mem::take(&mut admission.admitted);
        let completed = if admitted.is_empty() {
            Vec::new()
        } else {
            let (tx, rx) = oneshot::channel();
            let request = Request::Complete {
                worker_id: worker_id.to_owned(),
                completions: admitted,
            };
            self.send(request, Reply::Completed(tx), rx).await?
        };
        self.outcomes(admission, completed).await
    }

    /// Checks each completion at the edge (limits, the spec's compilation), before the writer sees it.
    async fn admit(&self, completions: Vec<Completion>) -> Admission {
        let count = completions.len();
        let mut admission = Admission {
            outcomes: vec![None; count],
            positions: Vec::with_capacity(count),
            admitted: Vec::with_capacity(count),
        };
        for (position, completion) in completions.into_iter().enumerate() {
            match self.admit_completion(completion).await {
                Ok(completion) => {
                    admission
                        .positions
                        .push((position, completion.completion.attempt.clone()));
                    admission.admitted.push(completion);
                }
                Err(refused) => admission.outcomes[position] = Some(Err(refused)),
            }
        }
        admission
    }

    /// The outcome of every completion, in request order: refused at the edge, or as the writer recorded it.
    async fn outcomes(
        &self,
        admission: Admission,
        completed: Vec<CompletionOutcome>,
    ) -> EngineResult<Vec<CompletionOutcome>> {
        let Admission {
            mut outcomes,
            positions,
            ..
        } = admission;
        for ((position, attempt), outcome) in positions.into_iter().zip(completed) {
            let outcome = match outcome {
                Err(EngineError::NotFound(message)) => Err(self.unleased(&attempt, message).await?),
                other => other,
            };
            outcomes[position] = Some(outcome);
        }
        Ok(outcomes.into_iter().flatten().collect())
    }

    /// Why no attempt held a completion's lease: the attempt exists under another lease (made up, or of an earlier
    /// claim), which is FAILED_PRECONDITION as for any lease that is not the current one; or there is no such attempt,
    /// NOT_FOUND. A read outside the writer, so that completions of attempts that do not exist cost the writer nothing.
    async fn unleased(&self, attempt: &AttemptRef, not_found: String) -> EngineResult<EngineError> {
        let attempts = self
            .shared
            .store
            .list_attempts(attempt.execution_id, &attempt.node_id)
            .await?;
        if !attempts.iter().any(|row| row.attempt as u32 == attempt.attempt) {
            return Ok(EngineError::NotFound(not_found));
        }
        Ok(EngineError::FailedPrecondition(format!(
            "attempt {} of node {} in execution {}: the lease is not the attempt's lease",
            attempt.attempt,
            gantry_core::names::quote(&attempt.node_id),
            attempt.execution_id
        )))
    }
}
