//! [`References`]: reading the references a server answers with in place of values too large for one message
//! (`Literal.offloaded`, and a node's `dynamic_spec_reference`), through `AdminService.ReadOffloaded`.
//!
//! The worker resolves its attempts' inputs with it before a handler runs; clients (the CLI, tests) resolve what
//! they read, so that their users see values. Every byte read is checked against the reference's size and SHA-256.

pub use gantry_proto::references::holds_reference;
use gantry_proto::references::{Reading, resolve_references};
use gantry_proto::v1 as pb;
use gantry_proto::v1::admin_service_client::AdminServiceClient;
use prost::Message;
use sha2::{Digest, Sha256};
use tonic::transport::Channel;

use crate::token::AuthedChannel;

/// Why a reference could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    /// The server refused or failed the read (NOT_FOUND for a reference it does not know).
    #[error("reading {uri}: {status}")]
    Rpc { uri: String, status: Box<tonic::Status> },
    /// What was read is not what the reference describes.
    #[error("reading {uri}: {message}")]
    Corrupt { uri: String, message: String },
}

impl ReferenceError {
    /// The server's status code, for a refused read.
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            ReferenceError::Rpc { status, .. } => Some(status.code()),
            ReferenceError::Corrupt { .. } => None,
        }
    }
}

/// Reads references through a server's admin API. Cheap to clone.
#[derive(Debug, Clone)]
pub struct References {
    client: ReadClient,
}

/// The admin client references are read through: a plain connection's (clients that present no token), or one that
/// presents the caller's token.
#[derive(Debug, Clone)]
enum ReadClient {
    Plain(AdminServiceClient<Channel>),
    Authed(AdminServiceClient<AuthedChannel>),
}

impl References {
    /// Reads through `channel`; `max_message_bytes` bounds what the other admin calls of this client receive.
    pub fn new(channel: AuthedChannel, max_message_bytes: usize) -> Self {
        References::from_authed(
            AdminServiceClient::new(channel)
                .max_decoding_message_size(max_message_bytes)
                .max_encoding_message_size(max_message_bytes),
        )
    }

    /// Reads through an admin client.
    pub fn from_client(client: AdminServiceClient<Channel>) -> Self {
        References {
            client: ReadClient::Plain(client),
        }
    }

    /// Reads through an admin client that presents a token.
    pub fn from_authed(client: AdminServiceClient<AuthedChannel>) -> Self {
        References {
            client: ReadClient::Authed(client),
        }
    }

    /// The map with every reference in it, at any depth, replaced by the value it refers to.
    pub async fn resolve_map(&self, map: pb::LiteralMap) -> Result<pb::LiteralMap, ReferenceError> {
        if !map.literals.values().any(holds_reference) {
            return Ok(map);
        }
        let mut literals = std::collections::BTreeMap::new();
        for (name, literal) in map.literals {
            literals.insert(name, self.resolve(literal).await?);
        }
        Ok(pb::LiteralMap { literals })
    }

    /// The literal with every reference in it, at any depth, replaced by the value it refers to (which is read and
    /// resolved in turn: a value read may hold references itself).
    pub fn resolve(&self, literal: pb::Literal) -> Reading<'_, ReferenceError> {
        Box::pin(async move {
            let read = |reference: pb::OffloadedLiteral| -> Reading<'_, ReferenceError> {
                Box::pin(async move {
                    let bytes = self
                        .read(&reference.uri, Some(reference.size_bytes), &reference.sha256)
                        .await?;
                    let read = pb::Literal::decode(bytes.as_slice()).map_err(|e| ReferenceError::Corrupt {
                        uri: reference.uri.clone(),
                        message: format!("not a literal: {e}"),
                    })?;
                    self.resolve(read).await
                })
            };
            resolve_references(literal, &read).await
        })
    }

    /// The dynamic spec a node's data referred to.
    pub async fn read_spec(&self, reference: &pb::OffloadedSpec) -> Result<pb::DynamicJobSpec, ReferenceError> {
        let bytes = self.read(&reference.uri, Some(reference.size_bytes), "").await?;
        pb::DynamicJobSpec::decode(bytes.as_slice()).map_err(|e| ReferenceError::Corrupt {
            uri: reference.uri.clone(),
            message: format!("not a dynamic spec: {e}"),
        })
    }

    /// The bytes of the reference `uri`, checked against `size` and `sha256` when given (empty: not checked).
    pub async fn read(&self, uri: &str, size: Option<u64>, sha256: &str) -> Result<Vec<u8>, ReferenceError> {
        let rpc = |status: tonic::Status| ReferenceError::Rpc {
            uri: uri.to_owned(),
            status: Box::new(status),
        };
        let corrupt = |message: String| ReferenceError::Corrupt {
            uri: uri.to_owned(),
            message,
        };
        let request = pb::ReadOffloadedRequest { uri: uri.to_owned() };
        let response = match &self.client {
            ReadClient::Plain(client) => client.clone().read_offloaded(request).await,
            ReadClient::Authed(client) => client.clone().read_offloaded(request).await,
        };
        let mut stream = response.map_err(rpc)?.into_inner();
        let capacity = size.map_or(0, |s| usize::try_from(s).unwrap_or(0));
        let mut bytes = Vec::with_capacity(capacity);
        let mut digest = Sha256::new();
        while let Some(message) = stream.message().await.map_err(rpc)? {
            digest.update(&message.chunk);
            bytes.extend_from_slice(&message.chunk);
            if size.is_some_and(|size| bytes.len() as u64 > size) {
                return Err(corrupt(format!("more than the {} bytes announced", size.unwrap_or(0))));
            }
        }
        if let Some(size) = size
            && bytes.len() as u64 != size
        {
            return Err(corrupt(format!("{} bytes read, {size} announced", bytes.len())));
        }
        let read_digest = hex::encode(digest.finalize());
        if !sha256.is_empty() && read_digest != sha256 {
            return Err(corrupt(format!("SHA-256 {read_digest}, {sha256} announced")));
        }
        Ok(bytes)
    }
}
