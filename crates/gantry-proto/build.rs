//! Compiles `proto/gantry/v1/*.proto` with protox (no `protoc` needed), writes the file descriptor set to
//! `$OUT_DIR/gantry_descriptor.bin` for gRPC reflection, and generates the messages and services with
//! tonic-prost-build.

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
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest_dir.join("../../proto");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    println!("cargo:rerun-if-changed={}", proto_root.display());
    for file in PROTO_FILES {
        println!("cargo:rerun-if-changed={}", proto_root.join(file).display());
    }

    let mut compiler = protox::Compiler::new([&proto_root])?;
    compiler.include_source_info(true).include_imports(true);
    compiler.open_files(PROTO_FILES)?;
    std::fs::write(
        out_dir.join("gantry_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;

    tonic_prost_build::configure()
        // Deterministic map order, matching the core's `BTreeMap`s.
        .btree_map(".")
        // Chunks of references pass from the blob store to the wire, and back into a buffer, without copies.
        .bytes(".gantry.v1.ReadOffloadedResponse.chunk")
        .compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}
