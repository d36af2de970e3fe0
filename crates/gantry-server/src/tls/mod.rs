//! TLS for the server: rustls with the ring provider, in our own accept loop, because tonic's built-in TLS fixes its
//! certificate when the server starts.
//!
//! - `material.rs` reads the PEM files: the certificate chain and its key (checked to match), and for mutual TLS the
//!   client CA, as a client verifier that requires or merely accepts client certificates.
//! - `reload.rs` swaps the certificate and the client verifier atomically (`arc-swap`) when the files' bytes change
//!   (checked every `--tls-reload-interval`, so Kubernetes' symlink swaps count), on SIGHUP, or when asked in process
//!   ([`crate::RunningServer::reload_tls`]). New connections get the new ones, open connections keep theirs; files that
//!   do not load keep the old ones and log an error.
//! - `incoming.rs` accepts connections and handshakes each on its own task (a slow client holds up nobody), and hands
//!   tonic `tokio_rustls` streams.
//!
//! **Client certificates reach handlers.** tonic puts a `TlsConnectInfo` with the certificates the client presented
//! in every request's extensions: `request.peer_certs()` returns them (the client's own certificate first), or `None`
//! for a client that presented none (possible with `--tls-client-auth optional`). A certificate a client does present
//! was verified against `--tls-client-ca` in either mode; authorization on it is left to later work.

mod incoming;
mod material;
mod reload;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

pub(crate) use incoming::incoming;

/// Whether a client must present a certificate signed by `--tls-client-ca`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClientAuth {
    /// A client without a valid certificate is refused at the handshake.
    Required,
    /// A client without a certificate is accepted; one it does present must be valid. Handlers see it in the
    /// request's extensions (`request.peer_certs()`).
    Optional,
}

/// Where the server's TLS material is read from (and read again on reload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsFiles {
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
    /// For mutual TLS: the CA bundle client certificates must chain to.
    pub(crate) client_ca: Option<PathBuf>,
    pub(crate) client_auth: ClientAuth,
}

/// What the TLS reloads did since the server started (the files read at start are not counted): operators read it in
/// the log, tests wait on it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsReloads {
    /// Reloads that changed what new connections get (the certificate, its key or the client CA).
    pub loaded: u64,
    /// Reloads refused because the files did not read or load; the previous material stays in use.
    pub failed: u64,
    /// Checks that found the files as they were (on SIGHUP and when asked; timer checks are not counted).
    pub unchanged: u64,
    /// Why the last refused reload was refused.
    pub last_error: Option<String>,
}

/// The server's TLS: the rustls configuration every handshake uses (its certificate and client verifier swap inside
/// it) and the task that reloads them.
#[derive(Debug)]
pub(crate) struct ServerTls {
    pub(crate) config: Arc<rustls::ServerConfig>,
    pub(crate) handle: TlsHandle,
}

/// The running reloader: its counters, a way to ask for a check, and its task (aborted at shutdown).
#[derive(Debug)]
pub(crate) struct TlsHandle {
    pub(crate) reloads: watch::Receiver<TlsReloads>,
    pub(crate) nudge: Arc<Notify>,
    pub(crate) task: JoinHandle<()>,
}

impl Drop for TlsHandle {
    /// A server that fails to start after its TLS did leaves no reloader behind.
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ServerTls {
    /// Reads `files` (failing, naming the file, when they do not make a certificate) and starts the reloader, which
    /// checks them every `reload_interval` and on SIGHUP.
    pub(crate) async fn start(files: TlsFiles, reload_interval: Duration) -> Result<ServerTls, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let bytes = material::FileBytes::read(&files).await?;
        let loaded = material::Material::build(&files, &bytes, &provider)?;
        let resolver = Arc::new(material::CertResolver::new(loaded.certified));
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|error| format!("configuring TLS: {error}"))?;
        let verifier = loaded
            .client_verifier
            .map(|inner| Arc::new(material::ClientVerifier::new(inner)));
        let mut config = match &verifier {
            Some(verifier) => builder.with_client_cert_verifier(verifier.clone()),
            None => builder.with_no_client_auth(),
        }
        .with_cert_resolver(resolver.clone());
        // gRPC is HTTP/2; gRPC clients (grpc-core's among them) refuse a TLS connection that did not agree on it.
        config.alpn_protocols = vec![b"h2".to_vec()];

        let (status, reloads) = watch::channel(TlsReloads::default());
        let nudge = Arc::new(Notify::new());
        let reloader = reload::Reloader {
            files,
            provider,
            resolver,
            verifier,
            current: bytes,
            refused: None,
            status,
        };
        let hangups = reload::Hangups::listen();
        let task = tokio::spawn(reloader.run(hangups, reload_interval, nudge.clone()));
        Ok(ServerTls {
            config: Arc::new(config),
            handle: TlsHandle { reloads, nudge, task },
        })
    }
}
