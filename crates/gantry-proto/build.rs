//! Compiles `proto/gantry/v1/*.proto` with protox (no `protoc` needed), writes the file descriptor set to
//! `$OUT_DIR/gantry_descriptor.bin` for gRPC reflection, and generates the messages and services with
//! tonic-prost-build: the services' clients and servers only with the `services` feature (read from
//! `CARGO_FEATURE_SERVICES`, as build scripts see features), plain prost messages otherwise. Also compiles the `grpc.health.v1` proto shipped beside ours (`proto/grpc/health/v1`, verbatim
//! from the gRPC project) into `$OUT_DIR/health_descriptor.bin`, so that reflection serves the file clients get
//! from us; tonic-health implements the service.

use std::path::PathBuf;

const PROTO_FILES: &[&str] = &[
    "gantry/v1/types.proto",
    "gantry/v1/literals.proto",
    "gantry/v1/identifier.proto",
    "gantry/v1/interface.proto",
    "gantry/v1/task.proto",
    "gantry/v1/workflow.proto",
    "gantry/v1/dynamic.proto",
    "gantry/v1/launch_plan.proto",
    "gantry/v1/execution.proto",
    "gantry/v1/admin.proto",
    "gantry/v1/worker.proto",
    "gantry/v1/auth.proto",
    "gantry/v1/project.proto",
    "gantry/v1/audit.proto",
];

/// The standard health service's proto, served by tonic-health; only its descriptor is built here.
const HEALTH_PROTO: &str = "grpc/health/v1/health.proto";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest_dir.join("../../proto");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    println!("cargo:rerun-if-changed={}", proto_root.display());
    for file in PROTO_FILES.iter().chain([&HEALTH_PROTO]) {
        println!("cargo:rerun-if-changed={}", proto_root.join(file).display());
    }

    let mut compiler = protox::Compiler::new([&proto_root])?;
    compiler.include_source_info(true).include_imports(true);
    compiler.open_files(PROTO_FILES)?;
    std::fs::write(
        out_dir.join("gantry_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;

    let mut health = protox::Compiler::new([&proto_root])?;
    health.include_source_info(true).include_imports(true);
    health.open_files([HEALTH_PROTO])?;
    std::fs::write(
        out_dir.join("health_descriptor.bin"),
        health.encode_file_descriptor_set(),
    )?;

    // Build scripts learn their crate's features from the environment, not from `cfg`.
    let services = std::env::var_os("CARGO_FEATURE_SERVICES").is_some();
    tonic_prost_build::configure()
        .build_client(services)
        .build_server(services)
        // Deterministic map order, matching the core's `BTreeMap`s.
        .btree_map(".")
        // Chunks of references pass from the blob store to the wire, and back into a buffer, without copies.
        .bytes(".gantry.v1.ReadOffloadedResponse.chunk")
        .compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}
