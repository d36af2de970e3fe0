//! Reloading the TLS files without a restart: on a timer (their bytes compared with the ones in use), on SIGHUP, and
//! when asked in process. Only new handshakes see what a reload swapped in.

use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use tokio::sync::{Notify, watch};
use tokio::time::MissedTickBehavior;
use tracing::{error, info};

use super::material::{CertResolver, ClientVerifier, FileBytes, Material};
use super::{TlsFiles, TlsReloads};

/// What made the reloader look at the files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    Timer,
    Hangup,
    Asked,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Trigger::Timer => "timer",
            Trigger::Hangup => "sighup",
            Trigger::Asked => "asked",
        }
    }
}

pub(super) struct Reloader {
    pub(super) files: TlsFiles,
    pub(super) provider: Arc<CryptoProvider>,
    pub(super) resolver: Arc<CertResolver>,
    pub(super) verifier: Option<Arc<ClientVerifier>>,
    /// The bytes of the material in use.
    pub(super) current: FileBytes,
    /// The last files that failed to load (their bytes, or the error of reading them), so that the timer reports
    /// them once, not every few seconds.
    pub(super) refused: Option<Result<FileBytes, String>>,
    pub(super) status: watch::Sender<TlsReloads>,
}

impl Reloader {
    pub(super) async fn run(mut self, mut hangups: Hangups, interval: Duration, nudge: Arc<Notify>) {
        // Held to a year: a longer one (`--tls-reload-interval 100y`, meaning "SIGHUP only") must not overflow.
        let interval = interval.min(Duration::from_secs(365 * 24 * 3600));
        let mut timer = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let trigger = tokio::select! {
                _ = timer.tick() => Trigger::Timer,
                () = hangups.next() => Trigger::Hangup,
                () = nudge.notified() => Trigger::Asked,
            };
            self.check(trigger).await;
        }
    }

    async fn check(&mut self, trigger: Trigger) {
        let read = FileBytes::read(&self.files).await;
        if read.as_ref() == Ok(&self.current) {
            if trigger != Trigger::Timer {
                info!(trigger = trigger.as_str(), "tls files unchanged, nothing to reload");
                self.status.send_modify(|status| status.unchanged += 1);
            }
            return;
        }
        // Files refused already are reported again only when someone asks (SIGHUP), not every few seconds.
        if trigger == Trigger::Timer && self.refused.as_ref() == Some(&read) {
            return;
        }
        let built = match &read {
            Ok(bytes) => Material::build(&self.files, bytes, &self.provider),
            Err(why) => Err(why.clone()),
        };
        let material = match built {
            Ok(material) => material,
            Err(why) => {
                error!(trigger = trigger.as_str(), error = %why, "tls reload refused; the previous certificate stays in use");
                self.refused = Some(read);
                self.status.send_modify(|status| {
                    status.failed += 1;
                    status.last_error = Some(why);
                });
                return;
            }
        };
        self.resolver.swap(material.certified);
        if let (Some(verifier), Some(inner)) = (&self.verifier, material.client_verifier) {
            verifier.swap(inner);
        }
        if let Ok(bytes) = read {
            self.current = bytes;
        }
        self.refused = None;
        info!(trigger = trigger.as_str(), cert = %self.files.cert.display(), "tls certificate reloaded");
        self.status.send_modify(|status| status.loaded += 1);
    }
}

/// SIGHUP, where there are signals. Listening replaces the default action (ending the process) for the whole process.
pub(super) struct Hangups {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl Hangups {
    /// Starts listening at once, so that a SIGHUP right after the server started is not the default action's.
    pub(super) fn listen() -> Hangups {
        #[cfg(unix)]
        {
            let signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
                .inspect_err(|error| error!(%error, "cannot listen for SIGHUP; tls files reload on the timer only"))
                .ok();
            Hangups { signal }
        }
        #[cfg(not(unix))]
        Hangups {}
    }

    /// The next SIGHUP; never, without them.
    async fn next(&mut self) {
        #[cfg(unix)]
        if let Some(signal) = &mut self.signal {
            if signal.recv().await.is_some() {
                return;
            }
            self.signal = None;
        }
        std::future::pending::<()>().await;
    }
}
