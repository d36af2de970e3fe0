//! A worker process on the Rust SDK for the fault tests: `gantry-test-seed-worker ENDPOINT CONCURRENCY` registers the
//! example tasks, prints `worker ready` and serves them (heartbeats, batched completions and all) until killed.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, endpoint, concurrency] = args.as_slice() else {
        anyhow::bail!("usage: gantry-test-seed-worker ENDPOINT CONCURRENCY");
    };
    let worker = gantry_examples::seed_worker(endpoint)
        .concurrency(concurrency.parse()?)
        .build()?;
    worker.register_tasks().await?;
    println!("worker ready");
    worker.run(std::future::pending::<()>()).await?;
    Ok(())
}
