//! A TCP proxy between a server under test and the real Postgres, to make the database unreachable without stopping
//! the Postgres other tests share. [`TcpProxy::cut`] behaves as a stopped database server: the listening socket is
//! closed, so new connections are refused, and every open connection is closed. [`TcpProxy::restore`] listens on the
//! same port again.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// Ports below the kernel's ephemeral range (32768 and up on Linux), so that no outgoing connection of another test
/// can take the proxy's port while it is cut.
const PORTS: std::ops::Range<u16> = 20_000..32_000;

/// A proxy to one upstream address.
#[derive(Debug)]
pub struct TcpProxy {
    port: u16,
    upstream: SocketAddr,
    accepting: Mutex<Option<JoinHandle<()>>>,
}

impl TcpProxy {
    /// Listens on a free port of 127.0.0.1 and forwards every connection to `upstream`.
    pub async fn start(upstream: SocketAddr) -> TcpProxy {
        let span = u128::from(PORTS.end - PORTS.start);
        for _ in 0..200 {
            // The tail of a v7 uuid is random.
            let offset = u16::try_from(uuid::Uuid::now_v7().as_u128() % span).expect("offset fits");
            let port = PORTS.start + offset;
            if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)).await {
                let proxy = TcpProxy {
                    port,
                    upstream,
                    accepting: Mutex::new(None),
                };
                proxy.serve(listener);
                return proxy;
            }
        }
        panic!("no free port for the proxy in {PORTS:?}");
    }

    /// The proxy for the host and port of a `postgres://` url.
    pub async fn for_url(url: &str) -> TcpProxy {
        let (host, port) = host_and_port(url);
        let upstream = tokio::net::lookup_host((host.as_str(), port))
            .await
            .expect("resolve the database host")
            .next()
            .expect("an address for the database host");
        TcpProxy::start(upstream).await
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `url` with its host and port replaced by the proxy's.
    pub fn url(&self, url: &str) -> String {
        let mut url = url::Url::parse(url).expect("a database URL");
        url.set_host(Some("127.0.0.1")).expect("a URL with a host");
        url.set_port(Some(self.port)).expect("a URL with a host");
        url.into()
    }

    /// The database goes away: new connections are refused and open ones are closed.
    pub async fn cut(&self) {
        let accepting = self.accepting.lock().expect("proxy lock").take();
        if let Some(accepting) = accepting {
            accepting.abort();
            // Dropping the accept task drops the listener and every connection task with it.
            let _ = accepting.await;
        }
    }

    /// The database is back: listen on the same port again.
    pub async fn restore(&self) {
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(listener) => break listener,
                Err(error) if tries < 100 => {
                    tries += 1;
                    eprintln!("proxy: port {} not free yet ({error}), retrying", self.port);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(error) => panic!("proxy: cannot listen on port {} again: {error}", self.port),
            }
        };
        self.serve(listener);
    }

    fn serve(&self, listener: TcpListener) {
        let upstream = self.upstream;
        let accepting = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((client, _)) => {
                            connections.spawn(forward(client, upstream));
                        }
                        Err(error) => eprintln!("proxy: accept failed: {error}"),
                    },
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
        });
        *self.accepting.lock().expect("proxy lock") = Some(accepting);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        if let Some(accepting) = self.accepting.lock().ok().and_then(|mut held| held.take()) {
            accepting.abort();
        }
    }
}

async fn forward(mut client: TcpStream, upstream: SocketAddr) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
}

/// The host and port of a `postgres://user@host:port/db` url (port 5432 when none is given).
fn host_and_port(url: &str) -> (String, u16) {
    let url = url::Url::parse(url).expect("a database URL");
    (
        url.host_str().unwrap_or("localhost").to_owned(),
        url.port().unwrap_or(5432),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_read_and_rewritten() {
        assert_eq!(
            host_and_port("postgres://postgres@127.0.0.1:5432/postgres"),
            ("127.0.0.1".to_owned(), 5432)
        );
        assert_eq!(
            host_and_port("postgres://u:p@db/x?sslmode=disable"),
            ("db".to_owned(), 5432)
        );
        let proxy = TcpProxy {
            port: 20_001,
            upstream: "127.0.0.1:5432".parse().expect("address"),
            accepting: Mutex::new(None),
        };
        assert_eq!(
            proxy.url("postgres://postgres@127.0.0.1:5432/gantry_test_ab"),
            "postgres://postgres@127.0.0.1:20001/gantry_test_ab"
        );
        assert_eq!(
            proxy.url("postgres://u:p@db/x?a=b"),
            "postgres://u:p@127.0.0.1:20001/x?a=b"
        );
    }
}
