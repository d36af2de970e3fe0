//! Gantry's benchmark (a program, not a test): starts a server process on Postgres (or SQLite), runs no-op tasks in
//! Rust SDK workers over gRPC with a given number of slots, and prints one line per figure — `name value unit [N=..]`:
//! - the seed fan-out for N = 1,000, 10,000 and 100,000 (submit -> assembled outputs read back, every value checked),
//!   and children/s;
//! - ready -> dispatched latency to an idle, waiting worker (p50, p99);
//! - a chain of 100 sequential tasks (per-step latency), on the fresh database and again after the fan-outs;
//! - another client's CreateExecution latency while each fan-out is created and runs (p50, p99, max), and while
//!   only the children of a 100,000-child fan-out are being created (no worker runs them);
//! - the server's peak RSS above its idle size per child, and its RSS after each fan-out;
//! - the CPU time of each fan-out: the server's, this process's (the workers') and, when Postgres runs on this
//!   machine, the cluster's, with the three together per child.
//!
//! Usage: `DATABASE_URL=postgres://... gantry-bench [--sizes 1000,10000,100000] [--workers 1] [--slots 8]
//! [--prefetch P] [--store postgres|sqlite] [--fanouts-only] [--otlp | --otlp-server-only]`: `--otlp` turns traces on (the
//! server and the workers export every span over OTLP/gRPC to a receiver in this process, which counts them;
//! `--otlp-server-only`: the server alone); `--workers` SDK workers (each its own connection) of
//! `--slots` slots each, claiming at most `--prefetch` attempts ahead (4 per slot unless given; the SDK's default is 0). `scripts/bench`
//! builds it in release mode and provides Postgres.

use std::time::{Duration, Instant};

use gantry_core::model::{
    Binding, FailurePolicy, Literal, LiteralMap, Node, TypedInterface, Variable, WorkflowTemplate,
};
use gantry_proto::v1 as pb;
use gantry_proto::v1::admin_service_client::AdminServiceClient;
use gantry_proto::v1::worker_service_client::WorkerServiceClient;
use gantry_store::PgStore;
use gantry_tests::process::Process;
use gantry_tests::raw_worker::{self, id};
use gantry_tests::{wait_for_terminal, wait_for_terminal_within};
use gantry_worker::{Inputs, IntoBinding, TaskContext, TaskDef, TaskError, TaskOutput, Worker};
use tokio::sync::watch;
use tonic::transport::Channel;

/// The allocator of the example worker and of the server: the workers run in this process, and should allocate as a
/// worker binary does. With the system allocator, `malloc` and `free` took 31% of this process's CPU samples during
/// fan-outs with `--otlp` (mimalloc's own functions: 13%).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Options {
    sizes: Vec<i64>,
    workers: usize,
    slots: usize,
    prefetch: Option<usize>,
    sqlite: bool,
    fanouts_only: bool,
    /// Traces on: the server and the workers export their spans to a receiver in this process.
    otlp: bool,
    /// Traces on in the server only (`--otlp-server-only`): the workers export nothing.
    otlp_server_only: bool,
}

fn options() -> anyhow::Result<Options> {
    let mut options = Options {
        sizes: vec![1_000, 10_000, 100_000],
        workers: 1,
        slots: 8,
        prefetch: None,
        sqlite: false,
        fanouts_only: false,
        otlp: false,
        otlp_server_only: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--fanouts-only" {
            options.fanouts_only = true;
            continue;
        }
        if flag == "--otlp" || flag == "--otlp-server-only" {
            options.otlp = true;
            options.otlp_server_only = flag == "--otlp-server-only";
            continue;
        }
        let value = args.next().ok_or_else(|| anyhow::anyhow!("{flag} needs a value"))?;
        match flag.as_str() {
            "--sizes" => options.sizes = value.split(',').map(str::parse).collect::<Result<_, _>>()?,
            "--workers" => options.workers = value.parse()?,
            "--slots" => options.slots = value.parse()?,
            "--prefetch" => options.prefetch = Some(value.parse()?),
            "--store" => {
                options.sqlite = match value.as_str() {
                    "postgres" => false,
                    "sqlite" => true,
                    other => anyhow::bail!("--store is postgres or sqlite, not {other}"),
                }
            }
            other => anyhow::bail!("unknown flag {other}"),
        }
    }
    Ok(options)
}

/// `generate_others`: yields `tasks_count` children `other_task` of its own version (so that the children of
/// `generate_others@idle` are `other_task@idle`, which no worker serves).
async fn generate_others(ctx: TaskContext, inputs: Inputs) -> Result<TaskOutput, TaskError> {
    let count: i64 = inputs.get("tasks_count")?;
    let mut child = ctx.task().id.clone();
    child.name = "other_task".into();
    let mut spec = ctx.dynamic_spec();
    let mut out = Vec::with_capacity(usize::try_from(count).unwrap_or_default());
    for index in 0..count {
        out.push(
            spec.task(&child, [("index", index.into_binding())])?
                .output("other_task_out"),
        );
    }
    spec.set_output("out", out);
    Ok(TaskOutput::Dynamic(spec))
}

fn figure(name: &str, value: f64, unit: &str, n: Option<i64>) {
    match n {
        Some(n) => println!("{name} {value:.3} {unit} N={n}"),
        None => println!("{name} {value:.3} {unit}"),
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

async fn admin(endpoint: &str) -> anyhow::Result<AdminServiceClient<Channel>> {
    Ok(AdminServiceClient::connect(endpoint.to_owned())
        .await?
        .max_decoding_message_size(512 << 20))
}

async fn create(
    admin: &mut AdminServiceClient<Channel>,
    target: pb::create_execution_request::Target,
    inputs: LiteralMap,
) -> anyhow::Result<String> {
    let request = pb::CreateExecutionRequest {
        project: "demo".into(),
        domain: "dev".into(),
        target: Some(target),
        inputs: Some(inputs.into()),
        ..Default::default()
    };
    Ok(admin
        .create_execution(request)
        .await?
        .into_inner()
        .execution
        .ok_or_else(|| anyhow::anyhow!("no execution"))?
        .id)
}

fn chain(length: usize) -> WorkflowTemplate {
    let nodes = (0..length)
        .map(|i| {
            let index = if i == 0 {
                Binding::literal("index", Literal::Integer(0))
            } else {
                Binding::promise("index", format!("n{}", i - 1), "other_task_out")
            };
            Node::task(format!("n{i}"), id("other_task"), vec![index])
        })
        .collect();
    WorkflowTemplate {
        id: id("chain"),
        interface: TypedInterface {
            inputs: vec![],
            outputs: vec![Variable::new("out", gantry_core::model::LiteralType::Integer)],
        },
        nodes,
        outputs: vec![Binding::promise("out", format!("n{}", length - 1), "other_task_out")],
        failure_policy: FailurePolicy::FailImmediately,
    }
}

/// Runs the 100-task chain and prints its figures under `name`.
async fn run_chain(admin: &mut AdminServiceClient<Channel>, name: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    let target = pb::create_execution_request::Target::Workflow(id("chain").into());
    let execution_id = create(admin, target, LiteralMap::new()).await?;
    let execution = wait_for_terminal(admin, &execution_id).await;
    let wall = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        execution.phase == pb::ExecutionPhase::Succeeded as i32,
        "chain failed: {:?}",
        execution.error
    );
    figure(&format!("{name}_wall"), wall, "s", Some(100));
    figure(&format!("{name}_step_latency"), wall * 1000.0 / 100.0, "ms", Some(100));
    Ok(())
}

/// The creation of a fan-out's children alone: `generate_others@idle` yields `n` children on a queue no worker
/// serves, so the writer does nothing but create them (in chunks) and serve another client's CreateExecution calls,
/// whose latency is the figure. The execution is terminated afterwards.
async fn creation_alone(admin: &mut AdminServiceClient<Channel>, url: &str, n: i64, pid: u32) -> anyhow::Result<()> {
    let pool = sqlx::PgPool::connect(url).await?;
    let mut probe = admin.clone();
    let idle = rss_kib(pid, "VmRSS:");
    reset_peak_rss(pid);
    let started = Instant::now();
    let inputs = LiteralMap::from([("tasks_count".to_owned(), Literal::Integer(n))]);
    let target = pb::create_execution_request::Target::Task(
        gantry_core::model::Identifier::new("demo", "dev", "generate_others", "idle").into(),
    );
    let execution_id = create(admin, target, inputs).await?;
    let mut latencies = Vec::new();
    let mut created = 0i64;
    let mut i = 0i64;
    while created < n {
        let probed = Instant::now();
        let inputs = LiteralMap::from([("index".to_owned(), Literal::Integer(i))]);
        create(
            &mut probe,
            pb::create_execution_request::Target::Task(id("probe_task").into()),
            inputs,
        )
        .await?;
        latencies.push(probed.elapsed().as_secs_f64() * 1000.0);
        i += 1;
        created = sqlx::query_scalar(
            "SELECT coalesce(max(children_created), 0) FROM nodes WHERE execution_id = $1::uuid AND node_id = 'n0'",
        )
        .bind(&execution_id)
        .fetch_one(&pool)
        .await?;
        anyhow::ensure!(started.elapsed() < Duration::from_secs(600), "creation did not finish");
    }
    figure("creation_alone_wall", started.elapsed().as_secs_f64(), "s", Some(n));
    latencies.sort_by(f64::total_cmp);
    figure(
        "creation_alone_other_client_create_p50",
        percentile(&latencies, 50.0),
        "ms",
        Some(n),
    );
    figure(
        "creation_alone_other_client_create_p99",
        percentile(&latencies, 99.0),
        "ms",
        Some(n),
    );
    figure(
        "creation_alone_other_client_create_max",
        latencies[latencies.len() - 1],
        "ms",
        Some(n),
    );
    if let (Some(idle), Some(peak)) = (idle, rss_kib(pid, "VmHWM:")) {
        let per_node = (peak.saturating_sub(idle) * 1024) as f64 / n as f64;
        figure("creation_alone_peak_above_idle_per_node", per_node, "bytes", Some(n));
    }
    admin
        .terminate_execution(pb::TerminateExecutionRequest {
            id: execution_id,
            ..Default::default()
        })
        .await?;
    pool.close().await;
    // What the server holds once the execution is over, against what it held before.
    let terminated = Instant::now();
    while terminated.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    if let (Some(idle), Some(after)) = (idle, rss_kib(pid, "VmRSS:")) {
        figure("creation_alone_rss_idle_before", idle as f64 / 1024.0, "MiB", Some(n));
        figure("creation_alone_rss_10s_after", after as f64 / 1024.0, "MiB", Some(n));
    }
    Ok(())
}

/// Resets the process's peak RSS (`VmHWM`) to its current size, so that the next reading is the peak of what
/// follows (Linux: `5` written to `/proc/PID/clear_refs`).
fn reset_peak_rss(pid: u32) {
    if let Err(error) = std::fs::write(format!("/proc/{pid}/clear_refs"), "5") {
        eprintln!("cannot reset the server's peak RSS: {error}");
    }
}

/// Dispatch latency: with workers idle in a long poll, the time from submitting a one-task execution to a worker
/// holding its attempt.
async fn dispatch_latency(endpoint: &str, samples: usize) -> anyhow::Result<Vec<f64>> {
    let mut admin = admin(endpoint).await?;
    let mut worker = WorkerServiceClient::connect(endpoint.to_owned()).await?;
    let mut latencies = Vec::with_capacity(samples);
    for i in 0..samples {
        let poll = pb::PollTasksRequest {
            worker_id: "latency".into(),
            queues: vec!["latency".into()],
            max_attempts: 1,
            wait: Some(prost_types::Duration { seconds: 10, nanos: 0 }),
            completions: Vec::new(),
        };
        let mut poller = worker.clone();
        let waiting = tokio::spawn(async move { (poller.poll_tasks(poll).await, Instant::now()) });
        // Let the poll reach the server and wait there before submitting.
        tokio::time::sleep(Duration::from_millis(5)).await;
        let submitted = Instant::now();
        let inputs = LiteralMap::from([("index".to_owned(), Literal::Integer(i as i64))]);
        create(
            &mut admin,
            pb::create_execution_request::Target::Task(id("latency_task").into()),
            inputs,
        )
        .await?;
        let (polled, received) = waiting.await?;
        let assignments = polled?.into_inner().assignments;
        let assignment = assignments.first().ok_or_else(|| anyhow::anyhow!("no assignment"))?;
        latencies.push(received.duration_since(submitted).as_secs_f64() * 1000.0);
        let done = raw_worker::completion(
            assignment,
            pb::completion::Result::Outputs(
                LiteralMap::from([("other_task_out".to_owned(), Literal::Integer(0))]).into(),
            ),
        );
        worker
            .complete_attempts(pb::CompleteAttemptsRequest {
                worker_id: "latency".into(),
                completions: vec![done],
            })
            .await?;
    }
    latencies.sort_by(f64::total_cmp);
    Ok(latencies)
}

/// The CPU time (user and system) the process used so far, in seconds, from `/proc/PID/stat` (Linux's clock ticks
/// are 1/100 s).
fn cpu_seconds(pid: u32) -> Option<f64> {
    // utime and stime: the 12th and 13th fields after the command.
    let fields = stat_fields(pid)?;
    Some(ticks(fields.get(11..13)?)? as f64 / 100.0)
}

/// The CPU time spent between two readings, when both were taken.
fn spent(before: Option<f64>, after: Option<f64>) -> Option<f64> {
    before.zip(after).map(|(before, after)| after - before)
}

/// The sum of clock ticks in `/proc/PID/stat` fields.
fn ticks(fields: &[String]) -> Option<u64> {
    fields.iter().map(|field| field.parse::<u64>().ok()).sum()
}

/// The Postgres cluster the benchmark's database is in, when it runs on this machine: its postmaster's pid, the
/// parent of the backend serving a connection. `None` when that backend is not a `postgres` process here (Postgres
/// on another machine, or in a container, whose process ids are not ours).
async fn postmaster_pid(url: &str) -> Option<u32> {
    use sqlx::Connection;
    let mut connection = sqlx::PgConnection::connect(url).await.ok()?;
    let backend: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut connection)
        .await
        .ok()?;
    let backend = u32::try_from(backend).ok()?;
    let postmaster = stat_fields(backend)?.get(1)?.parse().ok()?;
    let _ = connection.close().await;
    let is_postgres = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|command| command.trim() == "postgres")
    };
    (is_postgres(backend) && is_postgres(postmaster)).then_some(postmaster)
}

/// The fields of `/proc/PID/stat` after the command (which is in parentheses and may hold spaces): state first.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(stat.rsplit_once(')')?.1.split_whitespace().map(str::to_owned).collect())
}

/// The CPU time every process of the Postgres cluster used so far, in seconds: the postmaster's own and that of its
/// children it reaped (backends that ended), and its living children's (backends, autovacuum, the WAL writer...).
/// Over a fan-out, what the database spent on it, if nothing else uses the cluster meanwhile.
fn postgres_cpu_seconds(postmaster: u32) -> Option<f64> {
    // utime and stime, then cutime and cstime (its reaped children's): the 12th to the 15th fields after the command.
    let mut total = ticks(stat_fields(postmaster)?.get(11..15)?)?;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) else {
            continue;
        };
        // A process that ended meanwhile is counted by its parent's reaped time, or was not a child.
        let Some(fields) = stat_fields(pid) else { continue };
        if fields.get(1).and_then(|ppid| ppid.parse::<u32>().ok()) == Some(postmaster) {
            total += fields.get(11..13).and_then(ticks).unwrap_or_default();
        }
    }
    Some(total as f64 / 100.0)
}

/// A memory figure of the process in KiB: `VmRSS:` (now) or `VmHWM:` (peak).
fn rss_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = options()?;
    let admin_url =
        std::env::var("DATABASE_URL").map_err(|_| anyhow::anyhow!("set DATABASE_URL (scripts/bench does)"))?;
    let (store, pg_url) = PgStore::connect_fresh(&admin_url).await?;
    store.close().await;
    let sqlite_dir = tempfile::tempdir()?;
    let url = match options.sqlite {
        true => format!("sqlite:{}", sqlite_dir.path().join("gantry.db").display()),
        false => pg_url.clone(),
    };
    let server_bin = std::env::current_exe()?.with_file_name("gantry-test-server");
    // Port 0: the server binds a free port and prints it (a port picked here and freed could be taken meanwhile, by
    // the OTLP receiver among others).
    let listen = "127.0.0.1:0";
    let server_bin = server_bin.to_str().unwrap_or_default();
    let receiver = match options.otlp {
        true => Some(gantry_tests::otlp::OtlpReceiver::start(false).await?),
        false => None,
    };
    let telemetry = match &receiver {
        Some(_) if options.otlp_server_only => None,
        Some(receiver) => Some(gantry_telemetry::init(gantry_telemetry::TelemetryConfig {
            log_format: gantry_telemetry::LogFormat::Text,
            log_filter: "warn".to_owned(),
            otlp_endpoint: Some(receiver.endpoint.clone()),
            service_name: gantry_telemetry::service::WORKER.to_owned(),
        })?),
        None => None,
    };
    let mut server_args = vec![listen, url.as_str(), "30000"];
    if let Some(receiver) = &receiver {
        server_args.push(&receiver.endpoint);
    }
    // GANTRY_BENCH_SERVER_UNDER runs the server under a profiler, e.g. `heaptrack` (its pid is then the profiler's,
    // so the memory figures are not the server's).
    let server = match std::env::var("GANTRY_BENCH_SERVER_UNDER") {
        Ok(profiler) => {
            let args: Vec<&str> = std::iter::once(server_bin).chain(server_args).collect();
            Process::start(&profiler, &args, "listening on").await
        }
        Err(_) => Process::start(server_bin, &server_args, "listening on").await,
    };
    let pid = server.child.id().unwrap_or_default();
    let endpoint = format!("http://{}", server.ready);

    let mut admin = admin(&endpoint).await?;
    let mut templates = raw_worker::task_templates();
    let mut latency_task = templates[0].clone();
    latency_task.id = id("latency_task");
    latency_task.metadata.queue = "latency".into();
    // Never claimed: its executions only measure how long another client's CreateExecution takes.
    let mut probe_task = latency_task.clone();
    probe_task.id = id("probe_task");
    probe_task.metadata.queue = "probe".into();
    templates.push(latency_task);
    templates.push(probe_task);
    // `generate_others@idle` yields `other_task@idle` children, which no worker serves (see `creation_alone`).
    for task in raw_worker::task_templates() {
        let mut idle = task.clone();
        idle.id.version = "idle".into();
        match task.id.name.as_str() {
            "generate_others" => templates.push(idle),
            "other_task" => {
                idle.metadata.queue = "nobody".into();
                templates.push(idle);
            }
            _ => {}
        }
    }
    for task in templates {
        admin
            .register_task(pb::RegisterTaskRequest {
                task: Some(task.into()),
            })
            .await?;
    }
    admin
        .register_workflow(pb::RegisterWorkflowRequest {
            workflow: Some(chain(100).into()),
        })
        .await?;

    let (stop, stopped) = watch::channel(false);
    let mut workers = Vec::new();
    for w in 0..options.workers {
        let worker = Worker::builder(endpoint.clone())
            .worker_id(format!("bench-{w}"))
            .concurrency(options.slots)
            .prefetch(options.prefetch.unwrap_or(4 * options.slots))
            .task(gantry_examples::other_task_def(), gantry_examples::other_task)
            .task(TaskDef::new("demo", "dev", "generate_others", "1"), generate_others)
            .build()?;
        let mut stopped = stopped.clone();
        workers.push(tokio::spawn(async move {
            worker
                .run(async move { drop(stopped.wait_for(|stop| *stop).await) })
                .await
        }));
    }
    figure("worker_slots", (options.workers * options.slots) as f64, "slots", None);
    let prefetch = options.prefetch.unwrap_or(4 * options.slots);
    figure(
        "worker_prefetch_max",
        (options.workers * prefetch) as f64,
        "attempts",
        None,
    );
    let store_name = if options.sqlite { "sqlite" } else { "postgres" };
    println!("store {store_name}");

    if !options.fanouts_only {
        run_chain(&mut admin, "chain_fresh").await?;
    }
    let idle_rss = rss_kib(pid, "VmRSS:");
    let postmaster = match options.sqlite {
        true => None,
        false => postmaster_pid(&pg_url).await,
    };
    for &n in &options.sizes {
        // Another client creates small executions one after the other while the fan-out is created and runs.
        let (busy, mut probe) = (watch::channel(true), admin.clone());
        let probing = {
            let mut running = busy.1.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut i = 0i64;
                while *running.borrow_and_update() {
                    let started = Instant::now();
                    let inputs = LiteralMap::from([("index".to_owned(), Literal::Integer(i))]);
                    let target = pb::create_execution_request::Target::Task(id("probe_task").into());
                    create(&mut probe, target, inputs).await?;
                    latencies.push(started.elapsed().as_secs_f64() * 1000.0);
                    i += 1;
                }
                anyhow::Ok(latencies)
            })
        };
        let started = Instant::now();
        let cpu_before = cpu_seconds(pid);
        let own_cpu_before = cpu_seconds(std::process::id());
        let postgres_cpu_before = postmaster.and_then(postgres_cpu_seconds);
        let inputs = LiteralMap::from([("tasks_count".to_owned(), Literal::Integer(n))]);
        let execution_id = create(
            &mut admin,
            pb::create_execution_request::Target::Task(id("generate_others").into()),
            inputs,
        )
        .await?;
        // A million children take minutes on 8 slots: a millisecond each, and never less than the tests' 300 s.
        let within = Duration::from_millis(n.max(300_000) as u64);
        let execution = wait_for_terminal_within(&mut admin, &execution_id, within).await;
        let data = admin
            .get_execution_data(pb::GetExecutionDataRequest {
                id: execution_id,
                ..Default::default()
            })
            .await?
            .into_inner();
        let wall = started.elapsed().as_secs_f64();
        anyhow::ensure!(
            execution.phase == pb::ExecutionPhase::Succeeded as i32,
            "fan-out N={n} failed: {:?}",
            execution.error
        );
        let outputs: LiteralMap = data.outputs.unwrap_or_default().try_into()?;
        // Every assembled value, in order: child i doubles its index.
        let expected = Literal::Collection((0..n).map(|i| Literal::Integer(2 * i)).collect());
        anyhow::ensure!(outputs.get("out") == Some(&expected), "wrong list for N={n}");
        figure("fanout_wall", wall, "s", Some(n));
        figure("fanout_children_per_second", n as f64 / wall, "children/s", Some(n));
        // The server's own CPU time (user and system) over the fan-out: steadier than the wall time on a shared
        // machine, for comparing builds.
        let server_cpu = spent(cpu_before, cpu_seconds(pid));
        if let Some(server_cpu) = server_cpu {
            figure("fanout_server_cpu", server_cpu, "s", Some(n));
        }
        // This process's: the workers, their span export with `--otlp`, the receiver's counting and the probes.
        let bench_cpu = spent(own_cpu_before, cpu_seconds(std::process::id()));
        if let Some(bench_cpu) = bench_cpu {
            figure("fanout_bench_cpu", bench_cpu, "s", Some(n));
        }
        // The database's, when it runs here: with the two above, the CPU a child costs every party, which bounds
        // the fan-out's time on this machine's cores whatever runs in parallel.
        let postgres_cpu = spent(postgres_cpu_before, postmaster.and_then(postgres_cpu_seconds));
        if let Some(postgres_cpu) = postgres_cpu {
            figure("fanout_postgres_cpu", postgres_cpu, "s", Some(n));
            if let (Some(server_cpu), Some(bench_cpu)) = (server_cpu, bench_cpu) {
                let per_child = (server_cpu + bench_cpu + postgres_cpu) / n as f64;
                figure("fanout_cpu_per_child", per_child * 1e6, "us", Some(n));
            }
        }
        busy.0.send(false)?;
        let mut latencies = probing.await??;
        latencies.sort_by(f64::total_cmp);
        if !latencies.is_empty() {
            figure("other_client_create_p50", percentile(&latencies, 50.0), "ms", Some(n));
            figure("other_client_create_p99", percentile(&latencies, 99.0), "ms", Some(n));
            figure("other_client_create_max", latencies[latencies.len() - 1], "ms", Some(n));
        }
        if let (Some(idle), Some(peak)) = (idle_rss, rss_kib(pid, "VmHWM:")) {
            figure(
                "server_peak_above_idle_per_node",
                (peak.saturating_sub(idle) * 1024) as f64 / n as f64,
                "bytes",
                Some(n),
            );
        }
        if let Some(now) = rss_kib(pid, "VmRSS:") {
            figure("server_rss_after", now as f64 / 1024.0, "MiB", Some(n));
        }
    }

    if !options.fanouts_only {
        run_chain(&mut admin, "chain_after_fanouts").await?;
        // Follows creation in Postgres's tables.
        if !options.sqlite {
            creation_alone(&mut admin, &url, 100_000, pid).await?;
        }
        let latencies = dispatch_latency(&endpoint, 200).await?;
        figure("dispatch_latency_p50", percentile(&latencies, 50.0), "ms", None);
        figure("dispatch_latency_p99", percentile(&latencies, 99.0), "ms", None);
    }

    if let Some(kib) = rss_kib(pid, "VmHWM:") {
        figure("server_peak_rss", kib as f64 / 1024.0, "MiB", None);
    }
    stop.send(true)?;
    for worker in workers {
        worker.await??;
    }
    if let Some(receiver) = &receiver {
        if let Some(telemetry) = telemetry {
            telemetry.shutdown().await;
        }
        // The server's spans still buffered are lost with it: a count of what arrived, to show that spans flowed.
        figure("otlp_spans_received", receiver.count() as f64, "spans", None);
    }
    server.kill().await;
    PgStore::drop_fresh(&admin_url, &pg_url).await?;
    Ok(())
}
