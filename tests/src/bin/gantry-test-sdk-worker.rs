//! A worker process on the Rust SDK for fault tests: `gantry-test-sdk-worker ENDPOINT CONCURRENCY`.
//!
//! It serves `demo/dev/fan_out@1(count) -> out: list<integer>`, a dynamic task of `count` × `held(index)`, and
//! `demo/dev/held@1(index) -> out: integer`, which returns `index * 2` once released. It registers both tasks and
//! prints `ready`; then `running INDEX ATTEMPT` when a `held` attempt starts and `returned INDEX ATTEMPT` when its
//! handler returns. A line `release N` on stdin lets every `held` attempt with an index below `N` return; stdin
//! closing stops the worker gracefully.

use anyhow::Context;
use gantry_worker::{
    DynamicSpec, Inputs, IntoBinding, LiteralType, TaskContext, TaskDef, TaskError, TaskOutput, Worker, outputs,
};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::watch;

fn held_def() -> TaskDef {
    TaskDef::new("demo", "dev", "held", "1")
        .input("index", LiteralType::Integer)
        .output("out", LiteralType::Integer)
}

fn fan_out_def() -> TaskDef {
    TaskDef::new("demo", "dev", "fan_out", "1")
        .input("count", LiteralType::Integer)
        .output("out", LiteralType::collection(LiteralType::Integer))
}

async fn fan_out(_ctx: TaskContext, inputs: Inputs) -> Result<TaskOutput, TaskError> {
    let count: i64 = inputs.get("count")?;
    let mut spec = DynamicSpec::new();
    let mut out = Vec::new();
    for index in 0..count {
        let node = spec.task(&held_def(), [("index", index.into_binding())])?;
        out.push(node.output("out"));
    }
    spec.set_output("out", out);
    Ok(TaskOutput::Dynamic(spec))
}

async fn held(ctx: TaskContext, inputs: Inputs, mut released: watch::Receiver<i64>) -> Result<TaskOutput, TaskError> {
    let index: i64 = inputs.get("index")?;
    let attempt = ctx.attempt().attempt;
    println!("running {index} {attempt}");
    if released.wait_for(|bound| *bound > index).await.is_err() {
        return Err(TaskError::system("the worker is stopping"));
    }
    println!("returned {index} {attempt}");
    Ok(outputs().set("out", index * 2).into())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, endpoint, concurrency] = args.as_slice() else {
        anyhow::bail!("usage: gantry-test-sdk-worker ENDPOINT CONCURRENCY");
    };
    let (release, released) = watch::channel(0i64);
    let worker = Worker::builder(endpoint.clone())
        .worker_id(format!("sdk-worker-{}", std::process::id()))
        .concurrency(concurrency.parse().context("CONCURRENCY")?)
        .task(fan_out_def(), fan_out)
        .task(held_def(), move |ctx, inputs| held(ctx, inputs, released.clone()))
        .build()?;
    worker.register_tasks().await?;
    println!("ready");
    let stdin_closed = async move {
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(bound) = line.strip_prefix("release ").and_then(|n| n.trim().parse::<i64>().ok()) {
                release.send_replace(bound);
            }
        }
        // Let whatever still waits return, so that shutdown drains.
        release.send_replace(i64::MAX);
    };
    worker.run(stdin_closed).await?;
    Ok(())
}
