//! The issuer's key set, cached: loaded from a file or a URL, loaded again when it is older than the refresh interval
//! (in the background, while tokens are checked against the keys held) and when a token names a key it does not hold
//! (at once, the token waiting for it), never twice within the floor (`jwks_min_refresh`), whatever asks.
//!
//! A load that fails keeps the keys held and is logged; only a server that never loaded any refuses tokens for it
//! (`KeySetUnavailable`). One load runs at a time: requests that need one while another runs wait for it and then use
//! its keys.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::watch;
use tracing::{info, warn};

use super::OidcError;
use super::config::JwksSource;
use super::keys::KeySet;

/// The largest key set accepted (Google's is about 2 KB).
const MAX_JWKS_BYTES: usize = 1024 * 1024;
/// How long a fetch of the key set may take, connecting included.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the cache reads the time; tests drive it by hand.
pub(crate) trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Instant;
}

#[derive(Debug)]
pub(crate) struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// What the key set's loads did so far: for the log, and for tests to wait on a background load.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeySetLoads {
    /// Loads that replaced the key set.
    pub loaded: u64,
    /// Loads that failed (the keys held, if any, stay).
    pub failed: u64,
}

#[derive(Debug, Default)]
struct Timing {
    /// When the last load started, successful or not: the floor counts from it.
    last_attempt: Option<Instant>,
    /// When the keys held were loaded.
    loaded_at: Option<Instant>,
    /// Why the last load failed (cleared by one that succeeds).
    last_error: Option<String>,
    /// A background load is claimed and not yet started.
    pending: bool,
}

/// Why a load is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    /// The keys held are older than the refresh interval (or there are none).
    Due,
    /// A token names a key the set does not hold.
    UnknownKey,
    /// A background load claimed earlier (done by whoever gets to it first).
    Claimed,
}

#[derive(Debug)]
pub(crate) struct KeyCache {
    source: JwksSource,
    client: reqwest::Client,
    refresh: Duration,
    min_refresh: Duration,
    clock: Arc<dyn Clock>,
    keys: ArcSwapOption<KeySet>,
    timing: Mutex<Timing>,
    /// Held while a load runs, so that one runs at a time.
    loading: tokio::sync::Mutex<()>,
    loads: watch::Sender<KeySetLoads>,
}

impl KeyCache {
    pub(crate) fn new(
        source: JwksSource,
        refresh: Duration,
        min_refresh: Duration,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .build()
            .map_err(|error| format!("building the HTTP client for the OIDC key set: {error}"))?;
        Ok(KeyCache {
            source,
            client,
            refresh,
            min_refresh,
            clock,
            keys: ArcSwapOption::empty(),
            timing: Mutex::new(Timing::default()),
            loading: tokio::sync::Mutex::new(()),
            loads: watch::Sender::new(KeySetLoads::default()),
        })
    }

    pub(crate) fn loads(&self) -> watch::Receiver<KeySetLoads> {
        self.loads.subscribe()
    }

    fn timing(&self) -> std::sync::MutexGuard<'_, Timing> {
        self.timing.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Loads the key set now, floor or not: at start-up, so that a missing file or an unreachable issuer shows in
    /// the log at once. Returns how many keys it holds.
    pub(crate) async fn load_now(&self) -> Result<usize, OidcError> {
        let _loading = self.loading.lock().await;
        self.load().await.map_err(OidcError::KeySetUnavailable)
    }

    /// The key that verifies a token naming `kid` (if it names one) and signed with `algorithm`.
    pub(crate) async fn key(
        self: &Arc<Self>,
        kid: Option<&str>,
        algorithm: Algorithm,
    ) -> Result<DecodingKey, OidcError> {
        let held = match self.keys.load_full() {
            Some(keys) => keys,
            None => {
                self.refresh(Reason::Due).await;
                self.keys.load_full().ok_or_else(|| {
                    let why = self.timing().last_error.clone();
                    OidcError::KeySetUnavailable(why.unwrap_or_else(|| "not loaded yet".to_owned()))
                })?
            }
        };
        match held.select(kid, algorithm) {
            Err(OidcError::UnknownKey(_) | OidcError::NoKeyId { candidates: 0, .. }) => {
                self.refresh(Reason::UnknownKey).await;
                let keys = self.keys.load_full().unwrap_or(held);
                keys.select(kid, algorithm).cloned()
            }
            selected => {
                self.refresh_in_background_if_due();
                selected.cloned()
            }
        }
    }

    /// Starts a load in the background when the keys held are older than the refresh interval. The attempt is
    /// claimed before the task starts (`pending`, and the floor counted from now), so that the requests that follow
    /// start none; a request that needs a load meanwhile (an unknown key) runs the claimed one itself if it gets
    /// there first, rather than be refused by the floor while the task has not started.
    fn refresh_in_background_if_due(self: &Arc<Self>) {
        {
            let mut timing = self.timing();
            if !self.due(&timing, Reason::Due) {
                return;
            }
            timing.last_attempt = Some(self.clock.now());
            timing.pending = true;
        }
        let cache = Arc::clone(self);
        tokio::spawn(async move { cache.refresh(Reason::Claimed).await });
    }

    /// Whether a load for `reason` may start now.
    fn due(&self, timing: &Timing, reason: Reason) -> bool {
        let now = self.clock.now();
        let since = |at: Option<Instant>| at.map(|at| now.saturating_duration_since(at));
        if since(timing.last_attempt).is_some_and(|elapsed| elapsed < self.min_refresh) {
            return false;
        }
        match reason {
            Reason::UnknownKey => true,
            Reason::Due => since(timing.loaded_at).is_none_or(|age| age >= self.refresh),
            Reason::Claimed => false,
        }
    }

    /// Loads the key set if `reason` allows it now. A caller that waited for another's load finds it done and the
    /// floor not passed, and uses the keys that load brought.
    async fn refresh(&self, reason: Reason) {
        let _loading = self.loading.lock().await;
        {
            let mut timing = self.timing();
            let claimed = std::mem::take(&mut timing.pending);
            if !claimed && (reason == Reason::Claimed || !self.due(&timing, reason)) {
                return;
            }
        }
        // A failure is logged and counted in `load`; the keys held stay.
        let _ = self.load().await;
    }

    /// Reads or fetches the key set and, if it parses, replaces the keys held. Called with `loading` held.
    async fn load(&self) -> Result<usize, String> {
        let started = self.clock.now();
        self.timing().last_attempt = Some(started);
        let loaded = match &self.source {
            JwksSource::File(path) => tokio::fs::read(path)
                .await
                .map_err(|error| format!("reading {}: {error}", path.display())),
            JwksSource::Url(url) => self.fetch(url).await,
        }
        .and_then(|document| KeySet::parse(&document));
        match loaded {
            Ok(parsed) => {
                for skipped in &parsed.skipped {
                    warn!(source = %self.source, "oidc key skipped: {skipped}");
                }
                let count = parsed.set.len();
                self.keys.store(Some(Arc::new(parsed.set)));
                {
                    let mut timing = self.timing();
                    timing.loaded_at = Some(started);
                    timing.last_error = None;
                }
                self.loads.send_modify(|loads| loads.loaded += 1);
                info!(source = %self.source, keys = count, "oidc key set loaded");
                Ok(count)
            }
            Err(error) => {
                warn!(source = %self.source, error = %error, "oidc key set load failed");
                self.timing().last_error = Some(error.clone());
                self.loads.send_modify(|loads| loads.failed += 1);
                Err(error)
            }
        }
    }

    async fn fetch(&self, url: &reqwest::Url) -> Result<Vec<u8>, String> {
        let failed = |error: reqwest::Error| format!("fetching {url}: {}", causes(&error.without_url()));
        let mut response = self.client.get(url.clone()).send().await.map_err(failed)?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("fetching {url}: HTTP {status}"));
        }
        let mut document = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            if document.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(format!("fetching {url}: larger than {MAX_JWKS_BYTES} bytes"));
            }
            document.extend_from_slice(&chunk);
        }
        Ok(document)
    }
}

/// An error and its causes, `a: b: c`: reqwest's own message alone ("error sending request") hides why.
fn causes(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}
