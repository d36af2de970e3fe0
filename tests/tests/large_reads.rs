//! Nothing accepted is ever unreadable: an execution the limits let through answers every read RPC, whatever its
//! values weigh together. Values that do not fit a response come as references that `ReadOffloaded` streams; the Rust
//! SDK reads them for its handlers (inputs delivered by PollTasks) and for clients, byte for byte.
//!
//! Large values make these tests slow: a handful of executions, and every read prints how long it took.

use std::time::Instant;

use gantry_core::model::{
    Binding, BindingData, FailurePolicy, Literal, LiteralMap, LiteralType, Node, TypedInterface, Variable,
    WorkflowTemplate,
};
use gantry_proto::v1 as pb;
use gantry_tests::client::{self, Admin};
use gantry_tests::sdk::{RunningWorker, task_def};
use gantry_tests::{Backend, TestServer, wait_for_terminal};
use gantry_worker::{
    DynamicSpec, IntoBinding, References, TaskContext, TaskDef, TaskError, TaskOutput, Worker, outputs,
};
use prost::Message;
use sha2::{Digest, Sha256};
use tonic::Code;

const MB: usize = 1_000_000;
const MIB: usize = 1024 * 1024;

fn echo_def() -> TaskDef {
    task_def("echo")
        .input("text", LiteralType::String)
        .output("text", LiteralType::String)
}

fn fill_def() -> TaskDef {
    task_def("fill")
        .input("n", LiteralType::Integer)
        .input("seed", LiteralType::Integer)
        .output("text", LiteralType::String)
}

fn join_def() -> TaskDef {
    task_def("join")
        .input("a", LiteralType::String)
        .input("b", LiteralType::String)
        .output("digest", LiteralType::String)
}

fn spread_def() -> TaskDef {
    task_def("spread")
        .input("n", LiteralType::Integer)
        .output("text", LiteralType::String)
}

/// `n` bytes of text that differ with `seed`, quick to make even at 60 MB.
fn pattern(n: usize, seed: u8) -> String {
    let unit: String = (0..997u32)
        .map(|i| char::from(b'a' + ((i * 7 + u32::from(seed)) % 26) as u8))
        .collect();
    let mut text = unit.repeat(n / unit.len() + 1);
    text.truncate(n);
    text
}

fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The digest a reference to the string literal `text` carries: of the encoded literal.
fn literal_digest(text: &str) -> String {
    let literal = pb::Literal {
        value: Some(pb::literal::Value::StringValue(text.to_owned())),
        hash: String::new(),
    };
    digest(&literal.encode_to_vec())
}

async fn echo(_ctx: TaskContext, inputs: gantry_worker::Inputs) -> Result<TaskOutput, TaskError> {
    let text: String = inputs.get("text")?;
    Ok(outputs().set("text", text).into())
}

async fn fill(_ctx: TaskContext, inputs: gantry_worker::Inputs) -> Result<TaskOutput, TaskError> {
    let n: i64 = inputs.get("n")?;
    let seed: i64 = inputs.get("seed")?;
    Ok(outputs().set("text", pattern(n as usize, seed as u8)).into())
}

async fn join(_ctx: TaskContext, inputs: gantry_worker::Inputs) -> Result<TaskOutput, TaskError> {
    let a: String = inputs.get("a")?;
    let b: String = inputs.get("b")?;
    Ok(outputs().set("digest", digest(format!("{a}|{b}").as_bytes())).into())
}

/// A dynamic task whose spec binds a literal of `n` bytes inline: its child's inputs hold it in a row.
async fn spread(_ctx: TaskContext, inputs: gantry_worker::Inputs) -> Result<TaskOutput, TaskError> {
    let n: i64 = inputs.get("n")?;
    let mut spec = DynamicSpec::new();
    let child = spec.task(&echo_def(), [("text", pattern(n as usize, 3).into_binding())])?;
    spec.set_output("text", child.output("text"));
    Ok(TaskOutput::Dynamic(spec))
}

struct Setup {
    server: TestServer,
    admin: Admin,
    references: References,
    worker: RunningWorker,
}

impl Setup {
    async fn start(backend: Backend, configure: impl FnOnce(&mut gantry_server::ServerConfig)) -> Setup {
        let server = TestServer::start_with(backend, configure).await;
        let admin = server.admin().await;
        let worker = Worker::builder(server.endpoint.clone())
            .concurrency(4)
            .task(echo_def(), echo)
            .task(fill_def(), fill)
            .task(join_def(), join)
            .task(spread_def(), spread)
            .build()
            .expect("worker");
        worker.register_tasks().await.expect("register");
        Setup {
            references: References::from_client(admin.clone()),
            server,
            admin,
            worker: RunningWorker::spawn(worker),
        }
    }

    async fn stop(self) {
        self.worker.stop().await;
        self.server.stop().await;
    }

    /// Runs `task` with `inputs` to success.
    async fn run(&mut self, task: &TaskDef, inputs: LiteralMap) -> String {
        let started = Instant::now();
        let created = client::create(&mut self.admin, client::task_target(task.id().clone()), inputs, |_| {}).await;
        let execution = wait_for_terminal(&mut self.admin, &created.id).await;
        assert_eq!(
            execution.phase,
            pb::ExecutionPhase::Succeeded as i32,
            "{:?}",
            execution.error
        );
        eprintln!("figure: {} ran in {:?}", task.name(), started.elapsed());
        execution.id
    }

    async fn execution_data(&mut self, id: &str, references: bool, what: &str) -> pb::GetExecutionDataResponse {
        let started = Instant::now();
        let request = pb::GetExecutionDataRequest {
            id: id.to_owned(),
            references,
        };
        let response = self.admin.get_execution_data(request).await;
        let response = response
            .unwrap_or_else(|status| panic!("GetExecutionData: {status}"))
            .into_inner();
        eprintln!(
            "figure: GetExecutionData of {what} (references {references}): {} bytes in {:?}",
            response.encoded_len(),
            started.elapsed()
        );
        response
    }

    async fn node_data(
        &mut self,
        id: &str,
        node_id: &str,
        references: bool,
        what: &str,
    ) -> pb::GetNodeExecutionDataResponse {
        let started = Instant::now();
        let request = pb::GetNodeExecutionDataRequest {
            execution_id: id.to_owned(),
            node_id: node_id.to_owned(),
            references,
        };
        let response = self.admin.get_node_execution_data(request).await;
        let response = response
            .unwrap_or_else(|status| panic!("GetNodeExecutionData {node_id}: {status}"))
            .into_inner();
        eprintln!(
            "figure: GetNodeExecutionData of {what} (references {references}): {} bytes in {:?}",
            response.encoded_len(),
            started.elapsed()
        );
        response
    }

    /// The map's values as the SDK reads them, references followed.
    async fn values(&self, map: Option<pb::LiteralMap>, what: &str) -> pb::LiteralMap {
        let started = Instant::now();
        let values = self
            .references
            .resolve_map(map.expect("a map"))
            .await
            .expect("references read");
        eprintln!(
            "figure: reading the references of {what}: {} bytes in {:?}",
            values.encoded_len(),
            started.elapsed()
        );
        values
    }

    async fn read_status(&self, uri: &str) -> Code {
        match self.references.read(uri, None, "").await {
            Ok(bytes) => panic!("{uri} read {} bytes", bytes.len()),
            Err(error) => error.code().unwrap_or_else(|| panic!("{uri}: {error}")),
        }
    }
}

fn string(literal: &pb::Literal) -> &str {
    match &literal.value {
        Some(pb::literal::Value::StringValue(text)) => text,
        other => panic!("not a string: {other:?}"),
    }
}

fn reference(literal: &pb::Literal) -> &pb::OffloadedLiteral {
    match &literal.value {
        Some(pb::literal::Value::Offloaded(reference)) => reference,
        other => panic!("not a reference: {:?}", other.as_ref().map(|v| format!("{v:?}").len())),
    }
}

/// The largest value of the map sent inline rather than by reference.
fn largest_inline(map: &pb::LiteralMap) -> usize {
    map.literals
        .values()
        .filter(|literal| !matches!(literal.value, Some(pb::literal::Value::Offloaded(_))))
        .map(Message::encoded_len)
        .max()
        .unwrap_or(0)
}

async fn sixty_megabytes_echoed(backend: Backend) {
    let mut setup = Setup::start(backend, |_| {}).await;
    let text = pattern(60 * MB, 0);
    let expected = digest(text.as_bytes());
    let expected_literal = literal_digest(&text);
    let inputs = LiteralMap::from([("text".to_owned(), Literal::String(text))]);
    // The worker gets the 60 MB input from PollTasks (as a reference its SDK reads) and echoes it.
    let id = setup.run(&echo_def(), inputs).await;

    let data = setup.execution_data(&id, false, "a 60 MB echo").await;
    let input_ref = reference(&data.inputs.as_ref().expect("inputs").literals["text"]).clone();
    let output_ref = reference(&data.outputs.as_ref().expect("outputs").literals["text"]).clone();
    assert_eq!(input_ref.sha256, expected_literal);
    assert_eq!(output_ref.sha256, expected_literal, "the worker echoed every byte");
    let inputs = setup.values(data.inputs, "the 60 MB input").await;
    let outputs = setup.values(data.outputs, "the 60 MB output").await;
    assert_eq!(digest(string(&inputs.literals["text"]).as_bytes()), expected);
    assert_eq!(digest(string(&outputs.literals["text"]).as_bytes()), expected);

    let node = setup.node_data(&id, "n0", false, "the 60 MB echo's node").await;
    assert_eq!(
        reference(&node.inputs.as_ref().expect("inputs").literals["text"]).sha256,
        expected_literal
    );
    assert_eq!(
        reference(&node.outputs.as_ref().expect("outputs").literals["text"]).sha256,
        expected_literal
    );
    let record = setup
        .admin
        .get_execution(pb::GetExecutionRequest {
            id: id.clone(),
            references: false,
        })
        .await;
    let record = record.expect("GetExecution").into_inner().execution.expect("execution");
    assert_eq!(
        reference(&record.inputs.expect("inputs").literals["text"]).sha256,
        expected_literal
    );

    // Asking for references: nothing large inline.
    let data = setup.execution_data(&id, true, "a 60 MB echo").await;
    assert!(largest_inline(data.inputs.as_ref().expect("inputs")) <= MIB);
    assert!(largest_inline(data.outputs.as_ref().expect("outputs")) <= MIB);

    // The stream: chunks of at most 1 MiB, in order, as many as the size needs.
    let started = Instant::now();
    let request = pb::ReadOffloadedRequest {
        uri: output_ref.uri.clone(),
    };
    let mut stream = setup.admin.read_offloaded(request).await.expect("read").into_inner();
    let (mut chunks, mut largest, mut hasher) = (0, 0, Sha256::new());
    while let Some(message) = stream.message().await.expect("chunk") {
        chunks += 1;
        largest = largest.max(message.chunk.len());
        hasher.update(&message.chunk);
    }
    eprintln!(
        "figure: ReadOffloaded of 60 MB: {chunks} chunks in {:?}",
        started.elapsed()
    );
    assert!(largest <= MIB, "{largest}");
    assert_eq!(chunks, (output_ref.size_bytes as usize).div_ceil(MIB));
    let read = hex::encode(hasher.finalize());
    assert_eq!(read, output_ref.sha256);

    // Only references the server hands out are read.
    let base = &output_ref.uri[..output_ref.uri.find("/offloaded/").expect("a blob-store reference")];
    let unknown_id = format!("{}{}", &output_ref.uri[..output_ref.uri.len() - 32], "0".repeat(32));
    let other = uuid::Uuid::now_v7();
    for uri in [
        unknown_id,
        format!("{base}/offloaded/../../../../etc/passwd"),
        format!("{base}/other/{}", "0".repeat(32)),
        "file:///etc/passwd".to_owned(),
        format!("gantry:value?execution={other}&map=inputs&name=text"),
        format!("gantry:value?execution={id}&map=inputs&name=nope"),
        format!("gantry:value?execution={id}&node=n1&map=inputs&name=text"),
        format!("gantry:spec?execution={id}&node=n0&attempt=0"),
    ] {
        assert_eq!(setup.read_status(&uri).await, Code::NotFound, "{uri}");
    }
    assert_eq!(setup.read_status("").await, Code::InvalidArgument);
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_megabytes_echoed_postgres() {
    sixty_megabytes_echoed(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_megabytes_echoed_sqlite() {
    sixty_megabytes_echoed(Backend::Sqlite).await;
}

/// `a = fill(n, 1)`, `b = fill(n, 2)`, `j = join(a, b)`; outputs `first`, `second` and `digest`.
fn pair_workflow(n: i64) -> WorkflowTemplate {
    let literal = |var: &str, value: i64| Binding::new(var, BindingData::Literal(Literal::Integer(value)));
    let text = LiteralType::String;
    WorkflowTemplate {
        id: task_def("pair").id().clone(),
        interface: TypedInterface {
            inputs: Vec::new(),
            outputs: vec![
                Variable::new("first", text.clone()),
                Variable::new("second", text.clone()),
                Variable::new("digest", text),
            ],
        },
        nodes: vec![
            Node::task("a", fill_def().id().clone(), vec![literal("n", n), literal("seed", 1)]),
            Node::task("b", fill_def().id().clone(), vec![literal("n", n), literal("seed", 2)]),
            Node::task(
                "j",
                join_def().id().clone(),
                vec![Binding::promise("a", "a", "text"), Binding::promise("b", "b", "text")],
            ),
        ],
        outputs: vec![
            Binding::promise("first", "a", "text"),
            Binding::promise("second", "b", "text"),
            Binding::promise("digest", "j", "digest"),
        ],
        failure_policy: FailurePolicy::FailImmediately,
    }
}

/// Two 40 MB outputs, over the message limit together, and a node whose inputs are both.
async fn two_forty_megabyte_values(backend: Backend) {
    let mut setup = Setup::start(backend, |_| {}).await;
    let (first, second) = (pattern(40 * MB, 1), pattern(40 * MB, 2));
    let expected_join = digest(format!("{first}|{second}").as_bytes());
    let workflow = pair_workflow(40 * MB as i64);
    client::register_workflow(&mut setup.admin, workflow.clone()).await;
    let started = Instant::now();
    let created = client::create(
        &mut setup.admin,
        client::workflow_target(workflow.id),
        LiteralMap::new(),
        |_| {},
    )
    .await;
    let execution = wait_for_terminal(&mut setup.admin, &created.id).await;
    assert_eq!(
        execution.phase,
        pb::ExecutionPhase::Succeeded as i32,
        "{:?}",
        execution.error
    );
    eprintln!("figure: pair ran in {:?}", started.elapsed());
    let id = execution.id;

    let data = setup.execution_data(&id, false, "two 40 MB outputs").await;
    let outputs = data.outputs.clone().expect("outputs");
    assert_eq!(
        string(&outputs.literals["digest"]),
        expected_join,
        "join got both values whole"
    );
    assert_eq!(reference(&outputs.literals["first"]).sha256, literal_digest(&first));
    let outputs = setup.values(data.outputs, "two 40 MB outputs").await;
    assert_eq!(string(&outputs.literals["first"]), first);
    assert_eq!(string(&outputs.literals["second"]), second);

    let node = setup.node_data(&id, "j", false, "the node reading both").await;
    let inputs = setup.values(node.inputs, "the inputs of the node reading both").await;
    assert_eq!(string(&inputs.literals["a"]), first);
    assert_eq!(string(&inputs.literals["b"]), second);
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_forty_megabyte_values_postgres() {
    two_forty_megabyte_values(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_forty_megabyte_values_sqlite() {
    two_forty_megabyte_values(Backend::Sqlite).await;
}

/// With an 8 MiB message limit (4 MiB of values per response), a 5 MB literal bound inline in a dynamic spec is held
/// in the child's row: PollTasks and the node's data refer to it with a `gantry:` reference, and the spec itself comes
/// by reference.
async fn values_held_in_rows_and_specs_by_reference(backend: Backend) {
    let mut setup = Setup::start(backend, |config| config.max_message_bytes = 8 * MIB).await;
    let text = pattern(5 * MB, 3);
    let expected = digest(text.as_bytes());
    let id = setup
        .run(
            &spread_def(),
            LiteralMap::from([("n".to_owned(), Literal::Integer(5 * MB as i64))]),
        )
        .await;

    let child = setup
        .node_data(&id, "n0/0/dn0", false, "a child bound to 5 MB inline")
        .await;
    let held = reference(&child.inputs.as_ref().expect("inputs").literals["text"]).clone();
    assert!(held.uri.starts_with("gantry:value?"), "{}", held.uri);
    assert_eq!(held.sha256, literal_digest(&text));
    let inputs = setup.values(child.inputs, "a value held in a row").await;
    assert_eq!(string(&inputs.literals["text"]), text);
    let outputs = setup.values(child.outputs, "the child's echo").await;
    assert_eq!(
        digest(string(&outputs.literals["text"]).as_bytes()),
        expected,
        "the worker read it whole"
    );

    let parent = setup.node_data(&id, "n0", false, "a 5 MB spec").await;
    assert!(parent.dynamic_spec.is_none());
    let spec_ref = parent.dynamic_spec_reference.expect("the spec by reference");
    assert!(spec_ref.uri.starts_with("gantry:spec?"), "{}", spec_ref.uri);
    let spec = setup.references.read_spec(&spec_ref).await.expect("spec read");
    let binding = spec.nodes[0].inputs[0].binding.as_ref().expect("binding");
    match &binding.value {
        Some(pb::binding_data::Value::Literal(literal)) => assert_eq!(digest(string(literal).as_bytes()), expected),
        other => panic!("{other:?}"),
    }
    // Asking for references: nothing large inline, the spec included.
    let child = setup
        .node_data(&id, "n0/0/dn0", true, "a child bound to 5 MB inline")
        .await;
    assert!(largest_inline(child.inputs.as_ref().expect("inputs")) <= MIB);
    assert!(largest_inline(child.outputs.as_ref().expect("outputs")) <= MIB);
    let parent = setup.node_data(&id, "n0", true, "a 5 MB spec").await;
    assert!(parent.dynamic_spec.is_none() && parent.dynamic_spec_reference.is_some());
    let data = setup.execution_data(&id, false, "a dynamic task's 5 MB output").await;
    let outputs = setup.values(data.outputs, "a dynamic task's 5 MB output").await;
    assert_eq!(digest(string(&outputs.literals["text"]).as_bytes()), expected);
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_held_in_rows_and_specs_by_reference_postgres() {
    values_held_in_rows_and_specs_by_reference(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_held_in_rows_and_specs_by_reference_sqlite() {
    values_held_in_rows_and_specs_by_reference(Backend::Sqlite).await;
}
