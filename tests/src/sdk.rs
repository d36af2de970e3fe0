//! Rust SDK workers run inside a test process.

use gantry_worker::{TaskDef, Worker, WorkerError};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A task of the tests' project and domain (`demo/dev`), version 1.
pub fn task_def(name: &str) -> TaskDef {
    TaskDef::new("demo", "dev", name, "1")
}

/// A worker running on the test's runtime until [`RunningWorker::stop`].
#[derive(Debug)]
pub struct RunningWorker {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), WorkerError>>,
}

impl RunningWorker {
    pub fn spawn(worker: Worker) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(worker.run(async {
            let _ = stopped.await;
        }));
        RunningWorker { stop, task }
    }

    /// Stops the worker and waits for it to end without an error.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.expect("worker task").expect("worker");
    }
}
