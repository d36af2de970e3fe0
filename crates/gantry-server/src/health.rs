//! `grpc.health.v1` follows the database: the server as a whole (`""`) and both of Gantry's services are SERVING
//! while the engine reaches its store and NOT_SERVING while it does not (every call would fail as UNAVAILABLE), so
//! that load balancers and orchestrators see the truth. A stopping server reports NOT_SERVING the moment it starts
//! draining and then ends every health watch (by clearing the statuses, whose channels close), which would
//! otherwise hold its graceful shutdown until the grace ran out.

use gantry_proto::v1::admin_service_server::AdminServiceServer;
use gantry_proto::v1::worker_service_server::WorkerServiceServer;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::server::NamedService;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use tracing::info;

use crate::{AdminApi, WorkerApi};

const SERVICES: [&str; 3] = [
    "",
    <AdminServiceServer<AdminApi> as NamedService>::NAME,
    <WorkerServiceServer<WorkerApi> as NamedService>::NAME,
];

/// Reports the store's current reachability at once, then follows it and whether the server drains on a task of its
/// own until the engine stops.
pub async fn follow_store(
    mut reporter: HealthReporter,
    mut reachable: watch::Receiver<bool>,
    mut draining: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let initial = *reachable.borrow_and_update() && !*draining.borrow_and_update();
    report(&reporter, initial).await;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                changed = reachable.changed() => if changed.is_err() { return },
                changed = draining.changed() => if changed.is_err() { return },
            }
            if *draining.borrow_and_update() {
                report(&reporter, false).await;
                for service in SERVICES {
                    reporter.clear_service_status(service).await;
                }
                return;
            }
            let now = *reachable.borrow_and_update();
            info!(serving = now, "health status changed with the database's reachability");
            report(&reporter, now).await;
        }
    })
}

async fn report(reporter: &HealthReporter, reachable: bool) {
    let status = match reachable {
        true => ServingStatus::Serving,
        false => ServingStatus::NotServing,
    };
    for service in SERVICES {
        reporter.set_service_status(service, status).await;
    }
}
