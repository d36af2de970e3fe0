//! Accepting TLS connections: each handshake runs on its own task, under a timeout, so that a slow or silent client
//! holds up no other; tonic gets the streams that completed one.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;
use tracing::{debug, info, warn};

/// The longest a client may take to complete its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a refused connection is kept half open for its client to read why (see `close_refused`).
const REFUSAL_LINGER: Duration = Duration::from_secs(1);
/// The pause after a failed accept (out of file descriptors, most likely), so that it does not spin.
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);
/// Handshaken connections waiting for the server to take them.
const BACKLOG: usize = 64;

/// The TLS connections accepted on `listener`, handshaken with `config` (read per handshake, so a reloaded
/// certificate applies to the next one). Accepting stops when the stream is dropped (the server stopped).
pub(crate) fn incoming(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
) -> ReceiverStream<io::Result<TlsStream<TcpStream>>> {
    let (sender, receiver) = mpsc::channel(BACKLOG);
    tokio::spawn(accept_loop(listener, TlsAcceptor::from(config), sender));
    ReceiverStream::new(receiver)
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    sender: mpsc::Sender<io::Result<TlsStream<TcpStream>>>,
) {
    loop {
        let accepted = tokio::select! {
            () = sender.closed() => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                warn!(%error, "accepting a connection failed");
                tokio::time::sleep(ACCEPT_PAUSE).await;
                continue;
            }
        };
        // No Nagle delay: a unary reply's small frames must leave at once.
        if let Err(error) = stream.set_nodelay(true) {
            debug!(%peer, %error, "cannot set TCP_NODELAY");
        }
        let acceptor = acceptor.clone();
        let sender = sender.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream).into_fallible()).await {
                Ok(Ok(tls)) => {
                    let _ = sender.send(Ok(tls)).await;
                }
                Ok(Err((error, stream))) => {
                    handshake_failed(peer, &error);
                    close_refused(stream).await;
                }
                Err(_) => debug!(%peer, "tls handshake timed out"),
            }
        });
    }
}

/// A refused client is worth a line (a plaintext client, an unknown CA, a missing client certificate); a connection
/// closed before its handshake (a TCP health check) is not.
fn handshake_failed(peer: SocketAddr, error: &io::Error) {
    match error.kind() {
        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => {
            debug!(%peer, %error, "tls handshake ended early");
        }
        _ => info!(%peer, %error, "tls handshake failed"),
    }
}

/// Closes a refused connection so that its client reads the alert that says why. A socket closed with bytes unread
/// is reset, and a reset can destroy the alert before the client reads it: a TLS 1.3 client has sent its first
/// request by the time the server refuses its certificate. So: end our side (the alert went out before), read and
/// drop what the client still sends until it closes, for a second at most.
async fn close_refused(mut stream: TcpStream) {
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(REFUSAL_LINGER, async {
        while let Ok(read) = stream.read(&mut sink).await {
            if read == 0 {
                return;
            }
        }
    })
    .await;
}
