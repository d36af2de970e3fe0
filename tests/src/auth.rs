//! Servers with authentication on (`--auth keys`), their keys, and calls that present a token.

use std::time::Duration;

use gantry_proto::v1 as pb;
use gantry_proto::v1::auth_service_client::AuthServiceClient;
use gantry_proto::v1::project_service_client::ProjectServiceClient;
use gantry_server::AuthMode;
use prost::Message;
use tonic::transport::Channel;
use tonic::{Request, Status};

use crate::{Backend, TestServer};

/// A server with API keys on, and the token of an admin key made straight on its store (as `gantry auth keys create
/// --database-url` makes the first one).
#[derive(Debug)]
pub struct AuthServer {
    pub server: TestServer,
    pub admin_token: String,
}

impl AuthServer {
    pub async fn start(backend: Backend) -> AuthServer {
        AuthServer::start_with(backend, |_| {}).await
    }

    pub async fn start_with(backend: Backend, configure: impl FnOnce(&mut gantry_server::ServerConfig)) -> AuthServer {
        let server = TestServer::start_with(backend, |config| {
            config.auth = AuthMode::Keys;
            configure(config);
        })
        .await;
        let store = server.store().await;
        let request = pb::CreateApiKeyRequest {
            role: pb::Role::Admin as i32,
            description: "bootstrap".to_owned(),
            ..Default::default()
        };
        let admin = gantry_server::auth::api::create_key(store.as_ref(), request)
            .await
            .expect("the first admin key");
        AuthServer {
            server,
            admin_token: admin.token,
        }
    }

    /// A plain connection: calls present a token with [`bearer`].
    pub async fn channel(&self) -> Channel {
        Channel::from_shared(self.server.endpoint.clone())
            .expect("endpoint")
            .connect()
            .await
            .expect("connects")
    }

    /// Creates a project (as the admin).
    pub async fn project(&self, id: &str) {
        let mut client = ProjectServiceClient::new(self.channel().await);
        let request = pb::CreateProjectRequest {
            id: id.to_owned(),
            ..Default::default()
        };
        client
            .create_project(bearer(request, Some(&self.admin_token)))
            .await
            .unwrap_or_else(|status| panic!("create project {id}: {status}"));
    }

    /// Creates a key (as the admin); returns its id and token.
    pub async fn key(&self, project: Option<&str>, role: pb::Role, expires_in: Option<Duration>) -> (String, String) {
        let mut client = AuthServiceClient::new(self.channel().await);
        let request = pb::CreateApiKeyRequest {
            project: project.unwrap_or_default().to_owned(),
            role: role as i32,
            expires_in: expires_in.map(|d| prost_types::Duration::try_from(d).expect("duration")),
            description: "test".to_owned(),
        };
        let created = client
            .create_api_key(bearer(request, Some(&self.admin_token)))
            .await
            .unwrap_or_else(|status| panic!("create key: {status}"))
            .into_inner();
        (created.key.expect("key").id, created.token)
    }

    /// Revokes a key (as the admin).
    pub async fn revoke(&self, id: &str) {
        let mut client = AuthServiceClient::new(self.channel().await);
        client
            .revoke_api_key(bearer(
                pb::RevokeApiKeyRequest { id: id.to_owned() },
                Some(&self.admin_token),
            ))
            .await
            .unwrap_or_else(|status| panic!("revoke key: {status}"));
    }
}

/// `message` with `authorization: Bearer <token>` (nothing without a token).
pub fn bearer<T>(message: T, token: Option<&str>) -> Request<T> {
    let mut request = Request::new(message);
    if let Some(token) = token {
        let value = format!("Bearer {token}").parse().expect("ascii token");
        request.metadata_mut().insert("authorization", value);
    }
    request
}

/// Calls the method at `path` with `request`'s bytes, presenting `token`; for a server-streaming method, the call's
/// status (its stream's first message read too). What the response holds is not read.
pub async fn raw_call(
    channel: Channel,
    path: &str,
    request: Vec<u8>,
    token: Option<&str>,
    streaming: bool,
) -> Result<(), Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("ready");
    let path: http::uri::PathAndQuery = path.parse().expect("path");
    let codec = tonic_prost::ProstCodec::<RawBytes, RawBytes>::default();
    let request = bearer(RawBytes { bytes: request }, token);
    if streaming {
        let mut stream = grpc.server_streaming(request, path, codec).await?.into_inner();
        stream.message().await?;
        return Ok(());
    }
    grpc.unary(request, path, codec).await.map(|_| ())
}

/// Bytes written as they are; any bytes read are skipped.
#[derive(Clone, PartialEq, Default)]
pub struct RawBytes {
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for RawBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} raw bytes", self.bytes.len())
    }
}

impl Message for RawBytes {
    fn encode_raw(&self, buf: &mut impl bytes::BufMut) {
        buf.put_slice(&self.bytes);
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: prost::encoding::WireType,
        buf: &mut impl bytes::Buf,
        ctx: prost::encoding::DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        prost::encoding::skip_field(wire_type, tag, buf, ctx)
    }

    fn encoded_len(&self) -> usize {
        self.bytes.len()
    }

    fn clear(&mut self) {
        self.bytes.clear();
    }
}
