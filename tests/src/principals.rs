//! Requests as several principals, without authentication: a server started with [`identify`] takes the caller
//! from a test header, and the clients here send it.

use gantry_proto::v1::admin_service_client::AdminServiceClient;
use gantry_proto::v1::audit_service_client::AuditServiceClient;
use gantry_proto::v1::worker_service_client::WorkerServiceClient;
use gantry_server::{Caller, Grant, Identify, Role};
use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::TestServer;

/// The header naming the principal of a test's request.
pub const HEADER: &str = "x-gantry-test-principal";

/// Identifies the caller by [`HEADER`]: an admin of that name; without the header, the developer.
pub fn identify() -> Identify {
    Identify::new(|headers| {
        let principal = headers.get(HEADER)?.to_str().ok()?;
        Some(Caller {
            principal: principal.to_owned(),
            grants: vec![Grant {
                project: None,
                role: Role::Admin,
            }],
        })
    })
}

/// Sends [`HEADER`] with every request.
#[derive(Debug, Clone)]
pub struct As(MetadataValue<tonic::metadata::Ascii>);

impl Interceptor for As {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        request.metadata_mut().insert(HEADER, self.0.clone());
        Ok(request)
    }
}

pub type Admin = AdminServiceClient<InterceptedService<Channel, As>>;
pub type Worker = WorkerServiceClient<InterceptedService<Channel, As>>;
pub type Audit = AuditServiceClient<InterceptedService<Channel, As>>;

async fn channel(server: &TestServer) -> Channel {
    Channel::from_shared(server.endpoint.clone())
        .expect("endpoint")
        .connect()
        .await
        .expect("connects")
}

fn header(principal: &str) -> As {
    As(principal.parse().expect("an ASCII principal"))
}

/// An admin client whose every request is `principal`'s.
pub async fn admin(server: &TestServer, principal: &str) -> Admin {
    AdminServiceClient::with_interceptor(channel(server).await, header(principal))
}

/// A worker client whose every request is `principal`'s.
pub async fn worker(server: &TestServer, principal: &str) -> Worker {
    WorkerServiceClient::with_interceptor(channel(server).await, header(principal))
}

/// An audit client whose every request is `principal`'s.
pub async fn audit(server: &TestServer, principal: &str) -> Audit {
    AuditServiceClient::with_interceptor(channel(server).await, header(principal))
}
