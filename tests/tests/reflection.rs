//! What a client author meets before reading our protos: reflection in both versions tools speak (v1, and v1alpha
//! for older grpcurl and IDE plugins) lists our services and health, and the `grpc.health.v1` description served is
//! the proto we ship in `proto/grpc/health/v1/health.proto`, which describes the health service the server runs.

use prost::Message;
use prost_types::{FileDescriptorProto, FileDescriptorSet};
use tokio_stream::StreamExt;
use tonic::transport::Channel;
use tonic_reflection::pb::{v1, v1alpha};

use gantry_tests::{Backend, TestServer};

const HEALTH_FILE: &str = "grpc/health/v1/health.proto";
const SERVICES: [&str; 4] = [
    "gantry.v1.AdminService",
    "gantry.v1.WorkerService",
    "gantry.v1.AuditService",
    "grpc.health.v1.Health",
];

/// What one reflection version answered: the services listed, and the files holding `grpc.health.v1.Health`.
struct Reflected {
    services: Vec<String>,
    health_files: Vec<FileDescriptorProto>,
}

fn decode_files(encoded: Vec<Vec<u8>>) -> Vec<FileDescriptorProto> {
    encoded
        .iter()
        .map(|bytes| FileDescriptorProto::decode(bytes.as_slice()).expect("a file descriptor"))
        .collect()
}

async fn reflect_v1(channel: Channel) -> Reflected {
    use v1::server_reflection_request::MessageRequest;
    use v1::server_reflection_response::MessageResponse;
    let requests = [
        MessageRequest::ListServices(String::new()),
        MessageRequest::FileContainingSymbol("grpc.health.v1.Health".to_owned()),
    ]
    .map(|message| v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(message),
    });
    let mut client = v1::server_reflection_client::ServerReflectionClient::new(channel);
    let mut responses = client
        .server_reflection_info(tokio_stream::iter(requests))
        .await
        .expect("v1 reflection answers")
        .into_inner();
    let mut reflected = Reflected {
        services: Vec::new(),
        health_files: Vec::new(),
    };
    while let Some(response) = responses.next().await {
        match response.expect("a v1 response").message_response {
            Some(MessageResponse::ListServicesResponse(list)) => {
                reflected.services = list.service.into_iter().map(|s| s.name).collect();
            }
            Some(MessageResponse::FileDescriptorResponse(files)) => {
                reflected.health_files = decode_files(files.file_descriptor_proto);
            }
            other => panic!("unexpected v1 reflection answer {other:?}"),
        }
    }
    reflected
}

async fn reflect_v1alpha(channel: Channel) -> Reflected {
    use v1alpha::server_reflection_request::MessageRequest;
    use v1alpha::server_reflection_response::MessageResponse;
    let requests = [
        MessageRequest::ListServices(String::new()),
        MessageRequest::FileContainingSymbol("grpc.health.v1.Health".to_owned()),
    ]
    .map(|message| v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(message),
    });
    let mut client = v1alpha::server_reflection_client::ServerReflectionClient::new(channel);
    let mut responses = client
        .server_reflection_info(tokio_stream::iter(requests))
        .await
        .expect("v1alpha reflection answers")
        .into_inner();
    let mut reflected = Reflected {
        services: Vec::new(),
        health_files: Vec::new(),
    };
    while let Some(response) = responses.next().await {
        match response.expect("a v1alpha response").message_response {
            Some(MessageResponse::ListServicesResponse(list)) => {
                reflected.services = list.service.into_iter().map(|s| s.name).collect();
            }
            Some(MessageResponse::FileDescriptorResponse(files)) => {
                reflected.health_files = decode_files(files.file_descriptor_proto);
            }
            other => panic!("unexpected v1alpha reflection answer {other:?}"),
        }
    }
    reflected
}

/// The shipped health proto as compiled into the server (`gantry_proto::HEALTH_FILE_DESCRIPTOR_SET`).
fn shipped_health() -> FileDescriptorProto {
    let set = FileDescriptorSet::decode(gantry_proto::HEALTH_FILE_DESCRIPTOR_SET).expect("a descriptor set");
    let [file] = <[FileDescriptorProto; 1]>::try_from(set.file).expect("one file, with no imports");
    file
}

/// A descriptor without what differs between two compilations of the same text from different paths.
fn meaning(mut file: FileDescriptorProto) -> FileDescriptorProto {
    file.name = None;
    file.source_code_info = None;
    file
}

async fn reflection_in_both_versions(backend: Backend) {
    let server = TestServer::start(backend).await;
    let channel = tonic::transport::Endpoint::from_shared(server.endpoint.clone())
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    let shipped = shipped_health();
    assert_eq!(shipped.name.as_deref(), Some(HEALTH_FILE));
    for (version, reflected) in [
        ("v1", reflect_v1(channel.clone()).await),
        ("v1alpha", reflect_v1alpha(channel).await),
    ] {
        for service in SERVICES {
            assert!(
                reflected.services.iter().any(|name| name == service),
                "{version}: {service} not in {:?}",
                reflected.services
            );
        }
        let served = reflected
            .health_files
            .iter()
            .find(|file| file.name.as_deref() == Some(HEALTH_FILE))
            .unwrap_or_else(|| panic!("{version}: {HEALTH_FILE} not served: {:?}", reflected.health_files));
        assert_eq!(served, &shipped, "{version}: the health file served is the one shipped");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_v1_and_v1alpha_answer_on_postgres() {
    reflection_in_both_versions(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_v1_and_v1alpha_answer_on_sqlite() {
    reflection_in_both_versions(Backend::Sqlite).await;
}

/// The file in `proto/` is the standard one: the same messages, enum and service as the `grpc.health.v1` that
/// tonic-health implements and compiled from the gRPC project's proto, and it says where it comes from.
#[test]
fn the_shipped_health_proto_is_the_grpc_projects() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../proto")
        .join(HEALTH_FILE);
    let text = std::fs::read_to_string(&path).expect("proto/grpc/health/v1/health.proto is shipped");
    assert!(text.contains("https://github.com/grpc/grpc-proto/blob/master/grpc/health/v1/health.proto"));
    let implemented = FileDescriptorSet::decode(tonic_health::pb::FILE_DESCRIPTOR_SET).expect("a descriptor set");
    let implemented = implemented
        .file
        .into_iter()
        .find(|file| file.package.as_deref() == Some("grpc.health.v1"))
        .expect("tonic-health describes grpc.health.v1");
    assert_eq!(meaning(shipped_health()), meaning(implemented));
}
