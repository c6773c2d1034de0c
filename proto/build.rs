//! Compiles the IDL in `idl/` with protox (pure Rust: no protoc on the build machine)
//! and generates prost messages and tonic clients/servers into OUT_DIR.
//!
//! OTLP types are not generated here: imports of `opentelemetry/proto/...` resolve
//! against the descriptors shipped by the opentelemetry-proto crate, and `extern_path`
//! points the generated code at that crate's types.

use std::path::PathBuf;

use prost::Message;
use protox::file::{
    ChainFileResolver, DescriptorSetFileResolver, GoogleFileResolver, IncludeFileResolver,
};

const FILES: &[&str] = &[
    "api_v2/model.proto",
    "api_v2/collector.proto",
    "api_v2/query.proto",
    "api_v2/sampling.proto",
    "api_v2/metrics/openmetrics.proto",
    "api_v2/metrics/otelspankind.proto",
    "api_v3/query_service.proto",
    "expression/v1/expression.proto",
    "storage/v2/trace_storage.proto",
    "storage/v2/dependency_storage.proto",
    "storage/v2/capabilities.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("idl");
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    println!("cargo:rerun-if-changed={}", root.display());

    let mut resolver = ChainFileResolver::new();
    resolver.add(IncludeFileResolver::new(root.clone()));
    resolver.add(DescriptorSetFileResolver::decode(
        opentelemetry_proto::DESCRIPTORS,
    )?);
    resolver.add(GoogleFileResolver::new());

    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    compiler.include_imports(true);
    compiler.open_files(FILES)?;
    // The full set (imports included) serves gRPC reflection.
    let full = compiler.file_descriptor_set();
    std::fs::write(out.join("jaeger_descriptor.bin"), full.encode_to_vec())?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .extern_path(
            ".opentelemetry.proto.trace.v1",
            "::opentelemetry_proto::tonic::trace::v1",
        )
        .extern_path(
            ".opentelemetry.proto.common.v1",
            "::opentelemetry_proto::tonic::common::v1",
        )
        .extern_path(
            ".opentelemetry.proto.resource.v1",
            "::opentelemetry_proto::tonic::resource::v1",
        )
        // Imported files stay in the set (prost needs their messages to decide derives);
        // their types are extern, so no code is generated for them.
        .compile_fds(full)?;
    Ok(())
}
