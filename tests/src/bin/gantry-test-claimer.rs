//! A worker process that claims one attempt and then hangs without heartbeating, to be killed by a test:
//! `gantry-test-claimer ENDPOINT`. Prints `claimed NODE_ID ATTEMPT` once it holds the attempt.

use gantry_proto::v1 as pb;
use gantry_proto::v1::worker_service_client::WorkerServiceClient;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let endpoint = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: gantry-test-claimer ENDPOINT"))?;
    let mut client = WorkerServiceClient::connect(endpoint).await?;
    loop {
        let request = pb::PollTasksRequest {
            worker_id: format!("claimer-{}", std::process::id()),
            queues: vec!["default".into()],
            max_attempts: 1,
            wait: Some(prost_types::Duration { seconds: 5, nanos: 0 }),
            completions: Vec::new(),
        };
        let assignments = client.poll_tasks(request).await?.into_inner().assignments;
        if let Some(attempt) = assignments.first().and_then(|a| a.attempt.as_ref()) {
            println!("claimed {} {}", attempt.node_id, attempt.attempt);
            break;
        }
    }
    std::future::pending::<()>().await;
    Ok(())
}
